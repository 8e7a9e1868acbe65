"""Watching a container from its start until the Hub has seen it answer.

:class:`ContainerStartupWatch` is opened after the create and *before* the
start request, so nothing the server prints or does is missed:

- it attaches to the container's output (``POST /containers/{id}/attach``
  with ``stream=1``, ``logs=0``), as ``docker run`` does, and keeps the last
  lines in a bounded :class:`~aiodockerspawner.exits.LogTail`. Attaching
  before the start is what makes the log of an ``AutoRemove`` container
  (``remove = True``) readable at all: by the time its ``die`` event arrives,
  Docker may have removed it, and its log with it;
- it listens to the Hub-wide events stream
  (:meth:`~aiodockerspawner.backends.docker.watch.Watcher.listen`) for the
  container's ``oom`` and ``die`` events: the exit code comes with ``die``,
  and an ``oom`` event before it means the kernel's OOM killer ended it.

No request is repeated while waiting: the events stream and the attach
stream say when something happens. When the container dies, one inspect (if
it still exists) adds ``State.OOMKilled`` and ``State.Error``; when the attach
was impossible, one ``GET /containers/{id}/logs?tail=N`` reads the log of a
container that was kept. The attach stream ending is a sign of death too (for
a daemon whose events stream is down): the watch then waits briefly for the
``die`` event and otherwise inspects once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

import aiodocker
import aiohttp

from aiodockerspawner.backends.base import ObjectEvents
from aiodockerspawner.backends.docker.client import docker_errors
from aiodockerspawner.backends.docker.engine import engine_request
from aiodockerspawner.backends.docker.streams import StreamDecoder
from aiodockerspawner.backends.docker.watch import event_action
from aiodockerspawner.errors import DockerOperationError
from aiodockerspawner.exits import ExitReport, LogLimits, LogTail
from aiodockerspawner.model import ObservedObject

log = logging.getLogger(__name__)

#: seconds to wait for the attach stream to end after ``die`` (the last lines)
LOG_GRACE = 1.0
#: seconds to wait for the ``die`` event after the attach stream ended
DIE_GRACE = 1.0
#: seconds the attach request may take before the start goes on without a log
ATTACH_DEADLINE = 5.0


def _exit_code(attrs: Mapping[str, Any]) -> int | None:
    code = str(attrs.get("exitCode") or "")
    return int(code) if code.lstrip("-").isdigit() else None


class ContainerStartupWatch:
    """One container's start-up: its log tail and its death, if it dies."""

    kind = "container"

    def __init__(
        self,
        docker: aiodocker.Docker,
        streams: aiodocker.Docker,
        object_id: str,
        name: str,
        *,
        logs: LogLimits,
        events: ObjectEvents | None,
    ) -> None:
        self.docker = docker
        self.streams = streams
        self.object_id = object_id
        self.name = name
        self.limits = logs
        self.events = events
        self.tail = LogTail(logs)
        #: done with an :class:`ExitReport` when the container died
        self.died: asyncio.Future[ExitReport] = asyncio.get_running_loop().create_future()
        self.log_note = ""
        self._queue: asyncio.Queue[Mapping[str, Any]] | None = None
        self._attach: aiohttp.ClientResponse | None = None
        self._attach_ended = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    # -- opening and closing ---------------------------------------------------

    async def open(self) -> None:
        """Listen to the container's events and attach to its output (before start)."""
        if self.events is not None:
            self._queue = self.events.listen(self.object_id)
        if self.limits.enabled:
            try:
                await asyncio.wait_for(self._open_attach(), ATTACH_DEADLINE)
            except (DockerOperationError, TimeoutError) as e:
                reason = e.reason if isinstance(e, DockerOperationError) else "no answer"
                self.log_note = f"Its log could not be read ({reason})."
                log.debug("Cannot attach to container %s: %s", self.name, reason)
            except BaseException:
                await asyncio.shield(self.close())  # cancelled: leave no stream open
                raise
        if self._attach is None:
            self._attach_ended.set()
        else:
            self._spawn(self._read_attach(self._attach))
        if self._queue is not None or self._attach is not None:
            # with neither the events nor the output stream, nothing would tell
            self._spawn(self._monitor())

    async def _open_attach(self) -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None, sock_connect=10)
        async with docker_errors("attach to container", self.name):
            self._attach = await engine_request(
                self.streams,
                f"containers/{self.object_id}/attach",
                "POST",
                params={"stream": "1", "stdout": "1", "stderr": "1", "logs": "0"},
                timeout=timeout,
            )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def started(self, obj: ObservedObject) -> None:
        """Tell the events cache what the start's inspect saw.

        A daemon may deliver the ``start`` event after the start request has
        answered (Podman: some 0.2 s later); until then the cache, loaded
        between the create and the start, would still say ``created``.
        """
        if self.events is not None:
            self.events.note(obj)

    async def close(self) -> None:
        """Stop watching: detach from the output, stop listening."""
        if self._closed:
            return
        self._closed = True
        if self._queue is not None and self.events is not None:
            self.events.unlisten(self.object_id, self._queue)
        if self._attach is not None:
            self._attach.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if not self.died.done():
            self.died.cancel()

    async def explain(self, timeout: float) -> ExitReport | None:
        """The death report, waiting up to ``timeout`` for it; None when still alive."""
        if not self.died.done():
            await asyncio.wait({self.died}, timeout=timeout)
        if self.died.done() and not self.died.cancelled():
            return self.died.result()
        return None

    # -- the streams -------------------------------------------------------------

    async def _read_attach(self, response: aiohttp.ClientResponse) -> None:
        decoder = StreamDecoder()
        try:
            async for chunk in response.content.iter_any():
                self.tail.feed(decoder.feed(chunk))
            self.tail.feed(decoder.close())
        except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as e:
            log.debug("The output stream of container %s broke: %s", self.name, e)
        finally:
            response.close()
            self._attach_ended.set()

    async def _next_event(self, timeout: float | None) -> Mapping[str, Any] | None:
        if self._queue is None:
            if timeout is not None:
                await asyncio.sleep(timeout)
            else:
                await asyncio.Event().wait()
            return None
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    async def _monitor(self) -> None:
        oom = False
        # the end of the output stream is a sign of death only when it was open
        attach_watch: asyncio.Task[bool] | None = None
        if self._attach is not None:
            attach_watch = asyncio.ensure_future(self._attach_ended.wait())
        try:
            while True:
                getter = asyncio.ensure_future(self._next_event(None))
                waiting: set[asyncio.Future[Any]] = {getter}
                if attach_watch is not None:
                    waiting.add(attach_watch)
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    event = getter.result()
                    if event is None:
                        continue
                    action = event_action(event)
                    attrs = (event.get("Actor") or {}).get("Attributes") or {}
                    if action == "oom":
                        oom = True
                    elif action in ("die", "died"):
                        await self._finish(_exit_code(attrs), oom, exists=True)
                        return
                    elif action == "destroy":
                        await self._finish(None, oom, exists=False)
                        return
                    continue
                getter.cancel()
                # the output stream ended: the container stopped, or the stream broke
                attach_watch = None
                event, oom_before = await self._die_event(DIE_GRACE)
                if event is not None:
                    attrs = (event.get("Actor") or {}).get("Attributes") or {}
                    exists = event_action(event) != "destroy"
                    await self._finish(_exit_code(attrs), oom or oom_before, exists=exists)
                    return
                state = await self._inspect()
                if state is None:
                    await self._finish(None, oom, exists=False)
                    return
                status = state.get("State") or {}
                if not status.get("Running") and status.get("Status") != "created":
                    await self._finish(None, oom, exists=True, inspected=state)
                    return
                # running (or not started yet): only the stream broke; the events still tell
        finally:
            if attach_watch is not None:
                attach_watch.cancel()

    async def _die_event(self, timeout: float) -> tuple[Mapping[str, Any] | None, bool]:
        """The ``die`` (or ``destroy``) event within ``timeout``, and whether ``oom`` came first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        oom = False
        while (remaining := deadline - loop.time()) > 0:
            event = await self._next_event(remaining)
            if event is None:
                break
            action = event_action(event)
            if action == "oom":
                oom = True
            elif action in ("die", "died", "destroy"):
                return event, oom
        return None, oom

    async def _inspect(self) -> Mapping[str, Any] | None:
        try:
            async with docker_errors("inspect container", self.name):
                data: Mapping[str, Any] = await self.docker.containers.container(
                    self.object_id
                ).show()
        except DockerOperationError as e:
            if e.status != 404:
                log.debug("Cannot inspect dead container %s: %s", self.name, e)
            return None
        return data

    async def _read_logs(self) -> None:
        """The log of a kept container, when attaching was not possible."""
        try:
            async with docker_errors("read the log of container", self.name):
                response = await engine_request(
                    self.docker,
                    f"containers/{self.object_id}/logs",
                    "GET",
                    params={
                        "stdout": "1",
                        "stderr": "1",
                        "tail": str(self.limits.lines),
                    },
                )
                try:
                    decoder = StreamDecoder()
                    self.tail.feed(decoder.feed(await response.read()))
                    self.tail.feed(decoder.close())
                finally:
                    response.close()
        except DockerOperationError as e:
            self.log_note = f"Its log could not be read ({e.reason})."

    async def _finish(
        self,
        exit_code: int | None,
        oom: bool,
        *,
        exists: bool,
        inspected: Mapping[str, Any] | None = None,
    ) -> None:
        # the last lines may still be on their way
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._attach_ended.wait(), LOG_GRACE)
        error = ""
        state: Mapping[str, Any] = {}
        if inspected is None and exists:
            inspected = await self._inspect()
        if inspected is not None:
            state = inspected.get("State") or {}
            oom = oom or bool(state.get("OOMKilled"))
            error = str(state.get("Error") or "")
            if exit_code is None and isinstance(state.get("ExitCode"), int):
                exit_code = int(state["ExitCode"])
        if self.limits.enabled and self._attach is None and inspected is not None:
            await self._read_logs()
        note = self.log_note
        if not note and self.limits.enabled and self._attach is None and inspected is None:
            note = "Its log is gone with it (the container was removed)."
        report = ExitReport(
            kind=self.kind,
            name=self.name,
            exit_code=exit_code,
            oom_killed=oom,
            log=tuple(self.tail.lines()) if self.limits.enabled else (),
            log_note=note,
            error=error,
        )
        if not self.died.done():
            self.died.set_result(report)
