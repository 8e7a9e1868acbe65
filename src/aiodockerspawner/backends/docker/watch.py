"""The shared watcher: one Docker events stream and a state cache per Hub.

A :class:`Watcher` keeps an in-memory picture of every object of one kind
(containers, or services for Swarm) that carries this Hub's ``hub-id`` label,
so that ``poll()`` costs no Docker request in steady state. There is one
watcher per (event loop, endpoint, hub id, kind), shared by every spawner of
the Hub, whatever the number of servers: one streaming connection plus one
list request per resync.

The loop:

1. open ``GET /events`` with a ``type`` + ``label`` filter and ``since=`` the
   last event seen (the daemon answers with headers at once, so the stream is
   live before step 2); a task applies its events as they arrive, from now on;
2. list the objects with the same label filter (one request, on the streams'
   client, outside ``docker_connection_limit``) while events keep being
   applied and recorded; then replace the cache with the list and apply the
   recorded events again on top of it, in order (the list may predate them:
   an exit during the list must win over the "running" it answers);
3. when ``resync_interval`` has passed, open the next stream while the
   current one keeps applying events, close the current one, and go to 2 (a
   periodic full resync, which also replaces a silently dead TCP stream). The
   new stream sends again the events from ``since=`` on, inclusive; those
   already applied are recognised by their time, type, action and object,
   and skipped.

The cache stays fresh throughout a periodic resync. Any failure (daemon
stopped, stream dropped, list error) marks the cache stale and reconnects
with capped exponential backoff and jitter. While the cache is stale,
:meth:`Watcher.lookup` falls back to one inspect per call.

aiodocker's own ``events.subscribe()`` helper is not used: it never reconnects
and a dropped stream makes ``Docker.close()`` raise. The stream is read
through :func:`~aiodockerspawner.backends.docker.engine.engine_request`.

The kind-specific parts (filters, the list call, turning an event into a new
cache entry) live in a :class:`WatchSource`; :class:`ContainerSource` is the
one for plain containers. A source for Swarm services implements the same
protocol and may answer :class:`Refresh` for events that do not carry enough
state (the watcher then fetches that object once).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import random
import string
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NoReturn, Protocol

import aiodocker
import aiohttp

from aiodockerspawner.backends.docker.client import (
    Endpoint,
    docker_errors,
    shared_client,
    stream_client,
)
from aiodockerspawner.backends.docker.engine import engine_request
from aiodockerspawner.errors import DockerOperationError
from aiodockerspawner.labels import LABEL_HUB
from aiodockerspawner.model import ObservedObject

log = logging.getLogger(__name__)

#: first reconnect delay after a failure, doubled on each failure up to ``backoff_max``
BACKOFF_INITIAL = 0.1
_HEX = frozenset(string.hexdigits)


class _Removed:
    """An event result: the object is gone."""

    def __repr__(self) -> str:
        return "REMOVED"


class _Ignored:
    """An event result: nothing the cache keeps changed."""

    def __repr__(self) -> str:
        return "IGNORED"


REMOVED = _Removed()
IGNORED = _Ignored()


@dataclass(frozen=True)
class Refresh:
    """An event result: fetch this object again (the event lacked its state)."""

    name_or_id: str


EventResult = ObservedObject | _Removed | _Ignored | Refresh


#: list items decoded between two returns to the event loop (about a millisecond)
ITEMS_PER_SLICE = 100
_JSON = json.JSONDecoder()
_BLANK = frozenset(" \t\r\n")


async def decode_array(text: str, per_slice: int = ITEMS_PER_SLICE) -> list[Any]:
    """A JSON array, decoded item by item, giving the loop back every ``per_slice`` items.

    The resync list of a thousand containers is about 1.4 MB of JSON: one
    ``json.loads`` of it held the Hub's loop for 10 ms and more (spawns,
    proxy and API requests all waited), once a minute. Decoding it in slices
    costs the same CPU and never holds the loop for long.
    """
    out: list[Any] = []
    i, end = 0, len(text)

    def skip(i: int) -> int:
        while i < end and text[i] in _BLANK:
            i += 1
        return i

    i = skip(i)
    if i >= end or text[i] != "[":
        raise ValueError("expected a JSON array")
    i = skip(i + 1)
    if i < end and text[i] == "]":
        return out
    while True:
        item, i = _JSON.raw_decode(text, i)
        out.append(item)
        i = skip(i)
        if i < end and text[i] == ",":
            i = skip(i + 1)
        elif i < end and text[i] == "]":
            return out
        else:
            raise ValueError(f"malformed JSON array at character {i}")
        if len(out) % per_slice == 0:
            await asyncio.sleep(0)


def event_action(event: Mapping[str, Any]) -> str:
    """An event's action (``Action``, or ``status`` in older API versions)."""
    return str(event.get("Action") or event.get("status") or "")


class WatchSource(Protocol):
    """What the watcher needs to know about one kind of Docker object."""

    #: ``"container"``, ``"service"``, ...: part of the watcher's key and its logs
    kind: str

    def event_filters(self, hub_id: str) -> dict[str, list[str]]:
        """The ``filters`` of the events stream (``type``, ``label``, ...)."""
        ...

    async def snapshot(self, docker: aiodocker.Docker, hub_id: str) -> list[ObservedObject]:
        """Every object of this Hub, ideally in one request."""
        ...

    def apply(self, event: Mapping[str, Any], current: ObservedObject | None) -> EventResult:
        """The cache entry after ``event`` (pure: no I/O)."""
        ...

    async def fetch(self, docker: aiodocker.Docker, name_or_id: str) -> ObservedObject | None:
        """One object, by name or id; ``None`` when it does not exist."""
        ...


class _StreamEnded(Exception):
    """The daemon closed the events stream."""


@dataclass
class WatchStats:
    """Counters for logs, tests and benchmarks."""

    connects: int = 0
    resyncs: int = 0
    events: int = 0
    failures: int = 0
    fetches: int = 0
    last_error: str = ""
    #: loop time of the last successful resync
    synced_at: float = 0.0
    #: loop times at which the cache became stale and fresh again
    outages: list[tuple[float, float | None]] = field(default_factory=list)


class Watcher:
    """A label-filtered events stream and the cache it keeps current."""

    def __init__(
        self,
        endpoint: Endpoint,
        source: WatchSource,
        hub_id: str,
        *,
        resync_interval: float = 60.0,
        backoff_max: float = 5.0,
    ) -> None:
        self.endpoint = endpoint
        self.source = source
        self.hub_id = hub_id
        self.resync_interval = resync_interval
        self.backoff_max = backoff_max
        self.stats = WatchStats()
        self._objects: dict[str, ObservedObject] = {}
        self._names: dict[str, str] = {}
        self._connected = False
        #: the ``timeNano`` of the newest event applied, for ``since=``
        self._since: int | None = None
        self._attempted = asyncio.Event()
        #: ``wait_for`` callers, by the id or name they wait on: a change wakes only
        #: those of the object it touches, never every waiter of the Hub
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None
        self.loop = asyncio.get_running_loop()
        self._refreshing: set[asyncio.Task[None]] = set()
        #: the events applied since the ``since=`` of the newest stream
        #: (key -> timeNano): a stream opened later sends them again
        self._seen: dict[tuple[int, str, str, str], int] = {}
        #: while a list is in flight: the events received meanwhile
        self._recording: list[Mapping[str, Any]] | None = None
        #: object id -> queues that get every event about it (see :meth:`listen`)
        self._listeners: dict[str, list[asyncio.Queue[Mapping[str, Any]]]] = {}
        self._name = f"{source.kind} watcher for hub {hub_id} at {endpoint.url}"

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> None:
        if self._task is None or self._task.done():
            loop = asyncio.get_running_loop()
            # an empty context: the task must not inherit the caller's (e.g. its progress sink)
            self._task = contextvars.Context().run(
                loop.create_task, self._run(), name=f"aiodockerspawner {self._name}"
            )

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._set_stale("stopped")
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- reading the cache -------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while the cache is known to be current (stream open, list applied)."""
        return self._connected

    def get(self, name_or_id: str) -> ObservedObject | None:
        """The cached object, by id, id prefix of 12+ characters, or name.

        Only a miss that looks like an id prefix (12+ hex digits) scans the
        cache; a name that is not there (a server being created, or gone)
        costs two dict lookups, however many servers the Hub runs.
        """
        obj = self._objects.get(name_or_id)
        if obj is None:
            object_id = self._names.get(name_or_id)
            if object_id is not None:
                obj = self._objects.get(object_id)
        if obj is None and len(name_or_id) >= 12 and _HEX.issuperset(name_or_id):
            for key, value in self._objects.items():
                if key.startswith(name_or_id):
                    return value
        return obj

    def objects(self) -> list[ObservedObject]:
        return list(self._objects.values())

    async def wait_ready(self, timeout: float) -> bool:
        """Start if needed and wait for the first load (or its first failure)."""
        self.start()
        if not self._attempted.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._attempted.wait(), timeout)
        return self._connected

    async def lookup(
        self,
        name_or_id: str,
        *,
        timeout: float = 10.0,
        fetch: Callable[[str], Awaitable[ObservedObject | None]] | None = None,
    ) -> ObservedObject | None:
        """The current state of one object: from the cache when it is fresh.

        Costs one fetch (an inspect) only when the cache is cold or stale, or
        when the object is not in it (e.g. an object without this Hub's
        labels, such as a container adopted from dockerspawner).
        """
        if await self.wait_ready(timeout):
            obj = self.get(name_or_id)
            if obj is not None:
                return obj
        self.stats.fetches += 1
        if fetch is not None:
            found = await fetch(name_or_id)
        else:
            found = await self.source.fetch(shared_client(self.endpoint), name_or_id)
        if found is not None and self._connected and found.labels.get(LABEL_HUB) == self.hub_id:
            self._store(found)
        return found

    async def wait_for(
        self,
        name_or_id: str,
        predicate: Callable[[ObservedObject | None], bool],
        timeout: float,
    ) -> bool:
        """Wait until the cached state of one object satisfies ``predicate``.

        Returns False (and forgets the entry, so the next lookup fetches it)
        when the cache is stale or the change is not seen within ``timeout``.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        changed = asyncio.Event()
        keys = {name_or_id}
        current = self.get(name_or_id)
        if current is not None:
            keys |= {current.id, current.name}
        for key in keys:
            self._waiters.setdefault(key, set()).add(changed)
        try:
            while True:
                if not self._connected:
                    self.forget(name_or_id)
                    return False
                if predicate(self.get(name_or_id)):
                    return True
                remaining = deadline - loop.time()
                if remaining <= 0 or not self.running:
                    self.forget(name_or_id)
                    return False
                changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), remaining)
        finally:
            for key in keys:
                waiting = self._waiters.get(key)
                if waiting is not None:
                    waiting.discard(changed)
                    if not waiting:
                        del self._waiters[key]

    # -- following one object ------------------------------------------------------

    def listen(self, object_id: str) -> asyncio.Queue[Mapping[str, Any]]:
        """A queue that gets every event about ``object_id`` from now on, as it comes.

        The cache keeps only the latest state; a listener sees the transitions
        (``oom`` then ``die`` then ``destroy``), each once, even across a
        resync. Events missed while the stream was down are not replayed to
        listeners: check :attr:`connected`. Call :meth:`unlisten` when done.
        """
        queue: asyncio.Queue[Mapping[str, Any]] = asyncio.Queue()
        self._listeners.setdefault(object_id, []).append(queue)
        return queue

    def unlisten(self, object_id: str, queue: asyncio.Queue[Mapping[str, Any]]) -> None:
        queues = self._listeners.get(object_id, [])
        if queue in queues:
            queues.remove(queue)
        if not queues:
            self._listeners.pop(object_id, None)

    def note(self, obj: ObservedObject) -> None:
        """An object as its own start just inspected it.

        Stored when the cache has not seen it start yet (absent, or still
        ``created``): a daemon may send the ``start`` event after the start
        request answered. A state the events already moved on (``exited``)
        is newer than the inspect and is kept.
        """
        current = self._objects.get(obj.id)
        if not self._connected or obj.labels.get(LABEL_HUB) != self.hub_id:
            return
        if current is None or current.status.status == "created":
            self._store(obj)

    def _tell_listeners(self, event: Mapping[str, Any]) -> None:
        if not self._listeners:
            return
        actor_id = str((event.get("Actor") or {}).get("ID") or event.get("id") or "")
        for queue in self._listeners.get(actor_id, ()):
            queue.put_nowait(event)

    # -- writing the cache ---------------------------------------------------------

    def forget(self, name_or_id: str) -> None:
        obj = self.get(name_or_id)
        if obj is not None:
            self._drop(obj.id)

    def _store(self, obj: ObservedObject) -> None:
        if obj.raw or obj.env:
            # an inspect: the cache answers poll(), which needs the state and labels only;
            # the whole document (tens of KiB) times a thousand servers stays out of it
            obj = replace(obj, raw={}, env={})
        old = self._objects.get(obj.id)
        if old is not None and old.name != obj.name and self._names.get(old.name) == obj.id:
            del self._names[old.name]
        self._objects[obj.id] = obj
        if obj.name:
            self._names[obj.name] = obj.id
        self._notify(obj.id, obj.name, old.name if old is not None else "")

    def _drop(self, object_id: str) -> None:
        old = self._objects.pop(object_id, None)
        if old is not None and self._names.get(old.name) == object_id:
            del self._names[old.name]
        self._notify(object_id, old.name if old is not None else "")

    def _replace(self, objects: list[ObservedObject]) -> None:
        self._objects = {o.id: o for o in objects}
        self._names = {o.name: o.id for o in objects if o.name}
        self._notify_all()

    def _notify(self, *keys: str) -> None:
        """Wake the ``wait_for`` callers of these ids and names (and only those)."""
        if not self._waiters:
            return
        for key in keys:
            for changed in self._waiters.get(key, ()):
                changed.set()

    def _notify_all(self) -> None:
        """Wake every ``wait_for`` caller: the whole cache changed, or its freshness."""
        for waiting in self._waiters.values():
            for changed in waiting:
                changed.set()

    def _set_stale(self, reason: str) -> None:
        if self._connected:
            loop = asyncio.get_running_loop()
            self.stats.outages.append((loop.time(), None))
            log.warning("The %s lost its stream (%s); reconnecting", self._name, reason)
        self._connected = False
        self._notify_all()

    def _set_fresh(self) -> None:
        loop = asyncio.get_running_loop()
        if self.stats.outages and self.stats.outages[-1][1] is None:
            began = self.stats.outages[-1][0]
            self.stats.outages[-1] = (began, loop.time())
            log.info("The %s recovered after %.1f s", self._name, loop.time() - began)
        self._connected = True
        self.stats.synced_at = loop.time()
        self._notify_all()

    def apply_event(self, event: Mapping[str, Any]) -> None:
        """Apply one Docker event to the cache (public for sources and tests)."""
        self.stats.events += 1
        time_nano = event.get("timeNano")
        if isinstance(time_nano, int) and (self._since is None or time_nano > self._since):
            self._since = time_nano
        self._apply(event)

    def _apply(self, event: Mapping[str, Any]) -> None:
        actor_id = str((event.get("Actor") or {}).get("ID") or event.get("id") or "")
        current = self._objects.get(actor_id)
        result = self.source.apply(event, current)
        if isinstance(result, ObservedObject):
            self._store(result)
        elif result is REMOVED:
            self._drop(actor_id)
        elif isinstance(result, Refresh):
            task = asyncio.get_running_loop().create_task(self._refresh(result.name_or_id))
            self._refreshing.add(task)
            task.add_done_callback(self._refreshing.discard)

    async def _refresh(self, name_or_id: str) -> None:
        try:
            self.stats.fetches += 1
            obj = await self.source.fetch(shared_client(self.endpoint), name_or_id)
        except DockerOperationError as e:
            log.debug("The %s could not refresh %s: %s", self._name, name_or_id, e)
            self.forget(name_or_id)
            return
        if obj is None:
            self.forget(name_or_id)
        else:
            self._store(obj)

    # -- the supervised stream -------------------------------------------------------

    def _since_param(self) -> str | None:
        if self._since is None:
            return None
        seconds, nanos = divmod(self._since, 1_000_000_000)
        return f"{seconds}.{nanos:09d}"

    async def _run(self) -> None:
        backoff = BACKOFF_INITIAL
        while True:
            try:
                await self._session()
                backoff = BACKOFF_INITIAL
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the loop must survive anything; it logs and retries
                self.stats.failures += 1
                self.stats.last_error = f"{type(e).__name__}: {e}"
                self._set_stale(self.stats.last_error)
                self._attempted.set()
                if self._connected_once:
                    backoff = BACKOFF_INITIAL
                    self._connected_once = False
                delay = backoff * random.uniform(0.5, 1.0)
                log.debug("The %s retries in %.2f s after %s", self._name, delay, e)
                await asyncio.sleep(delay)
                backoff = min(backoff * 2, self.backoff_max)

    _connected_once = False

    async def _session(self) -> None:
        """One stream after another, each followed by a list; returns only by raising.

        The periodic resync opens the next stream while the current one still
        applies events, and lists while the new one does: the cache never
        stops following the daemon.
        """
        stream = await self._open()
        try:
            while True:
                await self._resync(stream)
                loop = asyncio.get_running_loop()
                deadline = loop.time() + self.resync_interval
                done, _ = await asyncio.wait({stream}, timeout=max(0.0, deadline - loop.time()))
                if done:
                    self._ended(stream)
                # periodic resync (which also replaces a stream that died silently)
                previous, stream = stream, await self._open()
                await self._close(previous)
        finally:
            await self._close(stream)

    async def _open(self) -> asyncio.Task[None]:
        """Open an events stream; a task applies its events until it ends (by raising)."""
        params: dict[str, Any] = {
            "filters": json.dumps(self.source.event_filters(self.hub_id)),
        }
        since = self._since_param()
        if since is not None:
            params["since"] = since
        # the daemon replays every event from ``since`` on, inclusive: forget
        # the older keys, keep those it will send again
        if self._since is not None:
            floor = self._since
            self._seen = {k: t for k, t in self._seen.items() if t >= floor}
        # no read timeout: an idle Hub has no events for hours
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_read=None,
            connect=self.endpoint.connect_timeout,
            sock_connect=self.endpoint.connect_timeout,
        )
        self.stats.connects += 1
        async with docker_errors("watch events", self.source.kind):
            # on a connection of its own: it must not hold one of docker_connection_limit
            streams = stream_client(self.endpoint)
            # bounded: the daemon sends the headers at once
            response = await asyncio.wait_for(
                engine_request(streams, "events", "GET", params=params, timeout=timeout),
                self.endpoint.request_timeout,
            )
        loop = asyncio.get_running_loop()
        return loop.create_task(self._read(response), name=f"aiodockerspawner {self._name} stream")

    @staticmethod
    async def _close(stream: asyncio.Task[None]) -> None:
        stream.cancel()
        try:
            # not ``await stream``: that would take a cancellation of this task for its own
            await asyncio.wait({stream})
        finally:
            if stream.done() and not stream.cancelled():
                stream.exception()  # seen: the session raised it already, or no longer cares

    @staticmethod
    def _ended(stream: asyncio.Task[None]) -> NoReturn:
        """Raise why ``stream`` (a finished reader) ended."""
        stream.result()
        raise _StreamEnded("the events stream ended")

    async def _resync(self, stream: asyncio.Task[None]) -> None:
        """Replace the cache with one list, plus the events seen while it was in flight.

        The list goes through the streams' client: queued behind a busy
        ``docker_connection_limit`` (pulls), it would leave the cache behind
        for up to the request timeout. Events keep being applied while it is
        in flight, and recorded; the list answer may predate any of them (an
        exit during the list must win over the "running" it answers), so they
        are applied again on top of it, in order.
        """
        recorded: list[Mapping[str, Any]] = []
        self._recording = recorded
        try:
            objects = await asyncio.wait_for(
                self.source.snapshot(stream_client(self.endpoint), self.hub_id),
                self.endpoint.request_timeout,
            )
        finally:
            self._recording = None
        if stream.done():
            self._ended(stream)  # while listing: the list may have missed changes
        # no await from here on: nobody sees the list without the events after it
        self._replace(objects)
        for event in recorded:
            self._apply(event)
        self.stats.resyncs += 1
        self._connected_once = True
        self._set_fresh()
        self._attempted.set()
        log.debug(
            "The %s listed %d objects (%d events during the list)",
            self._name,
            len(objects),
            len(recorded),
        )

    def _receive(self, event: Mapping[str, Any]) -> None:
        """An event from a stream: applied once, even when a new stream sends it again."""
        key = _event_key(event)
        if key is not None:
            if key in self._seen:
                return
            self._seen[key] = key[0]
        if self._recording is not None:
            self._recording.append(event)
        self.apply_event(event)
        self._tell_listeners(event)

    async def _read(self, response: aiohttp.ClientResponse) -> None:
        try:
            while True:
                line = await response.content.readline()
                if not line:
                    raise _StreamEnded("the daemon closed the events stream")
                line = line.strip()
                if line:
                    self._receive(json.loads(line))
        except asyncio.CancelledError:
            raise
        except Exception as e:
            # from now on the cache may miss changes: lookups inspect until the next resync
            self._set_stale(f"{type(e).__name__}: {e}")
            raise
        finally:
            response.close()


def _event_key(event: Mapping[str, Any]) -> tuple[int, str, str, str] | None:
    """What tells one event from another (None: the event has no ``timeNano``)."""
    time_nano = event.get("timeNano")
    if not isinstance(time_nano, int):
        return None
    actor_id = str((event.get("Actor") or {}).get("ID") or event.get("id") or "")
    return (time_nano, str(event.get("Type") or ""), event_action(event), actor_id)


# -- one watcher per (loop, endpoint, hub, kind) --------------------------------------

_watchers: dict[tuple[int, Endpoint, str, str], Watcher] = {}


def get_watcher(
    endpoint: Endpoint,
    hub_id: str,
    source: WatchSource,
    *,
    resync_interval: float = 60.0,
    backoff_max: float = 5.0,
) -> Watcher:
    """The shared watcher for this Hub's objects of ``source.kind``, started lazily."""
    loop = asyncio.get_running_loop()
    key = (id(loop), endpoint, hub_id, source.kind)
    watcher = _watchers.get(key)
    if watcher is None or watcher.loop is not loop:
        watcher = Watcher(
            endpoint, source, hub_id, resync_interval=resync_interval, backoff_max=backoff_max
        )
        _watchers[key] = watcher
    watcher.start()
    return watcher


async def stop_watchers(endpoint_url: str | None = None) -> None:
    """Stop the watchers of the running loop (tests; embedding applications).

    With ``endpoint_url``, only those watching that endpoint.
    """
    loop = asyncio.get_running_loop()
    for key, watcher in list(_watchers.items()):
        if endpoint_url is not None and key[1].url != endpoint_url:
            continue
        if key[0] == id(loop):
            _watchers.pop(key, None)
            await watcher.stop()
        elif watcher._task is not None and watcher._task.get_loop().is_closed():
            _watchers.pop(key, None)
