"""The three-node swarm itself, and a SwarmSpawner (no Hub) placing a server on a worker."""

from __future__ import annotations

import time

import pytest

from aiodockerspawner import SwarmSpawner
from aiodockerspawner.backends import get_task_snapshot, resolve_endpoint
from tests.conftest import TEST_HUB_ID
from tests.helpers import http_status, make_spawner, wait_for
from tests.multinode.conftest import TINY_SERVER_CMD, MultiNode, bring_up

pytestmark = pytest.mark.docker


def test_the_swarm_has_a_drained_manager_and_two_workers(multinode: MultiNode) -> None:
    table = multinode.docker(
        "node", "ls", "--format", "{{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}"
    ).splitlines()
    assert sorted(table) == [
        "manager Ready Drain Leader",
        "worker1 Ready Active ",
        "worker2 Ready Active ",
    ]
    began = time.monotonic()
    bring_up()
    # idempotent and quick when everything is up
    assert time.monotonic() - began < 2.0


async def test_a_server_placed_on_a_worker_answers_at_that_worker(
    multinode: MultiNode, tiny_image: str
) -> None:
    spawner = make_spawner(
        SwarmSpawner,
        image=tiny_image,
        cmd=TINY_SERVER_CMD,
        client_kwargs={"base_url": multinode.manager},
        use_internal_ip=False,
        publish_mode="host",
        extra_placement_spec={"constraints": ["node.labels.zone == b"]},
        stop_grace_period=1,
    )
    url = await spawner.start()
    try:
        assert multinode.running_node(spawner.object_name) == "worker2"
        assert url.startswith(f"http://{multinode.workers['worker2']}:"), url
        assert await http_status(f"{url}/") == 200
        assert await spawner.poll() is None
    finally:
        await spawner.stop()
    assert spawner.object_name not in multinode.services()
    assert await spawner.poll() == 0


async def test_a_node_change_makes_the_next_poll_list_the_tasks_again(
    multinode: MultiNode,
) -> None:
    endpoint = resolve_endpoint(
        tls_config={}, client_kwargs={"base_url": multinode.manager}, environ={}
    )
    snapshot = get_task_snapshot(endpoint, TEST_HUB_ID)
    assert await snapshot.tasks_of("no-such-service", max_age=3600) is None
    assert snapshot.stats.lists == 1 and snapshot.stats.connects == 1
    await snapshot.tasks_of("no-such-service", max_age=3600)
    assert snapshot.stats.lists == 1  # young enough: no request
    try:
        multinode.docker("node", "update", "--label-add", "aiodockerspawner-test=1", "worker1")

        async def stale() -> bool:
            return not snapshot.fresh(3600)

        await wait_for(stale, timeout=10)
        assert any(e.startswith("node worker1 update") for e in snapshot.stats.recent_events)
        await snapshot.tasks_of("no-such-service", max_age=3600)
        assert snapshot.stats.lists == 2
    finally:
        multinode.docker("node", "update", "--label-rm", "aiodockerspawner-test", "worker1")
