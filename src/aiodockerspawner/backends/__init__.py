"""The one door from the spawners to Docker.

Spawner classes import this package only (never its submodules): the
:class:`ObjectBackend` protocol and the neutral types it speaks in, plus a
small factory for the Hub-wide pieces that sit behind it. Everything
Docker-shaped (Engine JSON, aiodocker, the events stream, pulls) stays below.
"""

from __future__ import annotations

from collections.abc import Coroutine, Mapping
from typing import Any

from aiodockerspawner.backends.base import ObjectBackend, ObjectEvents, StartupWatch
from aiodockerspawner.backends.container.backend import ContainerBackend
from aiodockerspawner.backends.container.observe import ContainerSource
from aiodockerspawner.backends.container.sweep import OrphanSweeper, get_sweeper, stop_sweepers
from aiodockerspawner.backends.docker import dockerpy
from aiodockerspawner.backends.docker.client import (
    DockerClient,
    Endpoint,
    close_shared_clients,
    generic_resources,
    resolve_endpoint,
    shared_client,
    stream_client,
    within,
)
from aiodockerspawner.backends.docker.prepull import (
    Prepuller,
    PullOne,
    get_prepuller,
    local_pull,
    stop_prepullers,
)
from aiodockerspawner.backends.docker.pulls import PullOptions, find_credentials
from aiodockerspawner.backends.docker.watch import Watcher, WatchSource, get_watcher, stop_watchers
from aiodockerspawner.backends.service.backend import (
    LOST,
    REMOVED,
    TASK_PENDING_STATES,
    ServiceBackend,
)
from aiodockerspawner.backends.service.prepull import swarm_pull
from aiodockerspawner.backends.service.snapshot import (
    TaskSnapshot,
    get_task_snapshot,
    stop_task_snapshots,
)
from aiodockerspawner.model import (
    Address,
    AddressPolicy,
    ExecResult,
    ObjectSpec,
    ObjectStatus,
    ObservedObject,
    PullPolicy,
    VolumeBind,
)

__all__ = [
    "LOST",
    "REMOVED",
    "TASK_PENDING_STATES",
    "Address",
    "AddressPolicy",
    "ContainerBackend",
    "ContainerSource",
    "DockerClient",
    "Endpoint",
    "ExecResult",
    "ObjectBackend",
    "ObjectEvents",
    "ObjectSpec",
    "ObjectStatus",
    "ObservedObject",
    "OrphanSweeper",
    "Prepuller",
    "PullOne",
    "PullOptions",
    "PullPolicy",
    "ServiceBackend",
    "StartupWatch",
    "TaskSnapshot",
    "VolumeBind",
    "WatchSource",
    "Watcher",
    "close_all",
    "container_backend",
    "daemon_generic_resources",
    "docker_py_call",
    "dockerpy",
    "find_credentials",
    "get_prepuller",
    "get_sweeper",
    "get_task_snapshot",
    "get_watcher",
    "hub_containers",
    "local_pull",
    "resolve_endpoint",
    "service_backend",
    "shared_client",
    "swarm_prepull",
    "within",
]


def container_backend(endpoint: Endpoint, pulls: PullOptions) -> ContainerBackend:
    """The backend for plain containers on ``endpoint``, on the Hub's shared client."""
    return ContainerBackend(
        shared_client(endpoint),
        docker_host=endpoint.host,
        pulls=pulls,
        streams=stream_client(endpoint),
    )


def service_backend(
    endpoint: Endpoint, *, start_deadline: float, pulls: PullOptions | None = None
) -> ServiceBackend:
    """The backend for swarm services on ``endpoint``, on the Hub's shared client."""
    return ServiceBackend(
        shared_client(endpoint),
        docker_host=endpoint.host,
        start_deadline=start_deadline,
        pulls=pulls,
    )


async def hub_containers(endpoint: Endpoint, hub_id: str) -> list[ObservedObject]:
    """Every container of Hub ``hub_id`` on ``endpoint``, in any state (one list request)."""
    return await ContainerSource().snapshot(shared_client(endpoint), hub_id)


async def daemon_generic_resources(endpoint: Endpoint) -> list[Mapping[str, Any]]:
    """The generic resources (e.g. GPUs) the daemon at ``endpoint`` advertises."""
    return await generic_resources(shared_client(endpoint))


def docker_py_call(
    client: DockerClient, method: str, *args: Any, **kwargs: Any
) -> Coroutine[Any, Any, Any]:
    """docker-py's ``APIClient.<method>(*args, **kwargs)`` on ``client``, to be awaited.

    The request is built (and its arguments checked) now, so an unknown method
    or a bad argument raises here; the coroutine sends it and returns
    docker-py's shape of the answer (:mod:`aiodockerspawner.backends.docker.dockerpy`).
    """
    request = dockerpy.build(method, *args, **kwargs)
    return dockerpy.send(client, request, name=method)


def swarm_prepull(endpoint: Endpoint, hub_id: str, pulls: PullOptions) -> PullOne:
    """Pre-pull on every node of the swarm behind ``endpoint`` (a one-shot global job)."""
    return swarm_pull(shared_client(endpoint), hub_id, pulls, timeout=pulls.timeout)


async def close_all() -> None:
    """Stop the Hub-wide tasks (sweepers, pre-pullers, watchers), close the clients."""
    await stop_prepullers()
    await stop_sweepers()
    await stop_watchers()
    await stop_task_snapshots()
    await close_shared_clients()
