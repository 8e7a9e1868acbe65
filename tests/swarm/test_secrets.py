"""Files for a task as swarm secrets (internal SSL), against the real single-node swarm."""

from __future__ import annotations

import dataclasses

import pytest

from aiodockerspawner import SwarmSpawner
from aiodockerspawner.errors import DockerOperationError
from aiodockerspawner.labels import LABEL_SECRET_OF
from tests.conftest import TEST_HUB_ID
from tests.helpers import docker_cli, make_spawner

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("swarm")]

FILES = {"/certs/server.key": b"key\n", "/certs/server.crt": b"crt\n", "/certs/ca.crt": b"ca\n"}


async def secrets_of(service: str) -> list[str]:
    out = await docker_cli(
        "secret",
        "ls",
        "--format",
        "{{.Name}}",
        "--filter",
        f"label={LABEL_SECRET_OF}={service}",
        "--filter",
        f"label=aiodockerspawner.hub-id={TEST_HUB_ID}",
    )
    return sorted(out.split())


async def test_files_reach_the_task_and_go_with_the_service(tiny_image: str) -> None:
    spawner = make_spawner(
        SwarmSpawner, image=tiny_image, stop_grace_period=0.5, cmd=["sleep", "600"]
    )
    backend = spawner.backend
    spec = dataclasses.replace(await spawner.build_spec(), secret_files=FILES)
    obj = await backend.create(spec, "skip")
    try:
        await backend.start(obj)
        assert len(await secrets_of(spec.name)) == 3
        (container,) = (
            await docker_cli(
                "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={spec.name}"
            )
        ).split()
        for path, content in FILES.items():
            assert (await docker_cli("exec", container, "cat", path)).encode() == content
        # read-only for everyone: the server may run as any user
        mode = await docker_cli("exec", container, "stat", "-c", "%a %u", "/certs/server.key")
        assert mode.split() == ["444", "0"]
    finally:
        await backend.stop(obj.id, 0)
        await spawner._service_backend.remove_secrets(spec.name, TEST_HUB_ID)
    assert await secrets_of(spec.name) == []


async def test_a_refused_create_leaves_no_secret(tiny_image: str) -> None:
    spawner = make_spawner(
        SwarmSpawner,
        image=tiny_image,
        # the daemon refuses a service on a network that does not exist
        network_name="adst-no-such-network",
    )
    spec = dataclasses.replace(await spawner.build_spec(), secret_files=FILES)
    with pytest.raises(DockerOperationError) as failed:
        await spawner.backend.create(spec, "skip")
    assert "network adst-no-such-network not found" in str(failed.value)
    assert await secrets_of(spec.name) == []
