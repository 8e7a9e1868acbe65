"""GPUs on a real daemon: real DeviceRequests, exclusive ids, discovery from ``docker info``.

There is no GPU here. A private dockerd is started with a stand-in NVIDIA
hook on its PATH (tests/privatedockerd.py, ``stand_in_nvidia_hook``): the
daemon then registers its ``nvidia`` device driver, accepts the spawner's
``DeviceRequests`` and sets ``NVIDIA_VISIBLE_DEVICES`` in the container to
the ids it was asked for, which is what these tests read back. It also
advertises two fake GPUs as generic resources, for discovery.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tornado import web

from aiodockerspawner import DockerSpawner
from aiodockerspawner.labels import LABEL_GPUS
from tests.faults.servers import TINY_CMD
from tests.helpers import make_spawner, unique_user
from tests.privatedockerd import PrivateDockerd, stand_in_nvidia_hook

pytestmark = pytest.mark.docker

FAKE_GPUS = ("GPU-0a1b", "GPU-2c3d")


@pytest.fixture(scope="module")
async def gpu_daemon(
    tiny_image: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[PrivateDockerd]:
    hook_dir = stand_in_nvidia_hook(tmp_path_factory.mktemp("nvidia-hook"))
    args = tuple(f"--node-generic-resource=NVIDIA-GPU={gpu}" for gpu in FAKE_GPUS)
    async with PrivateDockerd(args=args, path=(str(hook_dir),)) as running:
        await running.load_image(tiny_image)
        yield running


def gpu_spawner(daemon: PrivateDockerd, image: str, **kw: Any) -> DockerSpawner:
    kw.setdefault("gpus", 1)
    kw.setdefault("gpu_assignment", "exclusive")
    return make_spawner(
        image=image,
        cmd=TINY_CMD,
        user=unique_user("gpu"),
        remove=True,
        stop_grace_period=1,
        client_kwargs={"base_url": daemon.url},
        **kw,
    )


async def visible_devices(daemon: PrivateDockerd, name: str) -> str:
    """``NVIDIA_VISIBLE_DEVICES`` in the environment of the container's main process.

    The daemon's driver sets it in the OCI spec (not in ``Config.Env``, so
    ``docker exec`` does not see it): read it from /proc on this host.
    """
    pid = (await daemon.cli("inspect", "--format", "{{.State.Pid}}", name)).strip()
    return _environ(int(pid)).get("NVIDIA_VISIBLE_DEVICES", "")


def _environ(pid: int) -> dict[str, str]:
    """A process's environment (procfs: no disk I/O)."""
    entries = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(e.decode().split("=", 1) for e in entries if b"=" in e)


async def inspect(daemon: PrivateDockerd, name: str) -> dict[str, Any]:
    return dict(json.loads(await daemon.cli("inspect", name))[0])


async def test_concurrent_exclusive_starts_get_different_devices_and_a_third_is_refused(
    gpu_daemon: PrivateDockerd, tiny_image: str
) -> None:
    devices = ["GPU-0a1b", "GPU-2c3d"]
    spawners = [gpu_spawner(gpu_daemon, tiny_image, gpu_devices=devices) for _ in range(2)]
    third = gpu_spawner(gpu_daemon, tiny_image, gpu_devices=devices)
    try:
        await asyncio.gather(*(s.start() for s in spawners))
        given = [await visible_devices(gpu_daemon, s.object_name) for s in spawners]
        assert sorted(given) == devices
        for s, ids in zip(spawners, given, strict=True):
            doc = await inspect(gpu_daemon, s.object_name)
            assert doc["Config"]["Labels"][LABEL_GPUS] == ids
            (request,) = doc["HostConfig"]["DeviceRequests"]
            assert request["Driver"] == "nvidia" and request["DeviceIDs"] == [ids]
        with pytest.raises(web.HTTPError) as info:
            await third.start()
        assert info.value.status_code == 503
        assert "No free GPU: this server needs 1 GPU, 0 of 2 are free" in str(
            info.value.log_message
        )
        assert await gpu_daemon.cli("ps", "-aq", "--filter", f"name={third.object_name}") == ""
        # a stopped server's device is free again
        await spawners[0].stop()
        await third.start()
        assert await visible_devices(gpu_daemon, third.object_name) == given[0]
    finally:
        for s in [*spawners, third]:
            await s.stop()


async def test_devices_come_from_the_daemons_generic_resources(
    gpu_daemon: PrivateDockerd, tiny_image: str
) -> None:
    spawner = gpu_spawner(gpu_daemon, tiny_image, gpus=2)
    try:
        await spawner.start()
        assert await visible_devices(gpu_daemon, spawner.object_name) == ",".join(FAKE_GPUS)
    finally:
        await spawner.stop()


async def test_shared_count_and_named_ids_reach_the_driver(
    gpu_daemon: PrivateDockerd, tiny_image: str
) -> None:
    counted = gpu_spawner(gpu_daemon, tiny_image, gpu_assignment="shared", gpus="all")
    named = gpu_spawner(gpu_daemon, tiny_image, gpu_assignment="shared", gpus=["GPU-2c3d"])
    try:
        await counted.start()
        await named.start()
        # the stand-in driver reports "all" for a count of -1, as NVIDIA's does
        assert await visible_devices(gpu_daemon, counted.object_name) == "all"
        assert await visible_devices(gpu_daemon, named.object_name) == "GPU-2c3d"
        assert (await inspect(gpu_daemon, named.object_name))["Config"]["Labels"][
            LABEL_GPUS
        ] == "GPU-2c3d"
    finally:
        await counted.stop()
        await named.stop()


async def test_environment_mode_starts_on_any_daemon(
    docker_daemon: None, tiny_image: str, tmp_path: Path
) -> None:
    # the shared daemon has no nvidia driver: only the environment carries the ids
    spawner = make_spawner(
        image=tiny_image,
        cmd=TINY_CMD,
        user=unique_user("gpuenv"),
        remove=True,
        stop_grace_period=1,
        gpus=1,
        gpu_assignment="exclusive",
        gpu_devices=["3"],
        gpu_request="environment",
    )
    try:
        await spawner.start()
        proc = await asyncio.create_subprocess_exec(
            "docker", "exec", spawner.object_name, "sh", "-c", "echo $NVIDIA_VISIBLE_DEVICES",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await proc.communicate()
        assert out.decode().strip() == "3"
    finally:
        await spawner.stop()
