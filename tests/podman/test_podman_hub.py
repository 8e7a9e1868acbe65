"""One end-to-end spawn through a real Hub with the containers on Podman."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.e2e.conftest import HubFactory
from tests.e2e.test_hub import login, server_status, wait_ready, wait_stopped
from tests.podman.conftest import PODMAN_HOST

pytestmark = [pytest.mark.podman, pytest.mark.e2e]


def podman_ps(*args: str) -> str:
    return subprocess.run(
        ["docker", "-H", PODMAN_HOST, "ps", *args], capture_output=True, text=True, check=True
    ).stdout


def test_spawn_through_a_hub_on_podman(start_hub: HubFactory, podman_host: str) -> None:
    hub = start_hub("podman", f'c.DockerSpawner.client_kwargs = {{"base_url": "{podman_host}"}}\n')
    name = "pat"
    session = login(hub, name)
    began = time.monotonic()
    resp = session.post(f"{hub.url}/hub/api/users/{name}/server", json={}, timeout=30)
    assert resp.status_code in (201, 202), resp.text
    wait_ready(hub, name, "")
    elapsed = time.monotonic() - began
    container = f"{hub.prefix}-{name}"
    listed = podman_ps("--format", "{{.Names}}", "--filter", f"name={container}")
    assert listed.split() == [container]

    status = server_status(hub, name)
    assert status.status_code == 200, status.text
    print(f"\nspawn on Podman, POST to ready: {elapsed:.2f}s")

    resp = session.delete(f"{hub.url}/hub/api/users/{name}/server", timeout=30)
    assert resp.status_code in (202, 204), resp.text
    wait_stopped(hub, name, "")
    listed = podman_ps("-a", "--format", "{{.Names}}", "--filter", f"name={container}")
    assert listed.split() == []
