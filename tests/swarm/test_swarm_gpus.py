"""GPUs on the swarm: a service reserves generic resources, and the swarm holds it to them.

The test node advertises no GPUs, so a service asking for one stays pending
with swarm's own reason, which the start reports before ``start_timeout``.
"""

from __future__ import annotations

import asyncio

import pytest

from aiodockerspawner.errors import DockerOperationError
from tests.helpers import wait_for
from tests.swarm.test_swarm_spawner import service_spec, services_named, swarm_spawner

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("swarm")]


async def test_a_service_reserves_gpus_as_generic_resources(tiny_image: str) -> None:
    spawner = swarm_spawner(tiny_image, start_timeout=6, gpus=2)
    task = asyncio.create_task(spawner.start())
    try:

        async def created() -> bool:
            return bool(await services_named(spawner.object_name))

        await wait_for(created)
        spec = await service_spec(spawner.object_name)
        assert spec["TaskTemplate"]["Resources"]["Reservations"]["GenericResources"] == [
            {"DiscreteResourceSpec": {"Kind": "NVIDIA-GPU", "Value": 2}}
        ]
        with pytest.raises(DockerOperationError) as info:
            await task
        message = info.value.jupyterhub_message  # type: ignore[attr-defined]
        assert "insufficient resources" in message, message
        assert await services_named(spawner.object_name) == []
    finally:
        if not task.done():
            task.cancel()
