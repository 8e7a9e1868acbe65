"""SwarmSpawner and ServiceBackend against a real single-node swarm (tiny image)."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from aiodockerspawner import SwarmSpawner, SystemUserSwarmSpawner
from aiodockerspawner.errors import DockerOperationError
from tests.conftest import TEST_HUB_ID, TEST_PREFIX
from tests.helpers import docker_cli, make_spawner, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("swarm")]

GiB = 1024**3
MiB = 1024**2


async def services_named(name: str) -> list[str]:
    out = await docker_cli("service", "ls", "-q", "--filter", f"name={name}")
    # the name filter matches prefixes; keep exact matches only
    ids = out.split()
    exact = []
    for service_id in ids:
        if (await service_spec(service_id))["Name"] == name:
            exact.append(service_id)
    return exact


async def service_spec(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(
        await docker_cli("service", "inspect", name, "--format", "{{json .Spec}}")
    )
    return spec


async def task_containers(name: str) -> list[str]:
    out = await docker_cli(
        "ps", "-aq", "--no-trunc", "--filter", f"label=com.docker.swarm.service.name={name}"
    )
    return out.split()


async def http_get(url: str) -> tuple[int, str]:
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as s, s.get(url) as resp:
        return resp.status, await resp.text()


def swarm_spawner(image: str, cls: type[SwarmSpawner] = SwarmSpawner, **traits: Any) -> Any:
    traits.setdefault("use_internal_ip", False)
    traits.setdefault("publish_mode", "host")
    traits.setdefault("stop_grace_period", 0.5)
    return make_spawner(cls, image=image, **traits)


async def test_start_poll_stop(tiny_image: str) -> None:
    spawner = swarm_spawner(tiny_image)
    began = time.monotonic()
    url = await spawner.start()
    started = time.monotonic() - began
    try:
        assert url.startswith("http://127.0.0.1:")
        status, body = await http_get(url + "/")
        assert status == 200 and body
        assert await spawner.poll() is None
        state = spawner.get_state()
        assert state["object_name"] == spawner.object_name
        found = await services_named(spawner.object_name)
        assert len(found) == 1 and state["object_id"].startswith(found[0])
        spec = await service_spec(spawner.object_name)
        assert spec["Labels"]["aiodockerspawner.hub-id"] == TEST_HUB_ID
        assert spec["TaskTemplate"]["RestartPolicy"]["Condition"] == "none"
        env = spec["TaskTemplate"]["ContainerSpec"]["Env"]
        assert f"JUPYTERHUB_API_TOKEN={spawner.api_token}" in env
        containers = await task_containers(spawner.object_name)
        assert len(containers) == 1
        # the spawn page followed the task through swarm's states
        assert spawner._spawn_progress is not None
        said = [e.message for e in spawner._spawn_progress.events]
        mine = [m for m in said if m.startswith(f"Service {spawner.object_name}: task ")]
        assert mine and mine[-1].startswith(f"Service {spawner.object_name}: task running")
        assert len(mine) >= 2, said  # it was seen on its way, not only at the end
        # dockerspawner's get_task(): the running task, as the Engine's JSON
        task = await spawner.get_task()
        assert task is not None and task["Status"]["State"] == "running"
        assert task["ServiceID"] == spawner.service_id
    finally:
        began = time.monotonic()
        await spawner.stop()
        stopped = time.monotonic() - began
    print(f"\nswarm start (tiny image): {started:.2f}s, stop: {stopped:.2f}s")
    # stop returns once the task and its container are gone
    assert await services_named(spawner.object_name) == []
    assert await task_containers(spawner.object_name) == []
    assert spawner.get_state() == {}
    assert await spawner.poll() == 0
    assert await spawner.get_task() is None  # no service, as in dockerspawner


async def test_limits_and_reservations_reach_the_task(tiny_image: str) -> None:
    spawner = swarm_spawner(
        tiny_image,
        mem_limit="96M",
        cpu_limit=0.5,
        mem_guarantee="32M",
        cpu_guarantee=lambda s: 0.25,
        extra_resources_spec={"Limits": {"Pids": 64}},
    )
    await spawner.start()
    try:
        spec = await service_spec(spawner.object_name)
        assert spec["TaskTemplate"]["Resources"] == {
            "Limits": {"NanoCPUs": 500_000_000, "MemoryBytes": 96 * MiB, "Pids": 64},
            "Reservations": {"NanoCPUs": 250_000_000, "MemoryBytes": 32 * MiB},
        }
        (container,) = await task_containers(spawner.object_name)
        applied = await docker_cli(
            "inspect",
            container,
            "--format",
            "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}",
        )
        assert applied.split() == [str(96 * MiB), "500000000", "64"]
    finally:
        await spawner.stop()


async def test_missing_image_fails_fast_with_the_task_error(docker_daemon: None) -> None:
    spawner = swarm_spawner("aiodockerspawner-test/absent:0", start_timeout=60)
    began = time.monotonic()
    with pytest.raises(DockerOperationError) as info:
        await spawner.start()
    elapsed = time.monotonic() - began
    message = info.value.jupyterhub_message  # type: ignore[attr-defined]
    print(f"\nmissing image reported after {elapsed:.2f}s: {message}")
    assert "No such image" in message and "absent" in message
    assert "\n" not in message
    assert elapsed < spawner.start_timeout / 2
    # the failed start removed its service
    assert await services_named(spawner.object_name) == []


async def test_unschedulable_task_reports_why_before_start_timeout(tiny_image: str) -> None:
    spawner = swarm_spawner(
        tiny_image,
        start_timeout=4,
        extra_placement_spec={"constraints": ["node.labels.aiodockerspawner-nowhere==1"]},
    )
    began = time.monotonic()
    with pytest.raises(DockerOperationError) as info:
        await spawner.start()
    elapsed = time.monotonic() - began
    message = info.value.jupyterhub_message  # type: ignore[attr-defined]
    assert "no suitable node" in message
    assert elapsed < spawner.start_timeout
    assert await services_named(spawner.object_name) == []


async def test_cancelled_start_removes_the_service(tiny_image: str) -> None:
    spawner = swarm_spawner(
        tiny_image,
        extra_placement_spec={"constraints": ["node.labels.aiodockerspawner-nowhere==1"]},
    )
    task = asyncio.create_task(spawner.start())

    async def created() -> bool:
        return bool(await services_named(spawner.object_name))

    await wait_for(created)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await services_named(spawner.object_name) == []


async def test_poll_sees_the_server_die(tiny_image: str) -> None:
    spawner = swarm_spawner(tiny_image)
    await spawner.start()
    try:
        (container,) = await task_containers(spawner.object_name)
        await docker_cli("kill", container)

        async def exited() -> int | None:
            return await spawner.poll()

        assert await wait_for(exited) == 137
        # JupyterHub does not call stop() for a server poll found stopped: poll removed it
        assert await services_named(spawner.object_name) == []
    finally:
        await spawner.stop()
    assert await services_named(spawner.object_name) == []


async def test_stop_now_does_not_wait_for_the_grace_period(tiny_image: str) -> None:
    # busybox ignores SIGTERM: only a kill ends it before the grace period
    spawner = swarm_spawner(tiny_image, stop_grace_period=30)
    await spawner.start()
    began = time.monotonic()
    await spawner.stop(now=True)
    elapsed = time.monotonic() - began
    assert elapsed < 10, elapsed
    assert await task_containers(spawner.object_name) == []


async def test_leftover_service_is_replaced(tiny_image: str) -> None:
    spawner = swarm_spawner(tiny_image)
    leftover = (
        await docker_cli(
            "service",
            "create",
            "--detach",
            "-q",
            "--name",
            spawner.object_name,
            "--label",
            f"aiodockerspawner.hub-id={TEST_HUB_ID}",
            tiny_image,
        )
    ).strip()
    url = await spawner.start()
    try:
        assert not spawner.object_id.startswith(leftover[:12]) and leftover
        assert (await http_get(url + "/"))[0] == 200
    finally:
        await spawner.stop()


@pytest.mark.parametrize(
    "labels",
    [
        {"aiodockerspawner.hub-id": f"{TEST_HUB_ID}-other"},  # another Hub's
        {"aiodockerspawner.hub-id": TEST_HUB_ID, "aiodockerspawner.server": "other"},
    ],
    ids=["other-hub", "other-server"],
)
async def test_delete_forever_leaves_a_service_that_is_not_this_servers(
    tiny_image: str, labels: dict[str, str]
) -> None:
    spawner = swarm_spawner(tiny_image, server_name="lab")
    label_args = [a for k, v in labels.items() for a in ("--label", f"{k}={v}")]
    theirs = (
        await docker_cli(
            "service", "create", "--detach", "-q", "--name", spawner.object_name,
            *label_args, tiny_image,
        )
    ).strip()  # fmt: skip
    try:
        await spawner.delete_forever()
        (kept,) = await services_named(spawner.object_name)
        assert theirs.startswith(kept)
    finally:
        await docker_cli("service", "rm", theirs, check=False)


async def test_post_start_cmd_runs_in_the_task(tiny_image: str) -> None:
    spawner = swarm_spawner(tiny_image, post_start_cmd="touch /tmp/post-start-ran")
    await spawner.start()
    try:
        result = await spawner.backend.exec(spawner.object_id, ["ls", "/tmp/post-start-ran"])
        assert result.exit_code == 0, result
    finally:
        await spawner.stop()


async def test_exec_without_a_running_task_fails_clearly(docker_daemon: None) -> None:
    spawner = swarm_spawner("aiodockerspawner-test/tiny:latest")
    with pytest.raises(DockerOperationError, match="no such service"):
        await spawner.backend.exec("aiodockerspawner-no-such-service", "true")


@pytest.fixture
async def overlay(docker_daemon: None) -> AsyncIterator[str]:
    name = f"{TEST_PREFIX}-overlay-{uuid.uuid4().hex[:8]}"
    await docker_cli(
        "network", "create", "--driver", "overlay", "--attachable", "--label",
        f"aiodockerspawner.hub-id={TEST_HUB_ID}", name
    )  # fmt: skip
    try:
        yield name
    finally:
        # services are gone (stop waits for their tasks), so the network can go
        await docker_cli("network", "rm", name)


async def fetch_from_network(network: str, image: str, url: str) -> str:
    return await docker_cli(
        "run", "--rm", "--network", network, "--label",
        f"aiodockerspawner.hub-id={TEST_HUB_ID}", image, "timeout", "10", "wget", "-qO-", url,
    )  # fmt: skip


async def test_overlay_network_task_ip(tiny_image: str, overlay: str) -> None:
    spawner = make_spawner(
        SwarmSpawner, image=tiny_image, network_name=overlay, stop_grace_period=0.5
    )
    assert spawner.use_internal_ip
    url = await spawner.start()
    try:
        host = url.split("//", 1)[1].rsplit(":", 1)[0]
        assert host.count(".") == 3 and not host.startswith("127."), url
        spec = await service_spec(spawner.object_name)
        assert not (spec.get("EndpointSpec") or {}).get("Ports")  # nothing published
        assert "</" in await fetch_from_network(overlay, tiny_image, url + "/")
    finally:
        # swarm waits 2 s for gossip before it stops a task on an overlay; a kill is quicker
        await spawner.stop(now=True)


async def test_overlay_network_service_name_with_dnsrr(tiny_image: str, overlay: str) -> None:
    # a VIP needs IPVS; with DNS round robin the service name resolves to the task
    spawner = make_spawner(
        SwarmSpawner,
        image=tiny_image,
        network_name=overlay,
        use_internal_hostname=True,
        extra_endpoint_spec={"mode": "dnsrr"},
        stop_grace_period=0.5,
    )
    url = await spawner.start()
    try:
        assert url == f"http://{spawner.object_name}:8888"
        assert "</" in await fetch_from_network(overlay, tiny_image, url + "/")
    finally:
        # swarm waits 2 s for gossip before it stops a task on an overlay; a kill is quicker
        await spawner.stop(now=True)


async def test_system_user_swarm_spawner(tiny_image: str, tmp_path: Path) -> None:
    uid, gid = 43210, 43211
    homes = tmp_path / "homes"
    home = homes / "swarmuser"
    home.mkdir(parents=True)
    os.chown(home, uid, gid)
    spawner = swarm_spawner(
        tiny_image,
        cls=SystemUserSwarmSpawner,
        user="swarmuser",
        user_id=uid,
        group_id=gid,
        host_homedir_format_string=f"{homes}/{{username}}",
        # httpd (as a daemon) changes its directory; PID 1 stays where the task started
        cmd=["sh", "-c", "httpd -p 8888 -h /www && exec sleep 86400"],
    )
    url = await spawner.start()
    try:
        assert (await http_get(url + "/"))[0] == 200
        (container,) = await task_containers(spawner.object_name)
        ids = await docker_cli("exec", container, "sh", "-c", "id -u; id -g")
        assert ids.split() == [str(uid), str(gid)]
        status = await docker_cli("exec", container, "cat", "/proc/1/status")
        assert f"Uid:\t{uid}\t" in status and f"Gid:\t{gid}\t" in status
        cwd = await docker_cli("exec", container, "readlink", "/proc/1/cwd")
        assert cwd.strip() == "/home/swarmuser"
        await docker_cli("exec", container, "sh", "-c", "echo hi > $HOME/from-swarm")
        written = home / "from-swarm"
        assert written.read_text() == "hi\n"
        assert (written.stat().st_uid, written.stat().st_gid) == (uid, gid)
    finally:
        await spawner.stop()
