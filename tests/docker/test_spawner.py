"""DockerSpawner driven directly (no Hub) against a real Docker daemon."""

from __future__ import annotations

import asyncio

import pytest

from aiodockerspawner import DockerSpawner
from aiodockerspawner.errors import DockerOperationError, InvalidSpec
from tests.conftest import TEST_HUB_ID
from tests.helpers import docker_cli, http_status, make_spawner

pytestmark = pytest.mark.docker


async def containers_named(name: str) -> list[str]:
    return (await docker_cli("ps", "-aq", "--filter", f"name=^/{name}$")).split()


async def docker_exec(name: str, *cmd: str) -> str:
    return await docker_cli("exec", name, *cmd)


def tiny_spawner(image: str, **traits: object) -> DockerSpawner:
    return make_spawner(image=image, **traits)


async def test_start_stop_remove_true(tiny_image: str) -> None:
    spawner = tiny_spawner(tiny_image, remove=True, stop_grace_period=1)
    url = await spawner.start()
    assert url.startswith("http://127.0.0.1:")
    assert await http_status(url + "/") == 200
    assert await spawner.poll() is None
    state = spawner.get_state()
    assert state["object_name"] == spawner.object_name
    assert await containers_named(spawner.object_name) == [state["object_id"][:12]]

    inspect = await docker_cli(
        "inspect",
        spawner.object_name,
        "--format",
        "{{json .Config.Labels}} {{json .HostConfig.PortBindings}}",
    )
    assert f'"aiodockerspawner.hub-id":"{TEST_HUB_ID}"' in inspect
    assert '"HostIp":"127.0.0.1"' in inspect

    await spawner.stop()
    assert await containers_named(spawner.object_name) == []
    assert spawner.get_state() == {}
    assert await spawner.poll() == 0


async def test_resume_keeps_files_and_token(tiny_image: str) -> None:
    spawner = tiny_spawner(tiny_image, remove=False, stop_grace_period=0)
    first_token = spawner.api_token
    await spawner.start()
    first_id = spawner.object_id
    await docker_exec(spawner.object_name, "sh", "-c", "echo kept > /tmp/marker")
    await spawner.stop()

    assert await containers_named(spawner.object_name) == [first_id[:12]]
    assert sorted(spawner.get_state()) == ["object_id", "object_name"]
    # busybox ignores SIGTERM, so a zero grace period means SIGKILL
    assert await spawner.poll() == 137

    # a fresh spawner (a restarted Hub) loads the state and gets a new token
    again = make_spawner(
        image=tiny_image, remove=False, user=spawner.user.name, stop_grace_period=0
    )
    again.load_state(spawner.get_state())
    again.api_token = "a-new-token"
    try:
        url = await again.start()
        assert again.object_id == first_id
        assert again.api_token == first_token
        assert (await docker_exec(again.object_name, "cat", "/tmp/marker")).strip() == "kept"
        assert await http_status(url + "/") == 200
    finally:
        again.remove = True
        await again.stop()


async def test_leftover_is_replaced_when_remove_true(tiny_image: str) -> None:
    spawner = tiny_spawner(tiny_image, remove=True, stop_grace_period=0)
    await docker_cli(
        "create",
        "--name",
        spawner.object_name,
        "--label",
        f"aiodockerspawner.hub-id={TEST_HUB_ID}",
        tiny_image,
    )
    leftover = await containers_named(spawner.object_name)
    await spawner.start()
    try:
        assert await containers_named(spawner.object_name) != leftover
        assert spawner.object_id[:12] not in leftover
    finally:
        await spawner.stop()


async def test_missing_image_fails_with_name_and_creates_nothing(docker_daemon: None) -> None:
    spawner = make_spawner(image="aiodockerspawner-test/absent:0", pull_policy="never")
    with pytest.raises(DockerOperationError) as info:
        await spawner.start()
    message = info.value.jupyterhub_message  # type: ignore[attr-defined]
    assert "absent" in message and "\n" not in message
    assert await containers_named(spawner.object_name) == []


@pytest.mark.parametrize(
    ("trait", "value", "message"),
    [
        ("mem_limit", lambda s: "lots", "mem_limit"),
        ("cpu_limit", lambda s: -1, "cpu_limit"),
        ("extra_host_config", {"no_such_option": 1}, "no_such_option"),
        ("volumes", {"/data": 3}, "volumes"),
    ],
)
async def test_invalid_config_names_the_trait_and_starts_nothing(
    tiny_image: str, trait: str, value: object, message: str
) -> None:
    spawner = tiny_spawner(tiny_image, **{trait: value})
    with pytest.raises(InvalidSpec, match=message):
        await spawner.start()
    assert await containers_named(spawner.object_name) == []


async def test_callable_limits_are_evaluated_at_start(tiny_image: str) -> None:
    spawner = tiny_spawner(
        tiny_image,
        remove=True,
        stop_grace_period=0,
        mem_limit=lambda s: "64M" if s.user_options.get("small") else "128M",
        cpu_limit=lambda s: 0.5,
    )
    spawner.user_options = {"small": True}
    await spawner.start()
    try:
        out = (
            await docker_cli(
                "inspect",
                spawner.object_name,
                "--format",
                "{{.HostConfig.Memory}} {{.HostConfig.CpuQuota}} {{.HostConfig.CpuPeriod}}",
            )
        ).split()
        assert out == [str(64 * 1024**2), "50000", "100000"]
    finally:
        await spawner.stop()


async def test_cancelled_start_leaves_nothing(tiny_image: str) -> None:
    spawner = tiny_spawner(tiny_image, remove=True, post_start_cmd="sleep 30")
    task = asyncio.create_task(spawner.start())
    # wait until the container exists, then cancel while post_start runs
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not await containers_named(spawner.object_name):
        assert loop.time() < deadline, "container never appeared"
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await containers_named(spawner.object_name) == []


async def test_named_server_gets_its_own_container(tiny_image: str) -> None:
    default = tiny_spawner(tiny_image, remove=True, stop_grace_period=0)
    named = make_spawner(
        image=tiny_image,
        remove=True,
        stop_grace_period=0,
        user=default.user.name,
        server_name="lab1",
    )
    assert named.object_name == f"{default.object_name}--lab1"
    urls = await asyncio.gather(default.start(), named.start())
    try:
        assert urls[0] != urls[1]
        assert [await http_status(u + "/") for u in urls] == [200, 200]
    finally:
        await asyncio.gather(default.stop(), named.stop())
    assert await containers_named(default.object_name) == []
    assert await containers_named(named.object_name) == []
