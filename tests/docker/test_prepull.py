"""Pre-pulls against the real daemon, through a throttled front of the local registry.

The image is the tiny image plus random layers unique to the run (pushed,
then removed locally), so every pull really fetches them; the front sends at
most ``RATE`` bytes per second, so a pull lasts long enough to be joined, and
counts each blob it serves.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from aiodockerspawner.backends.docker import pulls
from aiodockerspawner.backends.docker.prepull import stop_prepullers
from tests.conftest import TEST_PREFIX
from tests.helpers import docker_cli, make_spawner, wait_for
from tests.registry import RegistryFront, push_layered_image, remove_local, require_registry

pytestmark = pytest.mark.docker

RATE = 8 * 1024 * 1024  # bytes per second: 24 MiB take about 3 s


@pytest.fixture(scope="module")
async def layered(tiny_image: str) -> str:
    require_registry()
    return await push_layered_image(
        tiny_image, f"aiodockerspawner-test/{TEST_PREFIX}-prepull", layers=3, layer_mb=8
    )


@pytest.fixture
async def front(layered: str) -> AsyncIterator[RegistryFront]:
    async with RegistryFront(rate=RATE) as running:
        yield running
        await stop_prepullers()
        await remove_local(running.ref(layered))


async def loop_lag_while(task: asyncio.Future[object]) -> float:
    """The longest the event loop was late for a 10 ms timer while ``task`` ran."""
    loop = asyncio.get_running_loop()
    worst = 0.0
    while not task.done():
        before = loop.time()
        await asyncio.sleep(0.01)
        worst = max(worst, loop.time() - before - 0.01)
    return worst


async def test_prepull_starts_with_the_first_load_and_a_spawn_joins_it(
    front: RegistryFront, layered: str
) -> None:
    image = front.ref(layered)
    before = pulls.pulls_started.get(image, 0)
    first = make_spawner(image=image, prepull_images=[image], prepull_interval=0)
    first.load_state({})  # what JupyterHub does for each server at its start
    prepuller = first._start_prepuller()
    assert prepuller is not None

    async def pulling() -> bool:
        return front.bytes_sent > 1024 * 1024

    await wait_for(pulling, timeout=20, interval=0.02)
    # a spawn now joins the pull in flight and shows its percentage
    spawner = make_spawner(image=image, remove=True, pull_progress_interval=0)
    start = asyncio.ensure_future(spawner.start())
    lag = await loop_lag_while(start)
    try:
        await start
        assert spawner._spawn_progress is not None
        events = list(spawner._spawn_progress.events)
        await asyncio.wait_for(prepuller.round_done.wait(), 30)
    finally:
        await spawner.stop()
    assert pulls.pulls_started[image] - before == 1
    assert prepuller.stats.pulled == {image: 1}
    fetches = front.blob_fetches()
    assert fetches and all(n == 1 for n in fetches.values()), fetches
    percents = [
        e.progress for e in events if e.phase == "pull" and e.message.startswith("Pulling image")
    ]
    assert len(set(percents)) >= 2, percents
    assert lag < 0.1, lag
    print(f"\nMEASURE prepull join: percentages {percents}, worst loop lag {lag * 1000:.0f} ms")


async def test_prepull_repeats_and_logs_failures(front: RegistryFront, layered: str) -> None:
    image = front.ref(layered)
    missing = front.ref(layered.rsplit(":", 1)[0] + ":not-pushed")
    spawner = make_spawner(
        image=image, prepull_images=[image, missing], prepull_interval=0.2, prepull_concurrency=1
    )
    prepuller = spawner._start_prepuller()
    assert prepuller is not None

    async def two_rounds() -> bool:
        return prepuller.stats.rounds >= 2

    await wait_for(two_rounds, timeout=60, interval=0.05)
    assert prepuller.stats.pulled[image] >= 2
    assert "not found" in prepuller.stats.failed[missing], prepuller.stats.failed
    assert (await docker_cli("image", "inspect", "-f", "{{.Id}}", image)).strip()


async def test_allowed_takes_the_image_and_allowed_images(tiny_image: str) -> None:
    spawner = make_spawner(
        image=tiny_image,
        allowed_images={"a": "example.org/a:1", "b": "example.org/b:2"},
        prepull_images="allowed",
    )
    assert await spawner.images_to_prepull() == [tiny_image, "example.org/a:1", "example.org/b:2"]
    with pytest.raises(Exception, match="a list of images or 'allowed'"):
        make_spawner(image=tiny_image, prepull_images="everything")
