"""The exact Engine requests of a start, recorded with aioresponses.

A real daemon proves the behaviour (tests/docker); these tests pin the request
sequence and bodies, which a daemon does not show.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from aioresponses import CallbackResult, aioresponses

from tests.helpers import make_spawner

API = "unix://localhost/v1.41"


@pytest.fixture
def engine() -> Iterator[tuple[aioresponses, list[tuple[str, str, Any]]]]:
    calls: list[tuple[str, str, Any]] = []
    with aioresponses() as mocked:
        yield mocked, calls


def record(calls: list[tuple[str, str, Any]], method: str, payload: Any, status: int = 200):
    def callback(url: Any, **kwargs: Any) -> CallbackResult:
        body = kwargs.get("data")
        calls.append((method, str(url), json.loads(body) if body else None))
        return CallbackResult(status=status, payload=payload)

    return callback


def inspect_doc(name: str, *, networks: dict[str, Any], ports: dict[str, Any]) -> dict[str, Any]:
    return {
        "Id": "c0ffee" * 10 + "abcd",
        "Name": "/" + name,
        "State": {"Running": True, "Status": "running", "ExitCode": 0},
        "Config": {"Image": "example/image:1", "Env": [], "Labels": {}},
        "NetworkSettings": {"Networks": networks, "Ports": ports},
    }


def mock_start(mocked: aioresponses, calls: list[Any], name: str, doc: dict[str, Any]) -> None:
    cid = doc["Id"]
    mocked.post(
        re.compile(rf"^{re.escape(API)}/containers/create\?name={re.escape(name)}$"),
        callback=record(calls, "POST", {"Id": cid, "Warnings": []}, 201),
    )
    mocked.post(f"{API}/containers/{cid}/start", callback=record(calls, "POST", None, 204))
    mocked.get(f"{API}/containers/{cid}/json", callback=record(calls, "GET", doc))


async def test_bridge_start_makes_three_requests(engine: Any) -> None:
    mocked, calls = engine
    spawner = make_spawner(image="example/image:1", client_kwargs={"version": "1.41"})
    name = spawner.object_name
    doc = inspect_doc(
        name,
        networks={"bridge": {"IPAddress": "172.17.0.9"}},
        ports={"8888/tcp": [{"HostIp": "127.0.0.1", "HostPort": "49153"}]},
    )
    mock_start(mocked, calls, name, doc)

    url = await spawner.start()

    assert url == "http://127.0.0.1:49153"
    assert [(m, u.split("?")[0].removeprefix(API)) for m, u, _ in calls] == [
        ("POST", "/containers/create"),
        ("POST", f"/containers/{doc['Id']}/start"),
        ("GET", f"/containers/{doc['Id']}/json"),
    ]
    body = calls[0][2]
    assert body["Image"] == "example/image:1"
    assert "Cmd" not in body  # cmd=None keeps the image's CMD
    assert body["ExposedPorts"] == {"8888/tcp": {}}
    host = body["HostConfig"]
    assert host["NetworkMode"] == "bridge"
    assert host["PortBindings"] == {"8888/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}
    assert host["AutoRemove"] is False
    env = dict(item.split("=", 1) for item in body["Env"])
    assert env["JUPYTERHUB_API_TOKEN"] == spawner.api_token
    assert env["JUPYTER_IMAGE_SPEC"] == "example/image:1"
    assert env["JUPYTERHUB_SERVICE_URL"].startswith("http://0.0.0.0:8888/")
    assert body["Labels"]["aiodockerspawner.user"] == spawner.user.name
    assert spawner.get_state() == {"object_id": doc["Id"], "object_name": name}


async def test_user_network_start_connects_to_container_ip(engine: Any) -> None:
    mocked, calls = engine
    spawner = make_spawner(
        image="example/image:1",
        client_kwargs={"version": "1.41"},
        network_name="jhnet",
        remove=True,
    )
    name = spawner.object_name
    doc = inspect_doc(name, networks={"jhnet": {"IPAddress": "172.20.0.5"}}, ports={})
    mock_start(mocked, calls, name, doc)

    url = await spawner.start()

    assert url == "http://172.20.0.5:8888"
    assert len(calls) == 3
    host = calls[0][2]["HostConfig"]
    assert host["NetworkMode"] == "jhnet"
    assert "PortBindings" not in host
    assert host["AutoRemove"] is True
