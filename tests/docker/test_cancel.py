"""A start cancelled at each of its awaits leaves nothing behind (real daemon).

JupyterHub cancels ``start()`` on ``start_timeout`` and when a stop arrives
during a spawn. Each test parks one Docker request of the start in the
counting proxy (before the daemon sees it, or after the daemon acted but
before the answer reaches the spawner, the harder case), cancels the start
while it waits there, and checks the daemon: no container is left, except a
pre-existing one that was being resumed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aiodockerspawner import DockerSpawner
from tests.conftest import TEST_PREFIX
from tests.dockerproxy import DockerProxy, Hold
from tests.helpers import docker_cli, make_spawner

pytestmark = pytest.mark.docker

ID = "[^/]+"


def spawner_via(proxy: DockerProxy, image: str, **traits: Any) -> DockerSpawner:
    traits.setdefault("remove", True)
    traits.setdefault("stop_grace_period", 0)
    return make_spawner(image=image, client_kwargs={"base_url": proxy.url}, **traits)


async def containers_of(spawner: DockerSpawner) -> list[str]:
    out = await docker_cli(
        "ps", "-aq", "--filter", f"label=aiodockerspawner.user={spawner.user.name}"
    )
    return out.split()


async def cancel_at(spawner: DockerSpawner, hold: Hold) -> None:
    """Start, wait until the start sits in ``hold``, cancel it, then let the request go."""
    task = asyncio.create_task(spawner.start())
    arrived = asyncio.ensure_future(hold.arrived.wait())
    done, _ = await asyncio.wait({task, arrived}, timeout=30, return_when="FIRST_COMPLETED")
    assert arrived in done, f"the start never reached {hold.method} {hold.pattern.pattern}"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    hold.release()


async def test_cancel_while_pulling(proxy: DockerProxy, tiny_image: str) -> None:
    image = f"127.0.0.1:5000/aiodockerspawner-test/{TEST_PREFIX}-never-pulled:1"
    spawner = spawner_via(proxy, image)
    hold = proxy.hold("POST", "/images/create")
    await cancel_at(spawner, hold)
    assert await containers_of(spawner) == []


async def test_cancel_during_create(proxy: DockerProxy, tiny_image: str) -> None:
    spawner = spawner_via(proxy, tiny_image)
    # the daemon creates the container; its answer never reaches the spawner
    hold = proxy.hold("POST", "/containers/create", when="response")
    await cancel_at(spawner, hold)
    assert await containers_of(spawner) == []


async def test_cancel_during_start(proxy: DockerProxy, tiny_image: str) -> None:
    spawner = spawner_via(proxy, tiny_image)
    hold = proxy.hold("POST", f"/containers/{ID}/start", when="response")
    await cancel_at(spawner, hold)
    assert await containers_of(spawner) == []


async def test_cancel_while_finding_the_address(proxy: DockerProxy, tiny_image: str) -> None:
    spawner = spawner_via(proxy, tiny_image)
    # the container runs; the inspect that reads its address does not come back
    hold = proxy.hold("GET", f"/containers/{ID}/json", when="response")
    await cancel_at(spawner, hold)
    assert proxy.count("POST", f"/containers/{ID}/start") == 1
    assert await containers_of(spawner) == []


async def test_cancel_during_post_start(proxy: DockerProxy, tiny_image: str) -> None:
    spawner = spawner_via(proxy, tiny_image, post_start_cmd="true")
    hold = proxy.hold("POST", f"/containers/{ID}/exec", when="response")
    await cancel_at(spawner, hold)
    assert await containers_of(spawner) == []


async def test_cancel_keeps_a_resumed_container(proxy: DockerProxy, tiny_image: str) -> None:
    first = spawner_via(proxy, tiny_image, remove=False)
    await first.start()
    await first.stop()
    (kept,) = await containers_of(first)
    again = spawner_via(proxy, tiny_image, remove=False, user=first.user.name)
    hold = proxy.hold("POST", f"/containers/{ID}/start", when="response")
    try:
        await cancel_at(again, hold)
        assert await containers_of(first) == [kept]
    finally:
        await docker_cli("rm", "-f", kept)
