"""``spawner.docker(method, ...)``: docker-py's low-level API on the real daemon.

Each test calls the docker-py method names dockerspawner subclasses use and
checks the answer against the daemon itself (the docker CLI) and docker-py's
return shapes. Containers are labelled with this run's hub id and removed.
"""

from __future__ import annotations

import asyncio
import io
import sys
import tarfile
import types
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aiodockerspawner import DockerSpawner, dockerpy
from tests.conftest import TEST_HUB_ID, TEST_PREFIX
from tests.helpers import docker_cli, http_status, make_spawner, unique_user, wait_for

pytestmark = pytest.mark.docker

LABELS = {"aiodockerspawner.hub-id": TEST_HUB_ID}


def tar_of(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
async def spawner(tiny_image: str) -> DockerSpawner:
    return make_spawner(image=tiny_image)


@pytest.fixture
async def container(spawner: DockerSpawner, tiny_image: str) -> AsyncIterator[str]:
    """A running tiny container made through docker("create_container")."""
    name = f"{TEST_PREFIX}-dockerpy-{unique_user()}"
    created = await spawner.docker(
        "create_container",
        tiny_image,
        command="sh -c 'echo to-stdout; echo to-stderr >&2; exec sleep 300'",
        name=name,
        labels=LABELS,
        environment={"GREETING": "hello"},
        host_config={"AutoRemove": False, "CpuPeriod": 100_000, "CpuQuota": 50_000},
    )
    assert set(created) == {"Id", "Warnings"}
    try:
        assert await spawner.docker("start", created["Id"]) is None
        yield created["Id"]
    finally:
        await docker_cli("rm", "-fv", created["Id"], check=False)


async def test_create_start_inspect_logs_shapes(spawner: DockerSpawner, container: str) -> None:
    info = await spawner.docker("inspect_container", container)
    assert info["Id"] == container
    assert "GREETING=hello" in info["Config"]["Env"]
    assert info["HostConfig"]["CpuQuota"] == 50_000
    assert info["Config"]["Labels"]["aiodockerspawner.hub-id"] == TEST_HUB_ID

    async def both_lines() -> bytes:
        logs: bytes = await spawner.docker("logs", container)
        return logs if b"to-stderr" in logs else b""

    logs = await wait_for(both_lines, timeout=10)
    # docker-py joins the demultiplexed frames: no 8-byte frame headers in the bytes
    assert sorted(logs.splitlines()) == [b"to-stderr", b"to-stdout"]
    assert await spawner.docker("logs", container, stderr=False) == b"to-stdout\n"
    # a future, as dockerspawner returned: asyncio.wrap_future accepts it
    again = await asyncio.wrap_future(spawner.docker("inspect_container", {"Id": container}))
    assert again["Id"] == container


async def test_put_and_get_archive_and_exec(spawner: DockerSpawner, container: str) -> None:
    ok = await spawner.docker("put_archive", container, "/tmp", tar_of("note.txt", b"from hub\n"))
    assert ok is True
    assert await docker_cli("exec", container, "cat", "/tmp/note.txt") == "from hub\n"

    chunks, stat = await spawner.docker("get_archive", container, "/tmp/note.txt")
    assert stat["name"] == "note.txt" and stat["size"] == 9
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        member = tar.extractfile("note.txt")
        assert member is not None and member.read() == b"from hub\n"

    command = "sh -c 'echo out; echo err >&2; exit 3'"
    exec_id = await spawner.docker("exec_create", container, command)
    assert set(exec_id) == {"Id"}
    out, err = await spawner.docker("exec_start", exec_id, demux=True)
    assert (out, err) == (b"out\n", b"err\n")
    assert (await spawner.docker("exec_inspect", exec_id))["ExitCode"] == 3


async def test_list_stop_wait_kill_remove(spawner: DockerSpawner, container: str) -> None:
    label = f"aiodockerspawner.hub-id={TEST_HUB_ID}"
    running = await spawner.docker("containers", filters={"label": label, "id": container})
    assert [c["Id"] for c in running] == [container]
    assert await spawner.docker("containers", quiet=True, filters={"id": container}) == [
        {"Id": container}
    ]
    short = await spawner.docker("containers", trunc=True, filters={"id": container})
    assert [c["Id"] for c in short] == [container[:12]]

    assert await spawner.docker("stop", container, timeout=0) is None
    # docker-py's containers() lists running containers only, unless all=True
    assert await spawner.docker("containers", filters={"id": container}) == []
    stopped = await spawner.docker("containers", all=True, filters={"id": container})
    assert [c["State"] for c in stopped] == ["exited"]
    waited = await spawner.docker("wait", container)
    assert waited["StatusCode"] == 137

    assert await spawner.docker("start", container) is None
    assert await spawner.docker("kill", container, signal="SIGKILL") is None
    assert (await spawner.docker("wait", container))["StatusCode"] == 137
    assert await spawner.docker("remove_container", container, v=True) is None
    assert await docker_cli("ps", "-aq", "--filter", f"id={container}") == ""


async def test_errors_are_docker_py_shaped(spawner: DockerSpawner) -> None:
    with pytest.raises(dockerpy.NotFound) as missing:
        await spawner.docker("inspect_container", f"{TEST_PREFIX}-no-such-container")
    assert missing.value.status_code == 404
    assert "No such container" in str(missing.value.explanation)
    assert not isinstance(missing.value, dockerpy.ImageNotFound)

    with pytest.raises(dockerpy.ImageNotFound):
        await spawner.docker("inspect_image", "aiodockerspawner-test/no-such-image:nope")
    with pytest.raises(dockerpy.ImageNotFound):
        await spawner.docker("remove_image", "aiodockerspawner-test/no-such-image:nope")

    with pytest.raises(dockerpy.APIError) as invalid:
        await spawner.docker("create_container", spawner.image, name="not a valid name!")
    assert invalid.value.status_code == 400
    assert not isinstance(invalid.value, dockerpy.NotFound)

    with pytest.raises(dockerpy.UnsupportedMethod, match="'attach_socket'"):
        spawner.docker("attach_socket", "x")


async def test_errors_are_docker_py_classes_when_docker_py_is_loaded(
    spawner: DockerSpawner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Code written against dockerspawner catches ``docker.errors.NotFound``."""
    fake = types.ModuleType("docker.errors")

    class DockerException(Exception):
        pass

    class APIError(DockerException):
        def __init__(self, message: Any, response: Any = None, explanation: Any = None) -> None:
            super().__init__(message)

    class NotFound(APIError):
        pass

    class ImageNotFound(NotFound):
        pass

    for cls in (DockerException, APIError, NotFound, ImageNotFound):
        setattr(fake, cls.__name__, cls)
    monkeypatch.setitem(sys.modules, "docker.errors", fake)
    with pytest.raises(NotFound) as caught:
        await spawner.docker("inspect_container", f"{TEST_PREFIX}-no-such-container")
    assert isinstance(caught.value, dockerpy.NotFound)
    assert caught.value.status_code == 404  # type: ignore[attr-defined]


async def test_images_tag_and_remove(spawner: DockerSpawner, tiny_image: str) -> None:
    repository = f"aiodockerspawner-test/{TEST_PREFIX}-dockerpy-tag"
    assert await spawner.docker("tag", tiny_image, repository, "t1") is True
    try:
        tagged = await spawner.docker("inspect_image", f"{repository}:t1")
        original = await spawner.docker("inspect_image", tiny_image)
        assert tagged["Id"] == original["Id"]
        assert await spawner.docker("images", name=repository, quiet=True) == [original["Id"]]
        listed = await spawner.docker("images", name=repository)
        assert [i["RepoTags"] for i in listed] == [[f"{repository}:t1"]]
    finally:
        removed = await spawner.docker("remove_image", f"{repository}:t1")
    assert removed == [{"Untagged": f"{repository}:t1"}]


async def test_volumes_networks_daemon(spawner: DockerSpawner) -> None:
    name = f"{TEST_PREFIX}-dockerpy-{unique_user()}"
    volume = await spawner.docker("create_volume", name, labels=LABELS)
    try:
        assert volume["Name"] == name and volume["Labels"] == LABELS
        listed = await spawner.docker("volumes", filters={"name": name})
        assert [v["Name"] for v in listed["Volumes"]] == [name]
    finally:
        assert await spawner.docker("remove_volume", name) is None
    with pytest.raises(dockerpy.NotFound):
        await spawner.docker("remove_volume", name)

    networks = await spawner.docker("networks", names=["bridge"])
    assert "bridge" in [n["Name"] for n in networks]
    info = await spawner.docker("info")
    version = await spawner.docker("version")
    assert info["ServerVersion"] == version["Version"]
    cli = (await docker_cli("version", "--format", "{{.Server.APIVersion}}")).strip()
    assert version["ApiVersion"] == cli


class DockerspawnerStyleSpawner(DockerSpawner):
    """Written against dockerspawner: docker-py calls in an overridden hook."""

    inspected: dict[str, Any] | None = None
    created: list[str] = []

    async def create_object(self) -> Any:
        # start() creates through this hook: the container exists, not yet started
        obj = await super().create_object()
        created = await self.docker("inspect_container", obj["Id"])
        assert created["State"]["Status"] == "created"
        archive = tar_of("created.html", b"written before the start\n")
        assert await self.docker("put_archive", obj["Id"], "/www", archive)
        self.created = [*self.created, obj["Id"]]
        return obj

    async def get_ip_and_port(self) -> tuple[str, int]:
        self.inspected = await self.docker("inspect_container", self.container_id)
        archive = tar_of("index.html", b"written by the subclass\n")
        assert await self.docker("put_archive", self.container_id, "/www", archive)
        return await super().get_ip_and_port()


async def test_a_dockerspawner_subclass_runs_unchanged(tiny_image: str) -> None:
    spawner = make_spawner(DockerspawnerStyleSpawner, image=tiny_image, remove=True)
    spawner.stop_grace_period = 0
    url = await spawner.start()
    try:
        assert spawner.inspected is not None
        assert spawner.inspected["Id"] == spawner.object_id
        assert await http_status(url + "/index.html") == 200
        import aiohttp

        async with aiohttp.ClientSession() as session, session.get(url + "/index.html") as r:
            assert await r.text() == "written by the subclass\n"
        assert spawner.created == [spawner.object_id]
        async with aiohttp.ClientSession() as session, session.get(url + "/created.html") as r:
            assert await r.text() == "written before the start\n"
    finally:
        await spawner.stop()
