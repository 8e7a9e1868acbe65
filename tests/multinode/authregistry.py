"""A private image registry for the three-node swarm: basic auth (htpasswd), plain HTTP.

Debian's ``docker-registry`` (Distribution 2.8, installed by
scripts/ensure-services) runs on this machine's address on the nodes'
network, so the nodes reach it; their daemons trust that network without TLS
(``--insecure-registry``, scripts/multinode-swarm). The image is pushed from
the manager's daemon with a login kept in a temporary ``DOCKER_CONFIG``, and
the manager's tag is removed again: a node can only get the image by pulling
it with credentials.

The htpasswd line is made with the standard library's ``crypt`` (bcrypt, the
only scheme the registry accepts), which Python 3.13 no longer has: on such
an interpreter the fixture fails and says so.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import TINY_IMAGE
from tests.multinode.conftest import MultiNode

USER = "alice"


@dataclass
class AuthRegistry:
    address: str  #: host:port
    username: str
    password: str
    image: str  #: the private image, pushed under a tag unique to the run
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def bcrypt_line(user: str, password: str) -> str:
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt
    except ImportError:
        pytest.fail("this Python has no crypt module (3.13+): cannot make a bcrypt htpasswd line")
    return f"{user}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))}"


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


@pytest.fixture(scope="module")
def auth_registry(
    multinode_session: MultiNode, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AuthRegistry]:
    swarm = multinode_session
    workdir = tmp_path_factory.mktemp("authregistry")
    password = secrets.token_hex(8)
    (workdir / "htpasswd").write_text(bcrypt_line(USER, password) + "\n")
    address = f"{swarm.gateway}:{free_port(swarm.gateway)}"
    (workdir / "config.yml").write_text(
        f"""version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: {workdir / "data"}
http:
  addr: {address}
auth:
  htpasswd:
    realm: aiodockerspawner-tests
    path: {workdir / "htpasswd"}
"""
    )
    log_path = workdir / "registry.log"
    with log_path.open("w") as log:
        try:
            proc = subprocess.Popen(
                ["docker-registry", "serve", str(workdir / "config.yml")],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        except FileNotFoundError:
            pytest.fail("docker-registry is not installed (scripts/ensure-services installs it)")
    try:
        deadline = time.monotonic() + 15
        while status_of(f"http://{address}/v2/") != 401:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the registry did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        image = f"{address}/adst/private:{secrets.token_hex(4)}"
        env = {**os.environ, "DOCKER_CONFIG": str(workdir / "docker-config")}

        def manager(*args: str, stdin: str | None = None) -> None:
            result = subprocess.run(
                ["docker", "-H", swarm.manager, *args],
                input=stdin,
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
            )
            if result.returncode != 0:
                pytest.fail(f"docker {' '.join(args)}: {result.stderr}")

        manager("tag", TINY_IMAGE, image)
        manager("login", "-u", USER, "--password-stdin", address, stdin=password)
        manager("push", image)
        manager("logout", address)
        manager("rmi", image)
        yield AuthRegistry(address, USER, password, image, log_path)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
