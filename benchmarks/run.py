"""Run the benchmark: every scenario, every contender, one machine, one run.

``python -m benchmarks`` (or ``nox -s bench``) runs the full benchmark;
``--smoke`` runs every scenario with N = 2 and one repetition, to prove the
harness still works. See docs/performance.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import profile, report
from .contenders import FakeHubAPI, HubContender, RawContender, RawServiceContender, ServerKind
from .hub import TINY_CMD, Hub, HubDied, HubSettings
from .proxies import CountingDockerProxy, ThrottlingTCPProxy
from .registry import Registry, docker, push_large_image, remove_image
from .scale import ScalePlan, run_scale
from .venvs import ensure_dockerspawner_venv

ROOT = Path(__file__).resolve().parent.parent
TINY_IMAGE = "aiodockerspawner-test/tiny:latest"
SPAWNER_CLASSES = {
    "ads": "aiodockerspawner.DockerSpawner",
    "ds": "dockerspawner.DockerSpawner",
    # the Hub floor: a spawner that does nothing (benchmarks/floor.py); scenario 5 only
    "floor": "floor.FloorSpawner",
}
#: scenario 8 (Swarm): dockerspawner's SwarmSpawner with host-mode publishing
#: (benchmarks/ds_swarm.py: the machine has no routing mesh)
SWARM_SPAWNER_CLASSES = {
    "ads": "aiodockerspawner.SwarmSpawner",
    "ds": "ds_swarm.HostPublishSwarmSpawner",
}
ALL_CONTENDERS = ("raw", "ads", "ds", "floor")
ALL_SCENARIOS = (1, 2, 3, 4, 5, 6, 7, 8, 9)
MiB = 1 << 20


@dataclass
class Plan:
    """Sizes of one run; ``full()`` and ``smoke()`` are the two presets."""

    spawn_ns: list[int]
    stop_ns: list[int]
    real_n: int
    poll_n: int
    lag_n: int
    rss_n: int
    repeat: int
    grace: int
    poll_interval: int
    poll_window: float
    pull_bytes: int
    pull_rate: float
    baseline_reps: int
    #: scenario 8: concurrent swarm spawns and stops on the single-node swarm
    swarm_n: int = 50
    #: scenario 9: servers running at the end, seconds allowed per contender
    scale_n: int = 1000
    scale_budget: float = 2400.0
    scale_idle_window: float = 90.0
    scale_poll_interval: int = 30
    #: py-spy on each Hub during the spawn batch of scenario 5 (``--profile``)
    profile: bool = False
    scenarios: list[int] = field(default_factory=lambda: list(ALL_SCENARIOS))
    contenders: list[str] = field(default_factory=lambda: list(ALL_CONTENDERS))

    @classmethod
    def full(cls) -> Plan:
        return cls(
            spawn_ns=[1, 20, 50, 100],
            stop_ns=[20, 50],
            real_n=10,
            poll_n=50,
            lag_n=50,
            rss_n=100,
            repeat=1,
            grace=2,
            poll_interval=10,
            poll_window=30.0,
            pull_bytes=64 * MiB,
            pull_rate=4 * MiB,
            baseline_reps=3,
        )

    @classmethod
    def smoke(cls) -> Plan:
        return cls(
            spawn_ns=[2],
            stop_ns=[2],
            real_n=2,
            poll_n=2,
            lag_n=2,
            rss_n=2,
            repeat=1,
            grace=1,
            poll_interval=1,
            poll_window=2.0,
            pull_bytes=2 * MiB,
            pull_rate=2 * MiB,
            baseline_reps=1,
            swarm_n=2,
            scale_n=4,
            scale_budget=300.0,
            scale_idle_window=3.0,
            scale_poll_interval=1,
            # scenario 9 runs private daemons and minutes of waiting: only when asked
            scenarios=[s for s in ALL_SCENARIOS if s != 9],
        )


@dataclass
class Env:
    prefix: str
    cache: Path
    workdir: Path
    hub_connect_ip: str
    jupyterhub_version: str
    singleuser_image: str
    pythons: dict[str, str]
    #: per contender: the large image it pulls, through its own throttled proxy
    big_images: dict[str, str] = field(default_factory=dict)
    throttles: dict[str, ThrottlingTCPProxy] = field(default_factory=dict)


def log(msg: str) -> None:
    print(f"bench {time.strftime('%H:%M:%S')} {msg}", flush=True)


def summary(times: dict[str, float]) -> dict[str, Any]:
    values = sorted(times.values())
    return {
        "load": os.getloadavg()[0],  # 1-minute load average at the end: others' work shows here
        "n": len(values),
        "total": max(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "times": [round(v, 4) for v in values],
    }


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time a process has used so far (0 if unknown)."""
    if not pid:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def dockerd_pid() -> int | None:
    try:
        return int(Path("/var/run/docker.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def requests_per_interval(requests: Sequence[Any], interval: float) -> float:
    """Requests per ``interval`` seconds, from their mean spacing (0 or 1 request: 0 or 1)."""
    times = sorted(r.at for r in requests)
    if len(times) < 2 or times[-1] == times[0]:
        return float(len(times))
    return interval * (len(times) - 1) / (times[-1] - times[0])


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile."""
    data = sorted(values)
    if not data:
        return float("nan")
    rank = max(1, -(-len(data) * q // 100))
    return float(data[int(rank) - 1])


def names(tag: str, n: int) -> list[str]:
    return [f"{tag}u{i:03d}" for i in range(n)]


# -- per-contender runs ----------------------------------------------------------


class Results:
    """``data[scenario][contender]`` = what was measured."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}

    def put(self, scenario: str, contender: str, value: Any) -> None:
        self.data.setdefault(scenario, {})[contender] = value

    def add(self, scenario: str, contender: str, value: Any) -> None:
        self.data.setdefault(scenario, {}).setdefault(contender, []).append(value)


def hub_settings(key: str, plan: Plan, env: Env, kind: ServerKind, **kw: Any) -> HubSettings:
    allowed = {}
    if kind.name == "tiny" and key in env.big_images:
        allowed = {"tiny": TINY_IMAGE, "big": env.big_images[key]}
    return HubSettings(
        python=env.pythons[key],
        spawner_class=SPAWNER_CLASSES[key],
        prefix=f"{env.prefix}-{key}",
        bench_id=env.prefix,
        image=kind.image,
        cmd=kind.cmd,
        hub_connect_ip=env.hub_connect_ip,
        grace=plan.grace,
        allowed_images=allowed,
        **kw,
    )


async def spawn_scenarios(
    key: str, c: HubContender | RawContender, plan: Plan, res: Results, hub: Hub | None
) -> None:
    """Scenarios 1, 5 and 7 (spawn N, with lag and RSS), then 2 (stops)."""
    want = set(plan.scenarios)
    if want & {1, 5, 7}:
        ns = list(plan.spawn_ns)
        if 1 not in want:
            ns = sorted({plan.lag_n} if 5 in want else set()) + ([plan.rss_n] if 7 in want else [])
        for rep in range(plan.repeat):
            for n in ns:
                users = names(f"s1r{rep}n{n}", n)
                log(f"{key}: spawn {n} (repetition {rep + 1})")
                await c.prepare(users)
                hub_pid = hub.proc.pid if hub is not None and hub.proc is not None else None
                profiled = (
                    plan.profile and hub is not None and n == plan.lag_n and rep == 0 and 5 in want
                )
                recording = (
                    profile.Recording(hub_pid, hub.workdir / "py-spy.txt")
                    if profiled and hub is not None and hub_pid
                    else contextlib.nullcontext()
                )
                async with recording:
                    cpu0 = (cpu_seconds(hub_pid), cpu_seconds(dockerd_pid()))
                    wall0 = time.time()
                    times = await c.spawn(users)
                    wall1 = time.time()
                    cpu1 = (cpu_seconds(hub_pid), cpu_seconds(dockerd_pid()))
                s = summary(times)
                # CPU seconds the Hub and dockerd spent on the batch (2 cores in all)
                s["hub_cpu"] = cpu1[0] - cpu0[0]
                s["dockerd_cpu"] = cpu1[1] - cpu0[1]
                if profiled and hub is not None:
                    summary_ = profile.summarise(hub.workdir / "py-spy.txt", key)
                    if summary_ is not None:
                        summary_["hub_cpu"] = s["hub_cpu"]
                        summary_["n"] = n
                        res.put("profile", key, summary_)
                log(f"{key}: spawn {n}: total {s['total']:.2f}s p50 {s['p50']:.2f}s")
                res.add(f"spawn_tiny_n{n}", key, s)
                if hub is not None and n == plan.rss_n and rep == 0 and 7 in want:
                    res.put("rss_running", key, {"n": n, "rss": hub.rss_bytes()})
                if hub is not None and n == plan.lag_n and rep == 0 and 5 in want:
                    await asyncio.sleep(1.5)  # the probe flushes once a second
                    lags, _ = hub.probe()
                    window = [lag for at, lag in lags if wall0 <= at <= wall1]
                    res.put(
                        "loop_lag",
                        key,
                        {
                            "n": n,
                            "samples": len(window),
                            "max": max(window, default=0.0),
                            "p99": percentile(window, 99),
                            "p50": percentile(window, 50),
                        },
                    )
                stops = await c.stop(users)
                res.add(f"stop_exiting_n{n}", key, summary(stops))
    if 2 in want:
        for n in plan.stop_ns:
            users = names(f"ign{n}", n)
            log(f"{key}: spawn {n} servers that ignore SIGTERM")
            await c.spawn(users)
            log(f"{key}: stop {n} servers that ignore SIGTERM (grace {plan.grace}s)")
            s = summary(await c.stop(users))
            log(f"{key}: stop {n}: total {s['total']:.2f}s")
            res.put(f"stop_ignoring_n{n}", key, {**s, "grace": plan.grace})


async def wait_pull_started(throttle: ThrottlingTCPProxy, before: int, timeout: float) -> bool:
    """Until the registry has sent a good part of a layer (the pull is under way)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    threshold = before + 128 * 1024
    while loop.time() < end:
        if throttle.bytes_sent >= threshold:
            return True
        await asyncio.sleep(0.02)
    return False


async def head_of_line(
    key: str, c: HubContender | RawContender, plan: Plan, env: Env, res: Results
) -> None:
    """Scenario 6: a cached-image spawn while another user's pull is slow."""
    throttle = env.throttles[key]
    big_image = env.big_images[key]
    await remove_image(big_image)
    baseline = []
    for i in range(plan.baseline_reps):
        users = [f"hb{i}"]
        baseline.append((await c.spawn(users))[users[0]])
        await c.stop(users)
    log(f"{key}: cached spawn alone: {statistics.median(baseline):.2f}s")
    before = throttle.bytes_sent
    t_pull = time.monotonic()
    if isinstance(c, RawContender):

        async def pull_then_start() -> float:
            await c.pull(big_image)
            loop = asyncio.get_running_loop()
            return await c.start_one("hpuller", t_pull, loop.time() + 900, image=big_image)

        puller = asyncio.ensure_future(pull_then_start())
    else:
        puller = asyncio.ensure_future(c.spawn(["hpuller"], options={"image": "big"}))
    started = await wait_pull_started(throttle, before, 60)
    during = (await c.spawn(["hcached"]))["hcached"]
    overlapped = not puller.done()
    pulled = await puller
    pull_time = pulled if isinstance(pulled, float) else pulled["hpuller"]
    log(
        f"{key}: cached spawn during a pull: {during:.2f}s "
        f"(pull and spawn took {pull_time:.2f}s; overlapped: {overlapped})"
    )
    await c.stop(["hcached", "hpuller"])
    await remove_image(big_image)
    res.put(
        "head_of_line",
        key,
        {
            "baseline": statistics.median(baseline),
            "baseline_all": baseline,
            "during": during,
            "ratio": during / statistics.median(baseline),
            "pull_spawn_time": pull_time,
            "pull_started": started,
            "overlapped": overlapped,
            "pull_bytes": plan.pull_bytes,
            "pull_rate": plan.pull_rate,
        },
    )


async def request_counts(
    key: str,
    c: HubContender | RawContender,
    plan: Plan,
    res: Results,
    proxy: CountingDockerProxy,
    hub: Hub | None,
    scenario: str = "docker_requests",
) -> None:
    """Scenario 4: Docker requests per plain start, and per minute while polled."""
    # warm up: the first start may open long-lived things (clients, event streams)
    await c.spawn(["rwarm"])
    await c.stop(["rwarm"])
    await asyncio.sleep(1.0)
    t0 = time.time()
    await c.spawn(["rplain"])
    t1 = time.time()
    plain = proxy.between(t0, t1)
    log(f"{key}: plain start: {len(plain)} requests {proxy.by_kind(plain)}")
    entry: dict[str, Any] = {
        "plain_start_requests": len(plain),
        "plain_start_kinds": proxy.by_kind(plain),
    }
    if hub is not None:
        others = names("rpoll", plan.poll_n - 1)
        await c.spawn(others)
        running = ["rplain", *others]
        # settle: let every server's first poll come round before counting
        await asyncio.sleep(plan.poll_interval + 1.5)
        _, polls = hub.probe()
        a_at, a_polls = polls[-1]
        await asyncio.sleep(plan.poll_window + 1.2)
        _, polls = hub.probe()
        b_at, b_polls = next(p for p in polls if p[0] >= a_at + plan.poll_window)
        window = proxy.between(a_at, b_at)
        minutes = (b_at - a_at) / 60
        n_polls = b_polls - a_polls
        entry.update(
            {
                "servers": len(running),
                "poll_interval": plan.poll_interval,
                "window": b_at - a_at,
                "polls": n_polls,
                "requests": len(window),
                "requests_per_minute": len(window) / minutes,
                "polls_per_minute": n_polls / minutes,
                "requests_per_poll": len(window) / n_polls if n_polls else float("nan"),
                # every server is polled once per interval: what a round of polls costs,
                # from the spacing of the requests (not skewed by where the window falls)
                "requests_per_interval": requests_per_interval(window, plan.poll_interval),
                "window_kinds": proxy.by_kind(window),
            }
        )
        log(
            f"{key}: {len(running)} servers polled: {len(window)} requests, {n_polls} polls "
            f"in {b_at - a_at:.1f}s {proxy.by_kind(window)}"
        )
        await c.stop(running)
    else:
        await c.stop(["rplain"])
    res.put(scenario, key, entry)


async def swarm_scenarios(
    key: str, c: HubContender | RawContender, plan: Plan, res: Results, hub: Hub | None
) -> None:
    """Scenario 8: N concurrent swarm spawns, then N concurrent stops."""
    n = plan.swarm_n
    for rep in range(plan.repeat):
        users = names(f"sw{rep}n{n}", n)
        log(f"{key}: swarm: spawn {n} (repetition {rep + 1})")
        await c.prepare(users)
        hub_pid = hub.proc.pid if hub is not None and hub.proc is not None else None
        cpu0 = (cpu_seconds(hub_pid), cpu_seconds(dockerd_pid()))
        s = summary(await c.spawn(users))
        s["hub_cpu"] = cpu_seconds(hub_pid) - cpu0[0]
        s["dockerd_cpu"] = cpu_seconds(dockerd_pid()) - cpu0[1]
        log(f"{key}: swarm: spawn {n}: total {s['total']:.2f}s p50 {s['p50']:.2f}s")
        res.add(f"swarm_spawn_n{n}", key, s)
        stops = summary(await c.stop(users))
        log(f"{key}: swarm: stop {n}: total {stops['total']:.2f}s")
        res.add(f"swarm_stop_n{n}", key, stops)


def swarm_settings(key: str, plan: Plan, env: Env, kind: ServerKind, **kw: Any) -> HubSettings:
    """A Hub spawning swarm services, ports published on the node (no routing mesh here)."""
    settings = hub_settings(key, plan, env, kind, **kw)
    extra = (
        f"c.SwarmSpawner.extra_create_kwargs = "
        f"{{'labels': {{'aiodockerspawner-bench': {env.prefix!r}}}}}\n"
        "c.SwarmSpawner.use_internal_ip = False\n"
    )
    if key == "ads":
        # its own Swarm default (the template sets ifnotpresent for containers)
        extra += 'c.SwarmSpawner.pull_policy = "skip"\nc.SwarmSpawner.publish_mode = "host"\n'
    else:
        extra += "c.SwarmSpawner.extra_endpoint_spec = {'ports': {None: (8888, 'tcp', 'host')}}\n"
    return dataclasses.replace(
        settings,
        spawner_class=SWARM_SPAWNER_CLASSES[key],
        prefix=f"{env.prefix}-{key}-sw",
        extra_config=extra,
    )


async def retry_if_killed(
    key: str, phase: str, env: Env, res: Results, body: Callable[[int], Awaitable[None]]
) -> None:
    """Run one Hub phase; if something outside killed the Hub, clean up and run it again."""
    for attempt in (1, 2):
        snapshot = copy.deepcopy(res.data)
        try:
            await body(attempt)
            return
        except HubDied as e:
            if attempt == 2:
                raise
            log(f"{key}: the {phase} Hub was killed from outside; running the phase again ({e})")
            res.data = snapshot
            res.put("retried", key, [*res.data.get("retried", {}).get(key, []), phase])
            await cleanup_names(f"{env.prefix}-{key}-")


async def run_hub_contender(key: str, plan: Plan, env: Env, res: Results) -> None:
    tiny = ServerKind("tiny", TINY_IMAGE, TINY_CMD)
    want = set(plan.scenarios)

    async def tiny_phase(attempt: int) -> None:
        hub = Hub(hub_settings(key, plan, env, tiny), env.workdir / f"{key}-tiny-{attempt}")
        log(f"{key}: starting the Hub (tiny image)")
        await hub.start()
        try:
            res.put("rss_idle", key, {"rss": hub.rss_bytes()})
            c = HubContender(key, hub, tiny)
            await spawn_scenarios(key, c, plan, res, hub)
            if 6 in want:
                await head_of_line(key, c, plan, env, res)
        finally:
            await hub.stop()

    async def count_phase(attempt: int) -> None:
        proxy = CountingDockerProxy(str(env.workdir / f"{key}-docker.sock"))
        await proxy.start()
        settings = hub_settings(
            key, plan, env, tiny, poll_interval=plan.poll_interval, docker_host=proxy.url
        )
        hub = Hub(settings, env.workdir / f"{key}-count-{attempt}")
        log(f"{key}: starting the Hub (Docker socket through the counting proxy)")
        await hub.start()
        try:
            await request_counts(key, HubContender(key, hub, tiny), plan, res, proxy, hub)
        finally:
            await hub.stop()
            await proxy.stop()

    async def real_phase(attempt: int) -> None:
        real = ServerKind("real", env.singleuser_image, None)
        hub = Hub(hub_settings(key, plan, env, real), env.workdir / f"{key}-real-{attempt}")
        log(f"{key}: starting the Hub (single-user image)")
        await hub.start()
        try:
            c = HubContender(key, hub, real)
            users = names("real", plan.real_n)
            log(f"{key}: spawn {plan.real_n} real single-user servers")
            s = summary(await c.spawn(users))
            log(f"{key}: real spawn {plan.real_n}: total {s['total']:.2f}s")
            res.put(f"spawn_real_n{plan.real_n}", key, s)
            await c.stop(users)
        finally:
            await hub.stop()

    async def swarm_phase(attempt: int) -> None:
        hub = Hub(swarm_settings(key, plan, env, tiny), env.workdir / f"{key}-swarm-{attempt}")
        log(f"{key}: starting the Hub (swarm services)")
        await hub.start()
        try:
            await swarm_scenarios(key, HubContender(key, hub, tiny), plan, res, hub)
        finally:
            await hub.stop()

    async def swarm_count_phase(attempt: int) -> None:
        proxy = CountingDockerProxy(str(env.workdir / f"{key}-swarm-docker.sock"))
        await proxy.start()
        settings = swarm_settings(
            key, plan, env, tiny, poll_interval=plan.poll_interval, docker_host=proxy.url
        )
        hub = Hub(settings, env.workdir / f"{key}-swarm-count-{attempt}")
        log(f"{key}: starting the Hub (swarm, Docker socket through the counting proxy)")
        await hub.start()
        try:
            c = HubContender(key, hub, tiny)
            await request_counts(key, c, plan, res, proxy, hub, "swarm_docker_requests")
        finally:
            await hub.stop()
            await proxy.stop()

    if want & {1, 2, 5, 6, 7}:
        await retry_if_killed(key, "tiny-image", env, res, tiny_phase)
    if 4 in want:
        await retry_if_killed(key, "request-counting", env, res, count_phase)
    if 3 in want:
        await retry_if_killed(key, "single-user", env, res, real_phase)
    if 8 in want:
        await retry_if_killed(key, "swarm", env, res, swarm_phase)
        await retry_if_killed(key, "swarm request-counting", env, res, swarm_count_phase)


async def run_floor(plan: Plan, env: Env, res: Results) -> None:
    """Scenario 5 (and the spawn batch it watches) for the Hub floor."""
    if 5 not in plan.scenarios:
        return
    ports_file = env.workdir / "floor-ports.txt"
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("floor.py")),
        "serve",
        str(ports_file),
        str(plan.lag_n + 10),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not ports_file.exists():
            if server.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError("the floor's HTTP servers did not start")
            await asyncio.sleep(0.1)
        tiny = ServerKind("tiny", TINY_IMAGE, TINY_CMD)
        floor_plan = copy.deepcopy(plan)
        floor_plan.scenarios = [5]
        settings = hub_settings("floor", floor_plan, env, tiny)
        settings.extra_config = f"c.FloorSpawner.ports_file = {str(ports_file)!r}\n"
        hub = Hub(settings, env.workdir / "floor-tiny")
        log("floor: starting the Hub (a spawner that does nothing)")
        await hub.start()
        try:
            c = HubContender("floor", hub, tiny)
            await spawn_scenarios("floor", c, floor_plan, res, hub)
        finally:
            await hub.stop()
    finally:
        server.terminate()
        await server.wait()


async def run_scale_contenders(plan: Plan, env: Env, res: Results) -> None:
    """Scenario 9, one contender after the other, each on a private daemon."""
    tiny = ServerKind("tiny", TINY_IMAGE, TINY_CMD)
    for key in [k for k in plan.contenders if k in ("ads", "ds")]:
        sp = ScalePlan(
            n=plan.scale_n,
            budget=plan.scale_budget,
            idle_window=plan.scale_idle_window,
            poll_interval=plan.scale_poll_interval,
            sample=min(20, max(2, plan.scale_n // 2)),
            batch=min(50, max(2, plan.scale_n // 2)),
        )
        log(f"{key}: scenario 9, {sp.n} servers (budget {sp.budget:.0f} s)")
        settings = hub_settings(key, plan, env, tiny)
        entry = await run_scale(key, sp, settings, env.workdir / f"{key}-scale")
        res.put("scale", key, entry)
        (env.workdir / "partial.json").write_text(json.dumps(res.data) + "\n")


async def run_raw(plan: Plan, env: Env, res: Results) -> None:
    tiny = ServerKind("tiny", TINY_IMAGE, TINY_CMD)
    want = set(plan.scenarios)
    prefix = f"{env.prefix}-raw"
    if want & {1, 2, 6}:
        async with RawContender(
            prefix=prefix, bench_id=env.prefix, kind=tiny, grace=plan.grace
        ) as c:
            await spawn_scenarios("raw", c, plan, res, None)
            if 6 in want:
                await head_of_line("raw", c, plan, env, res)
    if 4 in want:
        proxy = CountingDockerProxy(str(env.workdir / "raw-docker.sock"))
        await proxy.start()
        try:
            async with RawContender(
                prefix=prefix,
                bench_id=env.prefix,
                kind=tiny,
                grace=plan.grace,
                docker_url=proxy.url,
            ) as c:
                await request_counts("raw", c, plan, res, proxy, None)
        finally:
            await proxy.stop()
    if 8 in want:
        swarm_prefix = f"{env.prefix}-raw-sw"
        async with RawServiceContender(
            prefix=swarm_prefix, bench_id=env.prefix, kind=tiny, grace=plan.grace
        ) as c:
            await swarm_scenarios("raw", c, plan, res, None)
        proxy = CountingDockerProxy(str(env.workdir / "raw-swarm-docker.sock"))
        await proxy.start()
        try:
            async with RawServiceContender(
                prefix=swarm_prefix,
                bench_id=env.prefix,
                kind=tiny,
                grace=plan.grace,
                docker_url=proxy.url,
            ) as c:
                await request_counts("raw", c, plan, res, proxy, None, "swarm_docker_requests")
        finally:
            await proxy.stop()
    if 3 in want:
        real = ServerKind("real", env.singleuser_image, None)
        fake = FakeHubAPI(env.hub_connect_ip, env.jupyterhub_version)
        await fake.start()
        try:
            async with RawContender(
                prefix=prefix, bench_id=env.prefix, kind=real, grace=plan.grace, fake_hub=fake
            ) as c:
                users = names("real", plan.real_n)
                log(f"raw: start {plan.real_n} real single-user servers")
                s = summary(await c.spawn(users))
                log(f"raw: real spawn {plan.real_n}: total {s['total']:.2f}s")
                res.put(f"spawn_real_n{plan.real_n}", "raw", s)
                await c.stop(users)
        finally:
            await fake.stop()


# -- environment -------------------------------------------------------------------


async def cleanup_names(prefix: str) -> None:
    """Remove the containers whose name starts with ``prefix`` (one contender's)."""
    ids = (await docker("ps", "-aq", "--filter", f"name=^/{prefix}")).split()
    if ids:
        await docker("rm", "-fv", *ids, check=False)


async def cleanup(prefix: str) -> None:
    """Remove every container and service this benchmark (with this prefix) left behind."""
    services = (
        await docker("service", "ls", "-q", "--filter", f"label=aiodockerspawner-bench={prefix}")
    ).split()
    if services:
        await docker("service", "rm", *services, check=False)
    ids = (await docker("ps", "-aq", "--filter", f"label=aiodockerspawner-bench={prefix}")).split()
    if ids:
        await docker("rm", "-fv", *ids, check=False)


async def hub_connect_ip() -> str:
    if os.environ.get("HUB_CONNECT_IP"):
        return os.environ["HUB_CONNECT_IP"]
    out = await docker(
        "network",
        "inspect",
        "bridge",
        "--format",
        "{{(index .IPAM.Config 0).Gateway}}",
        check=False,
    )
    return out.strip() or "172.17.0.1"


def machine() -> dict[str, Any]:
    def run(*cmd: str) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
        except OSError:
            return ""

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    os_name = ""
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_bytes": mem,
        "os": os_name,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "docker": run(
            "docker", "version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})"
        ),
        "docker_storage": run(
            "docker", "info", "--format", "{{.Driver}}, cgroup v{{.CgroupVersion}}"
        ),
        "configurable_http_proxy": run("configurable-http-proxy", "--version"),
    }


def versions(pythons: dict[str, str]) -> dict[str, str]:
    out = {}
    code = (
        "import importlib.metadata as m, sys\n"
        "for d in sys.argv[1:]:\n"
        "    try: print(d, m.version(d))\n"
        "    except m.PackageNotFoundError: pass\n"
    )
    for key, python in pythons.items():
        dists = [
            "jupyterhub",
            "aiodockerspawner",
            "aiodocker",
            "aiohttp",
            "dockerspawner",
            "docker",
        ]
        text = subprocess.run(
            [python, "-c", code, *dists], capture_output=True, text=True, check=True
        ).stdout
        out[key] = ", ".join(line.replace(" ", " ") for line in text.splitlines())
    return out


async def prepare_pulls(plan: Plan, env: Env, registry: str, tag: str) -> None:
    """For each contender, a large image of its own behind a throttling proxy of its own."""
    log(f"pushing {len(plan.contenders)} images of {plan.pull_bytes // MiB} MiB to {registry}")
    host, port = registry.rsplit(":", 1)
    for key in plan.contenders:
        repo = f"{env.prefix}/big-{key}"
        await push_large_image(TINY_IMAGE, registry, repo, tag, plan.pull_bytes)
        throttle = ThrottlingTCPProxy(host, int(port), plan.pull_rate)
        await throttle.start()
        env.throttles[key] = throttle
        env.big_images[key] = f"127.0.0.1:{throttle.port}/{repo}:{tag}"


def git_state() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True
        ).stdout.strip()

    changed = [line for line in git("status", "--porcelain", "src").splitlines() if line]
    state = git("rev-parse", "--short", "HEAD")
    if changed:
        state += f" + {len(changed)} uncommitted change(s) in src/"
    return state


async def run_all(plan: Plan, args: argparse.Namespace) -> dict[str, Any]:
    import jupyterhub

    started = time.time()
    cache = ROOT / ".cache" / "bench"
    workdir = cache / f"run-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    workdir.mkdir(parents=True, exist_ok=True)
    pythons = {"ads": sys.executable, "floor": sys.executable}
    if "ds" in plan.contenders:
        pythons["ds"] = ensure_dockerspawner_venv(cache, jupyterhub.__version__)
    env = Env(
        prefix=args.prefix,
        cache=cache,
        workdir=workdir,
        hub_connect_ip=await hub_connect_ip(),
        jupyterhub_version=jupyterhub.__version__,
        singleuser_image=f"aiodockerspawner-test/singleuser:{jupyterhub.__version__}",
        pythons=pythons,
    )
    await cleanup(env.prefix)
    registry: Registry | None = None
    res = Results()
    try:
        if 6 in plan.scenarios:
            registry = Registry(cache)
            await registry.start()
            await prepare_pulls(plan, env, registry.address, tag=f"{int(started)}")

        async def one(key: str) -> None:
            if key == "raw":
                await run_raw(plan, env, res)
            elif key == "floor":
                await run_floor(plan, env, res)
            else:
                await run_hub_contender(key, plan, env, res)

        partial = workdir / "partial.json"
        if args.parallel:
            await asyncio.gather(*(one(key) for key in plan.contenders))
        else:
            for key in plan.contenders:
                await one(key)
                # what was measured so far survives a run that is stopped later
                partial.write_text(json.dumps(res.data) + "\n")
        if 9 in plan.scenarios:
            await run_scale_contenders(plan, env, res)
    finally:
        await cleanup(env.prefix)
        for image in env.big_images.values():
            await remove_image(image)
        for throttle in env.throttles.values():
            await throttle.stop()
        if registry is not None:
            await registry.stop()
    return {
        "meta": {
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "wall_seconds": round(time.time() - started, 1),
            "command": " ".join(["python -m benchmarks", *sys.argv[1:]]),
            "mode": "smoke" if args.smoke else "full",
            "parallel": bool(args.parallel),
            "aiodockerspawner_source": git_state(),
            "plan": asdict(plan),
            "machine": machine(),
            "versions": versions(pythons),
        },
        "results": res.data,
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--smoke", action="store_true", help="N = 2, one repetition, small pull")
    p.add_argument(
        "--scenarios", default="", help="comma-separated scenario numbers 1-9 (default: all)"
    )
    p.add_argument(
        "--contenders",
        default="",
        help="comma-separated: raw, ads, ds, floor (default: all four; floor runs scenario 5)",
    )
    p.add_argument("--repeat", type=int, default=0, help="repetitions of scenario 1")
    p.add_argument("--scale-n", type=int, default=0, help="servers in scenario 9 (1000)")
    p.add_argument(
        "--scale-budget", type=float, default=0, help="seconds per contender in scenario 9"
    )
    p.add_argument(
        "--prefix", default="adsb", help="name prefix and label value of every object created"
    )
    p.add_argument(
        "--out", type=Path, default=None, help="JSON output (default: benchmarks/results/...)"
    )
    p.add_argument(
        "--parallel",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the contenders at the same time (default: only with --smoke; the "
        "timings are then meaningless, but the harness is exercised faster)",
    )
    p.add_argument("--no-plot", action="store_true", help="do not draw the PNG plot")
    p.add_argument(
        "--profile",
        action="store_true",
        help="py-spy on each Hub during the spawn batch of scenario 5 (needs py-spy)",
    )
    p.add_argument(
        "--docs", action="store_true", help="write the table and plot into docs/performance.md"
    )
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.parallel is None:
        args.parallel = args.smoke
    plan = Plan.smoke() if args.smoke else Plan.full()
    if args.scenarios:
        plan.scenarios = sorted(int(s) for s in args.scenarios.split(","))
    if args.contenders:
        plan.contenders = [c.strip() for c in args.contenders.split(",")]
    if args.repeat:
        plan.repeat = args.repeat
    if args.scale_n:
        plan.scale_n = args.scale_n
    if args.scale_budget:
        plan.scale_budget = args.scale_budget
    plan.profile = args.profile
    data = asyncio.run(run_all(plan, args))
    rows = report.rows(data)
    data["rows"] = rows
    out = args.out
    if out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = ROOT / "benchmarks" / "results" / f"{data['meta']['mode']}-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    print(report.table(rows))
    for line in report.unfinished(data):
        print(f"\nbench: {line}")
    if data["results"].get("profile"):
        text = out.with_name(out.stem + "-profile.txt")
        profile.write_text(
            text,
            data["results"]["profile"],
            f"py-spy record --rate 250 --nonblocking on each Hub during {plan.lag_n} concurrent "
            f"spawns (scenario 5), run of {data['meta']['started']}",
        )
        print(f"bench: profiles in {text}")
    if args.parallel:
        print("\nbench: the contenders ran at the same time: these timings compare nothing")
    print(f"\nbench: results in {out} ({data['meta']['wall_seconds']} s)")
    if not args.no_plot:
        png = out.with_suffix(".png")
        if report.plot(data, png):
            print(f"bench: plot in {png}")
            if args.docs:
                report.write_docs(data, rows, out, png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
