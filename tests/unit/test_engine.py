"""Engine requests through aiodocker's public attributes (backends/docker/engine.py).

The fake Engine of ``aiodockerspawner.testing`` stands in for the daemon;
tests/docker/test_engine_real.py makes the same requests to dockerd.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiodocker
import pytest
from aiodocker.exceptions import DockerError

from aiodockerspawner.backends.docker.client import (
    close_shared_clients,
    resolve_endpoint,
    shared_client,
)
from aiodockerspawner.backends.docker.engine import (
    engine_json,
    engine_request,
    engine_url,
    ensure_api_version,
    error_message,
    query_params,
)
from aiodockerspawner.testing import FakeEngine
from aiodockerspawner.testing.engine import API_VERSION


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[tuple[FakeEngine, str]]:
    fake = FakeEngine()
    url = await fake.start(tmp_path / "docker.sock")
    try:
        yield fake, url
    finally:
        await close_shared_clients()
        await fake.stop()


def client_for(url: str) -> aiodocker.Docker:
    return shared_client(
        resolve_endpoint(tls_config={}, client_kwargs={}, environ={"DOCKER_HOST": url})
    )


def test_query_params_as_aiodocker_sends_them() -> None:
    assert query_params(None) is None
    assert query_params({"all": True, "force": False, "limit": 3, "filters": '{"a":["b"]}'}) == {
        "all": "1",
        "force": "0",
        "limit": "3",
        "filters": '{"a":["b"]}',
    }
    assert query_params({"filters": {"label": ["x=y"]}}) == {"filters": '{"label": ["x=y"]}'}


async def test_the_url_is_composed_as_aiodocker_composes_it() -> None:
    docker = aiodocker.Docker(url="http://docker.example:2375", api_version="v1.44")
    try:
        assert engine_url(docker, "containers/json") == (
            "http://docker.example:2375/v1.44/containers/json"
        )
        assert engine_url(docker, "version", versioned=False) == (
            "http://docker.example:2375/version"
        )
    finally:
        await docker.close()


def test_the_engines_message_is_taken_from_json_or_text() -> None:
    assert error_message(b'{"message":"No such container: x"}', "application/json") == (
        "No such container: x"
    )
    assert error_message(b"page not found\n", "text/plain; charset=utf-8") == "page not found\n"
    assert error_message(b"{not json", "application/json") == "{not json"


async def test_versioned_requests_ask_for_the_api_version_once(
    engine: tuple[FakeEngine, str],
) -> None:
    fake, url = engine
    docker = client_for(url)
    assert docker.api_version == "auto"
    answers = await asyncio.gather(*(engine_json(docker, "info") for _ in range(10)))
    assert all(isinstance(a, dict) for a in answers)
    assert docker.api_version == f"v{API_VERSION}"
    assert fake.count(r"^GET /version$") == 1
    assert fake.count(r"^GET /info$") == 10


async def test_engine_and_aiodocker_requests_share_one_probe(
    engine: tuple[FakeEngine, str],
) -> None:
    """aiodocker's own probe and the engine module's, started together: one /version."""
    fake, url = engine
    docker = client_for(url)
    ours = [engine_json(docker, "info") for _ in range(5)]
    theirs = [docker.system.info() for _ in range(5)]
    await asyncio.gather(*ours, *theirs)
    assert fake.count(r"^GET /version$") == 1
    assert fake.count(r"^GET /info$") == 10


async def test_a_plain_aiodocker_client_is_probed_once_too(
    engine: tuple[FakeEngine, str],
) -> None:
    """A client made elsewhere (no middleware of ours): the lock alone keeps it to one probe."""
    fake, url = engine
    docker = aiodocker.Docker(url=url)
    try:
        versions = await asyncio.gather(*(ensure_api_version(docker) for _ in range(10)))
        assert set(versions) == {f"v{API_VERSION}"}
        assert fake.count(r"^GET /version$") == 1
    finally:
        await docker.close()


async def test_an_error_status_is_aiodockers_docker_error(
    engine: tuple[FakeEngine, str],
) -> None:
    fake, url = engine
    docker = client_for(url)
    with pytest.raises(DockerError) as ours:
        await engine_json(docker, "containers/nope/json")
    with pytest.raises(DockerError) as theirs:
        await docker.containers.container("nope").show()
    assert (ours.value.status, ours.value.message) == (theirs.value.status, theirs.value.message)
    assert ours.value.status == 404 and "nope" in ours.value.message

    fake.inject(r"^GET /info$", status=500, message="daemon on fire", times=1)
    with pytest.raises(DockerError) as failed:
        await engine_json(docker, "info")
    assert (failed.value.status, failed.value.message) == (500, "daemon on fire")


async def test_no_daemon_is_status_900(tmp_path: Path) -> None:
    docker = client_for(f"unix://{tmp_path / 'nothing.sock'}")
    with pytest.raises(DockerError) as raised:
        await engine_json(docker, "info")
    assert raised.value.status == 900
    assert raised.value.message.startswith("Cannot connect to Docker Engine via unix://")
    await close_shared_clients()


async def test_a_stream_is_read_as_the_engine_writes_it(
    engine: tuple[FakeEngine, str],
) -> None:
    """The events stream: the first line arrives while the request is still open."""
    fake, url = engine
    docker = client_for(url)
    fake.add_image("tiny")
    params = {"filters": json.dumps({"type": ["container"]})}
    response = await engine_request(docker, "events", params=params)
    try:
        reading = asyncio.ensure_future(response.content.readline())
        await docker.containers.create({"Image": "tiny"}, name="streamed")
        line = await asyncio.wait_for(reading, 5)
    finally:
        response.close()
    event = json.loads(line)
    assert event["Type"] == "container" and event["Action"] == "create"
    assert fake.count(r"^GET /events$") == 1


async def test_a_json_body_reaches_the_engine(engine: tuple[FakeEngine, str]) -> None:
    fake, url = engine
    docker = client_for(url)
    answer = await engine_json(
        docker, "volumes/create", "POST", body={"Name": "from-engine", "Labels": {"a": "b"}}
    )
    assert answer["Name"] == "from-engine"
    assert fake.volumes["from-engine"].labels == {"a": "b"}
