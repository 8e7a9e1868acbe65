"""A counting, fault-injecting proxy in front of a Docker socket (test utility).

Point a spawner (``client_kwargs={"base_url": proxy.url}``) or an aiodocker
client at the proxy's unix socket; every request is forwarded to the real
daemon and recorded, so a test can assert exactly which Docker requests some
code made::

    async with DockerProxy(tmp_path) as proxy:
        mark = proxy.mark()
        ...                                   # code under test
        assert proxy.count("GET", r"/containers/[^/]+/json", since=mark) == 0

Faults:

- :meth:`hold` parks the next matching request, before forwarding it
  (``when="request"``) or after the daemon answered (``when="response"``),
  until the test releases it: a deterministic way to keep code inside one
  await; ``Hold.drop()`` instead hangs up on it, as a daemon that dies with
  the request in flight would;
- :meth:`drop_streams` cuts every open streaming response (events, pulls)
  as a daemon that goes away would;
- while the daemon behind it is down, every request is hung up on.

``peak_in_flight`` is the most requests it handled at once (events streams
and the attach streams of starts being watched apart, counted in
``open_event_streams`` and ``open_attach_streams``: both live outside the
client's connection limit): what a client's connection limit allows.

Streams are forwarded chunk by chunk, so events and pull progress arrive as
they happen. Hijacked connections (attached ``exec`` start) are not supported.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import aiohttp
from aiohttp import web

_VERSION_PREFIX = re.compile(r"^/v\d+\.\d+(?=/)")
_ATTACH = re.compile(r"^/containers/[^/]+/attach$")
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "upgrade",
    "host",
}


@dataclass(frozen=True)
class Recorded:
    """One request that went through the proxy."""

    method: str
    #: the path without the ``/v1.xx`` API version prefix
    path: str
    query: str
    headers: dict[str, str]
    at: float


@dataclass
class Hold:
    """A parked request: ``arrived`` is set when it reaches the proxy."""

    method: str
    pattern: re.Pattern[str]
    when: str
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    #: the request that was parked (set together with ``arrived``)
    request: Recorded | None = None

    #: set by :meth:`drop`: the request is not forwarded (or its answer not sent)
    dropped: bool = False

    def release(self) -> None:
        self.released.set()

    def drop(self) -> None:
        """Close the client's connection instead of forwarding the request or
        its answer: what a daemon that dies with the request in flight does."""
        self.dropped = True
        self.released.set()


class DockerProxy:
    """An aiohttp unix-socket proxy forwarding to a Docker daemon socket."""

    def __init__(self, directory: Path, upstream: str = "/var/run/docker.sock") -> None:
        self.socket_path = str(directory / "docker-proxy.sock")
        self.upstream = upstream
        self.requests: list[Recorded] = []
        self._holds: list[Hold] = []
        self._streams: dict[web.StreamResponse, aiohttp.ClientResponse] = {}
        #: requests being handled now, and the most at once, events streams apart
        self.in_flight = 0
        self.peak_in_flight = 0
        #: events streams open now
        self.open_event_streams = 0
        #: attach streams (a start's output) open now, and the most at once
        self.open_attach_streams = 0
        self.peak_attach_streams = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    async def start(self) -> DockerProxy:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.UnixConnector(self.upstream, limit=0),
            timeout=aiohttp.ClientTimeout(total=None),
            auto_decompress=False,
        )
        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.UnixSite(self._runner, self.socket_path).start()
        return self

    async def close(self) -> None:
        for hold in self._holds:
            hold.release()
        self.drop_streams()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> DockerProxy:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- counting -----------------------------------------------------------

    def mark(self) -> int:
        """A position in the request log, for ``since=``."""
        return len(self.requests)

    def matching(
        self, method: str | None = None, path: str | None = None, *, since: int = 0
    ) -> list[Recorded]:
        pattern = re.compile(path) if path else None
        return [
            r
            for r in self.requests[since:]
            if (method is None or r.method == method)
            and (pattern is None or pattern.fullmatch(r.path))
        ]

    def count(self, method: str | None = None, path: str | None = None, *, since: int = 0) -> int:
        return len(self.matching(method, path, since=since))

    def counts(self, *, since: int = 0) -> Counter[str]:
        """Requests by ``"METHOD /path"`` since a mark (ids are kept in the path)."""
        return Counter(f"{r.method} {r.path}" for r in self.requests[since:])

    # -- faults ---------------------------------------------------------------

    def hold(self, method: str, path: str, *, when: str = "request") -> Hold:
        """Park the next request matching ``method`` and the ``path`` regex."""
        if when not in ("request", "response"):
            raise ValueError("when must be 'request' or 'response'")
        hold = Hold(method, re.compile(path), when)
        self._holds.append(hold)
        return hold

    def drop_streams(self) -> int:
        """Cut every streaming response in flight; returns how many were cut."""
        dropped = 0
        for resp, upstream in list(self._streams.items()):
            upstream.close()
            transport = resp._req.transport if resp._req is not None else None
            if transport is not None:
                transport.close()
            dropped += 1
        self._streams.clear()
        return dropped

    def _take_hold(self, rec: Recorded, when: str) -> Hold | None:
        for hold in self._holds:
            if (
                hold.when == when
                and hold.request is None
                and hold.method == rec.method
                and hold.pattern.fullmatch(rec.path)
            ):
                hold.request = rec
                hold.arrived.set()
                return hold
        return None

    # -- forwarding -------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = _VERSION_PREFIX.sub("", request.path)
        rec = Recorded(
            request.method,
            path,
            request.query_string,
            {k: v for k, v in request.headers.items()},
            time.monotonic(),
        )
        self.requests.append(rec)
        events = path == "/events"
        attach = _ATTACH.match(path) is not None
        if events:
            self.open_event_streams += 1
        elif attach:
            self.open_attach_streams += 1
            self.peak_attach_streams = max(self.peak_attach_streams, self.open_attach_streams)
        else:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return await self._forward(request, rec)
        finally:
            if events:
                self.open_event_streams -= 1
            elif attach:
                self.open_attach_streams -= 1
            else:
                self.in_flight -= 1

    @staticmethod
    def _hang_up(request: web.Request) -> web.StreamResponse:
        """Close the client's connection without an answer, as a dead daemon would."""
        if request.transport is not None:
            request.transport.close()
        # never sent: aiohttp finds the connection closed and lets it go quietly
        return web.Response(status=503)

    async def _forward(self, request: web.Request, rec: Recorded) -> web.StreamResponse:
        assert self._session is not None
        hold = self._take_hold(rec, "request")
        if hold is not None:
            await hold.released.wait()
            if hold.dropped:
                return self._hang_up(request)
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream_url = f"http://docker{request.rel_url}"
        try:
            upstream = await self._session.request(
                request.method, upstream_url, headers=headers, data=body or None
            )
        except aiohttp.ClientConnectionError:
            return self._hang_up(request)  # the daemon is not there (stopped, restarting)
        try:
            hold = self._take_hold(rec, "response")
            if hold is not None:
                await hold.released.wait()
                if hold.dropped:
                    return self._hang_up(request)
            resp = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for key, value in upstream.headers.items():
                if key.lower() not in _HOP_BY_HOP:
                    resp.headers[key] = value
            await resp.prepare(request)
            self._streams[resp] = upstream
            try:
                async for chunk in upstream.content.iter_any():
                    await resp.write(chunk)
                await resp.write_eof()
            except (ConnectionResetError, aiohttp.ClientError, OSError):
                pass
            finally:
                self._streams.pop(resp, None)
            return resp
        finally:
            upstream.release()
