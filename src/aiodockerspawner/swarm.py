"""SwarmSpawner: each single-user server as a Docker Swarm service.

The core (:class:`~aiodockerspawner.spawner.DockerSpawner`) is reused as it
is; this class swaps in :class:`~aiodockerspawner.backends.ServiceBackend`,
adds the swarm-only settings, and builds a
:class:`~aiodockerspawner.model.ServiceObjectSpec`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from traitlets import (
    Callable as CallableTrait,
)
from traitlets import (
    CaselessStrEnum,
    Dict,
    Union,
    default,
    validate,
)
from traitlets import (
    Unicode as UnicodeTrait,
)

from aiodockerspawner.backends import (
    TASK_PENDING_STATES,
    ObjectBackend,
    PullOne,
    service_backend,
    swarm_prepull,
)
from aiodockerspawner.core.naming import service_name
from aiodockerspawner.model import ObjectSpec, ObservedObject, ServiceObjectSpec
from aiodockerspawner.spawner import DockerSpawner

#: seconds ``start`` gives up waiting for the task before JupyterHub's start_timeout
START_DEADLINE_MARGIN = 2.0


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
        return ServiceObjectSpec(
            **common,
            extra_container_spec=await self._extra("extra_container_spec"),
            extra_resources_spec=await self._extra("extra_resources_spec"),
            extra_placement_spec=await self._extra("extra_placement_spec"),
            extra_task_spec=await self._extra("extra_task_spec"),
            extra_endpoint_spec=await self._extra("extra_endpoint_spec"),
            volume_driver=self.volume_driver,
            volume_driver_options={str(k): str(v) for k, v in self.volume_driver_options.items()},
            stop_grace_period=self.stop_grace_period,
            publish_mode=self.publish_mode.lower(),
        )

    def prepull_strategy(self) -> PullOne:
        """Pre-pull on every node: a one-shot global job per image."""
        return swarm_prepull(self.endpoint, self.hub_id, self.pull_options())

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
