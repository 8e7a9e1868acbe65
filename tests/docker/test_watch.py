"""The events cache against the real daemon, with every request counted.

``AIODOCKERSPAWNER_TEST_POLL_WINDOW`` sets how long the 50 servers are polled
(default 10 s). What is measured does not depend on the window: every poll
cycle costs zero requests, and the only requests at all are the events stream
and one list per resync, so a 10 s window with a 0.25 s poll interval and a
4 s resync interval (40 cycles, 2000 polls, 3 resyncs) shows the same thing as
60 s at JupyterHub's usual 30 s interval, only faster. Lines starting with
``MEASURE`` are printed for the report (run with ``-s`` to see them).
"""

from __future__ import annotations

import asyncio
import os

import pytest

from aiodockerspawner import DockerSpawner
from aiodockerspawner.labels import LABEL_HUB
from tests.conftest import TEST_HUB_ID
from tests.dockerproxy import DockerProxy
from tests.helpers import docker_cli, make_spawner, wait_for

pytestmark = pytest.mark.docker

SERVERS = int(os.environ.get("AIODOCKERSPAWNER_TEST_SERVERS", "50"))
POLL_WINDOW = float(os.environ.get("AIODOCKERSPAWNER_TEST_POLL_WINDOW", "10"))
POLL_INTERVAL = 0.25
RESYNC = 4.0
#: what the watcher may request: the API version probe of a new client, the stream, the list
ALLOWED = {"GET /version", "GET /events", "GET /containers/json"}


def via(proxy: DockerProxy, spawner: DockerSpawner) -> DockerSpawner:
    """A spawner for the same server that talks to Docker through ``proxy``."""
    twin = make_spawner(
        image=spawner.image,
        user=spawner.user.name,
        server_name=spawner.name,
        remove=spawner.remove,
        stop_grace_period=0,
        client_kwargs={"base_url": proxy.url},
        events_resync_interval=RESYNC,
    )
    twin.load_state(spawner.get_state())
    return twin


async def test_poll_of_50_servers_costs_no_requests(tiny_image: str, proxy: DockerProxy) -> None:
    starters = [
        make_spawner(image=tiny_image, remove=True, stop_grace_period=0) for _ in range(SERVERS)
    ]
    await asyncio.gather(*(s.start() for s in starters))
    try:
        spawners = [via(proxy, s) for s in starters]
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        cycles = 0
        while loop.time() - t0 < POLL_WINDOW or cycles == 0:
            mark = proxy.mark()
            results = await asyncio.gather(*(s.poll() for s in spawners))
            assert results == [None] * SERVERS
            if cycles > 0:  # the first cycle starts the watcher
                assert (
                    proxy.count(since=mark)
                    - proxy.count("GET", "/(events|containers/json)", since=mark)
                    == 0
                ), proxy.counts(since=mark)
            cycles += 1
            await asyncio.sleep(POLL_INTERVAL)
        elapsed = loop.time() - t0
        counts = proxy.counts()
        watcher = spawners[0].watcher
        assert set(counts) <= ALLOWED, counts
        assert counts["GET /events"] == watcher.stats.connects
        assert counts["GET /containers/json"] == watcher.stats.resyncs
        # one list at first load, then one per resync interval
        assert watcher.stats.resyncs <= 2 + elapsed / RESYNC
        assert watcher.stats.fetches == 0
        print(
            f"\nMEASURE poll: {SERVERS} servers x {cycles} cycles in {elapsed:.1f}s "
            f"({SERVERS * cycles} polls): requests {dict(counts)}; "
            f"per poll cycle 0; resync every {RESYNC}s = 1 events + 1 list"
        )
    finally:
        await asyncio.gather(*(s.stop() for s in starters))


async def test_docker_kill_shows_in_poll_within_2s(tiny_image: str, proxy: DockerProxy) -> None:
    starter = make_spawner(image=tiny_image, remove=False, stop_grace_period=0)
    await starter.start()
    try:
        spawner = via(proxy, starter)
        assert await spawner.poll() is None
        mark = proxy.mark()
        loop = asyncio.get_running_loop()
        killed_at = loop.time()
        await docker_cli("kill", starter.object_name)
        while (status := await spawner.poll()) is None:
            assert loop.time() - killed_at < 2.0, "the kill did not show in poll within 2 s"
            await asyncio.sleep(0.01)
        latency = loop.time() - killed_at
        assert status == 137
        # detected from the stream alone: no inspect
        assert proxy.count("GET", r"/containers/[^/]+/json", since=mark) == 0
        print(f"\nMEASURE kill-detection latency: {latency * 1000:.0f} ms")
    finally:
        await starter.stop()
        await docker_cli("rm", "-f", starter.object_name, check=False)


async def test_stale_cache_falls_back_to_one_inspect_and_recovers(
    tiny_image: str, proxy: DockerProxy
) -> None:
    starter = make_spawner(image=tiny_image, remove=True, stop_grace_period=0)
    await starter.start()
    try:
        spawner = via(proxy, starter)
        assert await spawner.poll() is None
        watcher = spawner.watcher
        connects = watcher.stats.connects
        inspect = r"/containers/[^/]+/json"
        assert proxy.drop_streams() >= 1
        # the reader sees the cut and reconnects: a new stream and a new list

        async def reconnected() -> bool:
            return watcher.stats.connects > connects and watcher.connected

        await wait_for(reconnected, interval=0.01)
        mark = proxy.mark()
        assert await spawner.poll() is None
        assert proxy.count("GET", inspect, since=mark) == 0
        # a stream that cannot reconnect leaves the cache stale: poll inspects
        hold = proxy.hold("GET", "/events")
        proxy.drop_streams()
        await hold.arrived.wait()
        assert not watcher.connected
        mark = proxy.mark()
        assert await spawner.poll() is None
        assert proxy.count("GET", inspect, since=mark) == 1
        hold.release()

        async def connected() -> bool:
            return watcher.connected

        await wait_for(connected, interval=0.01)
        mark = proxy.mark()
        assert await spawner.poll() is None
        assert proxy.count("GET", inspect, since=mark) == 0
    finally:
        await starter.stop()


async def test_unlabelled_container_is_inspected(tiny_image: str, proxy: DockerProxy) -> None:
    """A container adopted from dockerspawner has no hub label: poll inspects it."""
    name = f"{make_spawner().object_name}-foreign"
    await docker_cli("run", "-d", "--network", "none", "--name", name, tiny_image)
    try:
        spawner = make_spawner(client_kwargs={"base_url": proxy.url})
        spawner.load_state({"object_name": name})
        assert await spawner.poll() is None
        assert await spawner.poll() is None
        assert proxy.count("GET", f"/containers/{name}/json") == 2
        assert spawner.watcher.get(name) is None
    finally:
        await docker_cli("rm", "-f", name)


async def test_other_hub_objects_stay_out_of_the_cache(tiny_image: str) -> None:
    name = f"{make_spawner().object_name}-otherhub"
    await docker_cli(
        "run", "-d", "--network", "none", "--label", f"{LABEL_HUB}=another-hub", "--name", name,
        tiny_image,
    )  # fmt: skip
    try:
        spawner = make_spawner(image=tiny_image, remove=True, stop_grace_period=0)
        await spawner.start()
        try:
            watcher = spawner.watcher
            assert await watcher.wait_ready(10)
            assert watcher.get(spawner.object_name) is not None
            assert watcher.get(name) is None
            assert all(o.labels.get(LABEL_HUB) == TEST_HUB_ID for o in watcher.objects())
        finally:
            await spawner.stop()
    finally:
        await docker_cli("rm", "-f", name)
