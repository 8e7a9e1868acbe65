"""The deployment examples (examples/compose, examples/swarm-stack), run as an admin would.

The Hub image is built from the example's Dockerfile with the wheel of this
checkout (``dist_dir``), so the examples test the code on the branch. Every
name an example takes from the environment (project, network, hub id,
prefix, published port, image tag) is set per test run, so that several
checkouts can run these tests on one daemon.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jupyterhub
import pytest
import requests

from tests.conftest import ROOT, SINGLEUSER_IMAGE, TEST_HUB_ID, TEST_PREFIX
from tests.e2e.conftest import free_port

EXAMPLES = ROOT / "examples"
BASE_IMAGE = "aiodockerspawner-test/base:bookworm"
HUB_DEADLINE = 120
READY_DEADLINE = 120


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a command; fail the test with its output when it fails."""
    result = subprocess.run(
        list(args),
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        command = " ".join(args)
        pytest.fail(f"{command} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def docker(*args: str) -> str:
    return run("docker", *args)


def compose_command() -> list[str]:
    """The compose plugin when the docker CLI has one, else Debian's docker-compose."""
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if plugin.returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("no Docker Compose: run scripts/ensure-services (its compose step)")


def quietly(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a cleanup command whose failure (nothing left to remove) does not matter."""
    result = subprocess.run(
        list(args),
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout + result.stderr


def labelled(kind: str, hub_id: str) -> list[str]:
    """IDs (containers, volumes, services) labelled with ``hub_id``."""
    label = f"label=aiodockerspawner.hub-id={hub_id}"
    if kind == "container":
        return docker("ps", "-aq", "--no-trunc", "--filter", label).split()
    if kind == "service":
        return docker("service", "ls", "-q", "--filter", label).split()
    return docker(kind, "ls", "-q", "--filter", label).split()


def wait_until(
    check: Callable[[], object], what: str, deadline: float, log: Callable[[], str]
) -> object:
    """Poll ``check`` until it returns something truthy, or fail naming ``what``."""
    end = time.monotonic() + deadline
    last: object = None
    while time.monotonic() < end:
        try:
            value = check()
        except (requests.ConnectionError, requests.Timeout) as e:
            last = e  # not up yet (or restarting)
        else:
            if value:
                return value
            last = value
        time.sleep(0.5)
    pytest.fail(f"{what} within {deadline}s (last: {last!r})\n{log()}")


@dataclass
class Example:
    """One deployment example with this test run's settings."""

    name: str
    workdir: Path
    env: dict[str, str]
    port: int
    hub_id: str
    prefix: str
    password: str
    logs: Callable[[], str] = field(default=lambda: "")
    #: the compose command with its project name (``docker-compose -p NAME``)
    compose: list[str] = field(default_factory=list)

    def run(self, *args: str) -> str:
        """``args`` run in the example's directory with its environment."""
        return run(*args, cwd=self.workdir, env=self.env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_for_hub(self) -> None:
        def answers() -> bool:
            return requests.get(f"{self.url}/hub/api", timeout=5).status_code == 200

        wait_until(answers, "the Hub did not answer through the proxy", HUB_DEADLINE, self.logs)

    def login(self, name: str) -> requests.Session:
        """Log in through the login form, as a browser would."""
        session = requests.Session()
        session.get(f"{self.url}/hub/login", timeout=30).raise_for_status()
        resp = session.post(
            f"{self.url}/hub/login",
            data={"username": name, "password": self.password, "_xsrf": session.cookies["_xsrf"]},
            allow_redirects=False,
            timeout=30,
        )
        assert resp.status_code == 302, resp.text
        session.get(f"{self.url}/hub/home", timeout=30).raise_for_status()
        xsrf = [c.value for c in session.cookies if c.name == "_xsrf"][-1]
        session.headers["X-XSRFToken"] = str(xsrf)
        return session

    def start_server(self, session: requests.Session, name: str) -> str:
        """Start the user's server; return a token of the user's for the proxy."""
        resp = session.post(f"{self.url}/hub/api/users/{name}/server", json={}, timeout=30)
        assert resp.status_code in (201, 202), resp.text
        self.wait_ready(session, name)
        resp = session.post(f"{self.url}/hub/api/users/{name}/tokens", json={}, timeout=30)
        assert resp.status_code == 201, resp.text
        return str(resp.json()["token"])

    def wait_ready(self, session: requests.Session, name: str) -> None:
        def ready() -> bool:
            model = session.get(f"{self.url}/hub/api/users/{name}", timeout=10).json()
            server = model.get("servers", {}).get("")
            return bool(server and server["ready"])

        wait_until(ready, f"{name}'s server was not ready", READY_DEADLINE, self.logs)

    def server_answers(self, name: str, token: str) -> None:
        """The user's server answers through the proxy (retried while routes settle)."""

        def status() -> bool:
            resp = requests.get(
                f"{self.url}/user/{name}/api/status",
                headers={"Authorization": f"token {token}"},
                timeout=10,
            )
            return resp.status_code == 200 and "kernels" in resp.json()

        wait_until(status, f"{name}'s server did not answer through the proxy", 60, self.logs)

    def stop_server(self, session: requests.Session, name: str) -> None:
        resp = session.delete(f"{self.url}/hub/api/users/{name}/server", timeout=30)
        assert resp.status_code in (202, 204), resp.text

        def stopped() -> bool:
            model = session.get(f"{self.url}/hub/api/users/{name}", timeout=10).json()
            return "" not in model.get("servers", {})

        wait_until(stopped, f"{name}'s server did not stop", 60, self.logs)


def container_of(hub_id: str, user: str) -> dict[str, Any]:
    ids = docker(
        "ps",
        "-q",
        "--no-trunc",
        "--filter",
        f"label=aiodockerspawner.hub-id={hub_id}",
        "--filter",
        f"label=aiodockerspawner.user={user}",
    ).split()
    assert len(ids) == 1, f"expected one running container of {user}, found {ids}"
    return dict(json.loads(docker("inspect", ids[0]))[0])


@pytest.fixture(scope="session")
def hub_image(dist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The example Hub image, built from examples/compose with this checkout's wheel.

    Built in a copy of the example (its ``wheels/`` stays out of the checkout)
    and removed at the end of the session.
    """
    docker("image", "inspect", BASE_IMAGE)  # scripts/build-images makes it
    context = tmp_path_factory.mktemp("hub-image") / "compose"
    shutil.copytree(EXAMPLES / "compose", context, ignore=shutil.ignore_patterns("wheels"))
    (wheel,) = dist_dir.glob("aiodockerspawner-*.whl")
    env = {"BASE_IMAGE": BASE_IMAGE, "JUPYTERHUB_VERSION": jupyterhub.__version__}
    run(str(context / "build-wheels"), str(wheel), env=env)
    tag = f"aiodockerspawner-example/hub:{TEST_PREFIX}"
    docker("build", "-q", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}", "-t", tag, str(context))
    try:
        yield tag
    finally:
        subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True, check=False)


def example_settings(kind: str, hub_image: str) -> dict[str, str]:
    """The environment an example reads, for this test run."""
    return {
        "HUB_IMAGE": hub_image,
        "HUB_PORT": str(free_port()),
        "DOCKER_NETWORK_NAME": f"{TEST_PREFIX}-{kind}-net",
        "HUB_ID": f"{TEST_HUB_ID}-{kind}",
        "SPAWNER_PREFIX": f"{TEST_PREFIX}-{kind}",
        "SINGLEUSER_IMAGE": SINGLEUSER_IMAGE,
        "SHARED_PASSWORD": secrets.token_hex(8),
        "BASE_IMAGE": BASE_IMAGE,
    }
