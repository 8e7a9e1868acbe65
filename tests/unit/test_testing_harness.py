"""The shipped test harness (aiodockerspawner.testing) works as documented.

These are also the project's own tests for faults a real daemon cannot
produce on demand: a Docker API that stops answering, a dropped pull stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

import pytest
from aiodocker.exceptions import DockerError

from aiodockerspawner import DockerSpawner
from aiodockerspawner.errors import ImageNotAvailable
from aiodockerspawner.labels import LABEL_SERVER, LABEL_USER
from aiodockerspawner.testing import FakeEngine
from aiodockerspawner.testing.pytest_plugin import fake_docker, fake_spawner
from tests.helpers import wait_for

__all__ = ["fake_docker", "fake_spawner"]  # fixtures used below

SpawnerFactory = Callable[..., DockerSpawner]
#: the keys of a volume as dockerd answers it (``docker volume inspect``)
VOLUME_KEYS = {"CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"}


async def test_start_poll_stop(fake_docker: FakeEngine, fake_spawner: SpawnerFactory) -> None:
    spawner = fake_spawner(remove=True)
    url = await spawner.start()
    assert url.startswith("http://127.0.0.1:4")
    assert await spawner.poll() is None
    body = fake_docker.containers[spawner.object_id].config
    assert body["Labels"]["aiodockerspawner.user"] == "alice"

    fake_docker.exit_container(spawner.object_id, 3)

    async def gone() -> bool:
        return await spawner.poll() == 0  # AutoRemove: the container is gone

    await wait_for(gone, timeout=2)

    await spawner.stop()
    assert fake_docker.containers == {}


async def test_exit_code_is_reported(fake_docker: FakeEngine, fake_spawner: SpawnerFactory) -> None:
    spawner = fake_spawner(remove=False)
    await spawner.start()
    fake_docker.exit_container(spawner.object_name, 3)

    async def exited() -> bool:
        return await spawner.poll() == 3

    await wait_for(exited, timeout=2)


async def test_pull_from_the_fake_registry(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    fake_docker.add_registry_image("example/other:1", layers={"a": 400, "b": 800})
    spawner = fake_spawner(image="example/other:1", remove=True)
    await spawner.start()
    assert fake_docker.count(r"^POST /images/create$") == 1
    assert "example/other:1" in fake_docker.images
    await spawner.stop()


async def test_missing_image_carries_the_registry_message(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    spawner = fake_spawner(image="example/nowhere:1")
    with pytest.raises(ImageNotAvailable, match="manifest for example/nowhere:1 not found"):
        await spawner.start()
    assert fake_docker.containers == {}


async def test_dropped_pull_stream_fails_cleanly(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    fake_docker.add_registry_image("example/big:1", layers={"a": 1000})
    fake_docker.inject(r"^POST /images/create$", drop_after=2)
    spawner = fake_spawner(image="example/big:1")
    with pytest.raises(Exception) as info:
        await spawner.start()
    assert "pull image example/big:1" in str(info.value)
    assert fake_docker.containers == {}


async def test_post_start_output_through_exec(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    fake_docker.exec_handler = lambda cmd: (2, b"hello\n", b"oops\n")
    spawner = fake_spawner(remove=True, post_start_cmd="do-something")
    spawner.log = logging.getLogger("harness-test")
    with caplog.at_level(logging.DEBUG, logger="harness-test"):
        await spawner.start()
    text = caplog.text
    assert "post_start stdout" in text and "hello" in text
    assert "post_start stderr" in text and "oops" in text
    assert "exited with code 2" in text
    await spawner.stop()


async def test_hanging_api_fails_within_start_timeout_and_loop_stays_free(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    fake_docker.inject(r"^POST /containers/create$", hang=True)
    spawner = fake_spawner(remove=True)
    loop = asyncio.get_running_loop()
    lags: list[float] = []

    async def ticker() -> None:
        while True:
            before = loop.time()
            await asyncio.sleep(0.01)
            lags.append(loop.time() - before - 0.01)

    tick = asyncio.create_task(ticker())
    began = loop.time()
    # JupyterHub wraps start() in wait_for(start_timeout)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(spawner.start(), timeout=1.0)
    elapsed = loop.time() - began
    tick.cancel()
    assert 1.0 <= elapsed < 2.0
    assert max(lags) < 0.2
    assert fake_docker.containers == {}


async def test_hanging_stop_returns_by_its_deadline(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    spawner = fake_spawner(remove=True, stop_grace_period=0, docker_request_timeout=1)
    await spawner.start()
    fake_docker.inject(r"^POST /containers/[^/]+/stop$", hang=True)
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(asyncio.TimeoutError):
        await spawner.stop()
    assert loop.time() - began < 2.0


async def test_named_volumes_start_stop_and_delete_forever(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    """A per-user volume outlives the server; a per-server one goes with delete_forever()."""
    spawner = fake_spawner(
        remove=False,
        server_name="project",
        volumes={
            "jupyterhub-user-{username}": "/home/jovyan/work",
            "jupyterhub-user-{username}-{servername}": "/home/jovyan/project",
        },
    )
    await spawner.start()
    user_volume = fake_docker.volumes["jupyterhub-user-alice"]
    server_volume = fake_docker.volumes["jupyterhub-user-alice-project"]
    assert user_volume.labels[LABEL_USER] == "alice"
    assert server_volume.labels[LABEL_SERVER] == "project"
    binds = fake_docker.containers[spawner.object_id].host_config["Binds"]
    assert any(b.startswith("jupyterhub-user-alice:/home/jovyan/work") for b in binds)
    await spawner.stop()
    assert await spawner.poll() is not None
    await spawner.start()  # resumes the same container, the volumes as they were
    assert set(fake_docker.volumes) == {"jupyterhub-user-alice", "jupyterhub-user-alice-project"}
    await spawner.stop()

    await spawner.delete_forever()
    assert fake_docker.containers == {}
    assert set(fake_docker.volumes) == {"jupyterhub-user-alice"}
    assert fake_docker.count(r"^DELETE /volumes/jupyterhub-user-alice-project$") == 1


async def test_volume_routes_of_the_fake_engine(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    """Shapes, statuses and messages as dockerd's (tests/docker/test_fake_engine_parity.py)."""
    docker = fake_spawner().client
    labels = {"team": "a", "tier": "x"}
    created = await docker._query_json(
        "volumes/create", "POST", data={"Name": "data-a", "Labels": labels}
    )
    assert set(created) == VOLUME_KEYS
    assert created["Name"] == "data-a" and created["Labels"] == labels
    assert created["Driver"] == "local" and created["Scope"] == "local"
    assert created["Mountpoint"] == "/var/lib/docker/volumes/data-a/_data"
    assert created["Options"] is None
    # creating it again answers the volume as it is
    again = await docker._query_json("volumes/create", "POST", data={"Name": "data-a"})
    assert again == created
    plain = await docker._query_json("volumes/create", "POST", data={"Name": "data-b"})
    assert plain["Labels"] is None
    anonymous = await docker._query_json("volumes/create", "POST", data={})
    assert len(anonymous["Name"]) == 64
    assert await docker._query_json("volumes/data-a") == created

    async def listed(*selectors: str) -> list[str]:
        answer = await docker._query_json(
            "volumes", params={"filters": json.dumps({"label": list(selectors)})}
        )
        assert set(answer) == {"Volumes", "Warnings"}
        return sorted(v["Name"] for v in answer["Volumes"])

    assert await listed("team") == ["data-a"]
    assert await listed("team=a", "tier=x") == ["data-a"]
    assert await listed("team=b") == []
    assert len(await listed()) == 3

    # in use, even by a container that is not running: 409, with or without force
    fake_docker.add_image("example/tool:1")
    await docker.containers.create(
        {"Image": "example/tool:1", "HostConfig": {"Binds": ["data-a:/data"]}}, name="user-of-a"
    )
    for params in ({}, {"force": "1"}):
        with pytest.raises(DockerError) as info:
            await docker._query_json("volumes/data-a", "DELETE", params=params)
        assert info.value.status == 409
        assert info.value.message.startswith("remove data-a: volume is in use - [")
    await docker.containers.container("user-of-a").delete()
    await docker._query_json("volumes/data-a", "DELETE")
    assert "data-a" not in fake_docker.volumes
    # gone: 404, unless forced
    for route, method in (("volumes/data-a", "GET"), ("volumes/data-a", "DELETE")):
        with pytest.raises(DockerError) as info:
            await docker._query_json(route, method)
        assert (info.value.status, info.value.message) == (404, "get data-a: no such volume")
    await docker._query_json("volumes/data-a", "DELETE", params={"force": "1"})
    # names dockerd refuses
    for name, status in (("a", 400), ("bad/name", 400), ("v" * 256, 500)):
        with pytest.raises(DockerError) as info:
            await docker._query_json("volumes/create", "POST", data={"Name": name})
        assert info.value.status == status and info.value.message.startswith(f"create {name}:")
    # a container creates the named volumes it mounts, without labels
    await docker.containers.create(
        {"Image": "example/tool:1", "HostConfig": {"Binds": ["made-by-run:/data:ro"]}}
    )
    assert fake_docker.volumes["made-by-run"].labels == {}
