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
import functools
import logging
import os
import ssl
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import aiodocker
import aiohttp
from aiodocker.exceptions import DockerError

from aiodockerspawner import progress
from aiodockerspawner.errors import DockerOperationError, DockerUnavailable, InvalidSpec

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


class _Docker(aiodocker.Docker):
    """aiodocker's client, asking the daemon for its API version only once.

    With ``api_version="auto"`` aiodocker probes ``GET /version`` from every
    request that starts before the first probe has answered: a Hub starting
    fifty spawns at once sent fifty probes. One probe, awaited by the others,
    is enough. (``_check_version`` is aiodocker-private; aiodocker is pinned
    to 0.27 and tests/unit/test_client.py covers this.)
    """

    _version_lock: asyncio.Lock | None = None

    async def _check_version(self) -> None:
        if self.api_version != "auto":
            return
        if self._version_lock is None:
            self._version_lock = asyncio.Lock()
        async with self._version_lock:
            await super()._check_version()


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
    return _Docker(url=url, connector=connector, timeout=timeout, api_version=endpoint.api_version)


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
        if e.status == 900:
            raise DockerUnavailable(operation, target, 900, message) from e
        cls = error_class or DockerOperationError
        raise cls(operation, target, e.status, message) from e
    except (aiohttp.ClientError, TimeoutError) as e:
        detail = str(e) or type(e).__name__
        raise DockerUnavailable(operation, target, 900, detail) from e
