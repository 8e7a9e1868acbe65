"""The one door from the spawners to Docker.

Spawner classes import this package only (never its submodules): the
:class:`ObjectBackend` protocol and the neutral types it speaks in, plus a
small factory for the Hub-wide pieces that sit behind it. Everything
Docker-shaped (Engine JSON, aiodocker, the events stream, pulls) stays below.
"""

from __future__ import annotations

from aiodockerspawner.backends.base import ObjectBackend, ObjectEvents, StartupWatch
from aiodockerspawner.backends.container.backend import ContainerBackend
from aiodockerspawner.backends.container.observe import ContainerSource
from aiodockerspawner.backends.container.sweep import OrphanSweeper, get_sweeper, stop_sweepers
from aiodockerspawner.backends.docker.client import (
    DockerClient,
    Endpoint,
    close_shared_clients,
    resolve_endpoint,
    shared_client,
    stream_client,
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
from aiodockerspawner.backends.service.backend import TASK_PENDING_STATES, ServiceBackend
from aiodockerspawner.backends.service.prepull import swarm_pull
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
    "VolumeBind",
    "WatchSource",
    "Watcher",
    "close_all",
    "container_backend",
    "find_credentials",
    "get_prepuller",
    "get_sweeper",
    "get_watcher",
    "local_pull",
    "resolve_endpoint",
    "service_backend",
    "shared_client",
    "swarm_prepull",
]


def container_backend(endpoint: Endpoint, pulls: PullOptions) -> ContainerBackend:
    """The backend for plain containers on ``endpoint``, on the Hub's shared client."""
    return ContainerBackend(
        shared_client(endpoint),
        docker_host=endpoint.host,
        pulls=pulls,
        streams=stream_client(endpoint),
    )


def service_backend(endpoint: Endpoint, *, start_deadline: float) -> ServiceBackend:
    """The backend for swarm services on ``endpoint``, on the Hub's shared client."""
    return ServiceBackend(
        shared_client(endpoint), docker_host=endpoint.host, start_deadline=start_deadline
    )


def swarm_prepull(endpoint: Endpoint, hub_id: str, pulls: PullOptions) -> PullOne:
    """Pre-pull on every node of the swarm behind ``endpoint`` (a one-shot global job)."""
    return swarm_pull(shared_client(endpoint), hub_id, pulls, timeout=pulls.timeout)


async def close_all() -> None:
    """Stop the Hub-wide tasks (sweepers, pre-pullers, watchers), close the clients."""
    await stop_prepullers()
    await stop_sweepers()
    await stop_watchers()
    await close_shared_clients()
