"""Helpers to build spawners without a running Hub (kubespawner's ``_mock`` style)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiodockerspawner import DockerSpawner, testing

_counter = itertools.count()
S = TypeVar("S", bound=DockerSpawner)


def unique_user(base: str = "user") -> str:
    return f"{base}{next(_counter)}-{int(time.time() * 1000) % 100000}"


mock_user = testing.mock_user


def make_spawner(
    cls: type[S] = DockerSpawner,  # type: ignore[assignment]
    *,
    user: str | None = None,
    **kw: Any,
) -> S:
    """A spawner for direct use (mock user and Hub), labelled as this test run's."""
    from tests.conftest import TEST_HUB_ID, TEST_PREFIX

    kw.setdefault("hub_id", TEST_HUB_ID)
    kw.setdefault("prefix", TEST_PREFIX)
    return testing.make_spawner(cls, user=user or unique_user(), **kw)


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


async def http_status(url: str, *, timeout: float = 15.0) -> int:
    """GET ``url`` and return the status, retrying while nothing listens yet.

    A container is "running" before its process has bound its port (the Hub
    waits for HTTP the same way), so a refused or reset connection is retried
    until ``timeout``.
    """
    import asyncio

    import aiohttp

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.05
    while True:
        try:
            async with aiohttp.ClientSession() as session, session.get(url) as resp:
                return resp.status
        except (aiohttp.ClientConnectionError, ConnectionError):
            if loop.time() > deadline:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)


def give_hub_server(spawner: DockerSpawner) -> None:
    """Give a spawner made without a Hub the ``Server`` JupyterHub's ``User.spawn`` gives it."""
    from jupyterhub import orm

    spawner.orm_spawner.server = orm.Server(
        proto="http", ip="", port=0, cookie_name="cookie", base_url=f"/user/{spawner.user.name}/"
    )


async def hub_wait_up(spawner: DockerSpawner, url: str, timeout: float) -> object:
    """What JupyterHub does after ``start()`` returned ``url``: record it, wait for HTTP.

    As ``User.spawn`` then ``User._wait_up`` (JupyterHub 6.1): the server's
    address is set from the URL, then ``server.wait_up(http=True, ...)``
    polls ``<url><base_url>api`` until it answers or ``timeout`` runs out.
    """
    from urllib.parse import urlparse

    server = spawner.server
    assert server is not None, "give_hub_server() first"
    parsed = urlparse(url)
    server.proto = parsed.scheme
    server.ip = parsed.hostname
    server.port = parsed.port
    return await server.wait_up(http=True, timeout=timeout, extra_path="api")
