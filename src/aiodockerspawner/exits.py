"""Why a server died during start-up, in words a user can act on (pure, no I/O).

A backend watches a server from the moment it starts until the Hub has seen it
answer (see ``docs/architecture.md``, "Fast failure"). When it dies in that
window, the backend reports an :class:`ExitReport`: the exit code, whether the
kernel killed it for lack of memory, and the last lines of its log, kept by a
:class:`LogTail` that bounds them (line count and bytes) and strips control
characters, so that whatever the server printed is safe to show on the spawn
page and in the admin log. :func:`describe_exit` turns the report into the
message of the failed spawn.
"""

from __future__ import annotations

import re
import signal
from collections import deque
from dataclasses import dataclass, field

__all__ = [
    "ExitReport",
    "LogLimits",
    "LogTail",
    "clean_line",
    "describe_exit",
    "format_bytes",
]

#: ANSI escape sequences (colours, cursor moves) and other C0/C1 controls but tab
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_line(text: str) -> str:
    """One log line made safe to show: escape sequences and control characters gone.

    A carriage return keeps what was written after it, as a terminal shows
    progress bars; tabs become spaces; trailing blanks are dropped.
    """
    text = _ANSI.sub("", text)
    if "\r" in text:
        parts = [p for p in text.split("\r") if p.strip()]
        text = parts[-1] if parts else ""
    return _CONTROL.sub("", text.replace("\t", "    ")).rstrip()


@dataclass(frozen=True)
class LogLimits:
    """How much of a dead server's log is kept: ``lines`` lines, ``max_bytes`` in all.

    ``lines = 0`` keeps none (the log is not read at all).
    """

    lines: int = 20
    max_bytes: int = 2000

    @property
    def enabled(self) -> bool:
        return self.lines > 0 and self.max_bytes > 0


class LogTail:
    """The last lines of a stream of text, bounded in count and bytes.

    Feed it chunks as they arrive (:meth:`feed`, any split); :meth:`lines`
    gives the cleaned tail. A single line longer than the byte bound keeps its
    end, marked with ``...``. Memory use stays bounded whatever the server
    prints: a partial line is cut at the byte bound too.
    """

    def __init__(self, limits: LogLimits) -> None:
        self.limits = limits
        self._lines: deque[str] = deque()
        self._size = 0
        self._partial = ""
        #: bytes fed in all (for tests and logs)
        self.received = 0

    def feed(self, chunk: str) -> None:
        if not self.limits.enabled or not chunk:
            return
        self.received += len(chunk)
        text = self._partial + chunk
        *complete, self._partial = text.split("\n")
        if len(self._partial) > self.limits.max_bytes:
            self._partial = self._partial[-self.limits.max_bytes :]
        for line in complete:
            self._push(line)

    def _push(self, raw: str) -> None:
        line = clean_line(raw)
        if not line:
            return
        if len(line.encode()) > self.limits.max_bytes:
            line = "..." + line.encode()[-(self.limits.max_bytes - 3) :].decode("utf-8", "ignore")
        self._lines.append(line)
        self._size += len(line.encode())
        while self._lines and (
            len(self._lines) > self.limits.lines or self._size > self.limits.max_bytes
        ):
            self._size -= len(self._lines.popleft().encode())

    def lines(self) -> list[str]:
        """The kept lines, oldest first, with a last line that had no newline yet."""
        if self._partial:
            pending, self._partial = self._partial, ""
            self._push(pending)
        return list(self._lines)


@dataclass(frozen=True)
class ExitReport:
    """What is known about a server that died before the Hub saw it answer."""

    #: ``"container"`` or ``"service"``
    kind: str
    #: the Docker object's name
    name: str
    #: the process's exit code (None: not known, e.g. removed before it was seen)
    exit_code: int | None
    #: the kernel's OOM killer ended it (``State.OOMKilled`` or an ``oom`` event)
    oom_killed: bool = False
    #: the last lines of its log, cleaned and bounded
    log: tuple[str, ...] = ()
    #: why there are no log lines, when there could have been
    log_note: str = ""
    #: what Docker or swarm said went wrong (``State.Error``, a task's ``Err``)
    error: str = ""
    #: extra facts (``"mem_limit 32 MiB"``) worth showing with an OOM kill
    memory: str = ""
    #: further lines for the admin log only
    details: tuple[str, ...] = field(default_factory=tuple)


def format_bytes(n: int) -> str:
    """A byte size the way people write limits: ``32 MiB``, ``1.5 GiB``."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            text = f"{size:.1f}".rstrip("0").rstrip(".")
            return f"{text} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def describe_exit(report: ExitReport) -> tuple[str, list[str]]:
    """The reason (one line) and the log lines to show with it.

    The reason always says ``exited with code N`` when the code is known, and
    that the server ran out of memory when the OOM killer ended it.
    """
    what = f"{report.kind} {report.name}" if report.name else report.kind
    if report.exit_code is None:
        reason = f"Your server ({what}) stopped before it answered"
    else:
        reason = f"Your server ({what}) exited with code {report.exit_code} before it answered"
    if report.oom_killed:
        limit = f" ({report.memory})" if report.memory else ""
        reason += f": it ran out of memory{limit} and the kernel killed it (OOM)"
    elif report.exit_code is not None and report.exit_code > 128:
        number = report.exit_code - 128
        reason += f" (killed by {_signal_name(number)})"
    if report.error:
        reason += f"; Docker says: {clean_line(report.error)}"
    lines = list(report.log)
    if lines:
        reason += f". The last {len(lines)} line(s) of its log:"
    elif report.log_note:
        reason += f". {report.log_note}"
    else:
        reason += ". It wrote nothing to its log."
    return reason, lines
