"""The harness's fake Docker Engine, served from a thread, for a Hub in a subprocess.

The Hub tests drive a JupyterHub subprocess with blocking calls (requests),
so the fake Engine (``aiodockerspawner.testing.FakeEngine``) gets an event
loop of its own in a thread and keeps answering (or, when told to, hanging)
whatever the test's thread does. :meth:`EngineThread.call` runs a function on
the Engine's loop, e.g. to inject a fault.

It can also serve a stand-in single-user server on the same loop: on
``network_name = "host"`` the Hub looks for the server at ``host_ip:port``,
where :meth:`EngineThread.serve_http` answers every path with ``{}``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from aiodockerspawner.testing import FakeEngine

T = TypeVar("T")


class EngineThread:
    """``with EngineThread(path) as engine:`` then ``engine.url`` for DOCKER_HOST."""

    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path
        self.engine: FakeEngine | None = None
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-engine")
        self._runners: list[web.AppRunner] = []

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    def call(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """Run ``fn(*args, **kw)`` on the Engine's loop and return what it returns."""

        async def call() -> T:
            return fn(*args, **kw)

        result: T = self._run(call())
        return result

    def serve_http(self, port: int) -> None:
        """Answer every request on 127.0.0.1:``port`` with 200 ``{}``."""

        async def answer(request: web.Request) -> web.Response:
            return web.json_response({})

        async def serve() -> None:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", answer)
            runner = web.AppRunner(app, handle_signals=False)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            self._runners.append(runner)

        self._run(serve())

    def __enter__(self) -> EngineThread:
        self._thread.start()

        async def start() -> str:
            self.engine = FakeEngine()
            return await self.engine.start(self.socket_path)

        self.url = self._run(start())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        async def stop() -> None:
            for runner in self._runners:
                await runner.cleanup()
            if self.engine is not None:
                await self.engine.stop()

        try:
            self._run(stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._loop.close()
