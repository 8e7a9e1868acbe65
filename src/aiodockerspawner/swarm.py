"""SwarmSpawner: each single-user server as a Docker Swarm service.

The core (:class:`~aiodockerspawner.spawner.DockerSpawner`) is reused as it
is; this class swaps in :class:`~aiodockerspawner.backends.ServiceBackend`,
adds the swarm-only settings, and builds a
:class:`~aiodockerspawner.model.ServiceObjectSpec`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import posixpath
from collections.abc import Mapping
from typing import Any, ClassVar

from traitlets import (
    Callable as CallableTrait,
)
from traitlets import (
    CaselessStrEnum,
    Dict,
    Float,
    TraitError,
    Union,
    default,
    observe,
    validate,
)
from traitlets import (
    Unicode as UnicodeTrait,
)

from aiodockerspawner.backends import (
    LOST,
    REMOVED,
    TASK_PENDING_STATES,
    ObjectBackend,
    PullOne,
    ServiceBackend,
    TaskSnapshot,
    dockerpy,
    get_task_snapshot,
    service_backend,
    swarm_prepull,
)
from aiodockerspawner.core.naming import service_name
from aiodockerspawner.errors import DockerOperationError, InvalidSpec
from aiodockerspawner.hubdb import orm_session
from aiodockerspawner.model import (
    Address,
    ObjectSpec,
    ObjectStatus,
    ObservedObject,
    ServiceObjectSpec,
)
from aiodockerspawner.spawner import DockerSpawner

#: seconds ``start`` gives up waiting for the task before JupyterHub's start_timeout
START_DEADLINE_MARGIN = 2.0


def _driver_config(driver: str, options: Mapping[str, Any]) -> dict[str, Any] | None:
    """docker-py's ``DriverConfig(driver, options or None)``: a dict, None without a driver."""
    if not driver:
        return None
    config: dict[str, Any] = {"Name": driver}
    if options:
        config["Options"] = {str(k): str(v) for k, v in options.items()}
    return config


def _extra_spec_trait(what: str, engine: str) -> Union:
    return Union(
        [CallableTrait(), Dict()],
        help=f"""
        Extra settings for the service's {what}, deep-merged over the
        generated ones: a dict, or a callable ``f(spawner)`` (possibly async)
        returning one, evaluated at each start. Keys are docker-py
        ``docker.types.{what}`` keywords (snake_case) or Engine API
        ``{engine}`` fields (CamelCase); string values are templated like
        ``volumes``.

        .. versionchanged:: 0.1
           dockerspawner accepts only a plain dict, untemplated.
        """,
    ).tag(config=True)


class SwarmSpawner(DockerSpawner):
    """Spawn each single-user server as a one-replica Docker Swarm service.

    The Hub must talk to a swarm manager. Everything ``c.DockerSpawner``
    configures applies, except what makes no sense for services
    (``extra_host_config``, ``links``, resuming: services are always removed
    when their server stops).
    """

    object_type: ClassVar[str] = "service"

    @property
    def service_id(self) -> str:
        """The service's ID (dockerspawner's alias of ``object_id``)."""
        return str(self.object_id or "")

    @property
    def service_name(self) -> str:
        """The service's name (dockerspawner's alias of ``object_name``)."""
        return str(self.object_name)

    # -- defaults that differ from containers ----------------------------------

    @default("network_name")
    def _default_network_name(self) -> str:
        # as in dockerspawner: no network, so use_internal_ip defaults to True
        return ""

    @default("pull_policy")
    def _default_pull_policy(self) -> str:
        # swarm pulls on the node that runs the task
        return "skip"

    @default("remove")
    def _default_remove(self) -> bool:
        return True

    @validate("remove")
    def _validate_remove(self, proposal: Any) -> bool:
        if not proposal.value:
            self.log.warning(
                "SwarmSpawner always removes services when their server stops; "
                "ignoring remove=False"
            )
        return True

    @default("object_name")
    def _default_object_name(self) -> str:
        return service_name(super()._default_object_name())

    def object_name_for(self, server_name: str, image: str | None = None) -> str:
        return service_name(super().object_name_for(server_name, image))

    # -- swarm-only settings ---------------------------------------------------

    extra_container_spec = _extra_spec_trait("ContainerSpec", "TaskTemplate.ContainerSpec")
    extra_resources_spec = _extra_spec_trait("Resources", "TaskTemplate.Resources")
    extra_placement_spec = _extra_spec_trait("Placement", "TaskTemplate.Placement")
    extra_task_spec = _extra_spec_trait("TaskTemplate", "TaskTemplate")
    extra_endpoint_spec = _extra_spec_trait("EndpointSpec", "EndpointSpec")

    @default("extra_container_spec")
    def _default_extra_container_spec(self) -> dict[str, Any]:
        return {}

    @default("extra_resources_spec")
    def _default_extra_resources_spec(self) -> dict[str, Any]:
        return {}

    @default("extra_placement_spec")
    def _default_extra_placement_spec(self) -> dict[str, Any]:
        return {}

    @default("extra_task_spec")
    def _default_extra_task_spec(self) -> dict[str, Any]:
        return {}

    @default("extra_endpoint_spec")
    def _default_extra_endpoint_spec(self) -> dict[str, Any]:
        return {}

    volume_driver = UnicodeTrait(
        "",
        help="""
        Volume driver for the named volumes in ``volumes`` and
        ``read_only_volumes`` (sources without ``/``): they are mounted as
        ``type=volume`` with this driver, which must reach the data from
        every node the task may run on. Host paths stay bind mounts.

        .. versionchanged:: 0.1
           dockerspawner combined the driver with bind mounts, which Docker
           rejects.
        """,
    ).tag(config=True)

    volume_driver_options = Dict(
        help="Options for ``volume_driver`` (its ``DriverConfig.Options``).",
    ).tag(config=True)

    mount_driver_config = Dict(
        allow_none=True,
        help="""
        The ``DriverConfig`` of the named-volume mounts: ``{"Name": driver,
        "Options": {...}}`` (docker-py's ``name``/``options`` keywords work
        too), or None for Docker's default driver. It follows
        ``volume_driver`` and ``volume_driver_options`` (reading it gives what
        dockerspawner's property gives) unless configured itself.

        .. versionchanged:: 0.1
           Configurable; in dockerspawner a read-only property.
        """,
    ).tag(config=True)

    @default("mount_driver_config")
    def _default_mount_driver_config(self) -> dict[str, Any] | None:
        return _driver_config(self.volume_driver, self.volume_driver_options)

    @validate("mount_driver_config")
    def _valid_mount_driver_config(self, proposal: Any) -> dict[str, Any] | None:
        value = proposal.value
        if value is None:
            return None
        keys = {str(k).lower(): v for k, v in value.items()}
        unknown = set(keys) - {"name", "options"}
        if unknown or not isinstance(keys.get("name"), str) or not keys["name"]:
            raise TraitError(
                f"mount_driver_config: expected {{'Name': driver, 'Options': {{...}}}}, "
                f"got {value!r}"
            )
        options = keys.get("options") or {}
        if not isinstance(options, Mapping):
            raise TraitError(f"mount_driver_config: Options must be a dict, got {options!r}")
        return _driver_config(keys["name"], options)

    @observe("volume_driver", "volume_driver_options")
    def _follow_volume_driver(self, change: Any) -> None:
        """A mount_driver_config derived from the old values follows the new ones."""
        if not self.trait_has_value("mount_driver_config"):
            return  # not read yet: its default is computed from the new values
        old = {
            "volume_driver": self.volume_driver,
            "volume_driver_options": self.volume_driver_options,
            change.name: change.old,
        }
        if self.mount_driver_config == _driver_config(
            old["volume_driver"], old["volume_driver_options"]
        ):
            derived = _driver_config(self.volume_driver, self.volume_driver_options)
            self.set_trait("mount_driver_config", derived)

    publish_mode = CaselessStrEnum(
        ["ingress", "host"],
        default_value="ingress",
        help="""
        How the server port is published when the Hub connects through a
        published port (``use_internal_ip`` False): ``ingress`` uses the
        routing mesh and ``host_ip``, as dockerspawner does; ``host`` publishes
        on the node that runs the task and connects to that node's address,
        which needs no routing mesh (IPVS).

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    on_node_loss = CaselessStrEnum(
        ["stop", "reschedule"],
        default_value="stop",
        help="""
        What happens to a server whose task swarm takes away from its node:
        the node was drained, was marked down (it stopped answering: the
        machine died, or its Docker daemon) or left the swarm.

        ``stop`` (the default): the next poll reports the server stopped and
        its service is removed. The user starts it again from the Hub, and
        swarm places the new server on a node that is available.

        ``reschedule``: the next poll asks swarm for a new task (a forced
        update of the service, as ``docker service update --force`` does),
        which swarm places on another node; meanwhile the server still counts
        as running. Once the new task runs, the Hub's record of the server's
        address and its proxy route are moved to it. The server process
        starts afresh there: what was only in memory (running kernels) is
        lost, and files survive only on storage every node reaches
        (``volume_driver``). A new task that is not running within
        ``start_timeout`` ends the server as ``stop`` does.

        In both cases services keep the restart condition ``none``: swarm
        never restarts a server that exited by itself.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    task_list_max_age = Float(
        None,
        allow_none=True,
        help="""
        How old, in seconds, the Hub-wide task list may be when ``poll()``
        reads a server's state from it. ``None`` (the default) means
        ``poll_interval``: the Hub then makes one ``GET /tasks`` request per
        poll interval, whatever the number of servers, instead of two
        requests per server and poll (a service inspect and a task list, as
        dockerspawner does). A server whose process exits is therefore
        reported within two poll intervals at most. A node that is drained,
        goes down or leaves makes the next poll list again (the Hub follows
        the manager's node events), so a server lost with its node is
        reported at the next poll. ``0`` lists at every poll (polls that
        arrive together still share one list).

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    # -- the backend -------------------------------------------------------------

    @property
    def backend(self) -> ObjectBackend:
        deadline = max(1.0, float(self.start_timeout) - START_DEADLINE_MARGIN)
        return service_backend(self.endpoint, start_deadline=deadline, pulls=self.pull_options())

    async def build_spec(self) -> ServiceObjectSpec:
        base = await super().build_spec()
        if base.extra_host_config or base.links:
            self.log.warning(
                "extra_host_config and links do nothing for swarm services (%s); "
                "use extra_container_spec, extra_task_spec or extra_resources_spec",
                self._log_name,
            )
        common = {f.name: getattr(base, f.name) for f in dataclasses.fields(ObjectSpec)}
        driver = self.mount_driver_config
        return ServiceObjectSpec(
            **common,
            extra_container_spec=await self._extra("extra_container_spec"),
            extra_resources_spec=await self._extra("extra_resources_spec"),
            extra_placement_spec=await self._extra("extra_placement_spec"),
            extra_task_spec=await self._extra("extra_task_spec"),
            extra_endpoint_spec=await self._extra("extra_endpoint_spec"),
            volume_driver=str(driver["Name"]) if driver else "",
            volume_driver_options={
                str(k): str(v) for k, v in ((driver or {}).get("Options") or {}).items()
            },
            stop_grace_period=self.stop_grace_period,
            publish_mode=self.publish_mode.lower(),
            secret_files=dict(self._cert_files),
        )

    async def _assign_gpus(self, spec: ObjectSpec) -> ObjectSpec:
        """The swarm assigns generic resources exclusively itself: only check the request."""
        if spec.gpus is not None and (spec.gpus.device_ids or spec.gpus.count == -1):
            raise InvalidSpec(
                "SwarmSpawner.gpus: a service reserves a number of GPUs; "
                "device ids and 'all' cannot be asked of the swarm"
            )
        return spec

    # -- internal SSL: the files go with the service, as swarm secrets ----------------

    #: in-container path -> content of the files ``move_certs`` read for the next start
    _cert_files: dict[str, bytes] = {}  # replaced at each move_certs, never mutated

    def _keep_certs(
        self, files: Mapping[str, tuple[bytes, float]], in_container: Mapping[str, str]
    ) -> str:
        """Keep the server's key, certificate and CA as the contents of swarm secrets.

        A task may run on any node, so the files cannot be copied into a
        container on the manager: each becomes a swarm secret (created with
        the service, removed with it), mounted read-only at ``/certs/<name>``
        in the task's container, on whichever node runs it.
        """
        by_name = {posixpath.basename(path): path for path in in_container.values()}
        self._cert_files = {by_name[name]: content for name, (content, _) in files.items()}
        return f"swarm secrets of service {self.object_name}"

    async def _remove_secrets(self) -> None:
        if not self.internal_ssl:
            return
        try:
            await self._service_backend.remove_secrets(self.object_name, self.hub_id)
        except DockerOperationError as e:
            self.log.warning("Could not remove the secrets of %s: %s", self.object_name, e)

    async def _discard(self, backend: ObjectBackend, name: str) -> None:
        try:
            await super()._discard(backend, name)
        finally:
            await asyncio.shield(self._remove_secrets())

    # -- dockerspawner's task lookup ----------------------------------------------

    async def get_task(self) -> dict[str, Any] | None:
        """The service's task, as dockerspawner's ``get_task()``: the Engine's task JSON.

        The running task (the one whose desired state is running), else the
        newest of any state; None when the service or its tasks are gone.
        More than one running task raises ``RuntimeError``, as in
        dockerspawner. Requests go through :meth:`docker` (``tasks``), so a
        subclass that overrides ``docker()`` sees them.
        """
        if await self.get_object() is None:
            return None
        service = self.service_name
        try:
            tasks = await self.docker(
                "tasks", filters={"service": service, "desired-state": "running"}
            )
            if len(tasks) > 1:
                raise RuntimeError(
                    f"Found more than one running notebook task for service {service!r}"
                )
            if not tasks:
                tasks = await self.docker("tasks", filters={"service": service})
        except dockerpy.NotFound:
            self.log.info("Task for service %r is gone", service)
            return None
        if not tasks:
            return None
        newest = max(tasks, key=lambda t: str(t.get("CreatedAt") or ""))
        return dict(newest)

    def prepull_strategy(self) -> PullOne:
        """Pre-pull on every node: a one-shot global job per image."""
        return swarm_prepull(self.endpoint, self.hub_id, self.pull_options())

    # -- poll --------------------------------------------------------------------

    #: a task on its way to running counts as running for poll()
    _starting_states: ClassVar[frozenset[str]] = TASK_PENDING_STATES

    async def _observe(self, target: str) -> ObservedObject | None:
        """One inspect of the service and its task: the events cache watches containers.

        A service whose server ended is removed as soon as that is seen:
        JupyterHub does not call ``stop()`` for a server that poll reports
        stopped, and with the restart condition ``none`` nothing else would
        remove it. A task lost with its node is handled as ``on_node_loss``
        says; a server that swarm moved to a new task (a reschedule, or an
        update of the service by hand) has its address followed.
        """
        obj = self._ours(await self._look(target))
        if obj is None or self._starting:
            return obj
        if self._moving is not None and not self._moving.done():
            return _still_starting(obj, "moving to another node")
        if self._move_failed and not self._ended(obj):
            # a new task that never ran (no node fits it): as lost as the old one
            obj = dataclasses.replace(
                obj, status=ObjectStatus(running=False, status=LOST, error=self._move_failed)
            )
        elif obj.status.status == LOST and self.on_node_loss == "reschedule":
            return await self._reschedule(obj)
        if self._ended(obj):
            await self._remove_ended(obj)
        elif obj.status.running and obj.instance_id and obj.instance_id != self._task_id:
            if self._task_id:
                await self._follow(obj)
            self._task_id = obj.instance_id
        return obj

    @property
    def task_snapshot(self) -> TaskSnapshot:
        """The Hub-wide task list of this spawner's endpoint and hub id."""
        return get_task_snapshot(self.endpoint, self.hub_id)

    async def _look(self, target: str) -> ObservedObject | None:
        """The service's state: from the shared task list when its id is known."""
        if self.object_id and target == self.object_id:
            setting = self.task_list_max_age
            max_age = float(self.poll_interval if setting is None else setting)
            return await self._service_backend.inspect_shared(
                target, self.task_snapshot, max_age=max(0.0, max_age)
            )
        return await self.backend.inspect(target)

    def _ended(self, obj: ObservedObject) -> bool:
        return not obj.status.running and obj.status.status not in self._starting_states

    async def _remove_ended(self, obj: ObservedObject) -> None:
        if obj.status.status == REMOVED:
            self.log.info("Service %s of %s was removed", obj.name or obj.id, self._log_name)
            return
        if obj.status.status == LOST:
            self.log.warning(
                "Server of %s is lost: %s; removing service %s",
                self._log_name,
                obj.status.error,
                obj.name or obj.id,
            )
        else:
            self.log.info(
                "Server of %s ended (%s); removing service %s",
                self._log_name,
                obj.status.describe(),
                obj.name or obj.id,
            )
        try:
            await self.backend.remove(obj.id)
        except DockerOperationError as e:
            self.log.warning("Could not remove service %s: %s", obj.name or obj.id, e)
            return
        await self._remove_secrets()

    # -- a server whose node was lost --------------------------------------------

    #: the task whose address the Hub has for this server
    _task_id = ""
    #: following a rescheduled server until its new task runs
    _moving: asyncio.Task[None] | None = None
    #: why a rescheduled server did not come back (reported as lost)
    _move_failed = ""

    @property
    def _service_backend(self) -> ServiceBackend:
        backend = self.backend
        assert isinstance(backend, ServiceBackend)
        return backend

    async def _reschedule(self, obj: ObservedObject) -> ObservedObject:
        """Ask swarm for a task on another node, and follow it in the background."""
        name = obj.name or obj.id
        self.log.warning(
            "Server of %s is lost (%s); asking swarm to run service %s on another node "
            "(on_node_loss = reschedule)",
            self._log_name,
            obj.status.error,
            name,
        )
        try:
            await self._service_backend.reschedule(obj.id)
        except DockerOperationError as e:
            self.log.error("Could not reschedule service %s: %s", name, e)
            await self._remove_ended(obj)
            return obj
        self.task_snapshot.invalidate(f"service {name} rescheduled")
        self._moving = asyncio.ensure_future(self._follow_move(obj.id, name, obj.instance_id))
        return _still_starting(obj, "moving to another node")

    async def _follow_move(self, service_id: str, name: str, lost_task: str) -> None:
        """Wait until the new task runs, then move the Hub's route to it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(1.0, float(self.start_timeout))
        delay = 0.2
        try:
            while True:
                found = await self.backend.inspect(service_id)
                if found is None:
                    return  # removed meanwhile: the next poll reports it
                if found.instance_id and found.instance_id != lost_task:
                    if found.status.running:
                        await self._follow(found)
                        self._task_id = found.instance_id
                        return
                    if found.status.status not in self._starting_states:
                        self._move_failed = f"its new task ended: {found.status.describe()}"
                        return
                if loop.time() >= deadline:
                    self._move_failed = (
                        f"no new task of service {name} was running after "
                        f"{self.start_timeout} s (start_timeout)"
                    )
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, 2.0)
        except DockerOperationError as e:
            self._move_failed = f"following it to another node failed: {e}"
        finally:
            if self._move_failed:
                self.log.error(
                    "Server of %s did not come back: %s", self._log_name, self._move_failed
                )

    async def _follow(self, obj: ObservedObject) -> None:
        """The server runs in another task than the Hub knows: move its address there."""
        try:
            if not obj.raw:  # from the task list: the address needs the service too
                fresh = await self.backend.inspect(obj.id)
                if fresh is None:
                    return
                obj = fresh
            address = await self.backend.address(obj, self.address_policy())
        except DockerOperationError as e:
            self.log.warning("Cannot find the new address of %s: %s", self._log_name, e)
            return
        await self._move_route(address)

    async def _move_route(self, address: Address) -> None:
        """Point the Hub's record of this server, and its proxy route, at ``address``.

        JupyterHub keeps the address a server started at in its database and
        in the proxy; it has no API for a server that moved, so the record is
        updated here (and saved), then the route. Should the proxy call fail,
        the Hub's own route check (``last_activity_interval``) puts the route
        right from the record.
        """
        server = self.server
        if server is None or (server.ip, server.port) == (address.host, address.port):
            return
        self.log.warning(
            "Server of %s moved from %s:%s to %s:%s; updating the Hub's route",
            self._log_name,
            server.ip,
            server.port,
            address.host,
            address.port,
        )
        server.ip = address.host
        server.port = address.port
        session = orm_session(self.orm_spawner)
        if session is not None:
            self.orm_spawner.state = self.get_state()
            session.commit()
        settings = getattr(self.user, "settings", None)
        proxy = settings.get("proxy") if isinstance(settings, dict) else None
        if proxy is not None:
            try:
                await proxy.add_user(self.user, self.name)
            except Exception as e:  # the Hub's route check repairs it later
                self.log.warning("Could not update the route of %s: %s", self._log_name, e)

    # -- start, stop and state -------------------------------------------------------

    async def start(self) -> str:
        url = await super().start()
        started = self._last_started
        self._task_id = started.instance_id if started is not None else ""
        return url

    async def stop(self, now: bool = False) -> None:
        moving, self._moving = self._moving, None
        if moving is not None and not moving.done():
            moving.cancel()
        await super().stop(now=now)
        await self._remove_secrets()

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self._task_id = str(state.get("task_id") or "")

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        if self.object_id and self._task_id:
            state["task_id"] = self._task_id
        return state

    def clear_state(self) -> None:
        super().clear_state()
        self._task_id = ""
        self._move_failed = ""

    async def _settled(self, target: str, gone: bool) -> None:
        """Nothing to wait for: :meth:`ServiceBackend.stop` returns once the task is gone.

        (The Hub-wide events cache of the core watches containers, not services.)
        """


def _still_starting(obj: ObservedObject, why: str) -> ObservedObject:
    """``obj`` reported as on its way to running (poll counts it as running)."""
    return dataclasses.replace(obj, status=ObjectStatus(running=False, status="pending", error=why))
