"""The events cache with a thousand servers: what one event or one lookup costs.

A change to one object wakes only the callers waiting on that object (a Hub
stopping a thousand servers at once had every stop re-check its container on
every event of every other one: a million checks), a name that is not in the
cache is not looked for in every entry, and an inspect stored in the cache
leaves its document out. The list of a resync (1.4 MB of JSON for a thousand
containers) is decoded in slices, giving the loop back in between.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aiodockerspawner.backends.container.observe import ContainerSource
from aiodockerspawner.backends.docker.client import resolve_endpoint
from aiodockerspawner.backends.docker.watch import ITEMS_PER_SLICE, Watcher, decode_array
from aiodockerspawner.model import ObjectStatus, ObservedObject

N = 1000


def container(i: int) -> ObservedObject:
    return ObservedObject(
        id=f"{i:064x}",
        name=f"jupyter-user{i}",
        image="img",
        status=ObjectStatus(running=True, status="running"),
        labels={"aiodockerspawner.hub-id": "h"},
    )


def die(obj: ObservedObject, time_nano: int) -> dict[str, Any]:
    return {
        "Type": "container",
        "Action": "die",
        "Actor": {"ID": obj.id, "Attributes": {"name": obj.name, "exitCode": "0"}},
        "timeNano": time_nano,
    }


@pytest.fixture
async def watcher() -> AsyncIterator[Watcher]:
    endpoint = resolve_endpoint(tls_config={}, client_kwargs={}, environ={})
    w = Watcher(endpoint, ContainerSource(), "h")
    w._replace([container(i) for i in range(N)])
    w._set_fresh()
    # a stand-in for the stream task: wait_for gives up when the watcher is not running
    w._task = asyncio.get_running_loop().create_task(asyncio.Event().wait())
    yield w
    w._task.cancel()


async def test_an_event_wakes_only_the_waiters_of_its_object(watcher: Watcher) -> None:
    checks = [0] * N

    def stopped(i: int) -> Any:
        def check(obj: ObservedObject | None) -> bool:
            checks[i] += 1
            return obj is None or not obj.status.running

        return check

    objects = [container(i) for i in range(N)]
    waiters = [
        asyncio.ensure_future(watcher.wait_for(o.id, stopped(i), timeout=30))
        for i, o in enumerate(objects)
    ]
    for _ in range(3):
        await asyncio.sleep(0)
    assert checks == [1] * N  # each looked once, and waits

    for k in range(10):  # ten servers stop, one event each
        watcher.apply_event(die(objects[k], 1_700_000_000_000_000_000 + k))
    done, _ = await asyncio.wait(waiters[:10], timeout=5)
    assert len(done) == 10 and all(t.result() for t in done)
    for _ in range(3):
        await asyncio.sleep(0)
    # the other 990 were not woken, let alone re-checked
    assert sum(checks[10:]) == N - 10, sum(checks[10:])
    assert not any(t.done() for t in waiters[10:])
    for t in waiters[10:]:
        t.cancel()
    await asyncio.gather(*waiters[10:], return_exceptions=True)
    assert watcher._waiters == {}


async def test_a_waiter_on_a_name_is_woken_by_its_object(watcher: Watcher) -> None:
    obj = container(7)
    waiting = asyncio.ensure_future(
        watcher.wait_for(obj.name, lambda o: o is not None and not o.status.running, timeout=5)
    )
    await asyncio.sleep(0)
    watcher.apply_event(die(obj, 1_700_000_000_000_000_001))
    assert await waiting


async def test_a_missing_name_does_not_scan_the_cache(watcher: Watcher) -> None:
    class NoScan(dict):  # type: ignore[type-arg]
        def items(self) -> Any:
            raise AssertionError("the whole cache was scanned")

    watcher._objects = NoScan(watcher._objects)
    assert watcher.get("jupyter-someone-new") is None
    assert watcher.get(container(3).name) == container(3)
    # an id prefix (hex) still finds its object
    with pytest.raises(AssertionError, match="scanned"):
        watcher.get(container(3).id[:12] + "f")


async def test_an_inspect_is_stored_without_its_document(watcher: Watcher) -> None:
    inspected = ObservedObject(
        id="f" * 64,
        name="jupyter-adopted",
        image="img",
        status=ObjectStatus(running=True, status="running"),
        env={"JUPYTERHUB_API_TOKEN": "secret"},
        labels={"aiodockerspawner.hub-id": "h"},
        raw={"Config": {"Env": ["X=" + "y" * 10_000]}},
    )

    async def fetch(name: str) -> ObservedObject | None:
        return inspected

    found = await watcher.lookup("jupyter-adopted", fetch=fetch)
    assert found is inspected  # the caller gets the whole inspect
    cached = watcher.get("jupyter-adopted")
    assert cached is not None and cached.raw == {} and cached.env == {}
    assert cached.status.running and cached.labels == inspected.labels


# -- the resync list: a thousand containers decoded without holding the loop ----------


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        " [ ] ",
        '[{"a": [1, 2, {"b": "]"}]}, 3, "x,y"]',
        '\n[\n {"Id": "1"} ,\n {"Id": "2"}\n]\n',
    ],
)
async def test_decode_array_is_json_loads(text: str) -> None:
    assert await decode_array(text, per_slice=1) == json.loads(text)


@pytest.mark.parametrize("text", ["{}", "[1, 2", "[1 2]", ""])
async def test_decode_array_refuses_what_is_not_an_array(text: str) -> None:
    with pytest.raises(ValueError):
        await decode_array(text)


def summary(i: int) -> dict[str, Any]:
    """One item of ``GET /containers/json`` as dockerd 20.10 answers it (about 1.3 KB)."""
    return {
        "Id": f"{i:064x}",
        "Names": [f"/jupyter-user{i}"],
        "Image": "aiodockerspawner-test/tiny:latest",
        "ImageID": "sha256:" + "b" * 64,
        "Command": "/bin/sh -c 'd=/tmp/www${JUPYTERHUB_SERVICE_PREFIX:-/}; ...'",
        "Created": 1_700_000_000,
        "Ports": [],
        "Labels": {f"aiodockerspawner.label{k}": "x" * 20 for k in range(8)},
        "State": "running",
        "Status": "Up 5 minutes",
        "HostConfig": {"NetworkMode": "default"},
        "NetworkSettings": {
            "Networks": {
                "bridge": {
                    "IPAddress": f"10.0.{i // 250}.{i % 250}",
                    "Gateway": "10.0.0.1",
                    "MacAddress": "02:42:0a:00:00:02",
                    "NetworkID": "c" * 64,
                    "EndpointID": "d" * 64,
                }
            }
        },
        "Mounts": [],
    }


async def test_the_resync_list_of_a_thousand_gives_the_loop_back() -> None:
    text = json.dumps([summary(i) for i in range(N)])

    class Response:
        status = 200

        async def text(self) -> str:
            return text

        async def __aenter__(self) -> Response:
            return self

        async def __aexit__(self, *exc: object) -> None:
            pass

    class Session:
        async def request(self, method: str, url: str, **kw: Any) -> Response:
            return Response()

    class Docker:
        """Answers the list at once: whatever runs meanwhile runs because the parse yields."""

        docker_host = "unix://localhost"
        api_version = "v1.44"
        session = Session()

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    running = asyncio.ensure_future(ticker())
    await asyncio.sleep(0)
    ticks = 0
    objects = await ContainerSource().snapshot(Docker(), "h")  # type: ignore[arg-type]
    seen = ticks
    running.cancel()
    assert len(objects) == N and objects[7].name == "jupyter-user7"
    assert objects[7].status.running
    # the loop ran other work between slices: at least once per 100 items decoded
    assert seen >= N // ITEMS_PER_SLICE, seen
