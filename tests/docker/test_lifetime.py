"""JupyterHub 6's rename() and delete_forever() against a real daemon."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from tornado import web

from aiodockerspawner import DockerSpawner
from tests.conftest import TEST_PREFIX
from tests.helpers import docker_cli, make_spawner, unique_user

pytestmark = pytest.mark.docker

PER_SERVER = f"{TEST_PREFIX}-lt-{{username}}-{{servername}}"
PER_USER = f"{TEST_PREFIX}-lt-{{username}}"


class Volumes:
    def __init__(self) -> None:
        self.names: list[str] = []

    async def exists(self, name: str) -> bool:
        return name in (await docker_cli("volume", "ls", "-q")).split()


@pytest.fixture
async def volumes() -> AsyncIterator[Volumes]:
    made = Volumes()
    yield made
    if made.names:
        await docker_cli("volume", "rm", "-f", *made.names, check=False)


def lab(user: str, server: str, vols: dict[str, str], **traits: object) -> DockerSpawner:
    traits.setdefault("remove", False)
    return make_spawner(
        image=traits.pop("image"),
        user=user,
        server_name=server,
        stop_grace_period=0,
        volumes=vols,
        **traits,
    )


async def run_and_stop(spawner: DockerSpawner, volumes: Volumes) -> None:
    ns = spawner.template_namespace()
    volumes.names += [v.format(**ns) for v in spawner.volumes]
    await spawner.start()
    await spawner.stop()


async def test_rename_refused_while_a_per_server_volume_exists(
    tiny_image: str, volumes: Volumes
) -> None:
    spawner = lab(unique_user("rn"), "lab", {PER_SERVER: "/data"}, image=tiny_image)
    await run_and_stop(spawner, volumes)
    try:
        with pytest.raises(web.HTTPError) as info:
            await spawner.rename("lab", "lab2")
        assert info.value.status_code == 409
        message = info.value.jupyterhub_message  # type: ignore[attr-defined]
        volume = PER_SERVER.format(**spawner.template_namespace())
        assert f"volume {volume}" in message
        assert "left behind" in message
    finally:
        await docker_cli("rm", "-f", spawner.object_name)


async def test_renamed_server_resumes_its_container(tiny_image: str, volumes: Volumes) -> None:
    user = unique_user("rn")
    old = lab(user, "lab", {PER_USER: "/data"}, image=tiny_image)
    await run_and_stop(old, volumes)
    state = old.get_state()
    try:
        await old.rename("lab", "lab2")
        # what JupyterHub does next: a new spawner under the new name, same state
        renamed = lab(user, "lab2", {PER_USER: "/data"}, image=tiny_image)
        renamed.load_state(state)
        await renamed.start()
        assert renamed.object_id == state["object_id"]
        assert renamed.object_name == old.object_name
        await renamed.stop()
    finally:
        await docker_cli("rm", "-f", old.object_name)


async def test_delete_forever_removes_container_and_per_server_volumes(
    tiny_image: str, volumes: Volumes
) -> None:
    spawner = lab(
        unique_user("del"), "lab", {PER_SERVER: "/data", PER_USER: "/shared"}, image=tiny_image
    )
    await run_and_stop(spawner, volumes)
    per_server, per_user = volumes.names
    assert await volumes.exists(per_server) and await volumes.exists(per_user)
    await spawner.delete_forever()
    assert (await docker_cli("ps", "-aq", "--filter", f"name=^/{spawner.object_name}$")) == ""
    assert not await volumes.exists(per_server)
    assert await volumes.exists(per_user)  # shared by the user's servers: kept
