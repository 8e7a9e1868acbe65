"""What polling 50 Swarm servers costs the manager, counted with the counting proxy.

Every SwarmSpawner of a Hub reads its server's state from one shared task
list (``GET /tasks`` filtered on the Hub's label), at most one per
``task_list_max_age``; dockerspawner (and this project before) made a service
inspect and a task list per server and poll: 100 requests per round here.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from aiodockerspawner import SwarmSpawner
from tests.dockerproxy import DockerProxy
from tests.helpers import make_spawner

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("swarm")]

N = 50
#: a server that exits at once on SIGTERM and publishes nothing
QUIET_CMD = ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]


def spawners(image: str, proxy: DockerProxy, **traits: Any) -> list[SwarmSpawner]:
    return [
        make_spawner(
            SwarmSpawner,
            image=image,
            cmd=QUIET_CMD,
            client_kwargs={"base_url": proxy.url},
            stop_grace_period=2,
            **traits,
        )
        for _ in range(N)
    ]


def cost(proxy: DockerProxy, mark: int) -> dict[str, int]:
    """Requests since ``mark``, by kind (ids folded), the events stream apart."""
    kinds: dict[str, int] = {}
    for r in proxy.requests[mark:]:
        parts = r.path.split("/")
        kind = f"{r.method} /{parts[1]}" + ("/{id}" if len(parts) > 2 else "")
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


async def poll_all(servers: list[SwarmSpawner]) -> list[int | None]:
    return list(await asyncio.gather(*(s.poll() for s in servers)))


async def test_fifty_servers_are_polled_with_one_task_list_per_interval(
    tmp_path: Path, tiny_image: str
) -> None:
    async with DockerProxy(tmp_path) as proxy:
        servers = spawners(tiny_image, proxy, task_list_max_age=3600)
        began = time.monotonic()
        await asyncio.gather(*(s.start() for s in servers))
        print(f"\n{N} services started in {time.monotonic() - began:.1f} s")
        try:
            # every server polled at once, as a Hub does when it starts
            mark = proxy.mark()
            assert await poll_all(servers) == [None] * N
            first = cost(proxy, mark)
            print(f"first poll of {N} servers: {first}")
            # the list, plus what a Hub opens once: the node events stream, on a
            # client of its own (outside the connection limit) that probes the API version
            assert first == {"GET /tasks": 1, "GET /events": 1, "GET /version": 1}

            # two more rounds within the interval: no request at all
            mark = proxy.mark()
            for _ in range(2):
                assert await poll_all(servers) == [None] * N
            assert proxy.count(since=mark) == 0, cost(proxy, mark)

            # a server that exits shows at the next list (here: forced by a zero max age)
            for s in servers:
                s.task_list_max_age = 0
            victim = servers[0]
            await victim.backend.remove(victim.object_id)  # behind the spawner's back
            mark = proxy.mark()
            results = await poll_all(servers)
            assert results[0] == 0 and results[1:] == [None] * (N - 1)
            # one shared list for 50 polls; the removed service's task is in it
            # (desired state "remove") unless swarm dropped it already: then one
            # lookup of that service answers 404
            assert proxy.count("GET", r"/tasks", since=mark) == 1
            assert proxy.count(since=mark) <= 2
            print(f"{N} polls after one server went: {cost(proxy, mark)}")
        finally:
            await asyncio.gather(*(s.stop() for s in servers))
