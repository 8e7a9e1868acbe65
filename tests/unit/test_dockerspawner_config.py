"""A jupyterhub_config.py written for dockerspawner works by changing spawner_class only.

The configuration below uses dockerspawner's vocabulary throughout: docker-py
keywords, deprecated names, string commands, templates. It is loaded the way
JupyterHub loads a config file and turned into the Engine request body.
"""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest
from traitlets.config import Config, PyFileConfigLoader

from aiodockerspawner.backends.container.body import container_create_body
from tests.helpers import make_spawner

DOCKERSPAWNER_CONFIG = textwrap.dedent(
    """
    c = get_config()  # noqa
    c.JupyterHub.spawner_class = "aiodocker"  # the only line that changed
    c.DockerSpawner.container_image = "quay.io/jupyterhub/singleuser:5"
    c.DockerSpawner.network_name = "jupyterhub"
    c.DockerSpawner.remove_containers = True
    c.DockerSpawner.prefix = "lab"
    c.DockerSpawner.notebook_dir = "/home/jovyan/work"
    c.DockerSpawner.volumes = {"jupyterhub-user-{username}": "/home/jovyan/work"}
    c.DockerSpawner.read_only_volumes = {"/srv/data": "/data"}
    c.DockerSpawner.extra_host_config = {"shm_size": "1G", "cap_drop": ["NET_RAW"]}
    c.DockerSpawner.extra_create_kwargs = {"user": "root", "labels": {"team": "{username}"}}
    c.DockerSpawner.environment = {"GRANT_SUDO": "yes"}
    c.DockerSpawner.cmd = "start-singleuser.sh --ServerApp.log_level=DEBUG"
    c.DockerSpawner.post_start_cmd = "sh -c 'echo ready'"
    c.DockerSpawner.mem_limit = "2G"
    c.DockerSpawner.cpu_limit = 1.5
    c.DockerSpawner.hub_ip_connect = "jupyterhub"
    c.DockerSpawner.use_docker_client_env = True
    c.DockerSpawner.image_whitelist = {"base": "quay.io/jupyterhub/singleuser:5"}
    c.Spawner.default_url = "/lab"
    """
)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    path = tmp_path / "jupyterhub_config.py"
    path.write_text(DOCKERSPAWNER_CONFIG)
    return PyFileConfigLoader(path.name, path=str(path.parent)).load_config()


async def test_dockerspawner_config_becomes_the_same_container(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        spawner = make_spawner(user="ada", config=config, prefix="lab")
    assert spawner.image == "quay.io/jupyterhub/singleuser:5"
    assert spawner.remove is True
    assert spawner.allowed_images == {"base": "quay.io/jupyterhub/singleuser:5"}
    assert spawner.object_name == "lab-ada"
    assert spawner.use_internal_ip is True  # on a user-defined network

    spec = await spawner.build_spec()
    body = container_create_body(spec, image_cmd=None)
    assert body["Image"] == "quay.io/jupyterhub/singleuser:5"
    assert body["Cmd"] == ["start-singleuser.sh", "--ServerApp.log_level=DEBUG"]
    assert body["User"] == "root"
    assert body["Labels"]["team"] == "ada"
    env = dict(item.split("=", 1) for item in body["Env"])
    assert env["GRANT_SUDO"] == "yes"
    assert env["JUPYTERHUB_API_URL"] == "http://jupyterhub:8081/hub/api"
    assert env["JUPYTERHUB_ROOT_DIR"] == "/home/jovyan/work"
    assert env["JUPYTERHUB_DEFAULT_URL"] == "/lab"
    host = body["HostConfig"]
    assert host["NetworkMode"] == "jupyterhub"
    assert "PortBindings" not in host
    assert host["AutoRemove"] is True
    assert host["ShmSize"] == 1024**3
    assert host["CapDrop"] == ["NET_RAW"]
    assert host["Memory"] == 2 * 1024**3
    assert (host["CpuQuota"], host["CpuPeriod"]) == (150000, 100000)
    assert sorted(host["Binds"]) == [
        "/srv/data:/data:ro",
        "jupyterhub-user-ada:/home/jovyan/work:rw",
    ]
    # the deprecated names said so, once each, and nothing crashed
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for old in ("container_image", "remove_containers", "image_whitelist", "hub_ip_connect"):
        assert sum(f"DockerSpawner.{old} is deprecated" in m for m in messages) == 1, messages
