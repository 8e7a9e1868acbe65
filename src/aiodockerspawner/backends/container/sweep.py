"""The opt-in orphan sweep: remove this Hub's objects that the Hub no longer knows.

What the Hub knows is read from its own database (the session the spawners'
``orm_spawner`` rows belong to): every user, every (user, server name) that
has a spawner row, and every object id or name a spawner's state refers to.
An object is an orphan only when all of these hold:

- it carries ``managed-by=aiodockerspawner`` and *this* Hub's ``hub-id``
  label (the list is filtered by the hub id, and each object is checked
  again before removal: objects of another hub id are never touched);
- its (user, server) labels name no spawner row the Hub has;
- no spawner's state refers to its id or name (a server renamed under
  JupyterHub 6 keeps its container, whose server label is then stale).

The database is read *after* listing the objects: a spawner row is committed
before its container is created, so a container being created while the
sweep runs is always known. Volumes hold user data: they are only swept when
``orphan_sweep_volumes`` is on, and only those of users the Hub no longer has.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiodocker.volumes import DockerVolume

from aiodockerspawner.backends.container.observe import ContainerSource
from aiodockerspawner.backends.docker.client import Endpoint, docker_errors, shared_client
from aiodockerspawner.backends.docker.periodic import Periodic
from aiodockerspawner.errors import DockerOperationError
from aiodockerspawner.labels import LABEL_SERVER, LABEL_USER, hub_filter, owned_by
from aiodockerspawner.model import KnownServers, ObservedObject

log = logging.getLogger(__name__)


def _referenced(obj: ObservedObject, refs: frozenset[str]) -> bool:
    if obj.id in refs or obj.name in refs:
        return True
    # states may hold a short id
    return any(len(ref) >= 12 and obj.id.startswith(ref) for ref in refs)


def orphan_objects(
    objects: Iterable[ObservedObject], known: KnownServers, hub_id: str
) -> list[ObservedObject]:
    """The objects of ``hub_id`` that the Hub does not know (pure)."""
    orphans = []
    for obj in objects:
        if not owned_by(obj.labels, hub_id) or LABEL_USER not in obj.labels:
            continue
        server = (obj.labels[LABEL_USER], obj.labels.get(LABEL_SERVER, ""))
        if server in known.servers or _referenced(obj, known.objects):
            continue
        orphans.append(obj)
    return orphans


def orphan_volumes(
    volumes: Iterable[Mapping[str, Any]], known: KnownServers, hub_id: str
) -> list[str]:
    """Names of ``hub_id``'s volumes whose user the Hub no longer has (pure)."""
    names = []
    for volume in volumes:
        labels = volume.get("Labels") or {}
        if owned_by(labels, hub_id) and labels.get(LABEL_USER) not in (None, *known.users):
            names.append(str(volume.get("Name")))
    return names


@dataclass
class SweepResult:
    containers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)


class OrphanSweeper(Periodic):
    """Sweeps one Hub's objects on one endpoint: once when started, then periodically."""

    def __init__(
        self,
        endpoint: Endpoint,
        hub_id: str,
        known: Callable[[], KnownServers],
        *,
        interval: float = 3600.0,
        volumes: bool = False,
    ) -> None:
        super().__init__(hub_id, interval)
        self.endpoint = endpoint
        self.known = known
        self.volumes = volumes
        self.runs = 0
        self.last: SweepResult | None = None

    job = "orphan sweep"

    async def run_once(self) -> None:
        await self.sweep()

    async def sweep(self) -> SweepResult:
        """List this Hub's objects, read what the Hub knows, remove the orphans."""
        docker = shared_client(self.endpoint)
        containers = await ContainerSource().snapshot(docker, self.hub_id)
        volumes: list[Mapping[str, Any]] = []
        if self.volumes:
            async with docker_errors("list volumes", f"of hub {self.hub_id}"):
                listed = await docker.volumes.list(  # type: ignore[no-untyped-call]
                    filters={"label": hub_filter(self.hub_id)}
                )
            volumes = listed.get("Volumes") or []
        known = self.known()  # after listing: anything created meanwhile has its row
        result = SweepResult()
        for obj in orphan_objects(containers, known, self.hub_id):
            log.warning(
                "Removing orphaned container %s (user %r, server %r of hub %s): "
                "the Hub has no such server",
                obj.name,
                obj.labels.get(LABEL_USER),
                obj.labels.get(LABEL_SERVER),
                self.hub_id,
            )
            try:
                async with docker_errors("remove container", obj.name):
                    await docker.containers.container(obj.id).delete(force=True, v=True)
                result.containers.append(obj.name)
            except DockerOperationError as e:
                if e.status not in (404, 409):
                    log.warning("Could not remove orphaned container %s: %s", obj.name, e)
        for name in orphan_volumes(volumes, known, self.hub_id) if self.volumes else []:
            log.warning(
                "Removing orphaned volume %s of hub %s: its user is gone", name, self.hub_id
            )
            try:
                async with docker_errors("remove volume", name):
                    await DockerVolume(docker, name).delete()  # type: ignore[no-untyped-call]
                result.volumes.append(name)
            except DockerOperationError as e:
                log.warning("Could not remove orphaned volume %s: %s", name, e)
        self.runs += 1
        self.last = result
        return result


_sweepers: dict[tuple[int, Endpoint, str], OrphanSweeper] = {}


def get_sweeper(
    endpoint: Endpoint,
    hub_id: str,
    known: Callable[[], KnownServers],
    *,
    interval: float,
    volumes: bool,
) -> OrphanSweeper:
    """The Hub's sweeper for ``endpoint``, started (and so sweeping) on first use."""
    loop = asyncio.get_running_loop()
    key = (id(loop), endpoint, hub_id)
    sweeper = _sweepers.get(key)
    if sweeper is None or sweeper.loop is not loop:
        sweeper = OrphanSweeper(endpoint, hub_id, known, interval=interval, volumes=volumes)
        _sweepers[key] = sweeper
    sweeper.start()
    return sweeper


async def stop_sweepers() -> None:
    """Stop the sweepers of the running loop (tests; embedding applications)."""
    loop = asyncio.get_running_loop()
    for key, sweeper in list(_sweepers.items()):
        if sweeper.loop is loop or sweeper.loop.is_closed():
            _sweepers.pop(key, None)
            if sweeper.loop is loop:
                await sweeper.stop()
