"""Capacity limits on the real daemon: counted from this Hub's labelled containers."""

from __future__ import annotations

import asyncio
import json

import pytest
from tornado import web

from aiodockerspawner import serverlimits
from aiodockerspawner.backends.docker.watch import stop_watchers
from tests.helpers import docker_cli, make_spawner

pytestmark = pytest.mark.docker


async def exists(name: str) -> bool:
    return bool((await docker_cli("ps", "-aq", "--filter", f"name=^/{name}$")).strip())


async def test_fourth_concurrent_spawn_is_refused_and_creates_nothing(tiny_image: str) -> None:
    spawners = [
        make_spawner(image=tiny_image, remove=True, max_servers=3, stop_grace_period=0)
        for _ in range(4)
    ]
    results = await asyncio.gather(*(s.start() for s in spawners), return_exceptions=True)
    try:
        refused = [(s, r) for s, r in zip(spawners, results, strict=True) if not isinstance(r, str)]
        assert len(refused) == 1, results
        loser, error = refused[0]
        assert isinstance(error, web.HTTPError) and error.status_code == 503, error
        message = error.jupyterhub_message  # type: ignore[attr-defined]
        assert "The server is full: 3 of 3 servers already run" in message
        assert "(max_servers)" in message
        assert not await exists(loser.object_name)
        # a Hub restarted now (no reservations in memory) counts the running containers
        serverlimits._gates.clear()
        await stop_watchers()
        late = make_spawner(image=tiny_image, remove=True, max_servers=3, stop_grace_period=0)
        with pytest.raises(web.HTTPError, match="3 of 3 servers"):
            await late.start()
        # one stops: there is room again
        winner = next(s for s in spawners if s is not loser)
        await winner.stop()
        await loser.start()
        assert await exists(loser.object_name)
    finally:
        await asyncio.gather(*(s.stop() for s in spawners))


async def test_memory_ratio_against_the_hosts_memory(tiny_image: str) -> None:
    info = json.loads(await docker_cli("info", "--format", "{{json .MemTotal}}"))
    share = int(info * 0.2)  # three such servers claim 60 %
    traits = {"mem_limit": share, "max_memory_ratio": 0.5, "remove": True, "stop_grace_period": 0}
    spawners = [make_spawner(image=tiny_image, **traits) for _ in range(3)]
    try:
        await spawners[0].start()
        await spawners[1].start()
        with pytest.raises(web.HTTPError) as refused:
            await spawners[2].start()
        message = refused.value.jupyterhub_message  # type: ignore[attr-defined]
        assert refused.value.status_code == 503
        assert "max_memory_ratio" in message and "50% of the Docker host's" in message, message
        assert not await exists(spawners[2].object_name)
    finally:
        await asyncio.gather(*(s.stop() for s in spawners))
