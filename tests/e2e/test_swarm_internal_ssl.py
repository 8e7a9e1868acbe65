"""End to end on Swarm with JupyterHub.internal_ssl = True.

A task may run on any node, so the server's key, certificate and CA go with
the service as swarm secrets, mounted read-only at /certs in the task's
container; the Hub and the proxy then reach the server over mutually
authenticated TLS. The secrets are removed with the service.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.conftest import SINGLEUSER_IMAGE, TEST_HUB_ID
from tests.e2e.conftest import HubFactory, RunningHub, free_port
from tests.e2e.test_hub import login, server_status, wait_ready, wait_stopped
from tests.swarm.conftest import swarm  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("swarm")]


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


def secrets_of(service: str) -> list[str]:
    return docker(
        "secret",
        "ls",
        "--format",
        "{{.Name}}",
        "--filter",
        f"label=aiodockerspawner.secret-of={service}",
        "--filter",
        f"label=aiodockerspawner.hub-id={TEST_HUB_ID}",
    ).split()


@pytest.fixture(scope="module")
def swarm_ssl_hub(start_hub: HubFactory, hub_connect_ip: str) -> RunningHub:
    return start_hub(
        "swssl",
        f"""
        c.JupyterHub.spawner_class = "aiodocker-swarm"
        c.JupyterHub.internal_ssl = True
        # servers call the Hub API at hub_connect_ip: it must be in the Hub's certificate
        c.JupyterHub.trusted_alt_names = ["IP:{hub_connect_ip}"]
        c.ConfigurableHTTPProxy.api_url = "https://127.0.0.1:{free_port()}"
        # no routing mesh on the test machine: the port is published on the node,
        # reached at 127.0.0.1, which the server certificate covers (with internal_ssl
        # the default is the service name, which this Hub outside Docker cannot resolve)
        c.SwarmSpawner.use_internal_hostname = False
        c.SwarmSpawner.use_internal_ip = False
        c.SwarmSpawner.publish_mode = "host"
        c.SwarmSpawner.image = "{SINGLEUSER_IMAGE}"
        c.SwarmSpawner.allowed_images = {{"default": "{SINGLEUSER_IMAGE}"}}
        """,
    )


def test_internal_ssl_on_swarm_with_secrets(swarm_ssl_hub: RunningHub) -> None:
    hub, name = swarm_ssl_hub, "sid"
    service = f"{hub.prefix}-{name}"
    session = login(hub, name)
    began = time.monotonic()
    resp = session.post(f"{hub.url}/hub/api/users/{name}/server", json={}, timeout=30)
    assert resp.status_code in (201, 202), resp.text
    wait_ready(hub, name, "")
    print(f"\ninternal_ssl swarm spawn, POST to ready: {time.monotonic() - began:.2f}s")

    # the Hub and the proxy reach the server over TLS
    routes = hub.api("GET", "proxy").json()
    targets = [r["target"] for key, r in routes.items() if key.endswith(f"/user/{name}/")]
    assert len(targets) == 1 and targets[0].startswith("https://127.0.0.1:"), routes
    status = server_status(hub, name)
    assert status.status_code == 200, status.text
    assert "kernels" in status.json()

    # the files are swarm secrets mounted where the server was told to find them
    spec = json.loads(docker("service", "inspect", "-f", "{{json .Spec}}", service))
    container_spec = spec["TaskTemplate"]["ContainerSpec"]
    env = dict(item.split("=", 1) for item in container_spec["Env"])
    paths = sorted(env[f"JUPYTERHUB_SSL_{k}"] for k in ("KEYFILE", "CERTFILE", "CLIENT_CA"))
    mounted = sorted(s["File"]["Name"] for s in container_spec["Secrets"])
    assert mounted == paths and all(p.startswith("/certs/") for p in paths), (mounted, paths)
    assert sorted(s["SecretName"] for s in container_spec["Secrets"]) == sorted(secrets_of(service))
    task_container = docker(
        "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service}"
    ).split()[0]
    certfile = env["JUPYTERHUB_SSL_CERTFILE"]
    assert "BEGIN CERTIFICATE" in docker("exec", task_container, "cat", certfile)

    resp = session.delete(f"{hub.url}/hub/api/users/{name}/server", timeout=30)
    assert resp.status_code in (202, 204), resp.text
    wait_stopped(hub, name, "")
    assert service not in docker("service", "ls", "--format", "{{.Name}}").split()
    assert secrets_of(service) == []
