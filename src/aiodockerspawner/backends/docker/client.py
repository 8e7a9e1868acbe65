"""One shared aiodocker client per event loop and Docker endpoint.

The endpoint is resolved the way dockerspawner resolves its docker-py client
(``tls_config``, then ``DOCKER_HOST``/``DOCKER_TLS_VERIFY``/``DOCKER_CERT_PATH``,
then ``client_kwargs``), but the client is aiodocker's, created lazily inside
the running loop and owned here: its connector has an explicit connection
limit, every request has a timeout, and it is closed when the Hub cancels its
tasks at shutdown.

This module is also the single place where aiodocker and aiohttp exceptions
are translated into :mod:`aiodockerspawner.errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import os
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiodocker
import aiohttp
from aiodocker.exceptions import DockerError

from aiodockerspawner import progress
from aiodockerspawner.backends.docker.engine import single_version_probe
from aiodockerspawner.errors import (
    DockerOperationError,
    DockerTLSRefused,
    DockerUnavailable,
    InvalidSpec,
)

log = logging.getLogger(__name__)

DEFAULT_SOCKET = "/var/run/docker.sock"

# docker-py APIClient arguments that have no meaning for an aiohttp client.
_IGNORED_CLIENT_KWARGS = {"user_agent", "credstore_env", "use_ssh_client", "num_pools"}
#: (key, endpoint url) of the ignored ``client_kwargs`` already warned about:
#: the endpoint is resolved at every Docker access, every poll included
_warned_ignored: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class TLSSettings:
    """TLS material for a tcp endpoint (docker-py ``TLSConfig`` vocabulary)."""

    verify: bool | str = True
    ca_cert: str | None = None
    client_cert: tuple[str, str] | None = None
    assert_hostname: bool | str | None = None


@dataclass(frozen=True)
class Endpoint:
    """A resolved Docker endpoint: what the shared-client cache is keyed on."""

    #: ``unix:///path``, ``http://host:port`` or ``https://host:port``
    url: str
    api_version: str = "auto"
    tls: TLSSettings | None = None
    #: most simultaneous connections (0: no limit, the streams' client)
    connection_limit: int = 100
    request_timeout: float = 60.0
    connect_timeout: float = 10.0

    @property
    def is_unix(self) -> bool:
        return self.url.startswith("unix://")

    @property
    def host(self) -> str:
        """The host name that published ports on ``0.0.0.0`` are reached at."""
        if self.is_unix:
            return "127.0.0.1"
        return urlsplit(self.url).hostname or "127.0.0.1"


def _tls_from_docker_py(cfg: Mapping[str, Any]) -> TLSSettings:
    """Read docker-py ``TLSConfig`` keyword arguments (``tls_config``)."""
    known = {"client_cert", "ca_cert", "verify", "ssl_version", "assert_hostname"}
    unknown = set(cfg) - known
    if unknown:
        raise InvalidSpec(f"DockerSpawner.tls_config: unknown key(s) {sorted(unknown)}")
    cert = cfg.get("client_cert")
    if cert is not None:
        if not (isinstance(cert, list | tuple) and len(cert) == 2):
            raise InvalidSpec("DockerSpawner.tls_config: client_cert must be (cert, key)")
        cert = (str(cert[0]), str(cert[1]))
    verify = cfg.get("verify", True)
    ca = cfg.get("ca_cert")
    if isinstance(verify, str):
        ca, verify = verify, True
    return TLSSettings(
        verify=bool(verify),
        ca_cert=ca,
        client_cert=cert,
        assert_hostname=cfg.get("assert_hostname"),
    )


def _normalize_url(url: str) -> str:
    if url.startswith("unix://"):
        return url
    if url.startswith("tcp://"):
        return "http://" + url[len("tcp://") :]
    if url.startswith(("http://", "https://")):
        return url
    if url.startswith("/"):
        return "unix://" + url
    raise InvalidSpec(f"unsupported Docker endpoint {url!r}: use unix://, tcp:// or https://")


def resolve_endpoint(
    *,
    tls_config: Mapping[str, Any],
    client_kwargs: Mapping[str, Any],
    environ: Mapping[str, str],
    connection_limit: int = 100,
    request_timeout: float = 60.0,
) -> Endpoint:
    """Work out which daemon to talk to and how, without any I/O.

    Precedence, lowest first, as in dockerspawner: ``tls_config``, then the
    ``DOCKER_*`` environment, then ``client_kwargs``.
    """
    url = environ.get("DOCKER_HOST") or f"unix://{DEFAULT_SOCKET}"
    tls: TLSSettings | None = _tls_from_docker_py(tls_config) if tls_config else None
    if environ.get("DOCKER_TLS_VERIFY", "") not in ("", "0"):
        cert_path = environ.get("DOCKER_CERT_PATH") or os.path.expanduser("~/.docker")
        tls = TLSSettings(
            verify=True,
            ca_cert=os.path.join(cert_path, "ca.pem"),
            client_cert=(
                os.path.join(cert_path, "cert.pem"),
                os.path.join(cert_path, "key.pem"),
            ),
        )
    api_version = "auto"
    timeout = request_timeout
    limit = connection_limit
    ignored: list[str] = []
    for key, value in client_kwargs.items():
        if key == "base_url":
            url = str(value)
        elif key == "version":
            api_version = "auto" if value in (None, "auto") else "v" + str(value).lstrip("v")
        elif key == "timeout":
            timeout = float(value)
        elif key == "max_pool_size":
            limit = int(value)
        elif key == "tls":
            if value is True:
                tls = tls or TLSSettings()
            elif value is False:
                tls = None
            elif isinstance(value, Mapping):
                tls = _tls_from_docker_py(value)
            else:
                raise InvalidSpec(
                    "DockerSpawner.client_kwargs['tls'] must be a bool or a dict of "
                    "TLS settings; use DockerSpawner.tls_config instead"
                )
        elif key in _IGNORED_CLIENT_KWARGS:
            ignored.append(key)
        else:
            raise InvalidSpec(f"DockerSpawner.client_kwargs: unknown key {key!r}")
    url = _normalize_url(url)
    if tls is not None:
        if url.startswith("unix://"):
            tls = None  # TLS makes no sense on a local socket; docker-py ignores it too
        else:
            # aiodocker talks plaintext to tcp:// even with an SSL context: force https
            url = "https://" + url.split("://", 1)[1]
    if limit < 1:
        raise InvalidSpec("DockerSpawner.docker_connection_limit must be at least 1")
    for key in ignored:
        if (key, url) not in _warned_ignored:
            _warned_ignored.add((key, url))
            log.warning("DockerSpawner.client_kwargs[%r] has no effect with aiodocker", key)
    return Endpoint(
        url=url,
        api_version=api_version,
        tls=tls,
        connection_limit=limit,
        request_timeout=timeout,
    )


def _ssl_context(tls: TLSSettings, url: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=tls.ca_cert)
    if not tls.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif tls.assert_hostname is False:
        ctx.check_hostname = False
    if tls.client_cert:
        ctx.load_cert_chain(*tls.client_cert)
    return ctx


class _QueueClock:
    """How long the requests of one task have waited for a free connection so far."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.started = loop.time()
        self.queued = 0.0
        self._depth = 0
        self._since = 0.0

    def enter(self) -> None:
        if self._depth == 0:
            self._since = self.loop.time()
        self._depth += 1

    def leave(self) -> None:
        self._depth = max(0, self._depth - 1)
        if self._depth == 0:
            self.queued += self.loop.time() - self._since

    def working(self) -> float:
        """Seconds since the start, less those spent queued for a connection."""
        now = self.loop.time()
        waiting = now - self._since if self._depth else 0.0
        return now - self.started - self.queued - waiting


_queue_clock: contextvars.ContextVar[_QueueClock | None] = contextvars.ContextVar(
    "aiodockerspawner_queue_clock", default=None
)


async def _queued_start(*_: object) -> None:
    clock = _queue_clock.get()
    if clock is not None:
        clock.enter()


async def _queued_end(*_: object) -> None:
    clock = _queue_clock.get()
    if clock is not None:
        clock.leave()


def _queue_trace() -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()
    trace.on_connection_queued_start.append(_queued_start)
    trace.on_connection_queued_end.append(_queued_end)
    return trace


T = TypeVar("T")


async def within(awaitable: Awaitable[T], seconds: float) -> T:
    """``awaitable``, given ``seconds`` of Docker's time; :class:`TimeoutError` after that.

    Time spent waiting for a free connection of ``docker_connection_limit``
    does not count: a Hub stopping a thousand servers at once queues most of
    the stops behind the limit, and a deadline that counted the queue gave up
    on stops that Docker was getting through (it had not even been asked),
    leaving their containers running while the Hub forgot them. A request
    Docker does not answer still ends at the deadline.
    """
    clock = _QueueClock(asyncio.get_running_loop())
    token = _queue_clock.set(clock)
    try:
        task = asyncio.ensure_future(awaitable)  # its context carries the clock
    finally:
        _queue_clock.reset(token)
    try:
        while True:
            remaining = seconds - clock.working()
            if remaining <= 0:
                break
            done, _ = await asyncio.wait({task}, timeout=remaining)
            if done:
                return task.result()
    except BaseException:
        task.cancel()
        raise
    task.cancel()
    await asyncio.wait({task})
    raise TimeoutError(f"Docker did not answer within {seconds:g} s")


def _build_client(endpoint: Endpoint) -> aiodocker.Docker:
    timeout = aiohttp.ClientTimeout(
        total=None,
        # aiohttp's ``connect`` also bounds the wait for a free connection of the
        # pool: under a small connection limit, requests that merely queued failed
        # as "Connection timeout". Only the socket connect itself is bounded.
        connect=None,
        sock_connect=endpoint.connect_timeout,
        sock_read=endpoint.request_timeout,
    )
    connector: aiohttp.BaseConnector
    if endpoint.is_unix:
        connector = aiohttp.UnixConnector(
            endpoint.url[len("unix://") :], limit=endpoint.connection_limit
        )
        url = "unix://localhost"
    else:
        ssl_ctx: ssl.SSLContext | bool = (
            _ssl_context(endpoint.tls, endpoint.url) if endpoint.tls else False
        )
        connector = aiohttp.TCPConnector(limit=endpoint.connection_limit, ssl=ssl_ctx)
        url = endpoint.url
    # a session of our own: its trace tells within() when a request waits for a connection
    session = aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        connector_owner=False,
        trace_configs=[_queue_trace()],
        middlewares=(single_version_probe(),),
    )
    return aiodocker.Docker(
        url=url,
        connector=connector,
        session=session,
        timeout=timeout,
        api_version=endpoint.api_version,
    )


@dataclass
class _Entry:
    loop: asyncio.AbstractEventLoop
    client: aiodocker.Docker
    keeper: asyncio.Task[None]


#: the type of the shared clients, for code above the backends that passes one around
DockerClient = aiodocker.Docker

_clients: dict[tuple[int, Endpoint], _Entry] = {}


async def _close_client(client: aiodocker.Docker) -> None:
    """Close a client we own, including its connector, whatever aiodocker raises."""
    try:
        await client.close()
        if not client.session.closed:
            await client.session.close()
    except Exception:
        log.exception("Error while closing the Docker client")
    finally:
        connector = client.connector
        if connector is not None and not connector.closed:
            await connector.close()


async def _keep(client: aiodocker.Docker, started: list[bool]) -> None:
    """Hold a client open until cancelled (JupyterHub cancels tasks at shutdown)."""
    started.append(True)
    try:
        await asyncio.Event().wait()
    finally:
        await _close_client(client)


def _close_if_never_started(
    client: aiodocker.Docker, started: list[bool], task: asyncio.Task[None]
) -> None:
    # a task cancelled before its first step never runs its finally clause
    if not started and not task.get_loop().is_closed():
        task.get_loop().create_task(_close_client(client))


def shared_client(endpoint: Endpoint) -> aiodocker.Docker:
    """The client for ``endpoint`` on the running loop, created on first use."""
    loop = asyncio.get_running_loop()
    key = (id(loop), endpoint)
    entry = _clients.get(key)
    if entry is not None and entry.loop is loop and not entry.keeper.done():
        return entry.client
    client = _build_client(endpoint)
    started: list[bool] = []
    keeper = loop.create_task(
        _keep(client, started), name=f"aiodockerspawner-client {endpoint.url}"
    )
    keeper.add_done_callback(functools.partial(_close_if_never_started, client, started))
    _clients[key] = _Entry(loop, client, keeper)
    return client


def stream_client(endpoint: Endpoint) -> aiodocker.Docker:
    """The client for long-lived streams (the events watcher) of ``endpoint``.

    A stream that stays open for as long as the Hub runs would hold one of the
    ``connection_limit`` connections for good (with a limit of 1, every other
    request would wait for it forever), so such streams get a client of their
    own, outside the limit.
    """
    # 0 is aiohttp's "no limit", a value resolve_endpoint never produces: a key of its own
    return shared_client(replace(endpoint, connection_limit=0))


async def close_shared_clients() -> None:
    """Close every shared client of the running loop (tests, embedding apps)."""
    loop = asyncio.get_running_loop()
    for key, entry in list(_clients.items()):
        if entry.loop is loop or entry.loop.is_closed():
            _clients.pop(key, None)
            if entry.loop is loop:
                entry.keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await entry.keeper


# -- error mapping -----------------------------------------------------------


def _clean_message(message: str) -> str:
    text = message.strip()
    if text.startswith("{"):
        import json

        with contextlib.suppress(ValueError):
            parsed = json.loads(text)
            if isinstance(parsed, dict) and "message" in parsed:
                return str(parsed["message"])
    return text


#: OpenSSL's text inside aiohttp's, e.g. ``[SSL: CERTIFICATE_VERIFY_FAILED] certificate
#: verify failed: unable to get local issuer certificate (_ssl.c:1006)``
_SSL_TEXT = re.compile(r"\[SSL: ([A-Z0-9_]+)\] (.+?)(?: \(_ssl\.c:\d+\))?(?:'\)|\]|$)")
#: what Go's TLS listener answers a plain HTTP request with (status 400)
_PLAIN_HTTP_TO_TLS = "Client sent an HTTP request to an HTTPS server"
_CA_HINT = "check the CA certificate (tls_config ca_cert, or ca.pem in DOCKER_CERT_PATH)"
_CLIENT_CERT_HINT = (
    "the certificate must be signed by the daemon's CA and not expired "
    "(tls_config client_cert, or cert.pem and key.pem in DOCKER_CERT_PATH)"
)
_PLAIN_HINT = "set tls_config, or DOCKER_TLS_VERIFY=1 with DOCKER_CERT_PATH"


def tls_refusal(operation: str, target: str, text: str) -> DockerTLSRefused | None:
    """The TLS failure that an aiohttp or aiodocker error text reports, if it is one.

    Three cases an admin must tell apart, each with the setting to look at:
    the daemon's certificate is not trusted (wrong CA, wrong host name), the
    daemon refused this Hub's client certificate (another CA, expired, none),
    and a plain HTTP client talking to a TLS port.
    """
    if _PLAIN_HTTP_TO_TLS in text:
        return DockerTLSRefused(
            operation,
            target,
            _PLAIN_HTTP_TO_TLS,
            problem="Docker expects TLS at this address and this Hub spoke plain HTTP",
            hint=_PLAIN_HINT,
        )
    match = _SSL_TEXT.search(text)
    if match is None:
        return None
    code, detail = match.group(1), match.group(2).strip()
    if code == "CERTIFICATE_VERIFY_FAILED":
        return DockerTLSRefused(
            operation,
            target,
            detail,
            problem="Docker's TLS certificate is not trusted",
            hint=_CA_HINT,
        )
    if "ALERT" in code and "CERTIFICATE" in code:  # bad, expired, unknown, required...
        return DockerTLSRefused(
            operation,
            target,
            detail,
            problem="Docker refused this Hub's TLS client certificate",
            hint=_CLIENT_CERT_HINT,
        )
    if code == "WRONG_VERSION_NUMBER":  # https to a plain HTTP port
        return DockerTLSRefused(
            operation,
            target,
            detail,
            problem="Docker does not speak TLS at this address",
            hint="use tcp:// without tls_config and DOCKER_TLS_VERIFY, or the daemon's TLS port",
        )
    return DockerTLSRefused(
        operation,
        target,
        detail,
        problem="The TLS handshake with Docker failed",
        hint="check tls_config or DOCKER_CERT_PATH",
    )


@contextlib.asynccontextmanager
async def docker_errors(
    operation: str, target: str, *, error_class: type[DockerOperationError] | None = None
) -> AsyncIterator[None]:
    """Translate aiodocker/aiohttp failures inside the block into our errors.

    ``error_class`` overrides the class used for HTTP errors (not for
    connection failures, which are always :class:`DockerUnavailable`).
    """
    try:
        with progress.awaiting_docker(f"{operation} {target}"):
            yield
    except DockerError as e:
        message = _clean_message(str(e.message))
        if e.status in (900, 400):
            refused = tls_refusal(operation, target, message)
            if refused is not None:
                raise refused from e
        if e.status == 900:
            raise DockerUnavailable(operation, target, 900, message) from e
        cls = error_class or DockerOperationError
        raise cls(operation, target, e.status, message) from e
    except (aiohttp.ClientError, TimeoutError) as e:
        detail = str(e) or type(e).__name__
        refused = tls_refusal(operation, target, detail)
        if refused is not None:
            raise refused from e
        raise DockerUnavailable(operation, target, 900, detail) from e


async def generic_resources(docker: aiodocker.Docker) -> list[Mapping[str, Any]]:
    """The ``GenericResources`` the daemon advertises (``GET /info``), ``[]`` when none."""
    async with docker_errors("read", "the daemon's info"):
        info = await docker.system.info()
    found = info.get("GenericResources") if isinstance(info, Mapping) else None
    return [item for item in found or [] if isinstance(item, Mapping)]
