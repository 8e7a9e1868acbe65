"""The events cache with a thousand servers: what one event or one lookup costs.

A change to one object wakes only the callers waiting on that object (a Hub
stopping a thousand servers at once had every stop re-check its container on
every event of every other one: a million checks), a name that is not in the
cache is not looked for in every entry, and an inspect stored in the cache
leaves its document out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aiodockerspawner.backends.container.observe import ContainerSource
from aiodockerspawner.backends.docker.client import resolve_endpoint
from aiodockerspawner.backends.docker.watch import Watcher
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
