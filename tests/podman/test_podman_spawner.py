"""ContainerBackend and DockerSpawner against Podman's Docker-compatible API."""

from __future__ import annotations

import pytest

from aiodockerspawner.backends.container.backend import ContainerBackend
from aiodockerspawner.backends.docker.client import resolve_endpoint, shared_client
from aiodockerspawner.errors import ImageNotAvailable
from aiodockerspawner.model import AddressPolicy, ObjectSpec
from tests.conftest import TEST_HUB_ID, TEST_PREFIX
from tests.helpers import http_status, make_spawner, unique_user, wait_for
from tests.podman.conftest import podman_cli

pytestmark = pytest.mark.podman


@pytest.fixture
async def backend(podman_host: str) -> ContainerBackend:
    endpoint = resolve_endpoint(tls_config={}, client_kwargs={"base_url": podman_host}, environ={})
    return ContainerBackend(shared_client(endpoint), docker_host=endpoint.host)


async def test_backend_lifecycle(backend: ContainerBackend, tiny_image: str) -> None:
    spec = ObjectSpec(
        name=f"{TEST_PREFIX}-podman-{unique_user()}",
        image=tiny_image,
        env={"GREETING": "hello"},
        command=None,
        args=[],
        port=8888,
        labels={"aiodockerspawner.hub-id": TEST_HUB_ID},
    )
    obj = await backend.create(spec, "ifnotpresent")
    try:
        started = await backend.start(obj)
        address = await backend.address(started, AddressPolicy())
        assert address.host == "127.0.0.1"
        assert await http_status(address.url() + "/") == 200
        result = await backend.exec(obj.id, ["sh", "-c", "echo $GREETING; exit 4"])
        assert (result.exit_code, result.stdout.strip()) == (4, "hello")
        await backend.stop(obj.id, grace=0)
        stopped = await backend.inspect(obj.id)
        assert stopped is not None and not stopped.status.running
    finally:
        await backend.remove(spec.name)
    assert await backend.inspect(spec.name) is None


async def test_missing_image_is_reported(backend: ContainerBackend) -> None:
    spec = ObjectSpec(
        name=f"{TEST_PREFIX}-podman-{unique_user()}",
        image="aiodockerspawner-test/absent:1",
        env={},
        command=None,
        args=[],
        port=8888,
        labels={"aiodockerspawner.hub-id": TEST_HUB_ID},
    )
    with pytest.raises(ImageNotAvailable):
        await backend.create(spec, "never")
    assert await backend.inspect(spec.name) is None


async def test_spawner_resume_and_poll(podman_host: str, tiny_image: str) -> None:
    kw = {"image": tiny_image, "client_kwargs": {"base_url": podman_host}}
    spawner = make_spawner(remove=False, stop_grace_period=0, **kw)
    token = spawner.api_token
    url = await spawner.start()
    assert await http_status(url + "/") == 200
    assert await spawner.poll() is None
    await podman_cli("exec", spawner.object_name, "sh", "-c", "echo kept > /tmp/marker")

    # a kill behind the spawner's back shows in poll (events or inspect)
    await podman_cli("kill", spawner.object_name)

    async def exited() -> bool:
        return await spawner.poll() not in (None, 0)

    await wait_for(exited, timeout=5)

    again = make_spawner(remove=False, user=spawner.user.name, stop_grace_period=0, **kw)
    again.load_state(spawner.get_state())
    try:
        await again.start()
        assert again.object_id == spawner.object_id
        assert again.api_token == token
        marker = await podman_cli("exec", again.object_name, "cat", "/tmp/marker")
        assert marker.strip() == "kept"
    finally:
        again.remove = True
        await again.stop()
    assert (await podman_cli("ps", "-aq", "--filter", f"name={again.object_name}")).strip() == ""


async def test_spawner_remove_true(podman_host: str, tiny_image: str) -> None:
    spawner = make_spawner(
        image=tiny_image,
        remove=True,
        stop_grace_period=0,
        client_kwargs={"base_url": podman_host},
    )
    url = await spawner.start()
    assert await http_status(url + "/") == 200
    await spawner.stop()

    async def gone() -> bool:
        out = await podman_cli("ps", "-aq", "--filter", f"name={spawner.object_name}")
        return out.strip() == ""

    await wait_for(gone, timeout=10)
    assert await spawner.poll() == 0
