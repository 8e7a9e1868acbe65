"""A job the Hub runs in the background: once when started, then every ``interval`` seconds.

The orphan sweep and the pre-puller are such jobs. Each runs as one task on
the Hub's loop, in an empty context (it belongs to no spawn, so no spawn
page sees its progress); a failed round is logged and the next one tries
again; ``stop()`` cancels it and waits for it to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging

log = logging.getLogger(__name__)


class Periodic:
    """Runs :meth:`run_once` now and then every ``interval`` seconds (0 or less: once)."""

    #: what the task is called and what a failure log line names
    job = "job"

    def __init__(self, hub_id: str, interval: float) -> None:
        self.hub_id = hub_id
        self.interval = interval
        self.loop = asyncio.get_running_loop()
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = contextvars.Context().run(
                self.loop.create_task,
                self._run(),
                name=f"aiodockerspawner {self.job} {self.hub_id}",
            )

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the next round tries again
                log.exception("The %s of hub %s failed", self.job, self.hub_id)
            if self.interval <= 0:
                return
            await asyncio.sleep(self.interval)
