"""The events cache survives a daemon crash and restart (on a private dockerd).

The daemon is SIGKILLed under running containers (they live on: the private
daemon runs with ``--live-restore``); while it is down one container's process
is killed, a change no events stream can report. After the restart the
watcher must reconnect, resync with one list, and poll must be right for every
server: the survivor running, the one killed during the outage exited, and a
container killed after the restart seen through the new stream.

Set ``AIODOCKERSPAWNER_TEST_OUTAGE`` to keep the daemon down that many
seconds (the watcher's backoff then shows in the recovery time).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator

import pytest

from aiodockerspawner import DockerSpawner
from aiodockerspawner.labels import LABEL_HUB, LABEL_MANAGED_BY
from tests.conftest import TEST_HUB_ID
from tests.helpers import make_spawner, unique_user, wait_for
from tests.privatedockerd import PrivateDockerd

pytestmark = pytest.mark.docker

#: seconds the daemon stays down (AIODOCKERSPAWNER_TEST_OUTAGE; 0 in CI)
OUTAGE = float(os.environ.get("AIODOCKERSPAWNER_TEST_OUTAGE", "0"))


@pytest.fixture
async def dockerd(tiny_image: str) -> AsyncIterator[PrivateDockerd]:
    async with PrivateDockerd() as daemon:
        await daemon.load_image(tiny_image)
        yield daemon


async def run_server(daemon: PrivateDockerd, image: str) -> DockerSpawner:
    """A container on the private daemon and a spawner whose state points at it."""
    spawner = make_spawner(
        image=image,
        user=unique_user("restart"),
        remove=False,
        client_kwargs={"base_url": daemon.url},
        events_resync_interval=300,
    )
    await daemon.cli(
        "run", "-d", "--network", "none", "--name", spawner.object_name,
        "--label", f"{LABEL_HUB}={TEST_HUB_ID}",
        "--label", f"{LABEL_MANAGED_BY}=aiodockerspawner",
        image,
    )  # fmt: skip
    spawner.load_state({"object_name": spawner.object_name})
    return spawner


async def test_watcher_recovers_after_dockerd_restart(
    dockerd: PrivateDockerd, tiny_image: str
) -> None:
    survivor, lost, later = [await run_server(dockerd, tiny_image) for _ in range(3)]
    assert [await s.poll() for s in (survivor, lost, later)] == [None, None, None]
    watcher = survivor.watcher
    assert watcher is lost.watcher is later.watcher
    assert watcher.connected
    lost_pid = int(await dockerd.cli("inspect", "-f", "{{.State.Pid}}", lost.object_name))

    await dockerd.kill()

    async def stale() -> bool:
        return not watcher.connected

    await wait_for(stale, timeout=5, interval=0.01)
    os.kill(lost_pid, signal.SIGKILL)  # a change no stream reports
    if OUTAGE:
        await asyncio.sleep(OUTAGE)  # a longer outage, to see the backoff (not a synchronisation)
    loop = asyncio.get_running_loop()
    restart_at = loop.time()
    answered_after = await dockerd.start()

    async def connected() -> bool:
        return watcher.connected

    await wait_for(connected, timeout=15, interval=0.01)
    recovered_after = loop.time() - restart_at
    fetches = watcher.stats.fetches
    assert await survivor.poll() is None
    assert await lost.poll() == 137
    assert watcher.stats.fetches == fetches, "poll had to inspect after the resync"

    # the new stream delivers events again
    await dockerd.cli("kill", later.object_name)

    async def later_exited() -> bool:
        return await later.poll() is not None

    await wait_for(later_exited, timeout=2, interval=0.01)
    assert watcher.stats.fetches == fetches
    print(
        f"\nMEASURE dockerd restart: daemon answered {answered_after:.2f}s after the restart "
        f"command, watcher fresh again {recovered_after:.2f}s after it "
        f"({recovered_after - answered_after:.2f}s after the daemon answered); "
        f"outages {[(round(b, 2), round(e or 0, 2)) for b, e in watcher.stats.outages]}"
    )
