"""Exclusive GPUs through a real Hub: held device ids survive a Hub SIGKILL and restart.

The Hub (tests/e2e/conftest.py) talks to a private dockerd that has a
stand-in NVIDIA hook on its PATH (tests/privatedockerd.py), so the
containers get real ``DeviceRequests`` for two fake GPUs. The ids a server
holds are kept only in its container's label: after the Hub is killed with
SIGKILL and started again on its database, a new spawn must still find both
devices taken (HTTP 503), and get the one a stopped server gave back.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aiodockerspawner.labels import LABEL_GPUS
from tests.e2e.conftest import HubFactory, RunningHub
from tests.faults.servers import server_path, tiny_hub_config, wait_ready, wait_stopped
from tests.privatedockerd import PrivateDockerd, stand_in_nvidia_hook

pytestmark = pytest.mark.e2e

DEVICES = ["GPU-aaaa", "GPU-bbbb"]


@pytest.fixture
async def gpu_daemon(
    tiny_image: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[PrivateDockerd]:
    hook_dir = stand_in_nvidia_hook(tmp_path_factory.mktemp("nvidia-hook"))
    async with PrivateDockerd(path=(str(hook_dir),)) as running:
        await running.load_image(tiny_image)
        yield running


def gpu_config(image: str) -> str:
    return tiny_hub_config(image, remove=True) + (
        "c.DockerSpawner.gpus = 1\n"
        'c.DockerSpawner.gpu_assignment = "exclusive"\n'
        f"c.DockerSpawner.gpu_devices = {DEVICES!r}\n"
    )


def spawn(hub: RunningHub, name: str) -> Any:
    hub.api("POST", f"users/{name}")
    return hub.api("POST", server_path(name))


async def held(daemon: PrivateDockerd, prefix: str) -> dict[str, str]:
    """Container name -> the GPU ids in its label, for the Hub's live containers."""
    names = (await daemon.cli("ps", "--format", "{{.Names}}")).split()
    found = {}
    for name in names:
        if name.startswith(prefix):
            labels = json.loads(
                await daemon.cli("inspect", "--format", "{{json .Config.Labels}}", name)
            )
            found[name] = labels.get(LABEL_GPUS, "")
    return found


async def test_held_gpus_survive_a_hub_sigkill(
    gpu_daemon: PrivateDockerd, start_hub: HubFactory, tiny_image: str
) -> None:
    hub = await asyncio.to_thread(
        start_hub, "gpu-sigkill", gpu_config(tiny_image), env={"DOCKER_HOST": gpu_daemon.url}
    )
    try:
        for name in ("ga", "gb"):
            resp = await asyncio.to_thread(spawn, hub, name)
            assert resp.status_code in (201, 202), resp.text
        await asyncio.to_thread(wait_ready, hub, [("ga", ""), ("gb", "")])
        before = await held(gpu_daemon, hub.prefix)
        assert sorted(before.values()) == DEVICES, before

        refused = await asyncio.to_thread(spawn, hub, "gc")
        assert refused.status_code == 503, refused.text
        assert "No free GPU" in refused.json()["message"]

        await asyncio.to_thread(hub.kill)
        began = time.monotonic()
        await asyncio.to_thread(hub.restart)
        await asyncio.to_thread(wait_ready, hub, [("ga", ""), ("gb", "")], timeout=60)
        took = time.monotonic() - began
        print(f"\nMEASURE hub SIGKILL with GPUs held: restarted and adopted in {took:.1f}s")
        assert await held(gpu_daemon, hub.prefix) == before, "a server was recreated"

        # the restarted Hub knows both devices are held: from the labels alone
        again = await asyncio.to_thread(spawn, hub, "gc")
        assert again.status_code == 503, again.text
        assert "0 of 2 are free" in again.json()["message"]

        freed = before[f"{hub.prefix}-ga"]
        await asyncio.to_thread(hub.api, "DELETE", server_path("ga"))
        await asyncio.to_thread(wait_stopped, hub, [("ga", "")])
        resp = await asyncio.to_thread(spawn, hub, "gc")
        assert resp.status_code in (201, 202), resp.text
        await asyncio.to_thread(wait_ready, hub, [("gc", "")])
        assert (await held(gpu_daemon, hub.prefix))[f"{hub.prefix}-gc"] == freed
    finally:
        if hub.proc is not None and hub.proc.poll() is None:
            for name in ("ga", "gb", "gc"):
                await asyncio.to_thread(hub.api, "DELETE", f"users/{name}")
        await asyncio.to_thread(hub.stop)
