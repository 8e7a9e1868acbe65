"""The events cache during its periodic resync, on the fake Engine.

The resync's list request is held open with a fault (a real daemon answers a
list at once): events must keep reaching ``poll()`` meanwhile, an exit seen
while the list was in flight must win over the "running" of its answer, and
the list must not wait for one of the ``docker_connection_limit``
connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiodockerspawner import DockerSpawner
from aiodockerspawner.testing import FakeEngine
from aiodockerspawner.testing.pytest_plugin import fake_docker, fake_spawner
from tests.helpers import wait_for

__all__ = ["fake_docker", "fake_spawner"]  # fixtures used below

SpawnerFactory = Callable[..., DockerSpawner]
LIST = r"^GET /containers/json$"
INSPECT = r"^GET /containers/[^/]+/json$"
RESYNC = 0.2


async def test_exit_during_the_resync_list_shows_at_once_and_wins(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    spawner = fake_spawner(remove=False, events_resync_interval=RESYNC)
    await spawner.start()
    assert await spawner.poll() is None
    watcher = spawner.watcher
    # the next list (a periodic resync) is answered "running", and the answer held
    held = fake_docker.inject(LIST, hold="answer", times=1)
    try:
        await asyncio.wait_for(held.arrived.wait(), 5)
        resyncs = watcher.stats.resyncs
        inspects = fake_docker.count(INSPECT)
        fake_docker.exit_container(spawner.object_name, 3)

        async def exited() -> bool:
            return await spawner.poll() == 3

        await wait_for(exited, timeout=2, interval=0.01)
        # seen through the events stream, while the list was still held
        assert watcher.stats.resyncs == resyncs
        assert watcher.connected
        assert fake_docker.count(INSPECT) == inspects
    finally:
        held.release()

    async def resynced() -> bool:
        return watcher.stats.resyncs > resyncs

    await wait_for(resynced, timeout=5, interval=0.01)
    # the list answered "running"; the exit seen while it was in flight wins
    cached = watcher.get(spawner.object_name)
    assert cached is not None
    assert not cached.status.running and cached.status.exit_code == 3
    assert await spawner.poll() == 3
    await spawner.stop()


async def test_resync_does_not_wait_for_a_busy_connection_limit(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    spawner = fake_spawner(remove=False, events_resync_interval=RESYNC, docker_connection_limit=1)
    await spawner.start()
    assert await spawner.poll() is None
    watcher = spawner.watcher
    client = spawner.client
    assert client.connector is not None and client.connector.limit == 1
    # the only connection of the limit is taken by a request that does not answer
    busy = fake_docker.inject(r"^GET /info$", hold="request")
    request = asyncio.ensure_future(client.system.info())
    try:
        await asyncio.wait_for(busy.arrived.wait(), 5)
        resyncs = watcher.stats.resyncs

        async def resynced() -> bool:
            return watcher.stats.resyncs >= resyncs + 2

        await wait_for(resynced, timeout=3, interval=0.01)
        assert watcher.connected
        assert not request.done(), "the connection was never busy: nothing was tested"
        fake_docker.exit_container(spawner.object_name, 3)

        async def exited() -> bool:
            return await spawner.poll() == 3

        await wait_for(exited, timeout=2, interval=0.01)
    finally:
        busy.release()
        await request
    await spawner.stop()


async def test_exit_while_the_next_stream_opens_shows_at_once(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    spawner = fake_spawner(remove=False, events_resync_interval=RESYNC)
    await spawner.start()
    assert await spawner.poll() is None
    watcher = spawner.watcher
    # the periodic resync's new stream does not answer yet: the current one must go on
    held = fake_docker.inject(r"^GET /events$", hold="request", times=1)
    try:
        await asyncio.wait_for(held.arrived.wait(), 5)
        connects = watcher.stats.connects
        fake_docker.exit_container(spawner.object_name, 3)

        async def exited() -> bool:
            return await spawner.poll() == 3

        await wait_for(exited, timeout=2, interval=0.01)
        assert watcher.connected and watcher.stats.connects == connects
    finally:
        held.release()

    async def resynced() -> bool:
        return watcher.stats.connects > connects + 1 and watcher.connected

    await wait_for(resynced, timeout=5, interval=0.01)
    assert await spawner.poll() == 3
    await spawner.stop()


async def test_events_sent_again_by_a_new_stream_apply_once(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    """dockerd sends the events from ``since=`` on again, inclusive, to each new stream."""
    spawner = fake_spawner(remove=False, events_resync_interval=RESYNC)
    await spawner.start()
    assert await spawner.poll() is None
    watcher = spawner.watcher
    before = watcher.stats.events  # the start's (the watcher runs from before the start)
    fake_docker.exit_container(spawner.object_name, 3)
    connects = watcher.stats.connects

    async def reconnected() -> bool:
        return watcher.stats.connects >= connects + 3 and watcher.connected

    await wait_for(reconnected, timeout=5, interval=0.01)
    # the die is the newest event, which every new stream sends again; applied once
    assert watcher.stats.events == before + 1
    assert await spawner.poll() == 3
