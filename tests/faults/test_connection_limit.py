"""A small ``docker_connection_limit`` under many concurrent spawns: no deadlock, all complete.

Requests beyond the limit queue for a free connection; they must wait for
it rather than fail (aiohttp's connect timeout also bounds that wait, which
made queued requests fail as "Connection timeout"), and the events stream
that keeps ``poll()`` free holds a connection for as long as the Hub runs,
so it must not be one of the limited ones (with a limit of 1, every other
request would wait for it until the next resync, a minute later).

The spawners talk to the real daemon through the counting proxy
(tests/dockerproxy.py), which also measures how many requests were in
flight at once: never more than the limit, while the events stream is open
beside them.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aiodockerspawner import DockerSpawner
from aiodockerspawner import spawner as spawner_module
from aiodockerspawner.backends.docker.client import Endpoint
from aiodockerspawner.backends.docker.watch import stop_watchers
from aiodockerspawner.testing import FakeEngine
from aiodockerspawner.testing.pytest_plugin import fake_docker, fake_spawner
from tests.conftest import TEST_PREFIX
from tests.dockerproxy import DockerProxy
from tests.faults.servers import TINY_CMD, serves
from tests.helpers import docker_cli, make_spawner, unique_user

__all__ = ["fake_docker", "fake_spawner"]  # fixtures used below

SpawnerFactory = Callable[..., DockerSpawner]
DEADLINE = 180  # seconds; a deadlock fails the test instead of hanging CI


async def spawn_poll_stop(proxy: DockerProxy, image: str, count: int, limit: int) -> dict[str, Any]:
    spawners = [
        make_spawner(
            image=image,
            cmd=TINY_CMD,
            user=unique_user(f"limit{limit}-"),
            prefix=f"{TEST_PREFIX}-limit",
            remove=True,
            stop_grace_period=1,
            docker_connection_limit=limit,
            client_kwargs={"base_url": proxy.url},
        )
        for _ in range(count)
    ]
    # the events stream is open before the spawns begin, and stays open
    assert await spawners[0].watcher.wait_ready(10)
    loop = asyncio.get_running_loop()
    try:
        began = loop.time()
        urls = await asyncio.wait_for(asyncio.gather(*(s.start() for s in spawners)), DEADLINE)
        started = loop.time() - began
        streams_during_spawns = proxy.open_event_streams
        polls = await asyncio.wait_for(asyncio.gather(*(s.poll() for s in spawners)), DEADLINE)
        served = await asyncio.gather(*(serves(url) for url in urls))
        running = (
            await docker_cli("ps", "-q", "--filter", f"name=^/{TEST_PREFIX}-limit-limit{limit}-")
        ).split()
        began = loop.time()
        await asyncio.wait_for(asyncio.gather(*(s.stop() for s in spawners)), DEADLINE)
        stopped = loop.time() - began
        left = (
            await docker_cli("ps", "-aq", "--filter", f"name=^/{TEST_PREFIX}-limit-limit{limit}-")
        ).split()
    finally:
        await stop_watchers(proxy.url)
    return {
        "started": started,
        "stopped": stopped,
        "polls": polls,
        "served": served,
        "running": running,
        "left": left,
        "streams": streams_during_spawns,
    }


@pytest.mark.docker
@pytest.mark.parametrize(("count", "limit"), [(50, 4), (10, 1)])
async def test_many_spawns_under_a_small_connection_limit(
    tmp_path: Path, tiny_image: str, count: int, limit: int
) -> None:
    async with DockerProxy(tmp_path) as proxy:
        result = await spawn_poll_stop(proxy, tiny_image, count, limit)
        print(
            f"\nMEASURE connection limit {limit}: {count} concurrent spawns all started in "
            f"{result['started']:.1f}s and stopped in {result['stopped']:.1f}s; at most "
            f"{proxy.peak_in_flight} Docker requests in flight at once, beside "
            f"{result['streams']} events stream and up to {proxy.peak_attach_streams} attach "
            "streams of starts being watched"
        )
        assert result["polls"] == [None] * count
        assert all(result["served"])
        assert len(result["running"]) == count
        assert result["left"] == []
        assert result["streams"] == 1
        assert proxy.peak_in_flight <= limit
        assert proxy.peak_in_flight == limit, "the limit was never reached: nothing was tested"


async def test_a_queued_request_waits_instead_of_failing(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request queued for a connection longer than the connect timeout still runs."""
    resolve = spawner_module.resolve_endpoint

    def short_connect_timeout(**kw: Any) -> Endpoint:
        return dataclasses.replace(resolve(**kw), connect_timeout=0.3)

    monkeypatch.setattr(spawner_module, "resolve_endpoint", short_connect_timeout)
    fake_docker.inject(r"^POST /containers/create$", delay=1.0, times=1)
    first, second = (
        fake_spawner(user=user, remove=True, docker_connection_limit=1)
        for user in ("first", "second")
    )
    urls = await asyncio.wait_for(asyncio.gather(first.start(), second.start()), 10)
    assert all(url.startswith("http://") for url in urls)
