"""One task list per Hub and endpoint, shared by every SwarmSpawner's ``poll()``.

A task's state changes produce no Docker event on the manager (only the node
that runs the task sees its container's events), so poll has to ask. Asking
per server costs a service inspect and a task list: 500 servers polled every
30 s make 2,000 requests a minute on the manager. Instead, one
:class:`TaskSnapshot` per (event loop, endpoint, hub id) lists every task of
the Hub's services in one request, ``GET /tasks`` filtered on the Hub's label
(the Engine matches a task against its service's labels), and answers every
poll from it for as long as it is younger than the age the poll accepts
(``SwarmSpawner.task_list_max_age``, by default the poll interval): one
request per interval, whatever the number of servers. Polls that arrive
together while a list is in flight share it.

A node that is drained, goes down or leaves is the one change poll must not
learn an interval late, and the manager does emit an event for it (``node
update`` with the new state or availability). So the snapshot also follows
``GET /events?filters={"type":["node"]}``, one streaming connection outside
``docker_connection_limit``, and any node event makes the next poll list
again. The stream reconnects after failures with capped exponential backoff;
a reconnection also makes the next poll list (an event may have been missed).

A service that is not in the list (created after it, or gone) is looked up
by the caller with one inspect, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from aiodockerspawner.backends.docker.client import (
    Endpoint,
    docker_errors,
    shared_client,
    stream_client,
)
from aiodockerspawner.backends.docker.engine import engine_request
from aiodockerspawner.labels import LABEL_HUB

log = logging.getLogger(__name__)

#: first reconnect delay of the node events stream, doubled up to BACKOFF_MAX
BACKOFF_INITIAL = 0.1
BACKOFF_MAX = 5.0

Task = Mapping[str, Any]


def group_by_service(tasks: Sequence[Task]) -> dict[str, list[Task]]:
    """``{service id: [its tasks]}`` from a task list (pure)."""
    grouped: dict[str, list[Task]] = {}
    for task in tasks:
        service_id = str(task.get("ServiceID") or "")
        if service_id:
            grouped.setdefault(service_id, []).append(task)
    return grouped


@dataclass
class SnapshotStats:
    """Counters for logs, tests and benchmarks."""

    #: task list requests made
    lists: int = 0
    #: lookups answered from the list
    hits: int = 0
    #: lookups of a service the list does not have (the caller inspects)
    misses: int = 0
    #: node events seen (each makes the next lookup list again)
    node_events: int = 0
    #: events stream connections opened
    connects: int = 0
    last_error: str = ""
    #: the node events of the last connection, newest last (for logs and tests)
    recent_events: list[str] = field(default_factory=list)


class TaskSnapshot:
    """The Hub's tasks, listed at most once per ``max_age`` and after node changes."""

    def __init__(self, endpoint: Endpoint, hub_id: str) -> None:
        self.endpoint = endpoint
        self.hub_id = hub_id
        self.loop = asyncio.get_running_loop()
        self.stats = SnapshotStats()
        self._tasks: dict[str, list[Task]] = {}
        #: loop time at which the current list was asked for (None: no list yet)
        self._taken_at: float | None = None
        #: bumped by every invalidation; a list belongs to the epoch it was asked in
        self._epoch = 0
        self._list_epoch = -1
        self._inflight: asyncio.Future[None] | None = None
        self._inflight_epoch = -1
        self._events: asyncio.Task[None] | None = None
        #: set once the node events stream was first tried (connected or failed)
        self._events_tried = asyncio.Event()
        self._name = f"task snapshot for hub {hub_id} at {endpoint.url}"

    # -- reading ---------------------------------------------------------------

    def fresh(self, max_age: float) -> bool:
        """Whether the current list may answer a lookup that accepts ``max_age`` seconds."""
        if self._taken_at is None or self._list_epoch != self._epoch:
            return False
        return self.loop.time() - self._taken_at <= max_age

    async def tasks_of(self, service_id: str, *, max_age: float) -> list[Task] | None:
        """The service's tasks from a list no older than ``max_age`` seconds.

        ``None`` when the list has no task of that service (created after the
        list, or gone): the caller then asks the daemon about that one service.
        """
        self._follow_nodes()
        if not self.fresh(max_age):
            if not self._events_tried.is_set():
                # the stream first: from then on no node change is missed (the
                # daemon answers its headers at once); never long, though
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._events_tried.wait(), self.endpoint.connect_timeout)
            await self._refresh()
        tasks = self._tasks.get(service_id)
        if tasks is None:
            self.stats.misses += 1
            return None
        self.stats.hits += 1
        return tasks

    def invalidate(self, reason: str) -> None:
        """Make the next lookup list again (a list in flight no longer counts as fresh)."""
        self._epoch += 1
        log.debug("The %s is out of date: %s", self._name, reason)

    # -- listing ---------------------------------------------------------------

    async def _refresh(self) -> None:
        """One list, shared by every caller that arrives while it is in flight.

        A list asked for before the latest invalidation is not shared: it may
        not show the change, so a new one is made.
        """
        if self._inflight is None or self._inflight.done() or self._inflight_epoch != self._epoch:
            # an empty context: the list must not report into one start's progress
            self._inflight_epoch = self._epoch
            self._inflight = contextvars.Context().run(
                self.loop.create_task, self._list(), name=f"aiodockerspawner {self._name} list"
            )
        await asyncio.shield(self._inflight)

    async def _list(self) -> None:
        epoch = self._epoch
        asked_at = self.loop.time()
        self.stats.lists += 1
        filters = {"label": [f"{LABEL_HUB}={self.hub_id}"]}
        async with docker_errors("list tasks of hub", self.hub_id):
            tasks: list[Task] = await shared_client(self.endpoint).tasks.list(filters=filters)
        if self._taken_at is not None and (epoch, asked_at) < (self._list_epoch, self._taken_at):
            return  # a newer list is already in place
        self._tasks = group_by_service(tasks)
        self._taken_at = asked_at
        self._list_epoch = epoch

    # -- node events -------------------------------------------------------------

    def _follow_nodes(self) -> None:
        if self._events is None or self._events.done():
            self._events = contextvars.Context().run(
                self.loop.create_task,
                self._run_events(),
                name=f"aiodockerspawner {self._name} node events",
            )

    async def _run_events(self) -> None:
        backoff = BACKOFF_INITIAL
        while True:
            try:
                await self._read_events()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the follower must survive anything; it logs and retries
                self.stats.last_error = f"{type(e).__name__}: {e}"
                log.debug("The %s lost its node events (%s)", self._name, self.stats.last_error)
            self._events_tried.set()
            # whatever happens while there is no stream is unknown
            self.invalidate("the node events stream ended")
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, BACKOFF_MAX)

    async def _read_events(self) -> None:
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_read=None,
            connect=self.endpoint.connect_timeout,
            sock_connect=self.endpoint.connect_timeout,
        )
        params = {"filters": json.dumps({"type": ["node"]})}
        async with docker_errors("watch node events", self.hub_id):
            response = await asyncio.wait_for(
                engine_request(
                    stream_client(self.endpoint), "events", params=params, timeout=timeout
                ),
                self.endpoint.request_timeout,
            )
        self.stats.connects += 1
        if self._events_tried.is_set():
            # reconnected: a change while there was no stream may have been missed
            self.invalidate("the node events stream reconnected")
        self._events_tried.set()
        try:
            while True:
                line = await response.content.readline()
                if not line:
                    return
                line = line.strip()
                if not line:
                    continue
                event = json.loads(line)
                attributes = (event.get("Actor") or {}).get("Attributes") or {}
                summary = " ".join(f"{k}={v}" for k, v in sorted(attributes.items()) if k != "name")
                described = (
                    f"node {attributes.get('name', '?')} {event.get('Action', '')} {summary}"
                )
                self.stats.node_events += 1
                self.stats.recent_events = [*self.stats.recent_events[-19:], described.strip()]
                self.invalidate(described)
        finally:
            response.close()

    async def stop(self) -> None:
        for task in (self._events, self._inflight):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._events = None
        self._inflight = None


# -- one snapshot per (loop, endpoint, hub) -------------------------------------------

_snapshots: dict[tuple[int, Endpoint, str], TaskSnapshot] = {}


def get_task_snapshot(endpoint: Endpoint, hub_id: str) -> TaskSnapshot:
    """The shared task snapshot of this Hub on ``endpoint`` (for the running loop)."""
    loop = asyncio.get_running_loop()
    key = (id(loop), endpoint, hub_id)
    snapshot = _snapshots.get(key)
    if snapshot is None or snapshot.loop is not loop:
        snapshot = _snapshots[key] = TaskSnapshot(endpoint, hub_id)
    return snapshot


async def stop_task_snapshots() -> None:
    """Stop the snapshots of the running loop (tests; embedding applications)."""
    loop = asyncio.get_running_loop()
    for key, snapshot in list(_snapshots.items()):
        if snapshot.loop is loop:
            _snapshots.pop(key, None)
            await snapshot.stop()
        elif snapshot.loop.is_closed():
            _snapshots.pop(key, None)
