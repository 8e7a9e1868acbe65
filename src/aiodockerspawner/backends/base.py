"""The contract between the spawner core and a Docker backend: :class:`ObjectBackend`.

The neutral types it speaks in live in :mod:`aiodockerspawner.model`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from aiodockerspawner.exits import ExitReport, LogLimits
from aiodockerspawner.model import (
    Address,
    AddressPolicy,
    ExecResult,
    ObjectSpec,
    ObservedObject,
    PullPolicy,
)


class ObjectEvents(Protocol):
    """The events of one object as they arrive (the Hub-wide events stream)."""

    @property
    def connected(self) -> bool:
        """Whether the stream is current (events are not being missed)."""
        ...

    def listen(self, object_id: str) -> asyncio.Queue[Mapping[str, Any]]:
        """A queue of every event about ``object_id`` from now on."""
        ...

    def unlisten(self, object_id: str, queue: asyncio.Queue[Mapping[str, Any]]) -> None: ...

    def note(self, obj: ObservedObject) -> None:
        """An object its own start just inspected: newer than the events about it so far."""
        ...


class StartupWatch(Protocol):
    """One server watched from its start until the Hub has seen it answer.

    ``died`` is done, with an :class:`~aiodockerspawner.exits.ExitReport`,
    when the server died in that time.
    """

    died: asyncio.Future[ExitReport]

    def started(self, obj: ObservedObject) -> None:
        """The start request returned (``obj``: the object as inspected right after)."""
        ...

    async def explain(self, timeout: float) -> ExitReport | None:
        """After a start step failed: the death report (waiting up to ``timeout``), or None."""
        ...

    async def close(self) -> None:
        """Stop watching (the server answered, or the start is over)."""
        ...


@runtime_checkable
class ObjectBackend(Protocol):
    """The Docker operations the spawner core needs, one object per server.

    Implementations raise :class:`aiodockerspawner.errors.DockerOperationError`
    for Docker failures; "not found" is reported as ``None`` by :meth:`inspect`
    and is success for :meth:`stop` and :meth:`remove`.
    """

    #: ``"container"`` or ``"service"``; used in log and error messages
    object_type: str

    async def inspect(self, name_or_id: str) -> ObservedObject | None:
        """The object's current state, or ``None`` when it does not exist."""
        ...

    async def ensure_image(self, image: str, policy: PullPolicy) -> None:
        """Make ``image`` available according to ``policy`` (pull or check)."""
        ...

    async def image_command(self, image: str) -> list[str] | None:
        """The image's own CMD, or ``None`` when the daemon does not have the image."""
        ...

    async def create(self, spec: ObjectSpec, policy: PullPolicy) -> ObservedObject:
        """Create the object (pulling its image when ``policy`` allows).

        Raises :class:`aiodockerspawner.errors.ObjectExists` when an object
        with ``spec.name`` already exists.
        """
        ...

    async def start(self, obj: ObservedObject) -> ObservedObject:
        """Start a created or stopped object and return its state after start."""
        ...

    async def watch_startup(
        self, obj: ObservedObject, *, logs: LogLimits, events: ObjectEvents | None
    ) -> StartupWatch:
        """Begin watching a created object, before :meth:`start`, for an early death.

        ``events`` is the Hub-wide events stream when the spawner uses it;
        ``logs`` bounds the log lines kept for the report.
        """
        ...

    async def address(self, obj: ObservedObject, policy: AddressPolicy) -> Address:
        """Where a started object's server listens."""
        ...

    async def stop(self, name_or_id: str, grace: float) -> None:
        """Stop gracefully, killing after ``grace`` seconds. Gone is success."""
        ...

    async def remove(self, name_or_id: str) -> None:
        """Remove the object (and its anonymous volumes). Gone is success."""
        ...

    async def rename(self, name_or_id: str, new_name: str) -> None:
        """Give a stopped object another name (409 when the name is taken)."""
        ...

    async def servers(self, hub_id: str) -> list[ObservedObject]:
        """This Hub's server objects that exist now (capacity limits count them)."""
        ...

    async def total_memory(self) -> int | None:
        """The memory of the Docker host (a swarm: of its available nodes), in bytes."""
        ...

    async def volume_labels(self, name: str) -> Mapping[str, str] | None:
        """The labels of named volume ``name``, or ``None`` when it does not exist."""
        ...

    async def remove_volume(self, name: str) -> bool:
        """Remove named volume ``name``; ``False`` when it did not exist."""
        ...

    async def exec(self, name_or_id: str, cmd: str | list[str]) -> ExecResult:
        """Run a command inside a running object and collect its output."""
        ...
