"""End to end: a real Hub spawns single-user servers as swarm services."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.conftest import SINGLEUSER_IMAGE
from tests.e2e.conftest import HubFactory, RunningHub
from tests.e2e.test_hub import login, server_status, wait_ready, wait_stopped
from tests.swarm.conftest import swarm  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("swarm")]


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


def services(prefix: str) -> list[str]:
    return docker("service", "ls", "--format", "{{.Name}}", "--filter", f"name={prefix}").split()


def task_containers(service: str) -> list[str]:
    return docker("ps", "-aq", "--filter", f"label=com.docker.swarm.service.name={service}").split()


@pytest.fixture(scope="module")
def swarm_hub(start_hub: HubFactory) -> RunningHub:
    # no ingress routing mesh on the test machine (no IPVS): publish on the node
    return start_hub(
        "swarm",
        f"""
        c.JupyterHub.spawner_class = "aiodocker-swarm"
        c.SwarmSpawner.use_internal_ip = False
        c.SwarmSpawner.publish_mode = "host"
        c.SwarmSpawner.mem_limit = "512M"
        c.SwarmSpawner.allowed_images = {{
            "default": "{SINGLEUSER_IMAGE}",
            "missing": "aiodockerspawner-test/absent:0",
        }}
        """,
    )


def test_swarm_server_through_the_proxy(swarm_hub: RunningHub) -> None:
    name = "sally"
    service = f"{swarm_hub.prefix}-{name}"
    session = login(swarm_hub, name)
    began = time.monotonic()
    resp = session.post(f"{swarm_hub.url}/hub/api/users/{name}/server", json={}, timeout=30)
    assert resp.status_code in (201, 202), resp.text
    wait_ready(swarm_hub, name, "")
    print(f"\nswarm spawn of the single-user image, POST to ready: {time.monotonic() - began:.2f}s")

    assert service in services(swarm_hub.prefix)
    spec = json.loads(docker("service", "inspect", service, "--format", "{{json .Spec}}"))
    assert spec["TaskTemplate"]["Resources"]["Limits"]["MemoryBytes"] == 512 * 1024**2
    assert spec["EndpointSpec"]["Ports"][0]["PublishMode"] == "host"
    routes = swarm_hub.api("GET", "proxy").json()
    targets = [r["target"] for key, r in routes.items() if key.endswith(f"/user/{name}/")]
    assert len(targets) == 1 and targets[0].startswith("http://127.0.0.1:"), routes

    status = server_status(swarm_hub, name)
    assert status.status_code == 200, status.text
    assert "kernels" in status.json()

    resp = session.delete(f"{swarm_hub.url}/hub/api/users/{name}/server", timeout=30)
    assert resp.status_code in (202, 204), resp.text
    wait_stopped(swarm_hub, name, "")
    assert service not in services(swarm_hub.prefix)
    assert task_containers(service) == []


def test_swarm_spawn_of_a_missing_image_shows_the_reason(swarm_hub: RunningHub) -> None:
    name = "sam"
    session = login(swarm_hub, name)
    began = time.monotonic()
    resp = session.post(
        f"{swarm_hub.url}/hub/api/users/{name}/servers/broken",
        json={"image": "missing"},
        timeout=60,
    )
    elapsed = time.monotonic() - began
    print(f"\nmissing image on swarm: spawn failed after {elapsed:.2f}s: {resp.text}")
    # a spawn that fails before slow_spawn_timeout fails the request itself, and the
    # spawn page shows its message (the rejected task's own error)
    assert resp.status_code == 500, resp.text
    message = resp.json()["message"]
    assert message.startswith("Could not start your server:"), message
    assert "No such image: aiodockerspawner-test/absent:0" in message
    assert elapsed < 10  # well before start_timeout (120 s)
    assert not [s for s in services(swarm_hub.prefix) if name in s]
    assert "broken" not in swarm_hub.api("GET", f"users/{name}").json()["servers"]
