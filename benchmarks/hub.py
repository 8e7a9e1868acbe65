"""A real JupyterHub subprocess (with configurable-http-proxy) for one contender.

Every contender's Hub gets the same configuration file, rendered from
:data:`CONFIG_TEMPLATE`; only the spawner class, the name prefix and the
Python environment differ. The benchmark talks to it through the REST API
with a service token, and watches the proxy's routing table (a separate Node
process, so watching it puts no load on the Hub) to know when a server's
route is in place.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

HERE = Path(__file__).resolve().parent

#: the shell script every benchmark server runs (tiny image, all contenders).
#: It serves ``$JUPYTERHUB_SERVICE_PREFIX`` (``index.html`` with a marker, and
#: ``api``, which the Hub's readiness check requests) from a www tree in /tmp.
#: Users whose name starts with ``ign`` run httpd as PID 1, which ignores
#: SIGTERM (so a stop waits the whole grace period); the others run a shell
#: that exits at once on SIGTERM.
READY_MARKER = "adsb-ready"
TINY_SCRIPT = (
    "d=/tmp/www${JUPYTERHUB_SERVICE_PREFIX:-/}; mkdir -p $d; "
    f"echo {READY_MARKER} > ${{d}}index.html; echo '{{}}' > ${{d}}api; "
    'case "$JUPYTERHUB_USER" in '
    "ign*) exec /bin/httpd -f -p 8888 -h /tmp/www ;; "
    "*) trap 'exit 0' TERM; /bin/httpd -f -p 8888 -h /tmp/www & wait ;; "
    "esac"
)
TINY_CMD = ["/bin/sh", "-c", TINY_SCRIPT]

CONFIG_TEMPLATE = """\
# Rendered by benchmarks/hub.py; identical for every contender but the first
# line (spawner class) and the name prefix.
import sys

c.JupyterHub.spawner_class = {spawner_class!r}
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_ip = "0.0.0.0"
c.JupyterHub.hub_port = {hub_port}
c.JupyterHub.hub_connect_ip = {hub_connect_ip!r}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.JupyterHub.cleanup_servers = True
c.JupyterHub.concurrent_spawn_limit = 500
# answer a stop request only when the stop is over: that answer times the stop
c.JupyterHub.tornado_settings = {{"slow_stop_timeout": 900}}
c.JupyterHub.db_url = "sqlite:///{db_path}"
c.JupyterHub.cookie_secret_file = "{workdir}/cookie_secret"
c.JupyterHub.pid_file = "{workdir}/proxy.pid"
c.JupyterHub.services = [{{"name": "bench", "api_token": {token!r}}}]
c.JupyterHub.load_roles = [
    {{
        "name": "bench",
        "scopes": ["admin:users", "admin:servers", "list:users"],
        "services": ["bench"],
    }}
]
c.Spawner.start_timeout = 900
c.Spawner.http_timeout = 300
c.Spawner.poll_interval = {poll_interval}
c.DockerSpawner.image = {image!r}
c.DockerSpawner.cmd = {cmd!r}
c.DockerSpawner.allowed_images = {allowed_images!r}
c.DockerSpawner.remove = True
c.DockerSpawner.prefix = {prefix!r}
c.DockerSpawner.pull_policy = "ifnotpresent"
# grace period before SIGKILL on stop: dockerspawner lets Docker use the
# container's StopTimeout, aiodockerspawner sends it with the stop request
c.DockerSpawner.extra_create_kwargs = {{
    "labels": {{"aiodockerspawner-bench": {bench_id!r}}},
    "stop_timeout": {grace},
}}
c.DockerSpawner.stop_grace_period = {grace}
c.DockerSpawner.hub_id = {bench_id!r}

sys.path.insert(0, {probe_dir!r})
import hub_probe

hub_probe.install({probe_path!r}, spawner_class={spawner_import!r})
{extra_config}
"""


class HubDied(RuntimeError):
    """The Hub exited, or was told to, while the benchmark was using it."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class HubSettings:
    """What a Hub is started with; everything but ``python``/``spawner_*``/``prefix``
    is the same for every contender in one run."""

    python: str
    spawner_class: str  #: ``module.Class`` as given to the config
    prefix: str
    bench_id: str
    image: str
    cmd: list[str] | None
    hub_connect_ip: str
    grace: int = 2
    poll_interval: int = 30
    allowed_images: Mapping[str, str] = field(default_factory=dict)
    docker_host: str | None = None  #: DOCKER_HOST for the Hub, e.g. a counting proxy
    #: appended to the configuration (the scale scenario's limits, the floor's ports)
    extra_config: str = ""


class Hub:
    """A running JupyterHub subprocess and the client side of its APIs."""

    def __init__(self, settings: HubSettings, workdir: Path) -> None:
        self.settings = settings
        self.workdir = workdir
        self.port = free_port()
        self.proxy_api_port = free_port()
        self.token = os.urandom(16).hex()
        self.proxy_token = os.urandom(16).hex()
        self.url = f"http://127.0.0.1:{self.port}"
        self.probe_path = workdir / "probe.txt"
        # The database goes on tmpfs when there is one: with it on a disk
        # that other work shares, the Hub's synchronous sqlite commits (fsync)
        # were nearly half of its samples during 50 spawns, and set its loop lag.
        shm = Path("/dev/shm")
        db_dir = shm / f"adsb-{os.getpid()}-{workdir.name}" if shm.is_dir() else workdir
        self.db_path = db_dir / "jupyterhub.sqlite"
        self.log_path = workdir / "hub.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.http: aiohttp.ClientSession | None = None
        self._log_offset = 0
        self._stopping = False

    # -- lifecycle -----------------------------------------------------------

    def render_config(self) -> str:
        s = self.settings
        return CONFIG_TEMPLATE.format(
            spawner_class=s.spawner_class,
            port=self.port,
            hub_port=free_port(),
            hub_connect_ip=s.hub_connect_ip,
            proxy_api_port=self.proxy_api_port,
            workdir=self.workdir,
            db_path=self.db_path,
            token=self.token,
            poll_interval=s.poll_interval,
            image=s.image,
            cmd=s.cmd,
            allowed_images=dict(s.allowed_images),
            prefix=s.prefix,
            grace=s.grace,
            bench_id=s.bench_id,
            probe_dir=str(HERE),
            probe_path=str(self.probe_path),
            spawner_import=s.spawner_class,
            extra_config=s.extra_config,
        )

    async def start(self, deadline: float = 90.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "jupyterhub_config.py"
        config.write_text(self.render_config())
        env = dict(os.environ)
        env["CONFIGPROXY_AUTH_TOKEN"] = self.proxy_token
        env.pop("JUPYTERHUB_API_TOKEN", None)
        if self.settings.docker_host:
            env["DOCKER_HOST"] = self.settings.docker_host
        self._stopping = False
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                self.settings.python,
                "-m",
                "jupyterhub",
                "-f",
                str(config),
                cwd=self.workdir,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, force_close=False),
            timeout=aiohttp.ClientTimeout(total=900),
        )
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline
        while True:
            if self.proc.returncode is not None:
                raise RuntimeError(
                    f"JupyterHub exited ({self.proc.returncode}):\n{self.log_tail()}"
                )
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with self.http.get(f"{self.url}/hub/api/", headers=self._auth) as r:
                    if r.status == 200:
                        # a restarted Hub stops the proxy its killed self left behind:
                        # what its start wrote is not a signal from outside
                        self._log_offset = self._log_size()
                        return
            if loop.time() > end:
                raise RuntimeError(f"JupyterHub did not answer in {deadline}s:\n{self.log_tail()}")
            await asyncio.sleep(0.2)

    def _log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def check_alive(self) -> None:
        """Raise :class:`HubDied` if the Hub exited or received a signal we did not send.

        On a machine shared with other work, a stray signal (a pid reused by
        someone who kept an old pid) has ended a Hub or its proxy mid-run.
        """
        if self._stopping or self.proc is None:
            return
        if self.proc.returncode is not None:
            raise HubDied(f"JupyterHub exited ({self.proc.returncode}):\n{self.log_tail()}")
        try:
            with self.log_path.open("rb") as f:
                f.seek(self._log_offset)
                new = f.read()
        except OSError:
            return
        self._log_offset += len(new)
        for needle in (
            b"Received signal SIGTERM",
            b"[ConfigProxy] \x1b[33mwarn\x1b[39m: Terminated",
        ):
            if needle in new:
                raise HubDied(f"the Hub or its proxy was sent SIGTERM:\n{self.log_tail()}")

    async def stop(self) -> None:
        self._stopping = True
        if self.http is not None:
            await self.http.close()
            self.http = None
        proc = self.proc
        if proc is not None and proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 60)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        self._kill_orphaned_proxy()
        if self.db_path.parent != self.workdir:
            shutil.rmtree(self.db_path.parent, ignore_errors=True)

    async def kill(self) -> None:
        """SIGKILL the Hub, as a crash would: its proxy and servers live on.

        ``start()`` then starts it again on the same database and ports.
        """
        self._stopping = True
        if self.http is not None:
            await self.http.close()
            self.http = None
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    def _kill_orphaned_proxy(self) -> None:
        """A Hub that failed or was killed leaves its proxy running (own session)."""
        try:
            pid = int((self.workdir / "jupyterhub-proxy.pid").read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        # only if the pid is still our proxy (pids are reused)
        if f"{self.proxy_api_port}".encode() in cmdline and b"configurable-http-proxy" in cmdline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- measurements of the process ------------------------------------------

    def rss_bytes(self) -> int:
        """Resident set size of the Hub process (not the proxy)."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def probe(self) -> tuple[list[tuple[float, float]], list[tuple[float, int]]]:
        """Loop-lag samples ``(wall, lag)`` and poll counts ``(wall, total)`` so far."""
        lags: list[tuple[float, float]] = []
        polls: list[tuple[float, int]] = []
        for kind, at, values in self.probe_lines():
            if kind == "L":
                lags.append((at, float(values[0])))
            elif kind == "P":
                polls.append((at, int(values[0])))
        return lags, polls

    def probe_lines(self) -> list[tuple[str, float, list[str]]]:
        """Every line of the probe so far: ``(kind, wall time, values)``."""
        out = []
        with contextlib.suppress(FileNotFoundError):
            for line in self.probe_path.read_text().splitlines():
                kind, at, *values = line.split()
                out.append((kind, float(at), values))
        return out

    def cache_states(self) -> list[tuple[float, bool, int, int]]:
        """The events cache over time: ``(wall, current, objects, running)``."""
        return [
            (at, v[0] == "1", int(v[1]), int(v[2]))
            for kind, at, v in self.probe_lines()
            if kind == "W"
        ]

    async def cache_memory(self, timeout: float = 10.0) -> tuple[int, int] | None:
        """Bytes and objects of the events cache, measured in the Hub (None: no cache)."""
        before = len([1 for kind, _, _ in self.probe_lines() if kind == "M"])
        self._measure_flag(True)
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end:
            found = [v for kind, _, v in self.probe_lines() if kind == "M"]
            if len(found) > before:
                return int(found[-1][0]), int(found[-1][1])
            await asyncio.sleep(0.5)
        self._measure_flag(False)
        return None

    def _measure_flag(self, on: bool) -> None:
        flag = Path(str(self.probe_path) + ".measure")
        if on:
            flag.touch()
        else:
            flag.unlink(missing_ok=True)

    # -- REST API ----------------------------------------------------------------

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        assert self.http is not None
        for attempt in (1, 2):
            try:
                async with self.http.request(
                    method, f"{self.url}/hub/api/{path}", headers=self._auth, json=body
                ) as r:
                    text = await r.text()
                    data = json.loads(text) if text and "json" in r.content_type else text
                    return r.status, data
            except aiohttp.ServerDisconnectedError:
                # a kept-alive connection the Hub closed as the request went out (seen
                # once in a 1,000-server run): ask again on a new one
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def create_users(self, names: list[str]) -> None:
        if not names:
            return
        status, data = await self.api("POST", "users", {"usernames": names})
        if status not in (201, 409):
            raise RuntimeError(f"creating users failed: {status} {data}")

    async def request_spawn(self, name: str, options: Mapping[str, Any] | None = None) -> int:
        status, data = await self.api("POST", f"users/{name}/server", dict(options or {}))
        if status == 400 and "is already" in str(data):  # the retried request had arrived
            return 202
        if status not in (201, 202):
            raise RuntimeError(f"spawn of {name} refused: {status} {data}")
        return status

    async def request_stop(self, name: str) -> int:
        status, data = await self.api("DELETE", f"users/{name}/server")
        if status not in (202, 204):
            raise RuntimeError(f"stop of {name} refused: {status} {data}")
        return status

    async def server_states(self) -> dict[str, str]:
        """Every user with a default server: ``ready``, ``pending`` (starting or stopping)."""
        out: dict[str, str] = {}
        offset = 0
        while True:
            status, data = await self.api("GET", f"users?state=active&limit=200&offset={offset}")
            if status != 200:
                raise RuntimeError(f"listing users failed: {status} {data}")
            items = data["items"] if isinstance(data, dict) else data
            for user in items:
                server = (user.get("servers") or {}).get("")
                if server is not None:
                    out[user["name"]] = "ready" if server.get("ready") else "pending"
            if len(items) < 200:
                return out
            offset += 200

    async def active_users(self) -> set[str]:
        """Users with a server that is running, starting or stopping."""
        status, data = await self.api("GET", "users?state=active&limit=1000")
        if status != 200:
            raise RuntimeError(f"listing users failed: {status} {data}")
        items = data["items"] if isinstance(data, dict) else data
        return {u["name"] for u in items}

    async def routes(self) -> set[str]:
        """User names that have a route in the proxy."""
        assert self.http is not None
        self.check_alive()
        async with self.http.get(
            f"http://127.0.0.1:{self.proxy_api_port}/api/routes",
            headers={"Authorization": f"token {self.proxy_token}"},
        ) as r:
            data = await r.json()
        names = set()
        for route in data:
            parts = route.strip("/").split("/")
            if len(parts) >= 2 and parts[0] == "user":
                names.add(parts[1])
        return names
