"""The local registry (scripts/ensure-services) and images that must come from it.

An image "that must be pulled" is built from a local image plus layers of
random bytes unique to the run, pushed to 127.0.0.1:5000, and then removed
locally, so that no layer of it can already be on the daemon except its base.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import subprocess
import tempfile
import threading
import urllib.request
import warnings
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

REGISTRY = "127.0.0.1:5000"


def require_registry() -> str:
    """The registry's address; fails (never skips) when it does not answer."""
    try:
        with urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=5) as resp:
            if resp.status == 200:
                return REGISTRY
    except OSError as e:
        pytest.fail(f"No registry answers on {REGISTRY} ({e}); run scripts/ensure-services")
    pytest.fail(f"The registry on {REGISTRY} does not answer /v2/ with 200")


async def _docker(*args: str, env: dict[str, str] | None = None) -> str:
    proc = await asyncio.create_subprocess_exec(
        "docker",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {err.decode()[-2000:]}")
    return out.decode()


async def push_layered_image(
    base: str, name: str, *, layers: int = 3, layer_mb: int = 16, cmd: str | None = None
) -> str:
    """Build ``base`` + ``layers`` random layers, push it as ``REGISTRY/name``, drop it locally.

    Returns the pushed reference (with a unique tag).
    """
    ref = f"{REGISTRY}/{name}:{secrets.token_hex(4)}"
    with tempfile.TemporaryDirectory(prefix="adst-layers-") as tmp:
        context = Path(tmp)
        lines = [f"FROM {base}"]
        for i in range(layers):
            (context / f"blob{i}").write_bytes(os.urandom(layer_mb * 1024 * 1024))
            lines.append(f"COPY blob{i} /opt/blob{i}")
        if cmd:
            lines.append(f"CMD {cmd}")
        (context / "Dockerfile").write_text("\n".join(lines) + "\n")
        await _docker("build", "-q", "-t", ref, str(context), env={"DOCKER_BUILDKIT": "0"})
    await _docker("push", ref)
    await _docker("rmi", ref)
    return ref


async def remove_local(ref: str) -> None:
    """Remove a pulled copy (and so its layers) again; absent is fine."""
    proc = await asyncio.create_subprocess_exec(
        "docker",
        "rmi",
        "-f",
        ref,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await proc.wait()


def htpasswd_line(user: str, password: str) -> str:
    """An htpasswd entry with a bcrypt hash, the only kind Distribution accepts.

    The ``bcrypt`` package when installed, else the C library's bcrypt
    through the standard ``crypt`` module (libxcrypt on Debian; Python <
    3.13), else ``htpasswd -B`` (apache2-utils).
    """
    hashed = ""
    try:
        import bcrypt

        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()
    except ImportError:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                import crypt

            hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH)) or ""
        except (ImportError, AttributeError):
            out = subprocess.run(
                ["htpasswd", "-nbB", user, password], capture_output=True, text=True
            )
            hashed = out.stdout.strip().partition(":")[2] if out.returncode == 0 else ""
    if not hashed.startswith("$2"):
        pytest.fail(
            "cannot make a bcrypt htpasswd entry: install bcrypt (pip) or apache2-utils (apt)"
        )
    return f"{user}:{hashed}\n"


async def docker_login(config_dir: Path, registry: str, user: str, password: str) -> None:
    """``docker login`` with the CLI, writing its config.json into ``config_dir``."""
    proc = await asyncio.create_subprocess_exec(
        "docker",
        "--config",
        str(config_dir),
        "login",
        registry,
        "--username",
        user,
        "--password-stdin",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate(password.encode())
    if proc.returncode != 0:
        raise AssertionError(f"docker login {registry} failed: {err.decode()}")


# -- a front of the local registry: throttled, counted, optionally with credentials --------


class RegistryFront:
    """An HTTP front of the local registry on a free port of 127.0.0.1.

    Docker pulls through it as from any registry (every 127.0.0.0/8 address
    is an insecure registry by default): ``front.ref(pushed_ref)`` names the
    same image through the front. It

    - sends response bodies at most ``rate`` bytes per second, all requests
      together (``None``: as fast as they come), so a pull takes long enough
      to be watched;
    - records every request (``requests``: ``(method, path)``), so a test can
      tell how many times a blob was fetched;
    - with ``credentials=(user, password)``, answers 401 with a Basic
      challenge to any request without them, as a private registry does.

    Use ``async with RegistryFront(...) as front`` on a test's loop, or
    :class:`RegistryFrontThread` for blocking tests (a Hub in a subprocess).
    """

    def __init__(
        self,
        *,
        rate: float | None = None,
        credentials: tuple[str, str] | None = None,
        upstream: str = REGISTRY,
    ) -> None:
        self.rate = rate
        self.credentials = credentials
        self.upstream = upstream
        self.requests: list[tuple[str, str]] = []
        self.address = ""
        self.bytes_sent = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._lock: asyncio.Lock | None = None
        self._next_send = 0.0

    def ref(self, pushed: str) -> str:
        """``pushed`` (an image of the local registry) as pulled through this front."""
        return pushed.replace(self.upstream, self.address, 1)

    def blob_fetches(self) -> dict[str, int]:
        """How many times each blob was fetched (``GET .../blobs/<digest>``)."""
        counts: dict[str, int] = {}
        for method, path in self.requests:
            if method == "GET" and "/blobs/" in path:
                digest = path.rsplit("/", 1)[-1]
                counts[digest] = counts.get(digest, 0) + 1
        return counts

    async def _throttle(self, size: int) -> None:
        if not self.rate:
            return
        assert self._lock is not None
        async with self._lock:
            loop = asyncio.get_running_loop()
            now = loop.time()
            self._next_send = max(self._next_send, now) + size / self.rate
            delay = self._next_send - now
        if delay > 0:
            await asyncio.sleep(delay)

    def _authorized(self, header: str) -> bool:
        if self.credentials is None:
            return True
        expected = base64.b64encode(":".join(self.credentials).encode()).decode()
        return header == f"Basic {expected}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        if not self._authorized(request.headers.get("Authorization", "")):
            return web.json_response(
                {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                status=401,
                headers={"WWW-Authenticate": 'Basic realm="aiodockerspawner-test"'},
            )
        session = self._session
        assert session is not None
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in ("host", "authorization", "connection", "transfer-encoding")
        }
        async with session.request(
            request.method,
            f"http://{self.upstream}{request.path_qs}",
            headers=headers,
            data=await request.read(),
            allow_redirects=False,
        ) as upstream:
            out = {
                k: v
                for k, v in upstream.headers.items()
                if k.lower() not in ("connection", "transfer-encoding", "content-encoding")
            }
            if "Location" in out:
                out["Location"] = out["Location"].replace(self.upstream, self.address)
            response = web.StreamResponse(status=upstream.status, headers=out)
            await response.prepare(request)
            if request.method != "HEAD":
                async for chunk in upstream.content.iter_chunked(256 * 1024):
                    await self._throttle(len(chunk))
                    await response.write(chunk)
                    self.bytes_sent += len(chunk)
            await response.write_eof()
            return response

    async def __aenter__(self) -> RegistryFront:
        require_registry()
        self._lock = asyncio.Lock()
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=1 << 30)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._runner = runner
        self.address = f"127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()


class RegistryFrontThread:
    """A :class:`RegistryFront` on a loop of its own, for tests that block (``with``)."""

    def __init__(self, **kw: Any) -> None:
        self.front = RegistryFront(**kw)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="registry-front")

    def __enter__(self) -> RegistryFront:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.front.__aenter__(), self._loop).result(30)
        return self.front

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.front.__aexit__(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
