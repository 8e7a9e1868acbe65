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

``W <wall time> <connected> <objects> <running>``
    aiodockerspawner's events cache, when the Hub has one: whether it is
    current, how many objects it holds and how many of them run;
``M <wall time> <bytes> <objects>``
    the memory the events cache holds (its objects, their strings and
    dicts, its indexes), measured once whenever the benchmark creates the
    file ``<path>.measure``.

Lines are flushed about once a second; the writes are tiny and local.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import time
from typing import Any


def deep_size(root: Any) -> int:
    """Bytes held by ``root`` and everything it refers to (each object once)."""
    seen: set[int] = set()
    total = 0
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or obj is None or isinstance(obj, (bool, int, float, type)):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        elif hasattr(obj, "__dataclass_fields__"):
            stack.extend(getattr(obj, name) for name in obj.__dataclass_fields__)
    return total


def _watchers() -> list[Any]:
    module = sys.modules.get("aiodockerspawner.backends.docker.watch")
    return list(getattr(module, "_watchers", {}).values()) if module else []


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

    def watch(self) -> None:
        now = time.time()
        for w in _watchers():
            objects = list(w._objects.values())
            running = sum(1 for o in objects if o.status.running)
            self.lines.append(f"W {now:.6f} {int(w.connected)} {len(objects)} {running}\n")
            if os.path.exists(self.path + ".measure"):
                held = deep_size([w._objects, w._names, w._seen])
                self.lines.append(f"M {now:.6f} {held} {len(objects)}\n")
        if os.path.exists(self.path + ".measure"):
            os.unlink(self.path + ".measure")

    def flush(self) -> None:
        self.lines.append(f"P {time.time():.6f} {self.polls}\n")
        self.watch()
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
