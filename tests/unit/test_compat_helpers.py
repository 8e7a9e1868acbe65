"""dockerspawner helpers that subclasses and hooks call: ``_get_allowed_images()``,
``_legacy_escape`` and ``docker(method, ...)``.

The semantics are dockerspawner 14.0.0's (dockerspawner/dockerspawner.py);
``docker()`` against a real daemon is in tests/docker/test_dockerpy.py.
"""

from __future__ import annotations

import asyncio
import string
from collections.abc import Callable
from typing import Any

import escapism
import pytest

from aiodockerspawner import DockerSpawner, SwarmSpawner, SystemUserSpawner, dockerpy
from aiodockerspawner.errors import DockerOperationError
from aiodockerspawner.testing import FakeEngine
from aiodockerspawner.testing.pytest_plugin import fake_docker, fake_spawner
from tests.helpers import make_spawner

__all__ = ["fake_docker", "fake_spawner"]

SpawnerFactory = Callable[..., DockerSpawner]


@pytest.mark.parametrize(
    ("allowed", "expected"),
    [
        (
            {"4.0": "quay.io/jupyterhub/singleuser:4.0"},
            {"4.0": "quay.io/jupyterhub/singleuser:4.0"},
        ),
        (["a:1", "b:2"], {"a:1": "a:1", "b:2": "b:2"}),
        ("*", "*"),
        (None, {}),
        (lambda spawner: ["x:1"], {"x:1": "x:1"}),
        (lambda spawner: {"k": f"img-for-{spawner.user.name}"}, {"k": "img-for-alice"}),
        (lambda spawner: "*", "*"),
        (lambda spawner: None, None),
    ],
)
def test_get_allowed_images_as_dockerspawner(allowed: Any, expected: Any) -> None:
    spawner = make_spawner(user="alice", allowed_images=allowed)
    assert spawner._get_allowed_images() == expected


def test_get_allowed_images_refuses_an_async_callable_clearly() -> None:
    async def allowed(spawner: Any) -> list[str]:
        return ["x"]

    spawner = make_spawner(allowed_images=allowed)
    with pytest.raises(TypeError, match=r"async callable.*check_allowed"):
        spawner._get_allowed_images()


def test_get_allowed_images_rejects_what_the_trait_rejects() -> None:
    spawner = make_spawner(allowed_images=lambda spawner: "not-a-star")
    with pytest.raises(ValueError, match="allowed_images"):
        spawner._get_allowed_images()


@pytest.mark.parametrize("text", ["cont@iner", "jupyter-Ann_Marie--dev", "ü-ser", ""])
def test_legacy_escape_is_dockerspawners(text: str) -> None:
    safe = set(string.ascii_letters + string.digits + "-")
    expected = escapism.escape(text, safe, escape_char="_")
    for cls in (DockerSpawner, SwarmSpawner, SystemUserSpawner):
        assert cls._legacy_escape(text) == expected
    assert make_spawner()._legacy_escape(text) == expected


async def test_docker_returns_a_future_on_the_shared_client(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    spawner = fake_spawner()
    future = spawner.docker("info")
    assert asyncio.isfuture(future)
    info = await asyncio.wrap_future(future)  # dockerspawner's callers wrap it so
    assert info["ServerVersion"]
    assert fake_docker.count("/info") == 1
    created = await spawner.docker("create_container", "example/singleuser:latest", name="x")
    assert set(created) == {"Id", "Warnings"}
    inspected = await spawner.docker("inspect_container", "x")
    assert inspected["Id"] == created["Id"]
    with pytest.raises(dockerpy.NotFound) as missing:
        await spawner.docker("inspect_container", "nope")
    assert missing.value.status_code == 404


async def test_docker_refuses_unknown_methods_and_arguments_at_once(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    spawner = fake_spawner()
    with pytest.raises(AttributeError, match="'export'"):
        spawner.docker("export", "x")
    with pytest.raises(TypeError, match="docker\\('inspect_container'\\)"):
        spawner.docker("inspect_container", "x", "y")
    assert fake_docker.count("") == 0  # nothing was sent


def test_get_network_ip_reads_the_configured_network() -> None:
    spawner = make_spawner(network_name="jhub")
    settings = {
        "Networks": {"bridge": {"IPAddress": "172.17.0.2"}, "jhub": {"IPAddress": "10.0.0.5"}}
    }
    assert spawner.get_network_ip(settings) == "10.0.0.5"
    with pytest.raises(DockerOperationError, match="Unknown docker network 'jhub'"):
        spawner.get_network_ip({"Networks": {"bridge": {"IPAddress": "172.17.0.2"}}})


async def test_remove_object_removes_and_tolerates_gone(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    spawner = fake_spawner()
    created = await spawner.docker("create_container", "example/singleuser:latest", name="x")
    spawner.object_id = created["Id"]
    await spawner.remove_object()
    assert fake_docker.containers == {}
    await spawner.remove_object()  # already gone: no error, as in dockerspawner


class _HookedCreate(DockerSpawner):
    """Written against dockerspawner: wraps create_object() and reads the result's Id."""

    hooked: list[str]

    async def create_object(self) -> Any:
        obj = await super().create_object()
        self.hooked = [*getattr(self, "hooked", []), obj["Id"]]
        return obj


async def test_start_creates_through_create_object(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    """As in dockerspawner, start() calls self.create_object(): an override is honoured."""
    spawner = fake_spawner(_HookedCreate, remove=False)
    await spawner.start()
    assert spawner.hooked == [spawner.object_id]
    assert fake_docker.containers[spawner.object_id].running
    await spawner.stop()
    await spawner.start()  # resumes the stopped container: nothing is created
    assert spawner.hooked == [spawner.object_id]
    await spawner.stop()


class _OwnCreate(DockerSpawner):
    """Creates the container itself through docker(), returning docker-py's answer."""

    async def create_object(self) -> Any:
        return await self.docker(
            "create_container",
            self.image,
            name=self.object_name,
            environment=self.get_env(),
            labels={"made-by": "subclass"},
        )


async def test_start_takes_docker_pys_answer_from_an_overridden_create_object(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    spawner = fake_spawner(_OwnCreate, use_internal_ip=True)
    url = await spawner.start()
    container = fake_docker.containers[spawner.object_id]
    assert container.config["Labels"]["made-by"] == "subclass"
    assert container.running
    assert url == f"http://{container.ip}:8888"
    await spawner.stop()
