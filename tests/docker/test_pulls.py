"""Pulls from a real local registry: shared, bounded, authenticated, with progress.

The image comes from tests/registry.py: the tiny image plus three layers of
random bytes, pushed to 127.0.0.1:5000 and removed locally before each test,
so every spawn here has to pull it.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aiodockerspawner import DockerSpawner
from aiodockerspawner.backends.docker import pulls
from aiodockerspawner.errors import ImageNotAvailable
from tests.conftest import TEST_PREFIX
from tests.dockerproxy import DockerProxy
from tests.helpers import make_spawner
from tests.registry import REGISTRY, push_layered_image, remove_local, require_registry

pytestmark = pytest.mark.docker

PULL = "/images/create"


@pytest.fixture(scope="module")
async def layered(tiny_image: str) -> str:
    require_registry()
    return await push_layered_image(tiny_image, f"aiodockerspawner-test/{TEST_PREFIX}-layers")


@pytest.fixture
async def missing(layered: str) -> AsyncIterator[str]:
    """The layered image, absent from the daemon."""
    await remove_local(layered)
    yield layered
    await remove_local(layered)


def spawner_via(proxy: DockerProxy, image: str, **traits: Any) -> DockerSpawner:
    traits.setdefault("remove", True)
    traits.setdefault("stop_grace_period", 0)
    return make_spawner(image=image, client_kwargs={"base_url": proxy.url}, **traits)


async def test_ten_concurrent_spawns_share_one_pull(missing: str, proxy: DockerProxy) -> None:
    spawners = [spawner_via(proxy, missing) for _ in range(10)]
    before = pulls.pulls_started.get(missing, 0)
    try:
        urls = await asyncio.gather(*(s.start() for s in spawners))
        assert len(set(urls)) == 10
        assert proxy.count("POST", PULL) == 1, proxy.counts()
        assert pulls.pulls_started[missing] - before == 1
        # each of the ten saw the shared pull's progress
        for s in spawners:
            assert s._spawn_progress is not None
            assert any(e.phase == "pull" for e in s._spawn_progress.events)
        print(
            f"\nMEASURE shared pull: 10 concurrent spawns of a missing image made "
            f"{proxy.count('POST', PULL)} pull request(s)"
        )
    finally:
        await asyncio.gather(*(s.stop() for s in spawners))


async def collect(spawner: DockerSpawner) -> list[dict[str, Any]]:
    return [event async for event in spawner.progress()]


async def test_progress_of_a_real_pull_then_the_start(missing: str, proxy: DockerProxy) -> None:
    spawner = spawner_via(proxy, missing, pull_progress_interval=0)
    # readers that open before the start begins, as a fast spawn page would
    readers = [asyncio.ensure_future(collect(spawner)) for _ in range(2)]
    await asyncio.sleep(0)
    try:
        await spawner.start()
        first, second = await asyncio.gather(*readers)
        late = await collect(spawner)  # a reader that comes after the start
    finally:
        await spawner.stop()
    assert first == second == late
    percents = [e["progress"] for e in first if "progress" in e]
    assert percents == sorted(percents), "progress went backwards"
    pulled = [e["progress"] for e in first if e["message"].startswith("Pulling image")]
    assert len(set(pulled)) >= 3, first
    assert all(2 <= p <= 50 for p in pulled)
    messages = [e["message"] for e in first]
    # the page's event log lists each message once, not the same line twice in a row
    repeated = [a for a, b in itertools.pairwise(messages) if a == b]
    assert not repeated, messages
    tail = [m.split(" ")[0] for m in messages[messages.index(f"Pulled image {missing}") :]]
    assert tail == ["Pulled", "Created", "Starting", spawner.object_name, "Server"], messages
    assert percents[-1] == 95


async def test_pull_timeout_fails_with_a_clear_message(missing: str, proxy: DockerProxy) -> None:
    hold = proxy.hold("POST", PULL)  # the daemon never sees the pull: it cannot finish
    spawner = spawner_via(proxy, missing, pull_timeout=0.5)
    try:
        with pytest.raises(ImageNotAvailable) as info:
            await spawner.start()
        assert hold.arrived.is_set()
    finally:
        hold.release()
    message = info.value.jupyterhub_message  # type: ignore[attr-defined]
    assert "\n" not in message
    assert "did not finish within 0.5 s (pull_timeout)" in message
    assert missing in message


async def test_failed_pull_carries_the_registry_message(tiny_image: str) -> None:
    require_registry()
    image = f"{REGISTRY}/aiodockerspawner-test/{TEST_PREFIX}-does-not-exist:nope"
    spawner = make_spawner(image=image, remove=True)
    with pytest.raises(ImageNotAvailable) as info:
        await spawner.start()
    message = info.value.jupyterhub_message  # type: ignore[attr-defined]
    assert "\n" not in message
    assert message.startswith(f"Could not start your server: the image {image} was not found")
    assert "(pull image" in message
    assert "manifest unknown" in message or "not found" in message, message


def sent_auth(proxy: DockerProxy) -> dict[str, str]:
    (request,) = proxy.matching("POST", PULL)
    header = request.headers["X-Registry-Auth"]
    decoded: dict[str, str] = json.loads(base64.urlsafe_b64decode(header))
    return decoded


async def test_registry_credentials_are_sent(missing: str, proxy: DockerProxy) -> None:
    spawner = spawner_via(
        proxy,
        missing,
        registry_credentials={REGISTRY: {"username": "ann", "password": "s3cret"}},
    )
    await spawner.start()
    await spawner.stop()
    assert sent_auth(proxy) == {"username": "ann", "password": "s3cret", "serveraddress": REGISTRY}

    asked: list[str] = []

    async def credentials(spawner: DockerSpawner, image: str) -> dict[str, str]:
        asked.append(image)
        return {"identitytoken": f"token-for-{spawner.user.name}"}

    again = spawner_via(proxy, missing, registry_credentials=credentials, pull_policy="always")
    mark = proxy.mark()
    await again.start()
    await again.stop()
    assert asked == [missing]
    (request,) = proxy.matching("POST", PULL, since=mark)
    assert json.loads(base64.urlsafe_b64decode(request.headers["X-Registry-Auth"])) == {
        "identitytoken": f"token-for-{again.user.name}",
        "serveraddress": REGISTRY,
    }
