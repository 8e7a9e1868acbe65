"""The fake Engine of ``aiodockerspawner.testing`` answers volume requests like dockerd.

The same requests go to the real daemon and to a :class:`FakeEngine`; their
statuses, the keys and stable values of their answers, and their error
messages (names and ids replaced by placeholders) must be the same.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiodocker
import pytest
from aiodocker.exceptions import DockerError

from aiodockerspawner.backends.docker.client import Endpoint, close_shared_clients, shared_client
from aiodockerspawner.testing import FakeEngine
from tests.conftest import TEST_PREFIX
from tests.helpers import docker_cli

pytestmark = pytest.mark.docker

Row = tuple[str, int, Any]


@pytest.fixture
async def fake_engine(tmp_path: Path) -> AsyncIterator[FakeEngine]:
    engine = FakeEngine()
    await engine.start(tmp_path / "docker.sock")
    try:
        yield engine
    finally:
        await close_shared_clients()
        await engine.stop()


async def scenario(docker: aiodocker.Docker, image: str, run: str) -> list[Row]:
    """Volume requests, answered as (step, status, comparable answer) rows."""
    volume, auto = f"{run}-vol", f"{run}-auto"
    containers: list[str] = []
    rows: list[Row] = []

    def placeholders(text: str) -> str:
        for cid in containers:
            text = text.replace(cid, "<container>")
        return text.replace(auto, "<auto>").replace(volume, "<volume>").replace(run, "<run>")

    def comparable(answer: Any) -> Any:
        if isinstance(answer, dict):
            return {
                k: "<time>" if k == "CreatedAt" else comparable(v)
                for k, v in sorted(answer.items())
            }
        if isinstance(answer, list):
            return [comparable(v) for v in answer]
        return placeholders(answer) if isinstance(answer, str) else answer

    async def call(step: str, route: str, method: str = "GET", **kw: Any) -> None:
        if "data" in kw:
            kw["data"] = json.dumps(kw["data"])
            kw["headers"] = {"Content-Type": "application/json"}
        try:
            async with docker._query(route, method, **kw) as response:
                status = response.status
                body = await response.read()
        except DockerError as e:
            rows.append((step, e.status, placeholders(str(e.message))))
            return
        rows.append((step, status, comparable(json.loads(body)) if body else None))

    labels = {"parity-run": run, "tier": "x"}
    selector = {"filters": json.dumps({"label": [f"parity-run={run}"]})}
    try:
        await call("create", "volumes/create", "POST", data={"Name": volume, "Labels": labels})
        await call("create again", "volumes/create", "POST", data={"Name": volume, "Labels": {}})
        await call("inspect", f"volumes/{volume}")
        await call("list by label", "volumes", params=selector)
        await call(
            "list by two labels",
            "volumes",
            params={"filters": json.dumps({"label": [f"parity-run={run}", "tier=y"]})},
        )
        await call("list by unknown filter", "volumes", params={"filters": '{"bogus":["1"]}'})
        created = await docker.containers.create(
            {
                "Image": image,
                "HostConfig": {
                    "Binds": [f"{volume}:/data", f"{auto}:/auto:ro"],
                    "NetworkMode": "none",
                },
            },
            name=f"{run}-c",
        )
        containers.append(created.id)
        await call("auto-created by a container", f"volumes/{auto}")
        await call("remove in use", f"volumes/{volume}", "DELETE")
        await call("force remove in use", f"volumes/{volume}", "DELETE", params={"force": "1"})
        await created.delete(force=True)
        await call("remove", f"volumes/{volume}", "DELETE")
        await call("inspect removed", f"volumes/{volume}")
        await call("remove removed", f"volumes/{volume}", "DELETE")
        await call("force remove removed", f"volumes/{volume}", "DELETE", params={"force": "1"})
        for name in ("a", f"{run}/x", "v" * 256):
            await call(f"create {name[:8]}", "volumes/create", "POST", data={"Name": name})
    finally:
        for cid in containers:
            await docker_cli("rm", "-f", cid, check=False)
        for name in (volume, auto):
            await docker_cli("volume", "rm", "-f", name, check=False)
    return rows


async def test_volume_routes_answer_like_dockerd(fake_engine: FakeEngine, tiny_image: str) -> None:
    run = f"{TEST_PREFIX}-parity-{uuid.uuid4().hex[:8]}"
    real = await scenario(
        shared_client(Endpoint(url="unix:///var/run/docker.sock")), tiny_image, run
    )
    fake_engine.add_image(tiny_image)
    fake = await scenario(
        shared_client(Endpoint(url=f"unix://{fake_engine.socket_path}")), tiny_image, run
    )
    assert fake == real
    # and the scenario saw what it is about
    assert ("remove in use", 409, "remove <volume>: volume is in use - [<container>]") in real
    assert ("inspect removed", 404, "get <volume>: no such volume") in real
