"""End to end: a real Hub runs a system user's server as that user, in their home.

A throw-away account with a home directory is created on this machine
(``useradd``; removed with its home afterwards). The Hub finds its uid, gid
and home through NSS; inside the container, the server process must run with
that uid and gid in the bind-mounted home, and what it writes there must
appear on the host, owned by the user.
"""

from __future__ import annotations

import os
import pwd
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import TEST_PREFIX
from tests.e2e.conftest import HubFactory, RunningHub
from tests.e2e.test_hub import containers, login, user_token, wait_ready, wait_stopped

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def system_user() -> Iterator[pwd.struct_passwd]:
    base = re.sub(r"[^a-z0-9]", "", TEST_PREFIX.lower()) or "adst"
    name = f"{base}su{os.getpid() % 100000}"[:30]
    created = subprocess.run(
        ["useradd", "--create-home", "--shell", "/bin/sh", name], capture_output=True, text=True
    )
    if created.returncode != 0:
        pytest.fail(f"useradd {name} failed (the e2e tests run as root): {created.stderr}")
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", "--remove", name], capture_output=True, check=False)


@pytest.fixture(scope="module")
def system_user_hub(start_hub: HubFactory, system_user: pwd.struct_passwd) -> RunningHub:
    return start_hub(
        "sysuser",
        """
        c.JupyterHub.spawner_class = "aiodocker-system-user"
        # empty: the home directory of the user's system account (found through NSS)
        c.SystemUserSpawner.host_homedir_format_string = ""
        """,
    )


def docker_exec(container: str, *cmd: str) -> str:
    return subprocess.run(
        ["docker", "exec", container, *cmd], capture_output=True, text=True, check=True
    ).stdout


def test_server_runs_as_the_system_user_in_their_home(
    system_user_hub: RunningHub, system_user: pwd.struct_passwd
) -> None:
    hub = system_user_hub
    name = system_user.pw_name
    home = Path(system_user.pw_dir)
    (home / "from-the-host.txt").write_text("host side\n")

    session = login(hub, name)
    resp = session.post(f"{hub.url}/hub/api/users/{name}/server", json={}, timeout=30)
    assert resp.status_code in (201, 202), resp.text
    wait_ready(hub, name, "")
    container = f"{hub.prefix}-{name}"
    assert container in containers(hub.prefix)

    # the server process (PID 1) runs as the account, in the home inside the container
    status = docker_exec(container, "cat", "/proc/1/status")
    assert re.search(rf"^Uid:\s+{system_user.pw_uid}\s", status, re.M), status
    assert re.search(rf"^Gid:\s+{system_user.pw_gid}\s", status, re.M), status
    assert docker_exec(container, "readlink", "/proc/1/cwd").strip() == f"/home/{name}"
    assert docker_exec(container, "id", "-u").strip() == str(system_user.pw_uid)
    env = docker_exec(container, "env")
    for line in (
        f"NB_USER={name}",
        f"NB_UID={system_user.pw_uid}",
        f"NB_GID={system_user.pw_gid}",
        f"HOME=/home/{name}",
    ):
        assert line in env.splitlines(), env
    # ... and that home is the host's directory, bind-mounted
    assert docker_exec(container, "cat", f"/home/{name}/from-the-host.txt") == "host side\n"

    # the server writes a file through its own API; it lands on the host, owned by the user
    token = user_token(hub, name)
    resp = requests.put(
        f"{hub.url}/user/{name}/api/contents/written-by-the-server.txt",
        headers={"Authorization": f"token {token}"},
        json={"type": "file", "format": "text", "content": "hello from the container\n"},
        timeout=30,
    )
    assert resp.status_code in (200, 201), resp.text
    written = home / "written-by-the-server.txt"
    assert written.read_text() == "hello from the container\n"
    info = written.stat()
    assert (info.st_uid, info.st_gid) == (system_user.pw_uid, system_user.pw_gid)

    resp = session.delete(f"{hub.url}/hub/api/users/{name}/server", timeout=30)
    assert resp.status_code in (202, 204), resp.text
    wait_stopped(hub, name, "")
    assert container not in containers(hub.prefix)
