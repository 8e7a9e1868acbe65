"""End to end: a real Hub spawns real single-user servers through aiodockerspawner."""

from __future__ import annotations

import subprocess
import time

import pytest
import requests

from tests.e2e.conftest import RunningHub

pytestmark = pytest.mark.e2e

READY_DEADLINE = 120


def login(hub: RunningHub, name: str) -> requests.Session:
    """Log in through the login form, as a browser would (DummyAuthenticator)."""
    session = requests.Session()
    session.get(f"{hub.url}/hub/login", timeout=30).raise_for_status()
    xsrf = session.cookies.get("_xsrf")
    resp = session.post(
        f"{hub.url}/hub/login",
        data={"username": name, "password": "any", "_xsrf": xsrf},
        allow_redirects=False,
        timeout=30,
    )
    assert resp.status_code == 302, resp.text
    assert "jupyterhub-session-id" in session.cookies
    # logging in issues a new xsrf token; the API wants the current one
    session.get(f"{hub.url}/hub/home", timeout=30).raise_for_status()
    current = [c.value for c in session.cookies if c.name == "_xsrf"][-1]
    session.headers["X-XSRFToken"] = str(current)
    return session


def wait_ready(hub: RunningHub, name: str, server: str) -> dict:
    deadline = time.monotonic() + READY_DEADLINE
    while time.monotonic() < deadline:
        model = hub.api("GET", f"users/{name}").json()
        spawner = model["servers"].get(server)
        if spawner and spawner["ready"]:
            return spawner
        if not model.get("pending") and not spawner:
            pytest.fail(f"spawn of {name}/{server} ended without a server:\n{hub.log_tail()}")
        time.sleep(0.25)
    pytest.fail(f"{name}/{server} not ready in {READY_DEADLINE}s:\n{hub.log_tail()}")


def wait_stopped(hub: RunningHub, name: str, server: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        model = hub.api("GET", f"users/{name}").json()
        if server not in model["servers"]:
            return
        time.sleep(0.25)
    pytest.fail(f"{name}/{server} did not stop:\n{hub.log_tail()}")


def containers(prefix: str) -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-a", "--format", "{{.Names}}", "--filter", f"name=^/{prefix}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def user_token(hub: RunningHub, name: str) -> str:
    resp = hub.api("POST", f"users/{name}/tokens", json={"note": "e2e"})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["token"])


def server_status(hub: RunningHub, name: str, server: str = "") -> requests.Response:
    """GET the server's /api/status through the proxy, with a token of the user's."""
    token = user_token(hub, name)
    path = f"{server}/" if server else ""
    return requests.get(
        f"{hub.url}/user/{name}/{path}api/status",
        headers={"Authorization": f"token {token}"},
        timeout=30,
    )


def spawn_and_check(hub: RunningHub, name: str, server: str) -> float:
    session = login(hub, name)
    path = f"users/{name}/servers/{server}" if server else f"users/{name}/server"
    began = time.monotonic()
    resp = session.post(f"{hub.url}/hub/api/{path}", json={}, timeout=30)
    assert resp.status_code in (201, 202), resp.text
    wait_ready(hub, name, server)
    elapsed = time.monotonic() - began

    container = f"{hub.prefix}-{name}" + (f"--{server}" if server else "")
    assert container in containers(hub.prefix)

    status = server_status(hub, name, server)
    assert status.status_code == 200, status.text
    assert "kernels" in status.json()

    resp = session.delete(f"{hub.url}/hub/api/{path}", timeout=30)
    assert resp.status_code in (202, 204), resp.text
    wait_stopped(hub, name, server)
    assert container not in containers(hub.prefix)
    return elapsed


def test_default_server(hub: RunningHub) -> None:
    elapsed = spawn_and_check(hub, "alice", "")
    print(f"\nspawn of the single-user image, POST to ready: {elapsed:.2f}s")


def test_named_server(hub: RunningHub) -> None:
    spawn_and_check(hub, "bob", "lab1")


def test_image_not_allowed_is_400_and_starts_nothing(hub: RunningHub) -> None:
    session = login(hub, "mallory")
    resp = session.post(
        f"{hub.url}/hub/api/users/mallory/server",
        json={"image": "evil/image:latest"},
        timeout=30,
    )
    assert resp.status_code == 400, resp.text
    assert "evil/image" in resp.json()["message"]
    assert not [c for c in containers(hub.prefix) if "mallory" in c]
    model = hub.api("GET", "users/mallory").json()
    assert model["servers"] == {}
