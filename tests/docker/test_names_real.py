"""A sample of hostile user and server names, created for real on the daemon."""

from __future__ import annotations

import asyncio

import pytest

from aiodockerspawner import SwarmSpawner
from aiodockerspawner.backends.container.backend import ContainerBackend
from aiodockerspawner.backends.docker.client import resolve_endpoint, shared_client
from aiodockerspawner.model import ObjectSpec
from tests.conftest import TEST_HUB_ID
from tests.helpers import docker_cli, make_spawner

pytestmark = pytest.mark.docker

SAMPLE = [
    ("user@email.com", ""),
    ("user--foo", "lab-1"),
    ("UPPER Case", "x"),
    ("../../etc/passwd", ""),
    ("1leading-digit", "2nd"),
    ("名前" * 100, ""),  # 200 characters, 1,200 once escaped
    ("é" * 200, "server-with-a-rather-long-name-of-30"),
    ("tab\tand\nnewline", ""),
]


async def test_sample_names_create_for_real(tiny_image: str) -> None:
    endpoint = resolve_endpoint(tls_config={}, client_kwargs={}, environ={})
    backend = ContainerBackend(shared_client(endpoint), docker_host=endpoint.host)
    created: list[str] = []
    volumes: list[str] = []
    try:
        for user, server in SAMPLE:
            spawner = make_spawner(
                user=user,
                server_name=server,
                volumes={"adst-{username}--{servername}": "/data"},
            )
            spec = ObjectSpec(
                name=spawner.object_name,
                image=tiny_image,
                env={},
                command=None,
                args=[],
                port=8888,
                labels={"aiodockerspawner.hub-id": TEST_HUB_ID},
            )
            obj = await backend.create(spec, "ifnotpresent")
            created.append(obj.id)
            seen = await backend.inspect(spawner.object_name)
            assert seen is not None and seen.id == obj.id
            (volume,) = spawner.volume_binds
            await docker_cli(
                "volume", "create", "--label", f"aiodockerspawner.hub-id={TEST_HUB_ID}", volume
            )
            volumes.append(volume)
        assert len(set(created)) == len(SAMPLE)
    finally:
        await asyncio.gather(*(backend.remove(c) for c in created))
        if volumes:
            await docker_cli("volume", "rm", *volumes)


async def test_sample_service_names_create_for_real(tiny_image: str) -> None:
    names = [
        make_spawner(SwarmSpawner, user=user, server_name=server).object_name
        for user, server in SAMPLE
    ]
    assert len(set(names)) == len(names)
    try:
        for name in names:
            await docker_cli(
                "service",
                "create",
                "--detach",
                "--quiet",
                "--name",
                name,
                "--label",
                f"aiodockerspawner.hub-id={TEST_HUB_ID}",
                "--restart-condition",
                "none",
                tiny_image,
            )
        listed = (await docker_cli("service", "ls", "--format", "{{.Name}}")).split()
        assert set(names) <= set(listed)
    finally:
        await docker_cli("service", "rm", *names, check=False)
