"""Measurements taken inside the Hub process; loaded by the benchmark's Hub config.

Standard library only: the same file is loaded by the Hub of every contender,
each in its own virtualenv. The Hub reads its config file inside its running
event loop (``JupyterHub.initialize``), so :func:`install` can start a task
on that loop. It records, in a text file the benchmark reads afterwards:

``L <wall time> <lag>``
    event-loop lag: how late a timer that should fire every ``interval``
    seconds actually fired (scheduling delay, in seconds);
``P <wall time> <polls>``
    how many times ``Spawner.poll`` has been called so far (cumulative).

Lines are flushed about once a second; the writes are tiny and local.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from typing import Any


class _Probe:
    def __init__(self, path: str, interval: float) -> None:
        self.path = path
        self.interval = interval
        self.polls = 0
        self.lines: list[str] = []

    def count_polls(self, spawner_class: str) -> None:
        """Wrap ``poll`` of the configured spawner class to count calls."""
        module, _, name = spawner_class.rpartition(".")
        cls: Any = getattr(importlib.import_module(module), name)
        original = cls.poll
        probe = self

        async def poll(self: Any) -> Any:
            probe.polls += 1
            return await original(self)

        cls.poll = poll

    def flush(self) -> None:
        self.lines.append(f"P {time.time():.6f} {self.polls}\n")
        with open(self.path, "a") as f:
            f.writelines(self.lines)
        self.lines.clear()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        last_flush = loop.time()
        try:
            while True:
                before = loop.time()
                await asyncio.sleep(self.interval)
                now = loop.time()
                lag = now - before - self.interval
                self.lines.append(f"L {time.time():.6f} {max(lag, 0.0):.6f}\n")
                if now - last_flush >= 1.0:
                    self.flush()
                    last_flush = now
        finally:
            self.flush()


_tasks: list[asyncio.Task[None]] = []


def install(path: str, *, interval: float = 0.01, spawner_class: str = "") -> None:
    """Start sampling on the running loop (call from jupyterhub_config.py)."""
    probe = _Probe(path, interval)
    if spawner_class:
        probe.count_polls(spawner_class)
    loop = asyncio.get_running_loop()
    _tasks.append(loop.create_task(probe.run(), name="benchmark-probe"))
