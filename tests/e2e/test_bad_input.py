"""Hostile user options and form data, and what leaks into containers and logs.

Every refusal is an HTTP 400 with a one-line reason, and nothing is created.
"""

from __future__ import annotations

import json
import subprocess

import pytest
import requests

from tests.e2e.conftest import HubFactory, RunningHub
from tests.e2e.test_hub import containers, login, user_token, wait_ready, wait_stopped

pytestmark = pytest.mark.e2e

HOSTILE_OPTIONS = [
    ({"privileged": True}, "'privileged'"),
    ({"extra_host_config": {"Binds": ["/:/host"]}}, "'extra_host_config'"),
    ({"image": ["default"]}, "expected a string"),
    ({"image": {"$ne": 1}}, "expected a string"),
    ({"image": "evil/image:latest"}, "not in the allowed list"),
    ({"image": "default", "volumes": {"/": "/host"}}, "'volumes'"),
]


@pytest.mark.parametrize(("user_options", "reason"), HOSTILE_OPTIONS)
def test_hostile_user_options_are_refused(
    hub: RunningHub, user_options: dict[str, object], reason: str
) -> None:
    name = "mallory-opts"
    resp = hub.api("POST", f"users/{name}/server", json={"user_options": user_options})
    if resp.status_code == 404:  # the user does not exist yet
        hub.api("POST", f"users/{name}").raise_for_status()
        resp = hub.api("POST", f"users/{name}/server", json={"user_options": user_options})
    assert resp.status_code == 400, resp.text
    message = resp.json()["message"]
    assert reason in message
    assert "\n" not in message
    assert not [c for c in containers(hub.prefix) if name in c]
    assert hub.api("GET", f"users/{name}").json()["servers"] == {}


@pytest.mark.parametrize(
    "image_field",
    ["../../etc/passwd", "x" * 10_000, "\x00\x01binary", "evil/image:latest"],
)
def test_garbage_form_data_is_refused(hub: RunningHub, image_field: str) -> None:
    name = "mallory-form"
    session = login(hub, name)
    resp = session.post(
        f"{hub.url}/hub/spawn/{name}",
        data={
            "image": image_field,
            "privileged": "1",
            "junk": "\xff" * 100,
            "_xsrf": session.headers["X-XSRFToken"],
        },
        allow_redirects=False,
        timeout=30,
    )
    assert resp.status_code == 400, resp.text[:500]
    assert "allowed list" in resp.text
    assert not [c for c in containers(hub.prefix) if name in c]


def container_env(name: str) -> dict[str, str]:
    out = subprocess.run(
        ["docker", "inspect", name, "--format", "{{json .Config.Env}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(item.split("=", 1) for item in json.loads(out))


def test_no_hub_environment_leaks_and_no_token_in_logs(
    start_hub: HubFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the Hub subprocess inherits these
    monkeypatch.setenv("HUB_ONLY_SECRET", "s3cr3t-value")
    monkeypatch.setenv("KEEP_ME", "kept-value")
    hub = start_hub("leaks", "c.DockerSpawner.env_keep = ['KEEP_ME']\n")
    name = "carol"
    session = login(hub, name)
    resp = session.post(f"{hub.url}/hub/api/users/{name}/server", json={}, timeout=30)
    assert resp.status_code in (201, 202), resp.text
    wait_ready(hub, name, "")
    container = f"{hub.prefix}-{name}"
    env = container_env(container)
    try:
        assert "HUB_ONLY_SECRET" not in env
        assert "s3cr3t-value" not in env.values()
        assert env["KEEP_ME"] == "kept-value"
        token = env["JUPYTERHUB_API_TOKEN"]
        assert len(token) >= 32
        # the user's server works with its own token through the proxy
        user_tok = user_token(hub, name)
        status = requests.get(
            f"{hub.url}/user/{name}/api/status",
            headers={"Authorization": f"token {user_tok}"},
            timeout=30,
        )
        assert status.status_code == 200
    finally:
        session.delete(f"{hub.url}/hub/api/users/{name}/server", timeout=30)
        wait_stopped(hub, name, "")
    log = hub.log_path.read_text(errors="replace")
    assert "aiodockerspawner" in log  # the log is the Hub's, at debug level
    assert token not in log
