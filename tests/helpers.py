"""Helpers to build spawners without a running Hub (kubespawner's ``_mock`` style)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any, TypeVar

from jupyterhub import orm
from jupyterhub.objects import Hub
from traitlets.config import Config

from aiodockerspawner import DockerSpawner

_counter = itertools.count()
S = TypeVar("S", bound=DockerSpawner)


def unique_user(base: str = "user") -> str:
    return f"{base}{next(_counter)}-{int(time.time() * 1000) % 100000}"


def mock_user(name: str) -> SimpleNamespace:
    return SimpleNamespace(
        name=name,
        id=1,
        url=f"/user/{name}/",
        escaped_name=name,
        groups=[],
        settings={},
        spawners={},
        server_url=lambda server_name="": f"/user/{name}/{server_name}",
    )


def make_spawner(
    cls: type[S] = DockerSpawner,  # type: ignore[assignment]
    *,
    user: str | None = None,
    server_name: str = "",
    config: Config | None = None,
    hub_ip: str = "127.0.0.1",
    **traits: Any,
) -> S:
    """A spawner for direct use: mock user and Hub, real traits."""
    from tests.conftest import TEST_HUB_ID, TEST_PREFIX

    cfg = config or Config()
    traits.setdefault("hub_id", TEST_HUB_ID)
    traits.setdefault("prefix", TEST_PREFIX)
    hub = Hub(ip=hub_ip, port=8081, base_url="/hub/")
    spawner = cls(
        user=mock_user(user or unique_user()),
        hub=hub,
        orm_spawner=orm.Spawner(name=server_name),
        config=cfg,
        api_token="test-token-" + str(next(_counter)),
        oauth_client_id="jupyterhub-user-test",
        **traits,
    )
    return spawner


T = TypeVar("T")


async def wait_for(
    check: Callable[[], Awaitable[T]], *, timeout: float = 10.0, interval: float = 0.1
) -> T:
    """Poll ``check`` until it returns something truthy, or fail after ``timeout``."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        await asyncio.sleep(interval)


async def docker_cli(*args: str, check: bool = True) -> str:
    """Run the docker CLI (an observer independent of our client) without blocking."""
    import asyncio

    proc = await asyncio.create_subprocess_exec(
        "docker",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {err.decode()}")
    return out.decode()
