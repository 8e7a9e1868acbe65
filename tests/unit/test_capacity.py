"""Capacity limits: the policy (pure), and concurrent spawns on the fake Engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from tornado import web

from aiodockerspawner import DockerSpawner
from aiodockerspawner.core.capacity import Limits, claim_of, counted, over_limit
from aiodockerspawner.labels import LABEL_MEM_GUARANTEE, LABEL_MEM_LIMIT
from aiodockerspawner.testing import FakeEngine
from aiodockerspawner.testing.pytest_plugin import fake_docker, fake_spawner

__all__ = ["fake_docker", "fake_spawner"]  # fixtures used below

GiB = 1024**3
CREATE = r"^POST /containers/create$"


def test_max_servers() -> None:
    limits = Limits(max_servers=2)
    assert over_limit({"a": 0}, name="b", claim=0, limits=limits) is None
    reason = over_limit({"a": 0, "b": 0}, name="c", claim=0, limits=limits)
    assert reason == "2 of 2 servers already run on this Docker host (max_servers)"
    # the server's own name (reserved, or resumed) is not counted twice
    assert over_limit({"a": 0, "b": 0}, name="b", claim=0, limits=limits) is None


def test_memory_ratio() -> None:
    limits = Limits(memory_ratio=0.5, total_memory=8 * GiB)
    assert over_limit({"a": 2 * GiB}, name="b", claim=2 * GiB, limits=limits) is None
    reason = over_limit({"a": 2 * GiB, "b": 1 * GiB}, name="c", claim=2 * GiB, limits=limits)
    assert reason is not None
    assert "your server needs 2 GiB of memory" in reason
    assert "already claim 3 GiB of the 4 GiB allowed (50% of the Docker host's 8 GiB" in reason
    assert reason.endswith("max_memory_ratio)")


def test_claims_from_labels_and_reservations() -> None:
    labels = {LABEL_MEM_LIMIT: str(2 * GiB), LABEL_MEM_GUARANTEE: str(GiB)}
    assert claim_of(labels, "limit") == 2 * GiB
    assert claim_of(labels, "guarantee") == GiB
    assert claim_of({}, "limit") == 0
    servers = counted([("a", labels), ("b", {})], {"b": GiB, "c": 3}, "limit")
    assert servers == {"a": 2 * GiB, "b": GiB, "c": 3}


async def test_concurrent_spawns_do_not_overshoot(
    fake_docker: FakeEngine, fake_spawner: Callable[..., DockerSpawner]
) -> None:
    fake_docker.inject(CREATE, delay=0.2)  # all four are past the check before any create
    spawners = [fake_spawner(user=f"u{i}", remove=True, max_servers=3) for i in range(4)]
    results = await asyncio.gather(*(s.start() for s in spawners), return_exceptions=True)
    refused = [r for r in results if isinstance(r, web.HTTPError)]
    assert len(refused) == 1, results
    assert refused[0].status_code == 503
    message = refused[0].jupyterhub_message  # type: ignore[attr-defined]
    assert message.startswith("The server is full: 3 of 3 servers already run"), message
    assert "max_servers" in message
    assert fake_docker.count(CREATE) == 3  # the refused spawn created nothing
    # a place frees when a server stops
    loser = spawners[results.index(refused[0])]
    winner = next(s for s, r in zip(spawners, results, strict=True) if isinstance(r, str))
    await winner.stop()
    await loser.start()
    for s in spawners:
        await s.stop()


async def test_memory_limit_on_the_fake_engine(
    fake_docker: FakeEngine, fake_spawner: Callable[..., DockerSpawner]
) -> None:
    fake_docker.mem_total = 8 * GiB
    first = fake_spawner(user="big1", mem_limit="3G", max_memory_ratio=0.7)
    second = fake_spawner(user="big2", mem_limit="3G", max_memory_ratio=0.7)
    await first.start()
    with pytest.raises(web.HTTPError) as info:
        await second.start()
    assert info.value.status_code == 503
    message = info.value.jupyterhub_message  # type: ignore[attr-defined]
    assert "needs 3 GiB of memory" in message and "of the 5.6 GiB allowed" in message, message
    await first.stop()
    await second.start()  # counted from the events cache: the first one is gone
    await second.stop()
