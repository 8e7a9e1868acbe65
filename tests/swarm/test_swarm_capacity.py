"""max_servers on Swarm: counted from this Hub's services."""

from __future__ import annotations

import asyncio

import pytest
from tornado import web

from tests.swarm.test_swarm_spawner import services_named, swarm_spawner

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("swarm")]


async def test_third_service_is_refused(tiny_image: str) -> None:
    spawners = [swarm_spawner(tiny_image, max_servers=2) for _ in range(3)]
    try:
        await asyncio.gather(spawners[0].start(), spawners[1].start())
        with pytest.raises(web.HTTPError) as info:
            await spawners[2].start()
        assert info.value.status_code == 503
        message = info.value.jupyterhub_message  # type: ignore[attr-defined]
        assert "2 of 2 servers already run" in message, message
        assert await services_named(spawners[2].object_name) == []
        await spawners[0].stop()
        await spawners[2].start()
    finally:
        await asyncio.gather(*(s.stop() for s in spawners))
