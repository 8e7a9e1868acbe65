"""Spawn progress: what ``Spawner.progress()`` streams to the spawn page.

Each ``start()`` gets a :class:`SpawnProgress`, an append-only list of events.
Readers (JupyterHub runs one ``progress()`` per open spawn page) each keep
their own position in it, so any number of them can follow one start without
taking events from each other.

Code deep inside a start (a backend pulling an image, a service backend
watching its task) reports through :func:`report`, which writes to the start
that is running in the current context (a ``ContextVar`` set by ``start()``);
outside a start it does nothing. A backend therefore needs no extra parameter
to report progress.

Percentages are per phase and never go down::

    0    "Server requested" (sent by JupyterHub itself)
    2-50 pull: the image's layers, bytes downloaded and extracted
    55   create    60 start    70 address    80 post_start    95 started
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

PULL = "pull"
CREATE = "create"
START = "start"
ADDRESS = "address"
POST_START = "post_start"
STARTED = "started"

#: the percentage each phase reaches (``pull`` spans ``PULL_RANGE``)
PHASE_PERCENT = {CREATE: 55, START: 60, ADDRESS: 70, POST_START: 80, STARTED: 95}
PULL_RANGE = (2, 50)

#: what a patience message says the spawner is doing, per phase
DOING = {
    "": "preparing the server",
    PULL: "pulling the image",
    CREATE: "creating the server",
    START: "starting the server",
    ADDRESS: "waiting for the server's address",
    POST_START: "running post_start_cmd",
    STARTED: "waiting for the server to respond",
}


def phase_percent(phase: str, fraction: float | None = None) -> int | None:
    """The progress percentage of ``phase`` (``fraction`` of the way through a pull)."""
    if phase == PULL:
        low, high = PULL_RANGE
        return low + round(max(0.0, min(1.0, fraction or 0.0)) * (high - low))
    return PHASE_PERCENT.get(phase)


def format_duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s"


@dataclass(frozen=True)
class ProgressEvent:
    phase: str
    message: str
    progress: int | None
    at: float

    def as_dict(self) -> dict[str, Any]:
        event: dict[str, Any] = {"message": self.message}
        if self.progress is not None:
            event["progress"] = self.progress
        return event


class SpawnProgress:
    """The progress of one ``start()``; followed by any number of readers."""

    def __init__(self, *, patience_after: float = 30.0, patience_every: float = 10.0) -> None:
        self.patience_after = patience_after
        self.patience_every = patience_every
        self.events: list[ProgressEvent] = []
        self.done = False
        self.phase = ""
        self._percent = 0
        self._changed = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self.started_at = self._loop.time()
        #: Docker requests of this start still waiting for an answer: (what, since)
        self.waiting: list[tuple[str, float]] = []

    def report(self, phase: str, message: str, fraction: float | None = None) -> None:
        """Record one step; the percentage never goes below an earlier one."""
        percent = phase_percent(phase, fraction)
        if percent is not None:
            percent = max(percent, self._percent)
            self._percent = percent
        self.phase = phase
        self.events.append(ProgressEvent(phase, message, percent, self._loop.time()))
        self._notify()

    def finish(self) -> None:
        self.done = True
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def patience_message(self) -> str:
        elapsed = format_duration(self._loop.time() - self.started_at)
        unanswered = self.unanswered()
        if unanswered is not None:
            what, since = unanswered
            return f"Still waiting for Docker to answer {what} ({format_duration(since)} so far)..."
        return f"Still {DOING.get(self.phase, 'working')} ({elapsed} so far)..."

    def unanswered(self) -> tuple[str, float] | None:
        """The oldest Docker request of this start still unanswered, and for how long.

        None during ``post_start_cmd``, whose exec stream stays open while the
        command runs: the phase says better what is going on.
        """
        if not self.waiting or self.phase == POST_START:
            return None
        what, since = self.waiting[0]
        return what, self._loop.time() - since

    def what_it_is_doing(self) -> str:
        """What the start is busy with, for a message saying why it gave up."""
        unanswered = self.unanswered()
        if unanswered is not None:
            what, since = unanswered
            return f"Docker had not answered {what} after {format_duration(since)}"
        return f"it was still {DOING.get(self.phase, 'working')}"

    async def follow(self) -> AsyncIterator[dict[str, Any]]:
        """Every event from the first, then new ones as they come, until the start ends.

        While nothing happens for ``patience_every`` seconds and the start has
        run for ``patience_after`` seconds, a message-only event says what is
        still going on.
        """
        position = 0
        while True:
            while position < len(self.events):
                yield self.events[position].as_dict()
                position += 1
            if self.done:
                return
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), self.patience_every)
            except TimeoutError:
                if self._loop.time() - self.started_at >= self.patience_after:
                    yield {"message": self.patience_message()}


_current: contextvars.ContextVar[SpawnProgress | None] = contextvars.ContextVar(
    "aiodockerspawner_progress", default=None
)


def current() -> SpawnProgress | None:
    """The progress of the start running in this context, if any."""
    return _current.get()


def report(phase: str, message: str, fraction: float | None = None) -> None:
    """Report a step of the start running in this context (no-op outside a start)."""
    progress = _current.get()
    if progress is not None:
        progress.report(phase, message, fraction)


@contextlib.contextmanager
def awaiting_docker(what: str) -> Any:
    """Note a Docker request of the start running in this context while it is unanswered.

    Patience messages and the message of a start that runs out of time name
    it ("create container jupyter-alice"); outside a start it does nothing.
    """
    progress = _current.get()
    if progress is None:
        yield
        return
    entry = (what, progress._loop.time())
    progress.waiting.append(entry)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            progress.waiting.remove(entry)


@contextlib.contextmanager
def reporting_to(progress: SpawnProgress) -> Any:
    """Make :func:`report` write to ``progress`` inside the block."""
    token = _current.set(progress)
    try:
        yield progress
    finally:
        _current.reset(token)
