"""Pre-pull on Swarm: every node pulls, through a one-shot global job per image."""

from __future__ import annotations

import asyncio

import pytest

from aiodockerspawner import SwarmSpawner
from aiodockerspawner.backends.docker.prepull import stop_prepullers
from tests.conftest import TEST_PREFIX
from tests.helpers import docker_cli, make_spawner
from tests.registry import REGISTRY, push_layered_image, remove_local, require_registry

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("swarm")]


async def test_every_node_pulls_and_the_job_goes(tiny_image: str) -> None:
    require_registry()
    image = await push_layered_image(
        tiny_image, f"aiodockerspawner-test/{TEST_PREFIX}-swarm-prepull", layers=1, layer_mb=2
    )
    missing = f"{REGISTRY}/aiodockerspawner-test/{TEST_PREFIX}-no-such:1"
    spawner = make_spawner(
        SwarmSpawner, image=image, prepull_images=[image, missing], prepull_interval=0
    )
    try:
        prepuller = spawner._start_prepuller()
        assert prepuller is not None
        await asyncio.wait_for(prepuller.round_done.wait(), 120)
        assert prepuller.stats.pulled == {image: 1}, prepuller.stats
        assert missing in prepuller.stats.failed, prepuller.stats
        # the node has it, and no job service is left
        assert (await docker_cli("image", "inspect", "-f", "{{.Id}}", image)).strip()
        jobs = await docker_cli(
            "service", "ls", "-q", "--filter", "label=aiodockerspawner.role=prepull"
        )
        assert not jobs.strip()
    finally:
        await stop_prepullers()
        await remove_local(image)
