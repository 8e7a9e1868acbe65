"""Engine requests that aiodocker's public calls cannot make, through its public attributes.

aiodocker has no public call for a streamed answer read line by line (a pull,
the events stream), a request with headers or a timeout of its own, an answer
read as text to be decoded in slices (the big container list), or a body that
one of the package's pure builders made (a service create or update, a
secret). Its private ``_query``/``_do_query`` do these, but they change
without notice between releases. This module makes the same request with
what aiodocker documents: ``docker.session`` (the aiohttp session),
``docker.docker_host`` and ``docker.api_version``. It builds the URL as
aiodocker does (``docker_host/api_version/path``) and raises
:class:`aiodocker.exceptions.DockerError` with the Engine's message, as
aiodocker does, so :func:`~aiodockerspawner.backends.docker.client.docker_errors`
translates both alike.

It also makes sure a client asks the daemon its API version once: see
:func:`ensure_api_version` and :func:`single_version_probe`.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Mapping
from typing import Any

import aiodocker
import aiohttp
from aiodocker.exceptions import DockerError

#: per client: the lock its first versioned request probes ``/version`` under
_probe_locks: weakref.WeakKeyDictionary[aiodocker.Docker, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def query_params(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    """Query parameters as aiodocker sends them: booleans as 1/0, other non-strings as JSON."""
    if params is None:
        return None
    out: dict[str, str] = {}
    for key, value in params.items():
        if isinstance(value, bool):
            out[key] = "1" if value else "0"
        elif isinstance(value, str):
            out[key] = value
        else:
            out[key] = json.dumps(value)
    return out


def engine_url(docker: aiodocker.Docker, path: str, *, versioned: bool = True) -> str:
    """``path``'s URL on ``docker``'s daemon, as aiodocker composes it."""
    if versioned:
        return f"{docker.docker_host}/{docker.api_version}/{path}"
    return f"{docker.docker_host}/{path}"


def error_message(body: bytes, content_type: str) -> str:
    """The Engine's message in an error answer (``{"message": ...}``, or the text itself)."""
    text = body.decode("utf-8", errors="replace")
    if "json" in content_type:
        try:
            parsed = json.loads(text)
        except ValueError:
            return text
        if isinstance(parsed, dict) and "message" in parsed:
            return str(parsed["message"])
    return text


async def ensure_api_version(docker: aiodocker.Docker) -> str:
    """``docker.api_version``, asked of the daemon (``GET /version``) once if it is ``auto``."""
    if docker.api_version != "auto":
        return str(docker.api_version)
    lock = _probe_locks.get(docker)
    if lock is None:
        lock = _probe_locks[docker] = asyncio.Lock()
    async with lock:
        if docker.api_version == "auto":
            response = await engine_request(docker, "version", versioned=False)
            async with response:
                answer = await response.json(content_type=None)
            docker.api_version = "v" + str(answer["ApiVersion"])
    return str(docker.api_version)


async def engine_request(
    docker: aiodocker.Docker,
    path: str,
    method: str = "GET",
    *,
    params: Mapping[str, Any] | None = None,
    data: str | bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: aiohttp.ClientTimeout | None = None,
    versioned: bool = True,
) -> aiohttp.ClientResponse:
    """Send one Engine request; the response of a success, which the caller closes.

    ``timeout`` replaces the client's for this request (a stream needs none
    on reads); without it the session's applies, as for aiodocker's calls. An
    error status raises :class:`DockerError` (status, the Engine's message);
    a connection that cannot be made raises ``DockerError(900, ...)`` as
    aiodocker's own requests do.
    """
    if versioned:
        await ensure_api_version(docker)
    sent_headers = {"Content-Type": "application/json", **(headers or {})}
    options: dict[str, Any] = {}
    if timeout is not None:
        options["timeout"] = timeout
    try:
        response = await docker.session.request(
            method,
            engine_url(docker, path, versioned=versioned),
            params=query_params(params),
            data=data,
            headers=sent_headers,
            **options,
        )
    except aiohttp.ClientConnectionError as e:
        message = f"Cannot connect to Docker Engine via {docker.docker_host} [{e}]"
        raise DockerError(900, message) from e
    if response.status >= 400:
        try:
            body = await response.read()
        finally:
            response.close()
        raise DockerError(
            response.status, error_message(body, response.headers.get("Content-Type", ""))
        )
    return response


async def engine_json(
    docker: aiodocker.Docker,
    path: str,
    method: str = "GET",
    *,
    params: Mapping[str, Any] | None = None,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
) -> Any:
    """One Engine request with a JSON ``body`` (if any); its JSON answer (``None`` if empty)."""
    data = None if body is None else json.dumps(body)
    response = await engine_request(docker, path, method, params=params, data=data, headers=headers)
    async with response:
        text = await response.text()
    return json.loads(text) if text.strip() else None


def single_version_probe() -> aiohttp.ClientMiddlewareType:
    """A session middleware that lets one ``GET /version`` per session reach the daemon.

    With ``api_version="auto"`` aiodocker asks the daemon for its version
    from every request that starts before the first answer: a Hub starting
    fifty spawns at once sent fifty probes. This middleware, on the shared
    clients' own sessions, sends the first one and gives its answer (read
    in full, so it can be read again) to the others, which wait for it; a
    failed probe is not kept, the next request asks again. Requests to any
    other path pass untouched.
    """
    lock: asyncio.Lock | None = None
    answer: aiohttp.ClientResponse | None = None

    async def middleware(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        nonlocal lock, answer
        if request.method != "GET" or request.url.path != "/version":
            return await handler(request)
        if lock is None:
            lock = asyncio.Lock()
        async with lock:
            if answer is not None:
                return answer
            response = await handler(request)
            if response.status == 200:
                await response.read()
                answer = response
            return response

    return middleware
