"""JupyterHub 6's rename() and delete_forever() against a real daemon."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tornado import web

from aiodockerspawner import DockerSpawner
from aiodockerspawner.errors import DockerOperationError
from tests.conftest import TEST_HUB_ID, TEST_PREFIX
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


async def inspect(name_or_id: str) -> dict[str, Any] | None:
    """The daemon's view of a container (through the CLI), or None when there is none."""
    out = await docker_cli("inspect", "--type", "container", name_or_id, check=False)
    found = json.loads(out) if out.strip() else []
    return found[0] if found else None


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return dict(e.partition("=")[::2] for e in container["Config"]["Env"] or [])


async def test_rename_frees_the_old_name_and_the_renamed_server_gets_its_own_container(
    tiny_image: str, volumes: Volumes
) -> None:
    user = unique_user("rn")
    old = lab(user, "lab", {PER_USER: "/data"}, image=tiny_image)
    await run_and_stop(old, volumes)
    old_id, old_name = old.object_id, old.object_name
    old_token = env_of(await inspect(old_id))["JUPYTERHUB_API_TOKEN"]  # type: ignore[arg-type]
    spawners = [old]
    try:
        await old.rename("lab", "lab2")
        # the stopped container now has the new server's name, and the state says so
        new_name = lab(user, "lab2", {}, image=tiny_image).object_name
        assert new_name == old_name.replace("--lab", "--lab2")
        moved = await inspect(old_id)
        assert moved is not None and moved["Name"] == f"/{new_name}"
        assert await inspect(old_name) is None
        state = old.orm_spawner.state
        assert state == {"object_id": old_id, "object_name": new_name}

        # what JupyterHub does next: a new spawner under the new name, with that state
        renamed = lab(user, "lab2", {PER_USER: "/data"}, image=tiny_image, resume_drift="keep")
        renamed.load_state(state)
        spawners.append(renamed)
        await renamed.start()
        # made for "lab", it cannot serve "lab2": recreated whatever resume_drift says
        assert renamed.object_id != old_id
        assert await inspect(old_id) is None
        renamed_env = env_of(await inspect(renamed.object_id))  # type: ignore[arg-type]
        assert renamed_env["JUPYTERHUB_SERVER_NAME"] == "lab2"
        assert renamed_env["JUPYTERHUB_API_TOKEN"] not in (old_token, "")

        # a new server under the old name never finds the renamed server's container
        fresh = lab(user, "lab", {PER_USER: "/data"}, image=tiny_image)
        spawners.append(fresh)
        await fresh.start()
        assert fresh.object_name == old_name
        assert fresh.object_id not in (old_id, renamed.object_id)
        fresh_env = env_of(await inspect(fresh.object_id))  # type: ignore[arg-type]
        assert fresh_env["JUPYTERHUB_API_TOKEN"] not in (
            old_token,
            renamed_env["JUPYTERHUB_API_TOKEN"],
        )
        assert fresh_env["JUPYTERHUB_SERVER_NAME"] == "lab"

        # delete_forever() of the new "lab" leaves the renamed server's container alone
        await fresh.stop()
        await fresh.delete_forever()
        assert await inspect(fresh.object_name) is None
        assert (await inspect(renamed.object_id))["State"]["Running"]  # type: ignore[index]
    finally:
        for spawner in spawners:
            await docker_cli("rm", "-f", spawner.object_name, check=False)


async def test_adoption_refuses_another_servers_container(
    tiny_image: str, volumes: Volumes
) -> None:
    user = unique_user("rn")
    shared = f"{TEST_PREFIX}-{{username}}-box"
    first = lab(user, "a", {}, image=tiny_image, name_template=shared)
    await run_and_stop(first, volumes)
    try:
        second = lab(user, "b", {}, image=tiny_image, name_template=shared)
        token = second.api_token
        with pytest.raises(DockerOperationError) as info:
            await second.start()
        assert info.value.status == 409
        assert f"server 'a' of user {user!r}" in str(info.value)
        assert second.api_token == token
        kept = await inspect(first.object_name)
        assert kept is not None and kept["Id"] == first.object_id
        assert not kept["State"]["Running"]
    finally:
        await docker_cli("rm", "-f", first.object_name, check=False)


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


async def test_delete_forever_leaves_another_hubs_container_and_volumes(
    tiny_image: str, volumes: Volumes
) -> None:
    """A second Hub with the same prefix and no state deletes nothing of the first's."""
    user = unique_user("del")
    vols = {PER_SERVER: "/data", PER_USER: "/shared"}
    first = lab(user, "lab", vols, image=tiny_image)
    volumes.names += [v.format(**first.template_namespace()) for v in vols]
    await first.start()
    try:
        second = lab(user, "lab", vols, image=tiny_image, hub_id=f"{TEST_HUB_ID}-other")
        assert second.object_name == first.object_name
        await second.delete_forever()
        running = await inspect(first.object_name)
        assert running is not None and running["Id"] == first.object_id
        assert running["State"]["Running"]
        for name in volumes.names:
            assert await volumes.exists(name)

        # stopped: still nothing of it goes, but the first Hub's own delete_forever does
        await first.stop()
        await second.delete_forever()
        assert await inspect(first.object_id) is not None
        await first.delete_forever()
        assert await inspect(first.object_id) is None
        per_server, per_user = volumes.names
        assert not await volumes.exists(per_server)
        assert await volumes.exists(per_user)
    finally:
        await docker_cli("rm", "-f", first.object_name, check=False)


async def test_another_hubs_volume_is_kept_by_delete_forever(
    tiny_image: str, volumes: Volumes
) -> None:
    user = unique_user("del")
    spawner = lab(user, "lab", {PER_SERVER: "/data"}, image=tiny_image)
    name = PER_SERVER.format(**spawner.template_namespace())
    volumes.names.append(name)
    await docker_cli(
        "volume", "create", "--label", f"aiodockerspawner.hub-id={TEST_HUB_ID}-other", name
    )
    await spawner.delete_forever()
    assert await volumes.exists(name)


async def test_shortened_volume_names_in_rename_and_delete_forever(
    tiny_image: str, volumes: Volumes
) -> None:
    """A volume shortened at creation (over 255 bytes) is found under that name."""
    spawner = lab(unique_user("é" * 50), "lab", {PER_SERVER: "/data"}, image=tiny_image)
    (volume,) = [b.source for b in spawner._volume_bind_list()]
    assert len(volume.encode()) == 255  # shortened
    volumes.names.append(volume)
    await spawner.start()
    await spawner.stop()
    try:
        assert await volumes.exists(volume)
        with pytest.raises(web.HTTPError) as info:
            await spawner.rename("lab", "lab2")
        assert f"volume {volume}" in info.value.jupyterhub_message  # type: ignore[attr-defined]
        await spawner.delete_forever()
        assert not await volumes.exists(volume)
    finally:
        await docker_cli("rm", "-f", spawner.object_name, check=False)


async def test_imagename_keeps_one_container_per_image(
    tiny_image: str, second_tiny_image: str
) -> None:
    user = unique_user("img")
    images = {"one": tiny_image, "two": second_tiny_image}

    def spawner_for(state: dict[str, Any] | None) -> DockerSpawner:
        spawner = lab(
            user,
            "",
            {},
            image=tiny_image,
            name_template=f"{TEST_PREFIX}-{{username}}-{{imagename}}",
            allowed_images=images,
        )
        if state:
            spawner.load_state(state)
        return spawner

    made: dict[str, str] = {}
    state: dict[str, Any] | None = None
    try:
        for choice in ["one", "two", "one", "two"]:
            spawner = spawner_for(state)  # a new spawner each time, as after a Hub restart
            spawner.user_options = {"image": choice}
            await spawner.start()
            made.setdefault(choice, spawner.object_id)
            assert spawner.object_id == made[choice]  # each image resumes its own
            await spawner.stop()
            state = spawner.get_state()
        assert made["one"] != made["two"]
        for object_id in made.values():
            assert await inspect(object_id) is not None
    finally:
        for object_id in made.values():
            await docker_cli("rm", "-f", object_id, check=False)


async def test_rename_refused_when_the_new_name_is_taken(tiny_image: str, volumes: Volumes) -> None:
    user = unique_user("rn")
    old = lab(user, "lab", {}, image=tiny_image)
    await run_and_stop(old, volumes)
    taken = lab(user, "lab2", {}, image=tiny_image).object_name
    await docker_cli(
        "create", "--name", taken, "--label", f"aiodockerspawner.hub-id={TEST_HUB_ID}", tiny_image
    )
    try:
        with pytest.raises(web.HTTPError) as info:
            await old.rename("lab", "lab2")
        assert info.value.status_code == 409
        assert taken in info.value.jupyterhub_message  # type: ignore[attr-defined]
        kept = await inspect(old.object_id)
        assert kept is not None and kept["Name"] == f"/{old.object_name}"
        assert old.orm_spawner.state is None or old.orm_spawner.state == {}
    finally:
        await docker_cli("rm", "-f", old.object_name, taken, check=False)
