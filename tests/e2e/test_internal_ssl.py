"""End to end with JupyterHub.internal_ssl = True: certificates reach the container, TLS works.

The Hub, configurable-http-proxy and the single-user server talk to each other
over mutually authenticated TLS; the server's key, certificate and CA are put
into its container by ``move_certs`` (no helper image, no volume). The same
Hub also runs the base Spawner's hooks.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.e2e.conftest import HubFactory, RunningHub, free_port
from tests.e2e.test_hub import containers, login, server_status, wait_ready, wait_stopped

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ssl_hub(start_hub: HubFactory, hub_connect_ip: str) -> RunningHub:
    return start_hub(
        "ssl",
        f"""
        c.JupyterHub.internal_ssl = True
        # servers call the Hub API at hub_connect_ip: it must be in the Hub's certificate
        c.JupyterHub.trusted_alt_names = ["IP:{hub_connect_ip}"]
        c.ConfigurableHTTPProxy.api_url = "https://127.0.0.1:{free_port()}"
        # this Hub runs outside Docker, so it cannot resolve container names (the
        # internal_ssl default): it connects through the published port instead,
        # which the server certificate covers (ssl_alt_names_include_local)
        c.DockerSpawner.use_internal_hostname = False

        def pre_spawn_hook(spawner):
            spawner.environment["FROM_PRE_SPAWN_HOOK"] = spawner.user.name

        def post_stop_hook(spawner):
            with open("post-stop-" + spawner.user.name, "w") as f:
                f.write(spawner.object_name)

        c.Spawner.pre_spawn_hook = pre_spawn_hook
        c.Spawner.post_stop_hook = post_stop_hook
        """,
    )


def docker_exec(container: str, *cmd: str) -> str:
    return subprocess.run(
        ["docker", "exec", container, *cmd], capture_output=True, text=True, check=True
    ).stdout


def test_internal_ssl_server_is_ready_and_answers_through_the_proxy(ssl_hub: RunningHub) -> None:
    name = "tess"
    session = login(ssl_hub, name)
    began = time.monotonic()
    resp = session.post(f"{ssl_hub.url}/hub/api/users/{name}/server", json={}, timeout=30)
    assert resp.status_code in (201, 202), resp.text
    model = wait_ready(ssl_hub, name, "")
    print(f"\ninternal_ssl spawn, POST to ready: {time.monotonic() - began:.2f}s")
    container = f"{ssl_hub.prefix}-{name}"
    assert container in containers(ssl_hub.prefix)

    # the Hub and the proxy reach the server over TLS
    routes = ssl_hub.api("GET", "proxy").json()
    targets = [r["target"] for spec, r in routes.items() if spec.endswith(f"/user/{name}/")]
    assert len(targets) == 1 and targets[0].startswith("https://127.0.0.1:"), routes

    # the certificates are in the container, where the server was told to find them
    env = dict(
        line.split("=", 1) for line in docker_exec(container, "env").splitlines() if "=" in line
    )
    ssl_files = [env[f"JUPYTERHUB_SSL_{k}"] for k in ("KEYFILE", "CERTFILE", "CLIENT_CA")]
    assert all(path.startswith("/certs/") for path in ssl_files), ssl_files
    listing = docker_exec(container, "ls", "/certs").split()
    assert sorted(listing) == sorted(path.rsplit("/", 1)[1] for path in ssl_files)
    assert "BEGIN CERTIFICATE" in docker_exec(container, "cat", ssl_files[1])
    assert env["JUPYTERHUB_SERVICE_URL"].startswith("https://")
    assert env["FROM_PRE_SPAWN_HOOK"] == name

    status = server_status(ssl_hub, name)
    assert status.status_code == 200, status.text
    assert "kernels" in status.json()
    assert model["url"] == f"/user/{name}/"

    resp = session.delete(f"{ssl_hub.url}/hub/api/users/{name}/server", timeout=30)
    assert resp.status_code in (202, 204), resp.text
    wait_stopped(ssl_hub, name, "")
    assert container not in containers(ssl_hub.prefix)
    assert (ssl_hub.workdir / f"post-stop-{name}").read_text() == container
