"""ContainerBackend against a real Docker daemon."""

from __future__ import annotations

import asyncio

import pytest

from aiodockerspawner.backends.container.backend import ContainerBackend
from aiodockerspawner.backends.docker.client import resolve_endpoint, shared_client
from aiodockerspawner.errors import ImageNotAvailable, ObjectExists
from aiodockerspawner.model import AddressPolicy, ObjectSpec
from tests.conftest import TEST_HUB_ID, TEST_PREFIX
from tests.helpers import http_status, unique_user

pytestmark = pytest.mark.docker


@pytest.fixture
async def backend(docker_daemon: None) -> ContainerBackend:
    endpoint = resolve_endpoint(tls_config={}, client_kwargs={}, environ={})
    return ContainerBackend(shared_client(endpoint), docker_host=endpoint.host)


def tiny_spec(image: str, **kw: object) -> ObjectSpec:
    values: dict[str, object] = {
        "name": f"{TEST_PREFIX}-backend-" + unique_user(),
        "image": image,
        "env": {"GREETING": "hello"},
        "command": None,
        "args": [],
        "port": 8888,
        "labels": {"aiodockerspawner.hub-id": TEST_HUB_ID},
    }
    values.update(kw)
    return ObjectSpec(**values)  # type: ignore[arg-type]


async def test_lifecycle(backend: ContainerBackend, tiny_image: str) -> None:
    spec = tiny_spec(tiny_image)
    created = await backend.create(spec, "ifnotpresent")
    assert created.id
    assert created.status.running is False

    seen = await backend.inspect(spec.name)
    assert seen is not None and seen.id == created.id
    assert seen.env["GREETING"] == "hello"
    assert seen.labels["aiodockerspawner.hub-id"] == TEST_HUB_ID

    started = await backend.start(created)
    assert started.status.running
    address = await backend.address(started, AddressPolicy())
    assert address.host == "127.0.0.1"
    assert await http_status(address.url() + "/") == 200

    await backend.stop(spec.name, grace=0)
    stopped = await backend.inspect(spec.name)
    assert stopped is not None and not stopped.status.running
    assert stopped.status.exit_code == 137  # busybox ignores SIGTERM: killed

    await backend.remove(spec.name)
    assert await backend.inspect(spec.name) is None
    # gone is success for both
    await backend.stop(spec.name, grace=0)
    await backend.remove(spec.name)


async def test_name_conflict_is_reported(backend: ContainerBackend, tiny_image: str) -> None:
    spec = tiny_spec(tiny_image)
    await backend.create(spec, "ifnotpresent")
    try:
        with pytest.raises(ObjectExists):
            await backend.create(spec, "ifnotpresent")
    finally:
        await backend.remove(spec.name)


async def test_missing_image_with_never_creates_nothing(backend: ContainerBackend) -> None:
    spec = tiny_spec("aiodockerspawner-test/no-such-image:1")
    with pytest.raises(ImageNotAvailable) as info:
        await backend.create(spec, "never")
    assert "no-such-image" in str(info.value)
    assert await backend.inspect(spec.name) is None


async def test_pull_failure_carries_registry_message(backend: ContainerBackend) -> None:
    # 127.0.0.1:9 refuses connections: the daemon reports the failure in the pull
    spec = tiny_spec("127.0.0.1:9/nothing/here:1")
    with pytest.raises(ImageNotAvailable) as info:
        await backend.create(spec, "ifnotpresent")
    assert "127.0.0.1:9" in str(info.value)
    assert await backend.inspect(spec.name) is None


async def test_args_are_appended_to_image_cmd(backend: ContainerBackend, tiny_image: str) -> None:
    spec = tiny_spec(tiny_image, args=["-v"])
    obj = await backend.create(spec, "ifnotpresent")
    try:
        seen = await backend.inspect(obj.id)
        assert seen is not None
        cmd = seen.raw["Config"]["Cmd"]
        assert cmd[0].endswith("httpd") and cmd[-1] == "-v"
    finally:
        await backend.remove(obj.id)


async def test_exec_collects_output_and_exit_code(
    backend: ContainerBackend, tiny_image: str
) -> None:
    spec = tiny_spec(tiny_image)
    obj = await backend.start(await backend.create(spec, "ifnotpresent"))
    try:
        ok = await backend.exec(obj.id, ["sh", "-c", "echo out; echo err >&2"])
        assert (ok.exit_code, ok.stdout.strip(), ok.stderr.strip()) == (0, "out", "err")
        bad = await backend.exec(obj.id, ["sh", "-c", "exit 3"])
        assert bad.exit_code == 3
    finally:
        await backend.remove(obj.id)


async def test_requests_run_concurrently(backend: ContainerBackend, tiny_image: str) -> None:
    """Ten creates in flight at once all succeed on the one shared client."""
    specs = [tiny_spec(tiny_image) for _ in range(10)]
    try:
        objs = await asyncio.gather(*(backend.create(s, "ifnotpresent") for s in specs))
        assert len({o.id for o in objs}) == 10
    finally:
        await asyncio.gather(*(backend.remove(s.name) for s in specs))
