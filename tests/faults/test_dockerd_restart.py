"""dockerd restarts under 20 running servers and 5 spawns in flight (a private daemon).

The shared daemon must never be restarted, so this runs on a private dockerd
(tests/privatedockerd.py: its own socket, data root and bridge, live-restore)
whose published ports the userland proxy binds on 127.0.0.1.

- 20 servers run (tiny image, half with ``remove = True``), spawned directly
  against the daemon's socket; their spawners share one client and one events
  watcher, as in a Hub.
- 5 more spawns go through the counting proxy (tests/dockerproxy.py), which
  parks each at a different point: its create before the daemon sees it, its
  create after the daemon made the container, its start before and after the
  daemon ran it, its first inspect after the start.
- The daemon is SIGKILLed (a crash; the containers live on), the 5 parked
  requests are hung up on as a dead daemon would, two of the 20 servers' processes
  are killed while nothing can report it, and a spawn is attempted during the
  outage. Then the daemon is started again.

Afterwards: no spawn is stuck (each of the 5 has ended, with a message that
says Docker is the problem), the spawn during the outage failed at once and
said so, ``poll()`` agrees with ``docker inspect`` for every server, the
survivors answer on their published ports, and new spawns, including the 5
failed users (whose leftover containers are resumed), work within 10 s of the
daemon answering again.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from aiodockerspawner import DockerSpawner
from aiodockerspawner.backends.docker.watch import stop_watchers
from aiodockerspawner.errors import DockerOperationError
from tests.dockerproxy import DockerProxy
from tests.faults.servers import TINY_CMD, serves
from tests.helpers import make_spawner, unique_user, wait_for
from tests.privatedockerd import PrivateDockerd

pytestmark = pytest.mark.docker

RUNNING = 20
#: where each in-flight spawn is parked: (method, path, before or after the daemon acts)
IN_FLIGHT = [
    ("POST", "/containers/create", "request"),
    ("POST", "/containers/create", "response"),
    ("POST", "/containers/[^/]+/start", "request"),
    ("POST", "/containers/[^/]+/start", "response"),
    ("GET", "/containers/[^/]+/json", "request"),
]
NEW_SPAWNS = 5
RECOVERY_LIMIT = 10.0  # seconds from the daemon answering to every new spawn serving


@pytest.fixture
async def daemon(tiny_image: str) -> AsyncIterator[PrivateDockerd]:
    async with PrivateDockerd() as running:
        await running.load_image(tiny_image)
        yield running


def spawner_on(url: str, image: str, *, remove: bool) -> DockerSpawner:
    return make_spawner(
        image=image,
        cmd=TINY_CMD,
        user=unique_user("rst"),
        remove=remove,
        stop_grace_period=1,
        client_kwargs={"base_url": url},
    )


async def truth(daemon: PrivateDockerd, name: str) -> int | None:
    """What ``poll()`` should say, from ``docker inspect`` (0 for a container that is gone)."""
    out = await daemon.cli("inspect", "--format", "{{json .State}}", name, check=False)
    if not out.strip():
        return 0
    state = json.loads(out)
    return None if state["Running"] else int(state["ExitCode"])


async def polls_agree(daemon: PrivateDockerd, spawners: list[DockerSpawner]) -> bool:
    for spawner in spawners:
        if await spawner.poll() != await truth(daemon, spawner.object_name):
            return False
    return True


async def start_served(spawner: DockerSpawner) -> str:
    url = await spawner.start()
    assert await serves(url), f"{spawner.object_name} does not answer at {url}"
    return url


async def test_dockerd_restart_with_servers_running_and_spawns_in_flight(
    daemon: PrivateDockerd, tiny_image: str, tmp_path: Path
) -> None:
    loop = asyncio.get_running_loop()
    async with DockerProxy(tmp_path, upstream=str(daemon.socket)) as proxy:
        try:
            # 20 running servers, one client and one watcher for all of them
            running = [
                spawner_on(daemon.url, tiny_image, remove=i % 2 == 0) for i in range(RUNNING)
            ]
            urls = await asyncio.gather(*(start_served(s) for s in running))
            watcher = running[0].watcher
            assert await watcher.wait_ready(10)
            assert [await s.poll() for s in running] == [None] * RUNNING

            # 5 spawns, each parked at its own point
            in_flight = [spawner_on(proxy.url, tiny_image, remove=False) for _ in IN_FLIGHT]
            holds, tasks = [], []
            for (method, path, when), spawner in zip(IN_FLIGHT, in_flight, strict=True):
                hold = proxy.hold(method, path, when=when)
                tasks.append(asyncio.create_task(spawner.start()))
                await asyncio.wait_for(hold.arrived.wait(), 30)
                holds.append(hold)

            # the crash: the daemon dies with all of that in flight
            victims = [running[0], running[1]]  # remove=True and remove=False
            pids = [
                int(await daemon.cli("inspect", "-f", "{{.State.Pid}}", v.object_name))
                for v in victims
            ]
            await daemon.kill()
            for hold in holds:
                hold.drop()
            for pid in pids:
                os.kill(pid, signal.SIGKILL)  # an exit no events stream can report

            # no spawn is stuck: each ends, and says what is wrong
            _, pending = await asyncio.wait(tasks, timeout=30)
            assert not pending, "a spawn is stuck while the daemon is down"
            outcomes: list[Any] = [t.exception() or t.result() for t in tasks]
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    assert isinstance(outcome, DockerOperationError), repr(outcome)
                    assert outcome.jupyterhub_message.startswith(  # type: ignore[attr-defined]
                        "Could not start your server: Docker is not answering ("
                    ), outcome.jupyterhub_message  # type: ignore[attr-defined]

            # a spawn while the daemon is down fails at once, and says why
            during = spawner_on(daemon.url, tiny_image, remove=True)
            began = loop.time()
            with pytest.raises(DockerOperationError) as info:
                await during.start()
            failed_in = loop.time() - began
            assert failed_in < 2
            assert "Docker is not answering" in info.value.jupyterhub_message  # type: ignore[attr-defined]

            # the daemon comes back
            daemon_took = await daemon.start()
            answered = loop.time()
            failed = [
                s for s, o in zip(in_flight, outcomes, strict=True) if isinstance(o, BaseException)
            ]
            for spawner in in_flight:
                spawner.client_kwargs = {"base_url": daemon.url}
            fresh = [spawner_on(daemon.url, tiny_image, remove=True) for _ in range(NEW_SPAWNS)]
            respawned = await asyncio.wait_for(
                asyncio.gather(*(start_served(s) for s in [*failed, *fresh])), 60
            )
            recovered_in = loop.time() - answered

            async def watcher_fresh() -> bool:
                return watcher.connected

            await wait_for(watcher_fresh, timeout=15, interval=0.05)
            watcher_in = loop.time() - answered

            # poll tells the truth about every server, the killed ones included
            everyone = [*running, *in_flight, *fresh]

            async def agree() -> bool:
                return await polls_agree(daemon, everyone)

            await wait_for(agree, timeout=15, interval=0.2)
            assert await victims[0].poll() == 0  # AutoRemove: gone
            assert await victims[1].poll() == 137
            # Servers that Docker kept running still answer at the URL the Hub has for
            # them: the restored port mapping is the one they had. (Docker before 24.0.8
            # kills and removes every AutoRemove container when the daemon restarts, even
            # with live-restore, moby#46308; poll() then rightly reports them gone.)
            alive = []
            for spawner, url in zip(running, urls, strict=True):
                if spawner not in victims and await truth(daemon, spawner.object_name) is None:
                    port = await daemon.cli("port", spawner.object_name, "8888/tcp")
                    assert port.split()[0].endswith(f":{url.rsplit(':', 1)[1]}"), (url, port)
                    alive.append(url)
            assert all(await asyncio.gather(*(serves(url) for url in alive)))
            kept = [s for s in running if not s.remove and s not in victims]
            assert len(alive) >= len(kept), "a server without AutoRemove did not survive"
            names = (await daemon.cli("ps", "-a", "--format", "{{.Names}}")).split()
            assert len(names) == len(set(names))
            assert len(respawned) == len(failed) + NEW_SPAWNS
            print(
                f"\nMEASURE dockerd restart: {len(failed)}/{len(IN_FLIGHT)} spawns in flight "
                f"failed with a message ({[type(o).__name__ for o in outcomes]}), a spawn during "
                f"the outage failed in {failed_in:.2f}s; the daemon answered {daemon_took:.1f}s "
                f"after its restart, then {len(failed)} respawns and {NEW_SPAWNS} new spawns all "
                f"served in {recovered_in:.1f}s and the events cache was fresh in "
                f"{watcher_in:.1f}s; polls of all {len(everyone)} servers match docker inspect; "
                f"{len(alive)}/{RUNNING - len(victims)} running servers survived the restart"
            )
            assert recovered_in < RECOVERY_LIMIT
        finally:
            await stop_watchers(proxy.url)
            await stop_watchers(daemon.url)
