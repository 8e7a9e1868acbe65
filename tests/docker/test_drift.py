"""Drift on resume (remove=False) against a real daemon: recreate or keep, volumes stay."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from aiodockerspawner import DockerSpawner
from tests.conftest import TEST_PREFIX
from tests.helpers import docker_cli, make_spawner, unique_user

pytestmark = pytest.mark.docker


@pytest.fixture
async def other_tag(tiny_image: str) -> AsyncIterator[str]:
    """The tiny image under a second name: a different configured image."""
    tag = f"aiodockerspawner-test/{TEST_PREFIX}-tiny-drift:{unique_user('t')}"
    await docker_cli("tag", tiny_image, tag)
    yield tag
    await docker_cli("rmi", tag, check=False)


def server(user: str, image: str, **traits: object) -> DockerSpawner:
    traits.setdefault("remove", False)
    traits.setdefault("stop_grace_period", 0)
    return make_spawner(
        image=image,
        user=user,
        volumes={f"{TEST_PREFIX}-drift-{{username}}": "/data"},
        **traits,
    )


async def first_run(user: str, image: str) -> tuple[str, str]:
    """Start, leave a file in the named volume and one in the container, stop."""
    spawner = server(user, image)
    await spawner.start()
    await docker_cli("exec", spawner.object_name, "sh", "-c", "echo v > /data/f; echo c > /tmp/f")
    await spawner.stop()
    return spawner.object_name, spawner.object_id


async def files(name: str) -> str:
    return await docker_cli(
        "exec", name, "sh", "-c", "cat /data/f 2>/dev/null; cat /tmp/f 2>/dev/null; true"
    )


@pytest.fixture
async def user() -> AsyncIterator[str]:
    name = unique_user("drift")
    yield name
    # the test's containers are removed by the suite; its volume is ours to drop
    volume = f"{TEST_PREFIX}-drift-{make_spawner(user=name).escaped_name}"
    await docker_cli("rm", "-f", make_spawner(user=name).object_name, check=False)
    await docker_cli("volume", "rm", "-f", volume, check=False)


async def test_new_image_recreates_and_keeps_named_volumes(
    user: str, tiny_image: str, other_tag: str
) -> None:
    name, old_id = await first_run(user, tiny_image)
    again = server(user, other_tag)
    again.load_state({"object_name": name, "object_id": old_id})
    await again.start()
    try:
        assert again.object_id != old_id
        image = await docker_cli("inspect", "-f", "{{.Config.Image}}", name)
        assert image.strip() == other_tag
        assert (await files(name)).split() == ["v"]  # the volume's file, not the old layer's
    finally:
        await again.stop()


async def test_keep_policy_resumes_the_old_container(
    user: str, tiny_image: str, other_tag: str
) -> None:
    name, old_id = await first_run(user, tiny_image)
    again = server(user, other_tag, resume_drift="keep")
    await again.start()
    try:
        assert again.object_id == old_id
        assert (await files(name)).split() == ["v", "c"]
    finally:
        await again.stop()


async def test_other_settings_resume_by_default_and_recreate_on_request(
    user: str, tiny_image: str
) -> None:
    name, old_id = await first_run(user, tiny_image)
    changed = server(user, tiny_image, environment={"NEW_SETTING": "1"})
    await changed.start()
    await changed.stop()
    assert changed.object_id == old_id  # default: only an image change recreates

    strict = server(user, tiny_image, environment={"NEW_SETTING": "1"}, resume_drift="recreate")
    await strict.start()
    try:
        assert strict.object_id != old_id
        env = await docker_cli("inspect", "-f", "{{json .Config.Env}}", name)
        assert "NEW_SETTING=1" in env
        assert (await files(name)).split() == ["v"]
    finally:
        await strict.stop()

    # unchanged configuration: the recreated container is simply resumed
    same = server(user, tiny_image, environment={"NEW_SETTING": "1"}, resume_drift="recreate")
    await same.start()
    await same.stop()
    assert same.object_id == strict.object_id
