"""Scenario 9: a thousand tiny servers under one Hub on one Docker daemon.

Each contender gets a private dockerd of its own (tests/privatedockerd.py:
its own data root, bridge and socket, ``--live-restore``), so that the daemon
can be killed and restarted without touching the machine's shared one, and
both contenders start from an empty daemon. The Hub reaches it through the
counting proxy (benchmarks/proxies.py) for the whole scenario, and reaches
the servers at their own IP on the daemon's bridge (``use_internal_ip``: no
``docker-proxy`` process per server).

In order, within one time budget per contender:

1. 20 new spawns with 0, then 500, then N servers running (the 20 are
   stopped again, so that exactly 0, 500 and N run while they spawn); the
   servers in between are spawned in batches of 50; after each 20, the
   daemon's own share: 20 containers created and started straight through
   aiodocker, no Hub;
2. N running and idle: Docker requests per minute (and per ``poll()``, which
   the Hub's probe counts), the Hub's RSS, the memory of the events cache;
3. dockerd SIGKILLed and started again (the servers live on), with 5
   servers' processes killed while it was down: seconds from the daemon
   answering until the events cache is right again (current, every object
   listed, the 5 seen stopped), and until the Hub reports the 5 stopped;
4. the Hub SIGKILLed and started again on its database: seconds until it
   reports every live server ready again, containers created meanwhile
   (duplicates) and servers not adopted (lost);
5. a stop of every server at once.

What a contender has not finished when its budget runs out is recorded as
such (``unfinished``), with everything measured until then.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.privatedockerd import PrivateDockerd

from .contenders import HubContender, ServerKind
from .hub import TINY_CMD, Hub, HubSettings
from .proxies import CountingDockerProxy

TINY_IMAGE = "aiodockerspawner-test/tiny:latest"

#: limits the Hub's configuration raises (or states) for N servers
SCALE_CONFIG = """
# scenario 9: N servers that outlive a Hub and a daemon restart
c.JupyterHub.cleanup_servers = False
c.JupyterHub.concurrent_spawn_limit = 0
c.JupyterHub.active_server_limit = 0
c.Spawner.poll_interval = {poll_interval}
c.DockerSpawner.remove = False
c.DockerSpawner.use_internal_ip = True
c.DockerSpawner.network_name = "bridge"
"""


@dataclass
class ScalePlan:
    n: int = 1000
    sample: int = 20
    batch: int = 50
    poll_interval: int = 30
    idle_window: float = 90.0
    killed: int = 5
    #: seconds for the whole scenario, per contender
    budget: float = 2400.0
    marks: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.marks:
            self.marks = sorted({0, self.n // 2, self.n})
        self.killed = min(self.killed, max(1, self.n // 4))


def log(msg: str) -> None:
    print(f"bench {time.strftime('%H:%M:%S')} scale: {msg}", flush=True)


def raise_limits(n: int, workdir: Path) -> dict[str, Any]:
    """Raise what N servers need, where this process may; say what was done."""
    workdir.mkdir(parents=True, exist_ok=True)
    done: dict[str, Any] = {}
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 4 * n + 1024)) if hard != resource.RLIM_INFINITY else 4 * n + 1024
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    done["nofile"] = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    # every containerd shim has about ten threads, and threads take pids
    pid_max = Path("/proc/sys/kernel/pid_max")
    with contextlib.suppress(OSError, ValueError):
        if int(pid_max.read_text()) < 20 * n + 32768:
            pid_max.write_text(f"{20 * n + 32768}\n")
        done["kernel.pid_max"] = int(pid_max.read_text())
    thresh = Path("/proc/sys/net/ipv4/neigh/default/gc_thresh3")
    with contextlib.suppress(OSError, ValueError):
        # the Hub talks to every server's own IP: one neighbour entry each
        done["net.ipv4.neigh.default.gc_thresh3"] = int(thresh.read_text())
    return done


def percentile(values: list[float], q: float) -> float:
    data = sorted(values)
    if not data:
        return float("nan")
    rank = max(1, -(-len(data) * q // 100))
    return float(data[int(rank) - 1])


def cpu_seconds(pid: int | None) -> float:
    if not pid:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def container_table(daemon: PrivateDockerd) -> dict[str, tuple[str, str]]:
    """name -> (id, state) of every container of the daemon."""
    out = await daemon.cli("ps", "-a", "--no-trunc", "--format", "{{.Names}} {{.ID}} {{.State}}")
    table = {}
    for line in out.splitlines():
        name, cid, state = line.split()
        table[name] = (cid, state)
    return table


class Scale:
    def __init__(
        self,
        key: str,
        plan: ScalePlan,
        settings: HubSettings,
        workdir: Path,
        entry: dict[str, Any],
    ) -> None:
        self.key = key
        self.plan = plan
        self.settings = settings
        self.workdir = workdir
        self.entry = entry
        self.users = [f"sc{i:04d}" for i in range(plan.n)]
        self.running: list[str] = []
        self.daemon: PrivateDockerd | None = None

    def name(self, user: str) -> str:
        return f"{self.settings.prefix}-{user}"

    async def create_users(self, hub: Hub, names: list[str]) -> None:
        for i in range(0, len(names), 100):
            await hub.create_users(names[i : i + 100])

    async def fill(self, c: HubContender, upto: int) -> None:
        """Spawn servers in batches until ``upto`` run."""
        began = time.monotonic()
        first = len(self.running)
        while len(self.running) < upto:
            batch = self.users[len(self.running) : min(upto, len(self.running) + self.plan.batch)]
            await c.spawn(batch)
            self.running.extend(batch)
            log(f"{self.key}: {len(self.running)} running ({time.monotonic() - began:.0f} s)")
        if upto > first:
            seconds = time.monotonic() - began
            rate = (upto - first) / seconds
            self.entry.setdefault("fill", []).append(
                {"from": first, "to": upto, "seconds": seconds, "per_second": rate}
            )

    async def sample(self, c: HubContender, hub: Hub, mark: int) -> None:
        users = [f"sm{mark:04d}u{i:02d}" for i in range(self.plan.sample)]
        await c.prepare(users)
        pid = hub.proc.pid if hub.proc else None
        cpu0 = cpu_seconds(pid)
        times = list((await c.spawn(users)).values())
        cpu = cpu_seconds(pid) - cpu0
        result = {
            "running": len(self.running),
            "p50": percentile(times, 50),
            "p95": percentile(times, 95),
            "total": max(times),
            "hub_cpu": cpu,
            "load": os.getloadavg()[0],
            "times": [round(t, 4) for t in sorted(times)],
        }
        self.entry.setdefault("spawn20", {})[str(mark)] = result
        log(
            f"{self.key}: 20 spawns with {len(self.running)} running: p50 {result['p50']:.2f}s "
            f"p95 {result['p95']:.2f}s"
        )
        await c.stop(users)
        if self.daemon is not None:
            docker = await self.docker_alone(self.daemon, mark)
            self.entry.setdefault("docker20", {})[str(mark)] = docker
            log(
                f"{self.key}: Docker alone, 20 create+start with {len(self.running)} running: "
                f"p50 {docker['p50']:.2f}s p95 {docker['p95']:.2f}s"
            )

    async def docker_alone(self, daemon: PrivateDockerd, mark: int) -> dict[str, Any]:
        """The daemon's share: 20 containers created and started at once, straight through
        aiodocker (no Hub), each timed until its start is answered; then removed."""
        import aiodocker
        import aiohttp

        connector = aiohttp.UnixConnector(str(daemon.socket), limit=100)
        docker = aiodocker.Docker(url="unix://localhost", connector=connector)
        names = [f"raw{mark:04d}u{i:02d}" for i in range(self.plan.sample)]
        body = {
            "Image": TINY_IMAGE,
            "Cmd": list(TINY_CMD),
            "Labels": {"aiodockerspawner-bench": self.settings.bench_id},
        }
        t0 = time.monotonic()

        async def one(name: str) -> float:
            container = await docker.containers.create(body, name=name)
            await container.start()
            return time.monotonic() - t0

        try:
            times = list(await asyncio.gather(*(one(n) for n in names)))
            await asyncio.gather(
                *(docker.containers.container(n).delete(force=True) for n in names)
            )
        finally:
            await docker.close()
            await connector.close()
        return {
            "running": len(self.running),
            "p50": percentile(times, 50),
            "p95": percentile(times, 95),
            "load": os.getloadavg()[0],
        }

    async def idle(self, hub: Hub, proxy: CountingDockerProxy) -> None:
        # every server polled at least once since the last spawn before counting
        await asyncio.sleep(self.plan.poll_interval + 5)
        _, polls = hub.probe()
        a_at, a_polls = polls[-1]
        await asyncio.sleep(self.plan.idle_window + 1.2)
        _, polls = hub.probe()
        b_at, b_polls = polls[-1]
        window = proxy.between(a_at, b_at)
        minutes = (b_at - a_at) / 60
        n_polls = b_polls - a_polls
        self.entry["idle"] = {
            "servers": len(self.running),
            "poll_interval": self.plan.poll_interval,
            "window": b_at - a_at,
            "requests": len(window),
            "requests_per_minute": len(window) / minutes,
            "polls": n_polls,
            "polls_per_minute": n_polls / minutes,
            "requests_per_poll": len(window) / n_polls if n_polls else float("nan"),
            "kinds": proxy.by_kind(window),
        }
        self.entry["hub_rss"] = hub.rss_bytes()
        memory = await hub.cache_memory()
        if memory is not None:
            self.entry["cache_memory"] = {"bytes": memory[0], "objects": memory[1]}
        log(
            f"{self.key}: idle with {len(self.running)}: {len(window)} requests and {n_polls} "
            f"polls in {b_at - a_at:.0f}s; Hub RSS {self.entry['hub_rss'] >> 20} MiB; "
            f"cache {self.entry.get('cache_memory')}"
        )

    async def daemon_restart(self, hub: Hub, daemon: PrivateDockerd) -> None:
        victims = self.running[: self.plan.killed]
        pids = [
            int(await daemon.cli("inspect", "-f", "{{.State.Pid}}", self.name(u))) for u in victims
        ]
        await daemon.kill()
        killed_at = time.time()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # died while nothing could report it
        down_for = await daemon.start()
        answered = time.time()
        truth = await container_table(daemon)
        expected_running = sum(1 for _, state in truth.values() if state == "running")
        alive = [u for u in self.running if u not in victims]
        assert expected_running == len(alive), (expected_running, len(alive))
        result: dict[str, Any] = {
            "killed_servers": len(victims),
            "daemon_down": answered - killed_at,
            "daemon_start": down_for,
        }
        # the events cache (aiodockerspawner only): current, complete, and the 5 seen stopped
        loop = asyncio.get_running_loop()
        end = loop.time() + 300
        has_cache = bool(hub.cache_states())
        while has_cache and loop.time() < end:
            right = [
                at
                for at, current, objects, running in hub.cache_states()
                if at > answered
                and current
                and objects == len(truth)
                and running == expected_running
            ]
            if right:
                result["cache_right_after"] = right[0] - answered
                break
            await asyncio.sleep(0.5)
        # the Hub itself: the 5 no longer active (its next poll of each)
        while loop.time() < end:
            states = await hub.server_states()
            if not any(u in states for u in victims):
                result["hub_noticed_after"] = time.time() - answered
                break
            await asyncio.sleep(2)
        self.running = alive
        self.entry["daemon_restart"] = result
        log(f"{self.key}: dockerd restart: {result}")

    async def hub_restart(self, hub: Hub, daemon: PrivateDockerd) -> None:
        before = await container_table(daemon)
        await hub.kill()
        began = time.time()
        await hub.start(deadline=600)
        answered = time.time() - began
        loop = asyncio.get_running_loop()
        end = loop.time() + 600
        wanted = set(self.running)
        states: dict[str, str] = {}
        while loop.time() < end:
            states = await hub.server_states()
            if wanted <= {u for u, s in states.items() if s == "ready"}:
                break
            await asyncio.sleep(2)
        adopted = time.time() - began
        after = await container_table(daemon)
        ready = {u for u, s in states.items() if s == "ready"}
        new = sorted(set(after) - set(before))
        replaced = sorted(n for n in set(before) & set(after) if before[n][0] != after[n][0])
        self.entry["hub_restart"] = {
            "servers": len(wanted),
            "api_answered_after": answered,
            "all_ready_after": adopted,
            "adopted": len(wanted & ready),
            "lost": len(wanted - ready),
            "duplicates": len(new) + len(replaced),
            "unexpected_active": len(set(states) - wanted),
        }
        log(f"{self.key}: Hub SIGKILL and restart: {self.entry['hub_restart']}")

    async def stop_all(self, c: HubContender) -> None:
        times = list((await c.stop(self.running)).values())
        still = 0
        if self.daemon is not None:
            # the Hub forgets a server whose stop it gave up on: is its container stopped?
            table = await container_table(self.daemon)
            still = sum(1 for _, state in table.values() if state == "running")
        self.entry["stop_all"] = {
            "servers": len(times),
            "total": max(times),
            "p50": percentile(times, 50),
            "still_running": still,
        }
        log(f"{self.key}: stop of all {len(times)}: {max(times):.1f}s, {still} still running")
        self.running = []

    async def run(self, daemon: PrivateDockerd, proxy: CountingDockerProxy) -> None:
        self.daemon = daemon
        hub = Hub(self.settings, self.workdir)
        log(f"{self.key}: starting the Hub")
        await hub.start()
        c = HubContender(self.key, hub, ServerKind("tiny", TINY_IMAGE, TINY_CMD))
        step = "users"
        try:
            await self.create_users(hub, self.users)
            c._users.update(self.users)
            for mark in self.plan.marks:
                step = f"fill to {mark}"
                await self.fill(c, mark)
                step = f"20 spawns with {mark} running"
                await self.sample(c, hub, mark)
            step = "idle"
            await self.idle(hub, proxy)
            step = "dockerd restart"
            await self.daemon_restart(hub, daemon)
            step = "Hub restart"
            await self.hub_restart(hub, daemon)
            step = "stop all"
            await self.stop_all(c)
            step = ""
        except asyncio.CancelledError:
            self.entry["unfinished"] = step
            log(f"{self.key}: out of time at: {step}")
        finally:
            await hub.stop()


async def run_scale(
    key: str, plan: ScalePlan, settings: HubSettings, workdir: Path
) -> dict[str, Any]:
    """Scenario 9 for one contender, on a daemon of its own; what was measured."""
    entry: dict[str, Any] = {"plan": asdict(plan), "limits": raise_limits(plan.n, workdir)}
    began = time.monotonic()
    daemon = PrivateDockerd(bridge_prefix=21, storage_driver="overlay2")
    try:
        await daemon.start()
        await daemon.load_image(TINY_IMAGE)
        proxy = CountingDockerProxy(str(workdir / "docker.sock"), upstream=str(daemon.socket))
        await proxy.start()
        settings.docker_host = proxy.url
        settings.extra_config += SCALE_CONFIG.format(poll_interval=plan.poll_interval)
        scale = Scale(key, plan, settings, workdir / "hub", entry)
        task = asyncio.ensure_future(scale.run(daemon, proxy))
        try:
            await asyncio.wait({task}, timeout=plan.budget)
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
                entry["budget_exceeded"] = True
            task.result()
        finally:
            await proxy.stop()
    finally:
        log(f"{key}: discarding the private daemon and its containers")
        await daemon.discard()
    entry["wall_seconds"] = time.monotonic() - began
    return entry
