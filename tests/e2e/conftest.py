"""A real JupyterHub (subprocess) with configurable-http-proxy and our spawner."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import TEST_HUB_ID, TEST_PREFIX

HUB_STARTUP_DEADLINE = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningHub:
    url: str
    api_token: str
    log_path: Path
    prefix: str
    workdir: Path

    def api(self, method: str, path: str, **kw: object) -> requests.Response:
        headers = {"Authorization": f"token {self.api_token}"}
        return requests.request(
            method, f"{self.url}/hub/api/{path}", headers=headers, timeout=30, **kw
        )

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


#: a function starting one more Hub: ``start_hub(name, extra_config="")``
HubFactory = Callable[..., RunningHub]


@pytest.fixture(scope="session")
def start_hub(
    tmp_path_factory: pytest.TempPathFactory,
    singleuser_image: str,
    hub_connect_ip: str,
) -> Iterator[HubFactory]:
    """Start real Hubs (subprocesses) on demand; all are stopped at the end of the session.

    ``extra_config`` is appended to the common ``jupyterhub_config.py`` (so it
    wins); the Hub runs in its own directory, which relative paths in it refer
    to. Containers are named ``<TEST_PREFIX>-<name>-...``.
    """
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str = "e2e", extra_config: str = "") -> RunningHub:
        workdir = tmp_path_factory.mktemp(name)
        port = free_port()
        token = os.urandom(16).hex()
        prefix = f"{TEST_PREFIX}-{name}"
        config = workdir / "jupyterhub_config.py"
        config.write_text(
            textwrap.dedent(
                f"""
                c.JupyterHub.spawner_class = "aiodocker"
                c.JupyterHub.authenticator_class = "dummy"
                c.Authenticator.allow_all = True
                c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
                c.JupyterHub.hub_ip = "0.0.0.0"
                c.JupyterHub.hub_port = {free_port()}
                c.JupyterHub.hub_connect_ip = "{hub_connect_ip}"
                c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{free_port()}"
                c.JupyterHub.allow_named_servers = True
                c.JupyterHub.cleanup_servers = True
                c.JupyterHub.db_url = "sqlite:///{workdir}/jupyterhub.sqlite"
                c.JupyterHub.cookie_secret_file = "{workdir}/cookie_secret"
                c.JupyterHub.pid_file = "{workdir}/proxy.pid"
                c.JupyterHub.services = [{{"name": "e2e", "api_token": "{token}"}}]
                c.JupyterHub.load_roles = [{{
                    "name": "e2e",
                    "scopes": ["admin:users", "admin:servers", "tokens", "access:servers", "proxy"],
                    "services": ["e2e"],
                }}]
                c.DockerSpawner.image = "{singleuser_image}"
                c.DockerSpawner.allowed_images = {{"default": "{singleuser_image}"}}
                c.DockerSpawner.remove = True
                c.DockerSpawner.prefix = "{prefix}"
                c.DockerSpawner.hub_id = "{TEST_HUB_ID}"
                c.DockerSpawner.stop_grace_period = 2
                c.Spawner.start_timeout = 120
                c.Spawner.http_timeout = 60
                """
            )
            + textwrap.dedent(extra_config)
        )
        log_path = workdir / "hub.log"
        with log_path.open("w") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "jupyterhub", "-f", str(config), "--debug"],
                cwd=workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        procs.append(proc)
        running = RunningHub(f"http://127.0.0.1:{port}", token, log_path, prefix, workdir)
        deadline = time.monotonic() + HUB_STARTUP_DEADLINE
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterHub exited with {proc.returncode}:\n{running.log_tail()}")
            try:
                if running.api("GET", "").status_code == 200:
                    return running
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail(
                    f"JupyterHub did not answer in {HUB_STARTUP_DEADLINE}s:\n{running.log_tail()}"
                )
            time.sleep(0.25)

    try:
        yield start
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="session")
def hub(start_hub: HubFactory) -> RunningHub:
    """The Hub most end-to-end tests share."""
    return start_hub("e2e")
