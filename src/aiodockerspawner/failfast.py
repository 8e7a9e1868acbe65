"""Why a spawn failed: said at once, in words the user can act on.

:meth:`FastFailure._fail` puts Docker's errors in plain words
(:mod:`aiodockerspawner.core.failures`). The rest is fast failure: a server
that dies before it answered ends its spawn at once.

The window runs from the start request until JupyterHub has seen the server
answer over HTTP. Its first part is inside ``start()``; its second part is
JupyterHub's own wait (``User._wait_up``), after ``start()`` returned the URL,
which polls the server's URL until ``http_timeout`` and would otherwise only
then say that the server "never showed up".

How the second part is watched (the choice, and why):

``start()`` returns the URL as soon as the container runs, as JupyterHub's
contract asks (``start_timeout`` bounds the start, ``http_timeout`` the wait
for HTTP; both keep their meaning). Before returning it wraps the
``wait_up`` method of *this spawn's* ``Server`` object (``spawner.server``,
a new one per spawn), which ``_wait_up`` calls next: the wrapper races
JupyterHub's unchanged HTTP wait against the death of the container. If the
server answers first, the wrapper returns JupyterHub's result and the watch
is closed. If the container dies first, the wrapper raises the
``SpawnException`` describing the death inside ``_wait_up``, which stops the
server (``spawner.stop()``: the container is kept or removed as ``remove``
says) and fails the spawn with that message: the REST API's error, and the
last event of the progress stream ("Spawn failed: ..."). Nothing is polled:
the container's death comes from the events stream (and its output stream).

The alternative, ``start()`` itself waiting for the HTTP endpoint, would make
``start_timeout`` cover the HTTP wait as well (a Hub with ``start_timeout``
60 and ``http_timeout`` 120 for a slow image would fail spawns it serves
today), duplicate JupyterHub's check (URL, internal SSL context, 5xx rules),
and make ``start()`` block for servers that never answer HTTP (tests,
``testing``). Cancelling JupyterHub's task instead cannot carry a message.
Should a JupyterHub version stop calling ``server.wait_up``, the wrapper is
simply never called: spawns then fail at ``http_timeout`` as before, and the
watch closes by itself ``http_timeout`` after ``start()`` returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from tornado import web
from traitlets import HasTraits

from aiodockerspawner.backends import ObjectBackend, ObjectEvents, ObservedObject, StartupWatch
from aiodockerspawner.core import failures, options
from aiodockerspawner.errors import (
    DockerOperationError,
    DockerUnavailable,
    ObjectExited,
    StartTimedOut,
)
from aiodockerspawner.exits import ExitReport, describe_exit, format_bytes

T = TypeVar("T")

#: seconds a failed start step waits for the death report of its object
EXPLAIN_WAIT = 2.0
#: seconds the watch stays open beyond http_timeout when JupyterHub never waits
WINDOW_MARGIN = 5.0


class ServerDied(ObjectExited):
    """A start step was given up because the server died meanwhile."""

    def __init__(self, report: ExitReport) -> None:
        super().__init__("start", report.name, 0, "the server died before it answered")
        self.report = report


class FastFailure(HasTraits):
    """The start-up watch of DockerSpawner (a mixin)."""

    if TYPE_CHECKING:  # the rest of DockerSpawner and JupyterHub's Spawner

        def __getattr__(self, name: str) -> Any: ...

    _startup_watch: StartupWatch | None = None
    _window_timer: asyncio.TimerHandle | None = None
    _guarded_server: Any = None

    def _fail(self, e: DockerOperationError) -> Exception:
        """Attach a one-line reason for the spawn page; the log keeps the details.

        Common failures (image not found, credentials refused, port taken...)
        are said in plain words first, with Docker's text after them, and the
        log says where an admin looks (``core.failures``).
        """
        known = None
        if not isinstance(e, DockerUnavailable | StartTimedOut):  # their reason says it all
            known = failures.explain(e.message, image=self.image, operation=e.operation)
        reason = e.reason if known is None else f"{known.user} ({e.reason})"
        e.jupyterhub_message = f"Could not start your server: {reason}"  # type: ignore[attr-defined]
        if known is not None:
            self.log.error("Start of %s failed: %s; %s", self._log_name, known.user, known.admin)
        return e

    async def _open_startup_watch(
        self, backend: ObjectBackend, obj: ObservedObject
    ) -> StartupWatch | None:
        """Begin watching ``obj`` for an early death (before it is started)."""
        await self._close_startup_watch()
        events: ObjectEvents | None = None
        if self.events_cache and self.watch_source().kind == backend.object_type:
            watcher = self.watcher
            # the stream must be live before the start, or an early death could be missed
            await watcher.wait_ready(min(2.0, float(self.docker_request_timeout)))
            events = watcher
        try:
            watch = await backend.watch_startup(obj, logs=self.failure_log_limits(), events=events)
        except DockerOperationError as e:
            self.log.warning("Cannot watch %s for %s: %s", obj.name, self._log_name, e)
            return None
        self._startup_watch = watch
        return watch

    async def _until_death(self, step: Awaitable[T], watch: StartupWatch | None) -> T:
        """Await a start step; if the object dies meanwhile, fail with the reason."""
        if watch is None:
            return await step
        task = asyncio.ensure_future(step)
        racing: set[asyncio.Future[Any]] = {task, watch.died}
        try:
            await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, DockerOperationError):
            await task
        raise ServerDied(watch.died.result())

    async def _explain_failure(
        self, error: DockerOperationError, watch: StartupWatch | None
    ) -> web.HTTPError | None:
        """The death error, when ``error`` came from the object dying; else None."""
        if isinstance(error, ServerDied):
            return self._death_error(error.report)
        if watch is None:
            return None
        report = await watch.explain(EXPLAIN_WAIT)
        return None if report is None else self._death_error(report)

    def _death_error(self, report: ExitReport) -> web.HTTPError:
        """The SpawnException for a server that died before it answered; logged."""
        limit = self.mem_limit
        if report.oom_killed and not report.memory and isinstance(limit, int) and limit > 0:
            report = replace(report, memory=f"mem_limit {format_bytes(limit)}")
        reason, lines = describe_exit(report)
        text = "\n".join([reason, *lines])
        self.log.error(
            "The %s %s of %s died before it answered: %s",
            report.kind,
            report.name,
            self._log_name,
            text,
        )
        error = options.spawn_error(text, reason="exited", status_code=500)
        shown = html.escape(reason)
        if lines:
            shown += "<pre>" + html.escape("\n".join(lines)) + "</pre>"
        # JupyterHub shows these on the spawn page and in the progress stream
        error.jupyterhub_message = text  # type: ignore[attr-defined]
        error.jupyterhub_html_message = shown  # type: ignore[attr-defined]
        return error

    async def _watch_until_answered(self) -> None:
        """Hand the open watch to JupyterHub's HTTP wait (see the module's text).

        Without a Hub behind (no ``server``: tests, embedding code) there is
        no such wait, and the watch ends with ``start()``.
        """
        watch = self._startup_watch
        if watch is None:
            return
        server = self.server
        original: Callable[..., Awaitable[Any]] | None = getattr(server, "wait_up", None)
        if server is None or original is None:
            await self._close_startup_watch()
            return

        def wait_up(*args: Any, **kwargs: Any) -> Coroutine[Any, Any, Any]:
            return self._race_death(original(*args, **kwargs), watch)

        server.wait_up = wait_up
        self._guarded_server = server
        loop = asyncio.get_running_loop()
        self._window_timer = loop.call_later(
            float(self.http_timeout) + WINDOW_MARGIN,
            lambda: loop.create_task(self._close_startup_watch()),
        )

    async def _race_death(self, waiting: Awaitable[T], watch: StartupWatch) -> T:
        """JupyterHub's HTTP wait, unless the server dies first."""
        task = asyncio.ensure_future(waiting)
        racing: set[asyncio.Future[Any]] = {task, watch.died}
        try:
            await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
            answered = task.done() and not task.cancelled() and task.exception() is None
            if not answered and watch.died.done() and not watch.died.cancelled():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                raise self._death_error(watch.died.result())
            return await task
        finally:
            if not task.done():
                task.cancel()
            await self._close_startup_watch()

    async def _close_startup_watch(self) -> None:
        """End the window: stop watching and give JupyterHub its own wait back."""
        watch, self._startup_watch = self._startup_watch, None
        if self._window_timer is not None:
            self._window_timer.cancel()
            self._window_timer = None
        server, self._guarded_server = self._guarded_server, None
        if server is not None:
            with contextlib.suppress(AttributeError):
                del server.wait_up
        if watch is not None:
            await watch.close()
