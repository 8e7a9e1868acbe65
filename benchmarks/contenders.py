"""The three contenders, behind one small interface the scenarios drive.

``HubContender``
    a spawner (aiodockerspawner or dockerspawner) inside a real JupyterHub:
    spawns and stops go through the Hub's REST API, and a server counts as
    ready when its own HTTP answer comes back through configurable-http-proxy.
``RawContender``
    the limit: the same containers created and started directly with
    aiodocker, all at once, each counted ready when its published port
    answers.

Every ``spawn``/``stop`` returns the seconds from the common start of the
batch to each server's completion.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiodocker
import aiohttp
from aiohttp import web

from .hub import READY_MARKER, Hub, HubDied

#: how often the proxy's routing table and a server's HTTP port are probed
ROUTE_INTERVAL = 0.05
HTTP_INTERVAL = 0.02
#: seconds without an answer from the proxy's API before a spawn is given up
PROXY_GONE_AFTER = 15.0


@dataclass(frozen=True)
class ServerKind:
    """What a spawned server runs and how to tell it answers."""

    name: str  #: "tiny" or "real"
    image: str
    cmd: list[str] | None

    def ready_path(self, user: str) -> str:
        return f"/user/{user}/" if self.name != "real" else f"/user/{user}/api"

    def is_ready(self, status: int, body: str) -> bool:
        if self.name == "real":
            return status == 200 and '"version"' in body
        return status == 200 and READY_MARKER in body


async def _http_ready(
    http: aiohttp.ClientSession, url: str, kind: ServerKind, deadline: float
) -> None:
    loop = asyncio.get_running_loop()
    while True:
        with contextlib.suppress(aiohttp.ClientError, OSError, asyncio.TimeoutError):
            async with http.get(url, allow_redirects=False) as r:
                body = await r.text(errors="replace")
                if kind.is_ready(r.status, body):
                    return
        if loop.time() > deadline:
            raise TimeoutError(f"{url} did not answer in time")
        await asyncio.sleep(HTTP_INTERVAL)


class HubContender:
    """A spawner behind a real Hub."""

    def __init__(self, key: str, hub: Hub, kind: ServerKind) -> None:
        self.key = key
        self.hub = hub
        self.kind = kind
        self._users: set[str] = set()

    async def _watch_routes(self, events: Mapping[str, asyncio.Event], stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        last_answer = loop.time()
        while not stop.is_set():
            try:
                present = await self.hub.routes()
                last_answer = loop.time()
            except HubDied:
                raise
            except (aiohttp.ClientError, OSError) as e:
                # the proxy is a separate process that something else may kill
                if loop.time() - last_answer > PROXY_GONE_AFTER:
                    raise RuntimeError(f"configurable-http-proxy does not answer: {e!r}") from e
                present = set()
            for name in present:
                if name in events:
                    events[name].set()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), ROUTE_INTERVAL)

    async def prepare(self, names: Sequence[str]) -> None:
        """Create the users (once), so that it is not part of what is measured."""
        new = [n for n in names if n not in self._users]
        await self.hub.create_users(new)
        self._users.update(new)

    async def spawn(
        self,
        names: Sequence[str],
        *,
        options: Mapping[str, Any] | None = None,
        timeout: float = 900,
        on_request: Callable[[], None] | None = None,
    ) -> dict[str, float]:
        """Ask the Hub to start every server at once; seconds to ready for each."""
        await self.prepare(names)
        assert self.hub.http is not None
        http = self.hub.http
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        events = {n: asyncio.Event() for n in names}
        stop = asyncio.Event()
        watcher = asyncio.ensure_future(self._watch_routes(events, stop))
        t0 = time.monotonic()
        if on_request is not None:
            on_request()

        async def one(name: str) -> float:
            await self.hub.request_spawn(name, options)
            await asyncio.wait_for(events[name].wait(), max(deadline - loop.time(), 0.1))
            url = f"{self.hub.url}{self.kind.ready_path(name)}"
            await _http_ready(http, url, self.kind, deadline)
            return time.monotonic() - t0

        async def guarded(name: str) -> float:
            task = asyncio.ensure_future(one(name))
            await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                task.cancel()
                watcher.result()  # raises why the proxy's routes could not be read
            return task.result()

        try:
            results = await asyncio.gather(*(guarded(n) for n in names))
        except HubDied:
            raise
        except BaseException as e:
            self.hub.check_alive()
            raise RuntimeError(f"{self.key}: spawn failed ({e!r}):\n{self.hub.log_tail()}") from e
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await watcher
        return dict(zip(names, results, strict=True))

    async def stop(self, names: Sequence[str], *, timeout: float = 900) -> dict[str, float]:
        """Ask the Hub to stop every server at once; seconds until it reports each stopped.

        The Hub is configured to answer a stop request only when the stop is
        over (``slow_stop_timeout``), so the answer times the stop and the
        benchmark puts no polling load on the Hub while it stops servers.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        t0 = time.monotonic()
        done: dict[str, float] = {}

        async def one(name: str) -> None:
            status = await self.hub.request_stop(name)
            if status == 204:  # stopped before the Hub answered
                done.setdefault(name, time.monotonic() - t0)

        requests = asyncio.ensure_future(asyncio.gather(*(one(n) for n in names)))
        try:
            while len(done) < len(names):
                if loop.time() > deadline:
                    raise TimeoutError(f"servers still active: {sorted(set(names) - set(done))}")
                self.hub.check_alive()
                if not requests.done():
                    # the Hub answers a stop when it is over (slow_stop_timeout is long)
                    await asyncio.wait({requests}, timeout=1.0)
                    continue
                requests.result()  # raises a refused stop
                # some answers came early (202): ask the Hub, sparingly
                active = await self.hub.active_users()
                now = time.monotonic() - t0
                for name in names:
                    if name not in active:
                        done.setdefault(name, now)
                await asyncio.sleep(0.5)
        except HubDied:
            requests.cancel()
            raise
        except BaseException as e:
            requests.cancel()
            self.hub.check_alive()
            raise RuntimeError(f"{self.key}: stop failed ({e!r}):\n{self.hub.log_tail()}") from e
        return {n: done[n] for n in names}


class FakeHubAPI:
    """Answers ``/hub/api`` like a Hub, for raw single-user containers.

    ``jupyterhub-singleuser`` refuses to start when it cannot reach its Hub;
    the raw contender has no Hub, so this gives it one to reach.
    """

    def __init__(self, host: str, version: str) -> None:
        self.host = host
        self.version = version
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def api(_request: web.Request) -> web.Response:
            return web.json_response(
                {"version": self.version}, headers={"X-JupyterHub-Version": self.version}
            )

        app = web.Application()
        app.router.add_get("/hub/api", api)
        app.router.add_get("/hub/api/", api)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hub/api"


class RawContender:
    """The same containers, created and started directly through aiodocker."""

    key = "raw"

    def __init__(
        self,
        *,
        prefix: str,
        bench_id: str,
        kind: ServerKind,
        grace: int,
        docker_url: str | None = None,
        fake_hub: FakeHubAPI | None = None,
    ) -> None:
        self.prefix = prefix
        self.bench_id = bench_id
        self.kind = kind
        self.grace = grace
        self.docker_url = docker_url
        self.fake_hub = fake_hub
        self.docker: aiodocker.Docker | None = None
        self.http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> RawContender:
        connector = None
        if self.docker_url and self.docker_url.startswith("unix://"):
            connector = aiohttp.UnixConnector(self.docker_url[len("unix://") :], limit=100)
        self.docker = aiodocker.Docker(
            url="unix://localhost" if connector else None, connector=connector
        )
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=30),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.http is not None:
            await self.http.close()
        if self.docker is not None:
            await self.docker.close()
            # aiodocker leaves a connector it was given open
            if self.docker.connector is not None and not self.docker.connector.closed:
                await self.docker.connector.close()

    def container_name(self, user: str) -> str:
        return f"{self.prefix}-{user}"

    def _body(self, user: str, image: str) -> dict[str, Any]:
        prefix = f"/user/{user}/"
        env = {
            "JUPYTERHUB_USER": user,
            "JUPYTERHUB_SERVICE_PREFIX": prefix,
            "JUPYTERHUB_BASE_URL": "/",
            "JUPYTERHUB_API_TOKEN": os.urandom(16).hex(),
            "JUPYTERHUB_CLIENT_ID": f"jupyterhub-user-{user}",
            "JUPYTERHUB_SERVICE_URL": f"http://0.0.0.0:8888{prefix}",
            "JUPYTERHUB_OAUTH_CALLBACK_URL": f"{prefix}oauth_callback",
        }
        if self.fake_hub is not None:
            env["JUPYTERHUB_API_URL"] = self.fake_hub.url
        body: dict[str, Any] = {
            "Image": image,
            "Env": [f"{k}={v}" for k, v in env.items()],
            "Labels": {"aiodockerspawner-bench": self.bench_id},
            "ExposedPorts": {"8888/tcp": {}},
            "StopTimeout": self.grace,
            "HostConfig": {
                "PortBindings": {"8888/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]},
                "AutoRemove": True,
            },
        }
        if self.kind.cmd:
            body["Cmd"] = list(self.kind.cmd)
        return body

    async def start_one(
        self, user: str, t0: float, deadline: float, image: str | None = None
    ) -> float:
        assert self.docker is not None and self.http is not None
        container = await self.docker.containers.create(
            self._body(user, image or self.kind.image), name=self.container_name(user)
        )
        await container.start()
        info = await container.show()
        port = info["NetworkSettings"]["Ports"]["8888/tcp"][0]["HostPort"]
        url = f"http://127.0.0.1:{port}{self.kind.ready_path(user)}"
        await _http_ready(self.http, url, self.kind, deadline)
        return time.monotonic() - t0

    async def prepare(self, names: Sequence[str]) -> None:
        """Nothing to set up for raw containers."""

    async def spawn(
        self, names: Sequence[str], *, timeout: float = 900, **_: Any
    ) -> dict[str, float]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        t0 = time.monotonic()
        results = await asyncio.gather(*(self.start_one(n, t0, deadline) for n in names))
        return dict(zip(names, results, strict=True))

    async def stop(self, names: Sequence[str], **_: Any) -> dict[str, float]:
        assert self.docker is not None
        docker = self.docker
        t0 = time.monotonic()

        async def one(name: str) -> float:
            container = docker.containers.container(self.container_name(name))
            with contextlib.suppress(aiodocker.DockerError):
                await container.stop(t=self.grace)
            with contextlib.suppress(aiodocker.DockerError):
                await container.delete(force=True, v=True)
            return time.monotonic() - t0

        results = await asyncio.gather(*(one(n) for n in names))
        return dict(zip(names, results, strict=True))

    async def pull(self, image: str) -> None:
        assert self.docker is not None
        async for _ in self.docker.images.pull(image, stream=True):
            pass


class RawServiceContender(RawContender):
    """The same servers as one-replica swarm services, created directly through aiodocker.

    Ports are published in host mode (the machine has no routing mesh); a
    service counts as ready when its task runs and the port the node published
    answers. The task is watched like aiodockerspawner watches it (a task list
    with backoff from 0.05 s to 1 s). A stop removes the service.
    """

    key = "raw"

    def _service_body(self, user: str, image: str) -> dict[str, Any]:
        container = self._body(user, image)
        spec: dict[str, Any] = {"Image": image, "Env": container["Env"]}
        if self.kind.cmd:
            spec["Args"] = list(self.kind.cmd)
        spec["StopGracePeriod"] = int(self.grace * 1e9)
        return {
            "Name": self.container_name(user),
            "Labels": {"aiodockerspawner-bench": self.bench_id},
            "TaskTemplate": {"ContainerSpec": spec, "RestartPolicy": {"Condition": "none"}},
            "Mode": {"Replicated": {"Replicas": 1}},
            "EndpointSpec": {
                "Ports": [{"Protocol": "tcp", "TargetPort": 8888, "PublishMode": "host"}]
            },
        }

    async def start_one(
        self, user: str, t0: float, deadline: float, image: str | None = None
    ) -> float:
        assert self.docker is not None and self.http is not None
        created = await self.docker._query_json(
            "services/create", "POST", data=self._service_body(user, image or self.kind.image)
        )
        filters = {"filters": json.dumps({"service": [created["ID"]]})}
        loop = asyncio.get_running_loop()
        delay = 0.05
        while True:
            tasks = await self.docker._query_json("tasks", params=filters)
            running = [t for t in tasks if t["Status"]["State"] == "running"]
            if running:
                ports = running[0]["Status"]["PortStatus"]["Ports"]
                port = next(p["PublishedPort"] for p in ports if p["TargetPort"] == 8888)
                break
            failed = [t for t in tasks if t["Status"]["State"] in ("failed", "rejected")]
            if failed:
                raise RuntimeError(f"task of {user} failed: {failed[0]['Status']}")
            if loop.time() > deadline:
                raise TimeoutError(f"task of {user} not running in time")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 1.0)
        url = f"http://127.0.0.1:{port}{self.kind.ready_path(user)}"
        await _http_ready(self.http, url, self.kind, deadline)
        return time.monotonic() - t0

    async def stop(self, names: Sequence[str], **_: Any) -> dict[str, float]:
        assert self.docker is not None
        docker = self.docker
        t0 = time.monotonic()

        async def one(name: str) -> float:
            with contextlib.suppress(aiodocker.DockerError):
                async with docker._query(f"services/{self.container_name(name)}", "DELETE"):
                    pass
            return time.monotonic() - t0

        results = await asyncio.gather(*(one(n) for n in names))
        return dict(zip(names, results, strict=True))
