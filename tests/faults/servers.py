"""What the fault tests share: tiny servers that answer under their base URL, and checks.

The tiny image's server (busybox httpd) runs the benchmarks' script
(:data:`benchmarks.hub.TINY_CMD`): it serves ``$JUPYTERHUB_SERVICE_PREFIX``
with a marker page and the ``api`` path that a Hub's readiness check asks
for, so a Hub considers it ready and its proxy reaches it like a real
single-user server.
"""

from __future__ import annotations

import asyncio
import subprocess
import textwrap
import time

import aiohttp
import requests

from benchmarks.hub import READY_MARKER, TINY_CMD
from tests.e2e.conftest import RunningHub

__all__ = ["READY_MARKER", "TINY_CMD"]


async def serves(url: str, *, timeout: float = 10.0) -> bool:
    """True once ``url`` answers with the tiny server's page (retried until ``timeout``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.05
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        while True:
            try:
                async with session.get(url) as resp:
                    if resp.status == 200 and READY_MARKER in await resp.text():
                        return True
            except (aiohttp.ClientError, TimeoutError):
                pass
            if loop.time() > deadline:
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)


# -- a real Hub (tests/e2e/conftest.py) spawning tiny servers -------------------------


def tiny_hub_config(image: str, *, remove: bool, spawner_class: str = "aiodocker") -> str:
    """Configuration appended to the common one of ``start_hub``: tiny servers that
    outlive the Hub (``cleanup_servers = False``, as adoption needs)."""
    return textwrap.dedent(
        f"""
        c.JupyterHub.spawner_class = {spawner_class!r}
        c.JupyterHub.cleanup_servers = False
        c.DockerSpawner.image = {image!r}
        c.DockerSpawner.cmd = {TINY_CMD!r}
        c.DockerSpawner.allowed_images = {{}}
        c.DockerSpawner.remove = {remove!r}
        c.Spawner.start_timeout = 60
        c.Spawner.http_timeout = 30
        """
    )


def server_path(name: str, server: str = "") -> str:
    return f"users/{name}/servers/{server}" if server else f"users/{name}/server"


def create_users(hub: RunningHub, names: list[str]) -> None:
    resp = hub.api("POST", "users", json={"usernames": names})
    assert resp.status_code == 201, resp.text


def request_spawns(hub: RunningHub, servers: list[tuple[str, str]]) -> None:
    for name, server in servers:
        resp = hub.api("POST", server_path(name, server))
        assert resp.status_code in (201, 202), resp.text


def request_stops(hub: RunningHub, servers: list[tuple[str, str]]) -> None:
    for name, server in servers:
        resp = hub.api("DELETE", server_path(name, server))
        assert resp.status_code in (202, 204), resp.text


def server_models(hub: RunningHub) -> dict[tuple[str, str], dict]:
    """Every server the Hub knows, by (user, server name)."""
    resp = hub.api("GET", "users?limit=1000")
    assert resp.status_code == 200, resp.text
    data = resp.json()
    users = data["items"] if isinstance(data, dict) else data
    return {
        (user["name"], server): model
        for user in users
        for server, model in (user.get("servers") or {}).items()
    }


def wait_ready(hub: RunningHub, servers: list[tuple[str, str]], *, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        models = server_models(hub)
        missing = [s for s in servers if not (models.get(s) or {}).get("ready")]
        if not missing:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not ready after {timeout}s: {missing}\n{hub.log_tail()}")
        time.sleep(0.25)


def wait_stopped(hub: RunningHub, servers: list[tuple[str, str]], *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        models = server_models(hub)
        left = [s for s in servers if s in models]
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not stopped after {timeout}s: {left}\n{hub.log_tail()}")
        time.sleep(0.25)


def reachable(hub: RunningHub, name: str, server: str = "", *, timeout: float = 10) -> bool:
    """The server answers through the Hub's proxy with the tiny server's page."""
    url = f"{hub.url}/user/{name}/{server + '/' if server else ''}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            resp = requests.get(url, timeout=5, allow_redirects=False)
            if resp.status_code == 200 and READY_MARKER in resp.text:
                return True
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def containers(prefix: str) -> dict[str, tuple[str, str]]:
    """Containers whose name starts with ``prefix-``: name -> (id, state)."""
    out = subprocess.run(
        [
            "docker", "ps", "-a", "--no-trunc",
            "--filter", f"name=^/{prefix}-",
            "--format", "{{.Names}} {{.ID}} {{.State}}",
        ],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    found = {}
    for line in out.splitlines():
        name, cid, state = line.split()
        found[name] = (cid, state)
    return found


def remove_containers(prefix: str) -> None:
    names = list(containers(prefix))
    if names:
        subprocess.run(["docker", "rm", "-fv", *names], capture_output=True, check=False)


def clean_up(hub: RunningHub, names: list[str]) -> None:
    """Delete the users (which stops their servers), stop the Hub, remove what is left.

    Containers of a dockerspawner Hub carry none of our labels, so they are
    removed by name, as are those that ``remove = False`` keeps.
    """
    try:
        if hub.proc is not None and hub.proc.poll() is None:
            for name in names:
                hub.api("DELETE", f"users/{name}")
    finally:
        hub.stop()
        remove_containers(hub.prefix)
