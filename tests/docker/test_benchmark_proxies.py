"""The benchmark's counting Docker proxy and throttling TCP proxy, against real servers."""

from __future__ import annotations

import time
from pathlib import Path

import aiodocker
import aiohttp
import pytest
from aiohttp import web

from benchmarks.proxies import CountingDockerProxy, ThrottlingTCPProxy

pytestmark = pytest.mark.docker


async def test_counting_proxy_records_each_request(
    tmp_path: Path, tiny_image: str, docker_daemon: None
) -> None:
    proxy = CountingDockerProxy(str(tmp_path / "docker.sock"))
    await proxy.start()
    # one connection kept alive: requests are told apart inside the stream
    connector = aiohttp.UnixConnector(proxy.path, limit=1)
    docker = aiodocker.Docker(url="unix://localhost", connector=connector, api_version="v1.41")
    try:
        through = await docker.version()
        image = await docker.images.inspect(tiny_image)
        await docker.containers.list(filters={"label": ["aiodockerspawner-bench-none"]})
        # a request with a body, then one more on the same connection
        with pytest.raises(aiodocker.DockerError):
            await docker.containers.create({"Image": "adsb-no-such/image:0"}, name="adsb-none")
        await docker.version()
    finally:
        await docker.close()
        await proxy.stop()
    direct = aiodocker.Docker()
    try:
        assert through["ApiVersion"] == (await direct.version())["ApiVersion"]
    finally:
        await direct.close()
    assert image["Id"].startswith("sha256:")
    kinds = [r.kind for r in proxy.requests]
    assert kinds == [
        "GET /version",
        "GET /images/{name}/json",
        "GET /containers/json",
        "POST /containers/create",
        "GET /version",
    ]
    assert CountingDockerProxy.by_kind(proxy.requests)["GET /version"] == 2
    assert proxy.between(proxy.requests[1].at, proxy.requests[2].at) == proxy.requests[1:3]


async def test_throttling_proxy_limits_the_rate() -> None:
    payload = bytes(range(256)) * 2048  # 512 KiB

    async def blob(_request: web.Request) -> web.Response:
        return web.Response(body=payload)

    app = web.Application()
    app.router.add_get("/blob", blob)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    throttle = ThrottlingTCPProxy("127.0.0.1", port, rate=1 << 20)  # 1 MiB/s
    await throttle.start()
    try:
        async with aiohttp.ClientSession() as http:
            began = time.monotonic()
            async with http.get(f"http://127.0.0.1:{throttle.port}/blob") as r:
                body = await r.read()
            elapsed = time.monotonic() - began
    finally:
        await throttle.stop()
        await runner.cleanup()
    assert body == payload
    assert throttle.bytes_sent >= len(payload)
    # 512 KiB at 1 MiB/s: about half a second, never much less
    assert 0.4 <= elapsed < 5, elapsed
