"""SwarmSpawner: each single-user server as a Docker Swarm service.

The core (:class:`~aiodockerspawner.spawner.DockerSpawner`) is reused as it
is; this class swaps in :class:`~aiodockerspawner.backends.ServiceBackend`,
adds the swarm-only settings, and builds a
:class:`~aiodockerspawner.model.ServiceObjectSpec`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from traitlets import (
    Callable as CallableTrait,
)
from traitlets import (
    CaselessStrEnum,
    Dict,
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
    TASK_PENDING_STATES,
    ObjectBackend,
    dockerpy,
    service_backend,
)
from aiodockerspawner.core.naming import service_name
from aiodockerspawner.model import ObjectSpec, ObservedObject, ServiceObjectSpec
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

    # -- the backend -------------------------------------------------------------

    @property
    def backend(self) -> ObjectBackend:
        deadline = max(1.0, float(self.start_timeout) - START_DEADLINE_MARGIN)
        return service_backend(self.endpoint, start_deadline=deadline)

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
        )

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

    # -- poll --------------------------------------------------------------------

    #: a task on its way to running counts as running for poll()
    _starting_states: ClassVar[frozenset[str]] = TASK_PENDING_STATES

    async def _observe(self, target: str) -> ObservedObject | None:
        """One inspect of the service and its task: the events cache watches containers."""
        return self._ours(await self.backend.inspect(target))

    async def _settled(self, target: str, gone: bool) -> None:
        """Nothing to wait for: :meth:`ServiceBackend.stop` returns once the task is gone.

        (The Hub-wide events cache of the core watches containers, not services.)
        """
