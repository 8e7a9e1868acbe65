"""Is there room for one more server on a Docker endpoint? (pure)

The servers counted are this Hub's: the running objects carrying its hub
id, which the events cache (or one list request) knows, and survive a Hub
restart; plus the spawns of this Hub process that have reserved a place and
whose object may not exist yet. Both are keyed by object name, so a server
is counted once whether it is reserved, running, or both.

A server's memory is what its ``aiodockerspawner.mem-limit`` (or
``mem-guarantee``) label says, written at creation from ``mem_limit`` (or
``mem_guarantee``); a server without one claims nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiodockerspawner.exits import format_bytes
from aiodockerspawner.labels import LABEL_MEM_GUARANTEE, LABEL_MEM_LIMIT

__all__ = ["Limits", "claim_of", "over_limit"]


@dataclass(frozen=True)
class Limits:
    """The limits of one endpoint; 0 means no limit."""

    max_servers: int = 0
    #: the servers' memory may add up to this fraction of ``total_memory``
    memory_ratio: float = 0.0
    total_memory: int = 0
    #: ``"limit"`` (mem_limit) or ``"guarantee"`` (mem_guarantee)
    memory_basis: str = "limit"

    @property
    def memory_budget(self) -> int:
        return int(self.total_memory * self.memory_ratio)


def claim_of(labels: Mapping[str, str], basis: str) -> int:
    """The memory an object claims, from its labels (0 when it has none)."""
    value = labels.get(LABEL_MEM_GUARANTEE if basis == "guarantee" else LABEL_MEM_LIMIT, "")
    return int(value) if value.isdigit() else 0


def over_limit(
    servers: Mapping[str, int],
    *,
    name: str,
    claim: int,
    limits: Limits,
) -> str | None:
    """Why one more server ``name`` claiming ``claim`` bytes does not fit, or None.

    ``servers`` maps the names of the servers counted (running or reserved)
    to their memory claims; ``name`` itself is left out (a reserved name
    tried again, or an object being resumed, is not counted twice).
    """
    others = {n: c for n, c in servers.items() if n != name}
    if limits.max_servers and len(others) >= limits.max_servers:
        return (
            f"{len(others)} of {limits.max_servers} servers already run on this "
            "Docker host (max_servers)"
        )
    if limits.memory_ratio and limits.total_memory:
        used = sum(others.values())
        budget = limits.memory_budget
        if used + claim > budget:
            return (
                f"your server needs {format_bytes(claim)} of memory and the servers "
                f"running here already claim {format_bytes(used)} of the "
                f"{format_bytes(budget)} allowed ({limits.memory_ratio:.0%} of the "
                f"Docker host's {format_bytes(limits.total_memory)}, max_memory_ratio)"
            )
    return None


def counted(
    running: Iterable[tuple[str, Mapping[str, str]]],
    reserved: Mapping[str, int],
    basis: str,
) -> dict[str, int]:
    """The servers to count: running objects (name, labels) and reservations, by name."""
    servers = {name: claim_of(labels, basis) for name, labels in running}
    for name, claim in reserved.items():
        servers[name] = max(servers.get(name, 0), claim)
    return servers
