"""Capacity limits per Docker endpoint: a spawn that does not fit fails at once (HTTP 503).

The check runs before anything is created, and a spawn that passes reserves
its place (by object name) in a Hub-wide table for its endpoint, until its
server stops or its start fails; the check and the reservation happen
without an ``await`` between them, so concurrent spawns cannot overshoot.
Running servers are counted from this Hub's labelled objects: the events
cache (no request) for containers, one list of the Hub's services on Swarm.
The policy is :mod:`aiodockerspawner.core.capacity`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tornado import web
from traitlets import HasTraits

from aiodockerspawner.backends import Endpoint, ObjectBackend, ObservedObject
from aiodockerspawner.core import capacity, options
from aiodockerspawner.model import ObjectSpec

#: seconds the Docker host's memory size is remembered
MEMORY_TTL = 300.0
#: object states that count as a running server
_ACTIVE = frozenset({"created", "running", "restarting", "paused"})


@dataclass
class _Gate:
    """One endpoint's reservations, and its memory size when last read."""

    reserved: dict[str, int] = field(default_factory=dict)
    total_memory: int = 0
    memory_read_at: float = -MEMORY_TTL


_gates: dict[tuple[int, Endpoint, str], _Gate] = {}


def _gate(endpoint: Endpoint, hub_id: str) -> _Gate:
    key = (id(asyncio.get_running_loop()), endpoint, hub_id)
    return _gates.setdefault(key, _Gate())


class ServerLimits(HasTraits):
    """``max_servers`` and ``max_memory_ratio`` at work (a mixin of DockerSpawner)."""

    if TYPE_CHECKING:  # the rest of DockerSpawner and JupyterHub's Spawner

        def __getattr__(self, name: str) -> Any: ...

    _reservation: tuple[_Gate, str] | None = None

    async def _running_servers(self, backend: ObjectBackend) -> list[ObservedObject]:
        """This Hub's servers on the endpoint: from the events cache when it is current."""
        if self.events_cache and self.watch_source().kind == backend.object_type:
            watcher = self.watcher
            if await watcher.wait_ready(float(self.docker_request_timeout)):
                return [o for o in watcher.objects() if o.status.status in _ACTIVE]
        found = await backend.servers(self.hub_id)
        return [o for o in found if o.status.running or o.status.status in _ACTIVE]

    async def _reserve_capacity(self, backend: ObjectBackend, spec: ObjectSpec) -> None:
        """Reserve a place for ``spec`` on the endpoint, or fail with HTTP 503 "server is full"."""
        if not self.max_servers and not self.max_memory_ratio:
            return
        gate = _gate(self.endpoint, self.hub_id)
        loop = asyncio.get_running_loop()
        if self.max_memory_ratio and loop.time() - gate.memory_read_at > MEMORY_TTL:
            gate.total_memory = await backend.total_memory() or 0
            gate.memory_read_at = loop.time()
        running = await self._running_servers(backend)
        # from here to the reservation: no await, so concurrent spawns see each other
        limits = capacity.Limits(
            max_servers=int(self.max_servers),
            memory_ratio=float(self.max_memory_ratio),
            total_memory=gate.total_memory,
            memory_basis=str(self.capacity_memory).lower(),
        )
        basis = limits.memory_basis
        claim = capacity.claim_of(spec.labels, basis)
        servers = capacity.counted(((o.name, o.labels) for o in running), gate.reserved, basis)
        reason = capacity.over_limit(servers, name=spec.name, claim=claim, limits=limits)
        if reason is not None:
            raise self._full(reason)
        gate.reserved[spec.name] = claim
        self._reservation = (gate, spec.name)

    def _release_capacity(self) -> None:
        """Give the place back (the server stopped, or its start failed)."""
        reservation, self._reservation = self._reservation, None
        if reservation is not None:
            gate, name = reservation
            gate.reserved.pop(name, None)

    def _full(self, reason: str) -> web.HTTPError:
        message = f"The server is full: {reason}. Try again later."
        self.log.warning("Refusing to start %s: %s", self._log_name, message)
        error = options.spawn_error(message, reason="capacity", status_code=503)
        error.jupyterhub_message = message  # type: ignore[attr-defined]
        return error
