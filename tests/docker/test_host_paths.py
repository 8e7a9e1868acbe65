"""A user or server name cannot move a templated host path: refused before anything exists.

Each case would bind the parent of the admin's directory (``<base>/..``) if
the name were rendered as it is; the daemon would happily create that
container. The spawn must fail with HTTP 400 naming the setting, and the
daemon must hold nothing of the attempt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tornado import web

from aiodockerspawner import DockerSpawner, SystemUserSpawner
from aiodockerspawner.labels import LABEL_HUB, LABEL_SERVER, LABEL_USER
from tests.conftest import TEST_HUB_ID
from tests.helpers import docker_cli, make_spawner, unique_user

pytestmark = pytest.mark.docker

#: (spawner class, user, server, traits with {base}, the setting the refusal names)
CASES: dict[str, tuple[type[DockerSpawner], str | None, str | None, dict[str, Any], str]] = {
    "mounts-server-name": (
        DockerSpawner,
        None,
        "..",
        {
            "mounts": [
                {
                    "type": "bind",
                    "source": "{base}/{{raw_username}}/{{raw_servername}}",
                    "target": "/data",
                }
            ]
        },
        "DockerSpawner.mounts[0]['source']",
    ),
    "host-config-binds": (
        DockerSpawner,
        "..",
        None,
        {"extra_host_config": {"binds": ["{base}/{{raw_username}}:/data:rw"]}},
        "DockerSpawner.extra_host_config['binds'][0]",
    ),
    "host-config-binds-dict": (
        DockerSpawner,
        "..",
        None,
        {"extra_host_config": {"binds": {"{base}/{{raw_username}}": {"bind": "/data"}}}},
        "DockerSpawner.extra_host_config['binds']",
    ),
    "host-config-engine-mounts": (
        DockerSpawner,
        "..",
        None,
        {
            "extra_host_config": {
                "Mounts": [{"Type": "bind", "Source": "{base}/{{raw_username}}", "Target": "/data"}]
            }
        },
        "DockerSpawner.extra_host_config['Mounts'][0]['Source']",
    ),
    "system-user-home": (
        SystemUserSpawner,
        "..",
        None,
        {
            "host_homedir_format_string": "{base}/{{username}}",
            "image_homedir_format_string": "/home/jovyan",
            "user_id": 1234,
            "group_id": 100,
        },
        "SystemUserSpawner.host_homedir_format_string",
    ),
}


def _fill(value: Any, base: str) -> Any:
    if isinstance(value, str):
        return value.format(base=base)
    if isinstance(value, dict):
        return {_fill(k, base): _fill(v, base) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, base) for v in value]
    return value


async def _containers(user: str, server: str) -> list[str]:
    out = await docker_cli(
        "ps",
        "-aq",
        "--filter",
        f"label={LABEL_HUB}={TEST_HUB_ID}",
        "--filter",
        f"label={LABEL_USER}={user}",
        "--filter",
        f"label={LABEL_SERVER}={server}",
    )
    return out.split()


@pytest.mark.parametrize("case", list(CASES))
async def test_steered_host_path_creates_nothing(
    case: str, tiny_image: str, tmp_path: Path
) -> None:
    cls, user, server, traits, setting = CASES[case]
    user = user or unique_user("hp")
    server = server or unique_user("s")  # keeps each case's objects apart
    (tmp_path / user).mkdir(exist_ok=True)  # so that <base>/<user>/.. resolves
    spawner = make_spawner(
        cls,
        user=user,
        server_name=server,
        image=tiny_image,
        remove=True,
        stop_grace_period=0,
        **_fill(traits, str(tmp_path)),
    )
    try:
        with pytest.raises(web.HTTPError) as info:
            await spawner.start()
        assert info.value.status_code == 400
        message = str(info.value.log_message)
        assert message.startswith(setting), message
        assert "\n" not in message
        assert await _containers(user, server) == []
    finally:
        leftover = await _containers(user, server)
        if leftover:
            await docker_cli("rm", "-fv", *leftover)
