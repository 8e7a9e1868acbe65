"""Two Hubs on one daemon never touch each other's containers.

The worst case: both use the same prefix, so their users' containers have the
same names. Hub B must not resume, replace, report on or stop Hub A's.
"""

from __future__ import annotations

import pytest

from aiodockerspawner.errors import DockerOperationError
from tests.conftest import TEST_HUB_ID
from tests.helpers import docker_cli, make_spawner, unique_user

pytestmark = pytest.mark.docker


async def running_id(name: str) -> str:
    return (await docker_cli("ps", "-q", "--no-trunc", "--filter", f"name=^/{name}$")).strip()


@pytest.mark.parametrize("remove", [True, False])
async def test_other_hub_cannot_touch_a_container(tiny_image: str, remove: bool) -> None:
    user = unique_user()
    hub_a = make_spawner(image=tiny_image, user=user, remove=False, stop_grace_period=0)
    hub_b = make_spawner(
        image=tiny_image,
        user=user,
        remove=remove,
        stop_grace_period=0,
        hub_id=f"{TEST_HUB_ID}-other",
    )
    assert hub_a.object_name == hub_b.object_name
    await hub_a.start()
    try:
        with pytest.raises(DockerOperationError) as info:
            await hub_b.start()
        assert info.value.status == 409
        assert TEST_HUB_ID in str(info.value)
        assert "\n" not in info.value.jupyterhub_message  # type: ignore[attr-defined]
        assert await running_id(hub_a.object_name) == hub_a.object_id

        # B knows the name only (no state of its own): not its container
        assert await hub_b.poll() == 0
        await hub_b.stop()
        assert await running_id(hub_a.object_name) == hub_a.object_id
        assert await hub_a.poll() is None
    finally:
        hub_a.remove = True
        await hub_a.stop()
