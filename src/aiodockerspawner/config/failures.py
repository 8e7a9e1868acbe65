"""What a user is shown when their server dies before it answered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from traitlets import HasTraits, Int

from aiodockerspawner.exits import LogLimits


class FailureConfig(HasTraits):
    """How much of a dead server's log the spawn page shows."""

    if TYPE_CHECKING:  # the rest of DockerSpawner and JupyterHub's Spawner

        def __getattr__(self, name: str) -> Any: ...

    failure_log_lines = Int(
        20,
        help="""
        When a server dies after its container started and before the Hub
        saw it answer, the spawn fails at once with its exit code, whether it
        ran out of memory, and this many of the last lines of its log
        (stdout and stderr), shown to the user on the spawn page and in the
        REST API's error, and written to the Hub log. Control characters and
        terminal escape sequences are removed. 0 shows no log lines (and the
        container's output is not read at all).

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    failure_log_bytes = Int(
        2000,
        help="""
        Most bytes of log shown with a failed spawn (see
        ``failure_log_lines``): older lines are dropped first, and a single
        longer line keeps its end.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    def failure_log_limits(self) -> LogLimits:
        return LogLimits(
            lines=max(0, int(self.failure_log_lines)),
            max_bytes=max(0, int(self.failure_log_bytes)),
        )
