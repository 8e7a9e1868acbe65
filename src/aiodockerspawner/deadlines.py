"""A start that gives up just before JupyterHub's ``start_timeout``, saying why.

JupyterHub wraps ``Spawner.start()`` in ``asyncio.wait_for(start_timeout)``.
When that runs out, the user's spawn page reads ``Spawn failed:`` followed by
the text of a bare ``TimeoutError``, which is empty. A Docker daemon that has
stopped answering deserves a better message, so :func:`run_start` stops the
start a little earlier (:data:`START_MARGIN`) and raises
:class:`~aiodockerspawner.errors.StartTimedOut`, whose reason names the Docker
request that was never answered (or the phase the start was in, e.g. an image
pull), as recorded by :mod:`aiodockerspawner.progress`.

The cancelled start cleans up as on any cancellation (whatever it created is
removed); the error is raised after at most :data:`CLEANUP_GRACE` seconds of
that, so it still reaches JupyterHub before its own timeout even when the
clean-up has to wait for the same silent daemon (it then goes on in the
background).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from aiodockerspawner.errors import StartTimedOut
from aiodockerspawner.progress import SpawnProgress, format_duration

__all__ = ["CLEANUP_GRACE", "START_MARGIN", "StartTimedOut", "run_start", "start_deadline"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: seconds before ``start_timeout`` at which a start gives up by itself
START_MARGIN = 1.0
#: seconds the cancelled start's clean-up may delay the error
CLEANUP_GRACE = 0.3


def start_deadline(start_timeout: float) -> float | None:
    """Seconds a start may take before it gives up by itself (None: no limit)."""
    if start_timeout <= 0:
        return None
    return max(start_timeout / 2, start_timeout - START_MARGIN)


def _settle(task: asyncio.Task[Any]) -> None:
    """Retrieve the outcome of a start left to finish its clean-up in the background."""
    if not task.cancelled() and task.exception() is not None:
        log.debug("A start that ran out of time ended with %r", task.exception())


async def run_start(
    start: Coroutine[Any, Any, T],
    *,
    start_timeout: float,
    tracker: SpawnProgress,
    name: str,
) -> T:
    """Await ``start``; past :func:`start_deadline`, cancel it and raise StartTimedOut.

    A cancellation from outside (JupyterHub's own timeout, shutdown) is passed
    on to ``start``, and waits for its clean-up as if ``start`` had been
    awaited directly.
    """
    limit = start_deadline(start_timeout)
    task = asyncio.ensure_future(start)
    try:
        await asyncio.wait({task}, timeout=limit)
    except asyncio.CancelledError:
        task.cancel()
        await asyncio.wait({task})
        raise
    if task.done():
        return task.result()
    doing = tracker.what_it_is_doing()
    task.cancel()
    try:
        await asyncio.wait({task}, timeout=CLEANUP_GRACE)
    finally:
        if not task.done():
            task.add_done_callback(_settle)
    cause: BaseException | None = None
    if task.done() and not task.cancelled():
        cause = task.exception()
        if cause is None:
            return task.result()  # it finished in the very last moment
    limit_text = format_duration(start_timeout)
    error = StartTimedOut("start", name, 0, f"{doing} (start_timeout: {limit_text})")
    error.reason = f"{doing}, and a start has to finish within {limit_text} (start_timeout)"
    raise error from cause
