"""Two small asyncio proxies the benchmark puts between a client and a server.

:class:`CountingDockerProxy`
    a unix socket in front of the Docker socket that records every HTTP
    request passing through it (time, method, path). The Hub under test gets
    ``DOCKER_HOST=unix://<its socket>``; both docker-py and aiodocker speak
    plain HTTP/1.1 with keep-alive over it, so requests are found by parsing
    the client's side of each connection (headers, then a ``Content-Length``
    or chunked body). Responses are piped back untouched, which keeps
    streamed answers (events, pulls, logs) working. After a request that
    upgrades the connection (exec, attach) the rest is piped raw.

:class:`ThrottlingTCPProxy`
    a TCP port in front of another, whose server-to-client bytes share one
    rate limit: a slow image registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import Counter
from dataclasses import dataclass, field

_CHUNK = 64 * 1024


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(_CHUNK)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()


async def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()
        await writer.wait_closed()


@dataclass(frozen=True)
class Request:
    at: float  #: time.time() when the request's headers had arrived
    method: str
    path: str  #: without the API version prefix and the query string

    @property
    def kind(self) -> str:
        """A coarse name for the endpoint: ``GET /containers/{id}/json`` and so on."""
        parts = self.path.split("/")
        if len(parts) >= 3 and parts[1] in ("containers", "images", "exec", "services", "tasks"):
            # /containers/<id>/json -> /containers/{id}/json, but keep /containers/create
            if parts[2] not in ("create", "json", "prune"):
                parts[2] = "{id}"
            if parts[1] == "images" and len(parts) > 3:
                # image names contain slashes: /images/<a>/<b>/json
                parts = [*parts[:2], "{name}", parts[-1]]
        return f"{self.method} {'/'.join(parts)}"


def _strip_version(target: str) -> str:
    path = target.split("?", 1)[0]
    parts = path.split("/")
    if len(parts) > 1 and parts[1].startswith("v") and parts[1][1:2].isdigit():
        parts = ["", *parts[2:]]
    return "/".join(parts) or "/"


@dataclass
class CountingDockerProxy:
    """Forward a unix socket to the Docker socket, recording every request."""

    path: str
    upstream: str = "/var/run/docker.sock"
    requests: list[Request] = field(default_factory=list)
    _server: asyncio.AbstractServer | None = None
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self._server = await asyncio.start_unix_server(self._track, path=self.path, limit=2**20)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    async def _track(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._handle(creader, cwriter)
        except asyncio.CancelledError:
            await _close(cwriter)
        finally:
            self._handlers.discard(task)

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def between(self, start: float, end: float) -> list[Request]:
        return [r for r in self.requests if start <= r.at <= end]

    @staticmethod
    def by_kind(requests: list[Request]) -> dict[str, int]:
        return dict(Counter(r.kind for r in requests).most_common())

    async def _handle(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        try:
            ureader, uwriter = await asyncio.open_unix_connection(self.upstream, limit=2**20)
        except OSError:
            await _close(cwriter)
            return
        back = asyncio.ensure_future(_pipe(ureader, cwriter))
        try:
            await self._requests(creader, uwriter)
            await back
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            back.cancel()
            await _close(uwriter)
            await _close(cwriter)

    async def _requests(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            lines = head.decode("latin-1").split("\r\n")
            method, target = [*lines[0].split(" "), "", ""][:2]
            headers = {}
            for line in lines[1:]:
                key, sep, value = line.partition(":")
                if sep:
                    headers[key.strip().lower()] = value.strip()
            self.requests.append(Request(time.time(), method, _strip_version(target)))
            writer.write(head)
            if "chunked" in headers.get("transfer-encoding", "").lower():
                while True:
                    size_line = await reader.readuntil(b"\r\n")
                    writer.write(size_line)
                    size = int(size_line.split(b";")[0].strip() or b"0", 16)
                    writer.write(await reader.readexactly(size + 2))
                    if size == 0:
                        break
            else:
                remaining = int(headers.get("content-length", "0") or 0)
                while remaining > 0:
                    data = await reader.read(min(remaining, _CHUNK))
                    if not data:
                        return
                    writer.write(data)
                    remaining -= len(data)
            await writer.drain()
            if "upgrade" in headers.get("connection", "").lower():
                await _pipe(reader, writer)
                return


class _RateLimit:
    """One byte budget shared by every connection: ``rate`` bytes per second."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._next = 0.0
        self.sent = 0

    async def take(self, nbytes: int) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        start = max(now, self._next)
        self._next = start + nbytes / self.rate
        self.sent += nbytes
        if self._next > now:
            await asyncio.sleep(self._next - now)


@dataclass
class ThrottlingTCPProxy:
    """Forward ``127.0.0.1:<port>`` to ``target``; server-to-client bytes at ``rate`` B/s."""

    target_host: str
    target_port: int
    rate: float
    port: int = 0
    _server: asyncio.AbstractServer | None = None
    _limit: _RateLimit | None = None

    async def start(self) -> None:
        self._limit = _RateLimit(self.rate)
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    @property
    def bytes_sent(self) -> int:
        return self._limit.sent if self._limit else 0

    async def _throttled(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._limit is not None
        try:
            while True:
                data = await reader.read(16 * 1024)
                if not data:
                    break
                await self._limit.take(len(data))
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            with contextlib.suppress(Exception):
                if writer.can_write_eof():
                    writer.write_eof()

    async def _handle(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        try:
            ureader, uwriter = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            await _close(cwriter)
            return
        try:
            await asyncio.gather(_pipe(creader, uwriter), self._throttled(ureader, cwriter))
        finally:
            await _close(uwriter)
            await _close(cwriter)
