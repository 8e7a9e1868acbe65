"""How many servers, and how much of their memory, one Docker endpoint takes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from traitlets import CaselessStrEnum, Float, HasTraits, Int


class CapacityConfig(HasTraits):
    """Limits per Docker endpoint; a spawn over them fails at once with HTTP 503."""

    if TYPE_CHECKING:  # the rest of DockerSpawner and JupyterHub's Spawner

        def __getattr__(self, name: str) -> Any: ...

    max_servers = Int(
        0,
        help="""
        Most servers of this Hub running at once on its Docker endpoint (a
        swarm counts as one); 0 means no limit. A spawn over the limit fails
        at once with HTTP 503, "The server is full: ...", and creates
        nothing. Servers are counted from the objects carrying this Hub's id
        (so a restarted Hub counts the servers still running) and from the
        spawns in progress, which reserve their place before they create
        anything: concurrent spawns cannot overshoot.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    max_memory_ratio = Float(
        0.0,
        help="""
        Refuse a spawn (HTTP 503, "The server is full: ...") when the memory
        of the servers running on the Docker endpoint plus the new one would
        exceed this fraction of the Docker host's memory (``MemTotal`` of
        ``docker info``; for a swarm, the memory of its available nodes),
        e.g. 0.9. A server's memory is its ``mem_limit`` (or
        ``mem_guarantee``, see ``capacity_memory``); a server without one
        counts as 0, so set ``mem_limit`` for this to mean anything. 0 means
        no memory limit.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    capacity_memory = CaselessStrEnum(
        ["limit", "guarantee"],
        default_value="limit",
        help="""
        Which memory setting of a server ``max_memory_ratio`` adds up:
        ``limit`` (``mem_limit``, the most it may use: no overcommit) or
        ``guarantee`` (``mem_guarantee``, what it is promised).

        .. versionadded:: 0.1
        """,
    ).tag(config=True)
