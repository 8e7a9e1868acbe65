"""The common ways a start fails, produced on the real daemon, and what the user reads.

Each message starts with what went wrong in plain words, keeps Docker's own
text (it names the port, path or network), is one line, and the start leaves
no container behind. A daemon that runs out of disk space cannot be made on
demand here; tests/unit/test_failure_messages.py covers its messages and
tests/unit/test_fast_failure.py the fake Engine answering it. A server that
fills its own disk is below.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from tornado import web

from aiodockerspawner import DockerSpawner
from aiodockerspawner.errors import DockerOperationError
from tests.conftest import TEST_PREFIX
from tests.helpers import docker_cli, give_hub_server, hub_wait_up, make_spawner
from tests.registry import REGISTRY, RegistryFront, push_layered_image, require_registry

pytestmark = pytest.mark.docker


async def failed_start(spawner: DockerSpawner) -> str:
    """The message a failed start shows; checks it is one line and nothing is left."""
    with pytest.raises(DockerOperationError) as info:
        await spawner.start()
    message = str(info.value.jupyterhub_message)  # type: ignore[attr-defined]
    assert message.startswith("Could not start your server: "), message
    assert "\n" not in message
    left = await docker_cli("ps", "-aq", "--filter", f"name=^/{spawner.object_name}$")
    assert not left.strip(), f"{spawner.object_name} was left behind"
    return message


@pytest.fixture(scope="module")
async def private_image(tiny_image: str) -> str:
    require_registry()
    return await push_layered_image(
        tiny_image, f"aiodockerspawner-test/{TEST_PREFIX}-private", layers=1, layer_mb=1
    )


@pytest.fixture
async def private_registry() -> AsyncIterator[RegistryFront]:
    async with RegistryFront(credentials=("alice", "s3cret")) as front:
        yield front


async def test_image_not_found(tiny_image: str) -> None:
    require_registry()
    image = f"{REGISTRY}/aiodockerspawner-test/{TEST_PREFIX}-no-such-image:1"
    message = await failed_start(make_spawner(image=image, remove=True))
    assert f"the image {image} was not found (pull image" in message, message
    assert "manifest unknown" in message


async def test_registry_refuses_credentials(
    private_image: str, private_registry: RegistryFront
) -> None:
    image = private_registry.ref(private_image)
    wrong = {private_registry.address: {"username": "alice", "password": "wrong"}}
    message = await failed_start(make_spawner(image=image, registry_credentials=wrong))
    assert f"the registry refused the credentials for image {image}" in message, message
    message = await failed_start(make_spawner(image=image))
    assert "asks for credentials, and none were given" in message, message
    # and the right ones pull it (the front is a faithful registry)
    right = {private_registry.address: {"username": "alice", "password": "s3cret"}}
    spawner = make_spawner(
        image=image, registry_credentials=right, remove=True, stop_grace_period=0
    )
    try:
        await spawner.start()
    finally:
        await spawner.stop()
        await docker_cli("rmi", "-f", image, check=False)


async def test_port_already_allocated_by_a_container(tiny_image: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    holder = make_spawner(
        image=tiny_image,
        remove=True,
        stop_grace_period=0,
        extra_host_config={"port_bindings": {8888: ("127.0.0.1", port)}},
    )
    await holder.start()
    try:
        spawner = make_spawner(
            image=tiny_image,
            remove=True,
            extra_host_config={"port_bindings": {8888: ("127.0.0.1", port)}},
        )
        message = await failed_start(spawner)
    finally:
        await holder.stop()
    assert f"would publish on the Docker host (127.0.0.1:{port}) is already taken" in message
    assert "port is already allocated" in message


async def test_port_taken_by_a_process(tiny_image: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        spawner = make_spawner(
            image=tiny_image,
            remove=True,
            extra_host_config={"port_bindings": {8888: ("127.0.0.1", port)}},
        )
        message = await failed_start(spawner)
    assert f"(127.0.0.1:{port}) is already taken" in message, message
    assert "address already in use" in message


async def test_network_not_found(tiny_image: str) -> None:
    network = f"{TEST_PREFIX}-no-such-network"
    message = await failed_start(make_spawner(image=tiny_image, network_name=network))
    assert f"the Docker network {network} does not exist" in message, message


async def test_volume_driver_missing(tiny_image: str) -> None:
    driver = f"{TEST_PREFIX}-no-such-driver"
    spawner = make_spawner(
        image=tiny_image,
        mounts=[
            {
                "Type": "volume",
                "Source": f"{TEST_PREFIX}-driven-{{username}}",
                "Target": "/data",
                "VolumeOptions": {"DriverConfig": {"Name": driver}},
            }
        ],
    )
    message = await failed_start(spawner)
    assert f"the volume driver {driver} is not installed on the Docker host" in message, message


@pytest.mark.parametrize(
    ("traits", "docker_says"),
    [
        (
            {
                "mounts": [
                    {"type": "bind", "source": "/nonexistent/aiodockerspawner", "target": "/d"}
                ]
            },
            "bind source path does not exist",
        ),
        ({"volumes": {"/tmp": "relative/path"}}, "must be absolute"),
    ],
    ids=["missing-source", "relative-target"],
)
async def test_invalid_mount(tiny_image: str, traits: dict[str, object], docker_says: str) -> None:
    message = await failed_start(make_spawner(image=tiny_image, **traits))
    assert "a volume or mount of your server is misconfigured" in message, message
    assert docker_says in message


async def test_a_server_that_fills_its_disk_says_so(tiny_image: str) -> None:
    """No space left, as the server meets it (a 64 KiB tmpfs): its log tells, at once."""
    script = "dd if=/dev/zero of=/scratch/fill bs=1k count=1024 || exit 28"
    spawner = make_spawner(
        image=tiny_image,
        cmd=["sh", "-c", script],
        remove=True,
        mounts=[{"type": "tmpfs", "target": "/scratch", "tmpfs_size": 64 * 1024}],
    )
    give_hub_server(spawner)
    with pytest.raises(web.HTTPError) as info:
        url = await spawner.start()
        await hub_wait_up(spawner, url, 30)
    await spawner.stop()
    message = str(getattr(info.value, "jupyterhub_message", ""))
    assert "exited with code 28" in message, message
    assert "No space left on device" in message, message
