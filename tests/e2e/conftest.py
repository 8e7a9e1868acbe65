"""A real JupyterHub (subprocess) with configurable-http-proxy and our spawner."""

from __future__ import annotations

import os
import signal
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
    #: the interpreter that runs it (another virtualenv's, e.g. dockerspawner's)
    python: str = sys.executable
    #: extra environment variables, e.g. ``DOCKER_HOST``
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None
    proxy_api_port: int = 0

    @property
    def config_path(self) -> Path:
        return self.workdir / "jupyterhub_config.py"

    def launch(self) -> None:
        """Start the Hub process (again) and wait until its API answers."""
        env = {**os.environ, **(self.env or {})}
        with self.log_path.open("a") as log:
            self.proc = subprocess.Popen(
                [self.python, "-m", "jupyterhub", "-f", str(self.config_path), "--debug"],
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + HUB_STARTUP_DEADLINE
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"JupyterHub exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if self.api("GET", "").status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                self.proc.kill()
                pytest.fail(
                    f"JupyterHub did not answer in {HUB_STARTUP_DEADLINE}s:\n{self.log_tail()}"
                )
            time.sleep(0.25)

    def kill(self) -> None:
        """SIGKILL the Hub, as a crash would: its proxy and servers live on."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        """Stop the Hub as an admin would (SIGTERM), and any proxy it left behind."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._kill_orphaned_proxy()

    def restart(self, *, spawner_class: str | None = None, python: str | None = None) -> None:
        """Start the Hub again in the same directory, on the same database and
        configuration; ``spawner_class`` (the only line changed) and ``python``
        switch to another spawner, e.g. from dockerspawner to this one."""
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        if spawner_class is not None:
            lines = self.config_path.read_text().splitlines()
            lines = [
                f"c.JupyterHub.spawner_class = {spawner_class!r}"
                if line.startswith("c.JupyterHub.spawner_class =")
                else line
                for line in lines
            ]
            self.config_path.write_text("\n".join(lines) + "\n")
        if python is not None:
            self.python = python
        self.launch()

    def _kill_orphaned_proxy(self) -> None:
        """A Hub killed with SIGKILL leaves configurable-http-proxy running."""
        pid_file = self.workdir / "jupyterhub-proxy.pid"
        try:
            pid = int(pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        # only if the pid is still this Hub's proxy (pids are reused)
        if b"configurable-http-proxy" in cmdline and str(self.proxy_api_port).encode() in cmdline:
            os.kill(pid, signal.SIGKILL)
        pid_file.unlink(missing_ok=True)

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
    to. Containers are named ``<TEST_PREFIX>-<name>-...``. ``python`` runs the
    Hub from another virtualenv, ``env`` adds to its environment (e.g.
    ``DOCKER_HOST``). The returned hub can be killed (``kill()``, SIGKILL),
    stopped and restarted on the same directory and database (``restart()``,
    optionally with another spawner class). ``common_config=False`` leaves out
    the common settings (authenticator, Hub addresses, spawner defaults): the
    file is then ``extra_config`` followed by only what the harness needs (its
    ports and files, the service token, the test image, prefix and hub id).
    """
    hubs: list[RunningHub] = []

    def start(
        name: str = "e2e",
        extra_config: str = "",
        *,
        python: str = sys.executable,
        env: dict[str, str] | None = None,
        common_config: bool = True,
    ) -> RunningHub:
        workdir = tmp_path_factory.mktemp(name)
        port = free_port()
        proxy_api_port = free_port()
        token = os.urandom(16).hex()
        prefix = f"{TEST_PREFIX}-{name}"
        # What the harness itself needs: its own ports (Hubs run side by side),
        # files in the Hub's directory, a service token to drive the Hub, the
        # local test image and this test run's names and labels.
        harness = f"""
            c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
            c.JupyterHub.hub_port = {free_port()}
            c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
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
            c.DockerSpawner.prefix = "{prefix}"
            c.DockerSpawner.hub_id = "{TEST_HUB_ID}"
            """
        common = f"""
            c.JupyterHub.spawner_class = "aiodocker"
            c.JupyterHub.authenticator_class = "dummy"
            c.Authenticator.allow_all = True
            c.JupyterHub.hub_ip = "0.0.0.0"
            c.JupyterHub.hub_connect_ip = "{hub_connect_ip}"
            c.JupyterHub.allow_named_servers = True
            c.JupyterHub.cleanup_servers = True
            c.DockerSpawner.allowed_images = {{"default": "{singleuser_image}"}}
            c.DockerSpawner.remove = True
            c.DockerSpawner.stop_grace_period = 2
            c.Spawner.start_timeout = 120
            c.Spawner.http_timeout = 60
            """
        config = workdir / "jupyterhub_config.py"
        if common_config:
            text = textwrap.dedent(common + harness) + textwrap.dedent(extra_config)
        else:
            # the given configuration as it is, then only what the harness needs
            text = textwrap.dedent(extra_config) + "\n# test harness\n" + textwrap.dedent(harness)
        config.write_text(text)
        running = RunningHub(
            f"http://127.0.0.1:{port}",
            token,
            workdir / "hub.log",
            prefix,
            workdir,
            python=python,
            env=env,
            proxy_api_port=proxy_api_port,
        )
        hubs.append(running)
        running.launch()
        return running

    try:
        yield start
    finally:
        for running in hubs:
            running.stop()


@pytest.fixture(scope="session")
def hub(start_hub: HubFactory) -> RunningHub:
    """The Hub most end-to-end tests share."""
    return start_hub("e2e")
