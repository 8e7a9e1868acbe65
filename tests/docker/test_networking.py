"""Networking against a real daemon: bridge, a user-defined network, the host network, links."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from tests.conftest import TEST_HUB_ID, TEST_PREFIX
from tests.helpers import docker_cli, http_status, make_spawner, unique_user

pytestmark = pytest.mark.docker


async def inspect(name: str, template: str) -> object:
    return json.loads(await docker_cli("inspect", name, "--format", "{{json " + template + "}}"))


async def env_of(name: str) -> dict[str, str]:
    items = await inspect(name, ".Config.Env")
    assert isinstance(items, list)
    return dict(str(item).split("=", 1) for item in items)


@pytest.fixture
async def user_network(docker_daemon: None) -> AsyncIterator[str]:
    name = f"{TEST_PREFIX}-net-{os.getpid()}-{unique_user('n')}"
    await docker_cli("network", "create", "--label", f"aiodockerspawner.hub-id={TEST_HUB_ID}", name)
    try:
        yield name
    finally:
        await docker_cli("network", "rm", name, check=False)


async def test_bridge_publishes_on_host_ip_only(tiny_image: str) -> None:
    spawner = make_spawner(image=tiny_image, remove=True, stop_grace_period=0)
    assert (spawner.network_name, spawner.use_internal_ip) == ("bridge", False)
    url = await spawner.start()
    try:
        bindings = await inspect(spawner.object_name, ".HostConfig.PortBindings")
        assert bindings == {"8888/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}
        published = await inspect(spawner.object_name, '(index .NetworkSettings.Ports "8888/tcp")')
        assert isinstance(published, list)
        assert url == f"http://127.0.0.1:{published[0]['HostPort']}"
        assert await http_status(url + "/") == 200
    finally:
        await spawner.stop()


async def test_user_network_connects_to_the_container_ip(
    tiny_image: str, user_network: str
) -> None:
    spawner = make_spawner(
        image=tiny_image, remove=True, stop_grace_period=0, network_name=user_network
    )
    assert spawner.use_internal_ip is True
    url = await spawner.start()
    try:
        networks = await inspect(spawner.object_name, ".NetworkSettings.Networks")
        assert isinstance(networks, dict) and list(networks) == [user_network]
        ip = networks[user_network]["IPAddress"]
        assert url == f"http://{ip}:8888"
        assert await inspect(spawner.object_name, ".HostConfig.PortBindings") in ({}, None)
        assert await http_status(url + "/") == 200
        # other containers on the network reach the server by its name (Docker DNS)
        fetched = await docker_cli(
            "run",
            "--rm",
            "--label",
            f"aiodockerspawner.hub-id={TEST_HUB_ID}",
            "--network",
            user_network,
            tiny_image,
            "wget",
            "-q",
            "-O",
            "-",
            f"http://{spawner.internal_hostname}:8888/",
        )
        assert "aiodockerspawner" in fetched
    finally:
        await spawner.stop()


async def test_host_network_works_out_of_the_box_for_two_servers(tiny_image: str) -> None:
    # dockerspawner #462: with network_name="host" the create fails (port bindings);
    # and two servers on the host's one 8888 could not both listen
    user = unique_user("host")
    spawners = [
        make_spawner(
            image=tiny_image,
            user=user,
            server_name=name,
            remove=True,
            stop_grace_period=0,
            network_name="host",
            # the tiny image's /bin/serve listens on $PORT, like a server reading
            # JUPYTERHUB_SERVICE_URL would
            cmd=["/bin/serve"],
            environment={"PORT": lambda s: str(s.port)},
        )
        for name in ("", "second")
    ]
    urls = await asyncio.gather(*(s.start() for s in spawners))
    try:
        ports = [urlsplit(u).port for u in urls]
        assert len(set(ports)) == 2 and all(ports)
        for spawner, url, port in zip(spawners, urls, ports, strict=True):
            assert urlsplit(url).hostname == "127.0.0.1"
            assert spawner.port == port
            assert await inspect(spawner.object_name, ".HostConfig.NetworkMode") == "host"
            service_url = (await env_of(spawner.object_name))["JUPYTERHUB_SERVICE_URL"]
            assert urlsplit(service_url).port == port
            assert urlsplit(service_url).hostname == "127.0.0.1"
            assert await http_status(url + "/") == 200
    finally:
        await asyncio.gather(*(s.stop() for s in spawners))
    # the next start picks a fresh port again
    assert [s.port for s in spawners] == [0, 0]


async def test_host_network_resume_keeps_the_port(tiny_image: str) -> None:
    spawner = make_spawner(
        image=tiny_image,
        remove=False,
        stop_grace_period=0,
        network_name="host",
        cmd=["/bin/serve"],
        environment={"PORT": lambda s: str(s.port)},
    )
    first = await spawner.start()
    try:
        await spawner.stop()
        state = spawner.get_state()
        again = make_spawner(
            image=tiny_image,
            user=spawner.user.name,
            remove=False,
            stop_grace_period=0,
            network_name="host",
            cmd=["/bin/serve"],
            environment={"PORT": lambda s: str(s.port)},
        )
        again.load_state(state)
        second = await again.start()
        assert second == first
        assert await http_status(second + "/") == 200
        await again.stop()
    finally:
        await docker_cli("rm", "-f", spawner.object_name, check=False)


async def test_links_reach_the_linked_container(tiny_image: str) -> None:
    target = f"{TEST_PREFIX}-link-{unique_user('t')}"
    await docker_cli(
        "run", "-d", "--name", target, "--label", f"aiodockerspawner.hub-id={TEST_HUB_ID}",
        tiny_image,
    )  # fmt: skip
    spawner = make_spawner(
        image=tiny_image, remove=True, stop_grace_period=0, links={target: "hubalias"}
    )
    try:
        await spawner.start()
        fetched = await docker_cli(
            "exec", spawner.object_name, "wget", "-q", "-O", "-", "http://hubalias:8888/"
        )
        assert "aiodockerspawner" in fetched
    finally:
        await spawner.stop()
        await docker_cli("rm", "-f", target, check=False)
