"""A real Hub spawning SwarmSpawner servers on a three-node swarm.

The Hub talks to the manager (``tcp://<manager>:2375``); servers run the
tiny image on the workers, publish their port in host mode and are reached
through configurable-http-proxy at ``<worker address>:<port>``. Servers are
placed by a callable (the ``zone`` node label from the server's name) on one
Hub, by a constraint in the configuration on the other; one Hub reports a
server whose node is lost as stopped (``on_node_loss = "stop"``), the other
has swarm start it again elsewhere (``"reschedule"``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from tests.conftest import TINY_IMAGE
from tests.e2e.conftest import HubFactory, RunningHub
from tests.multinode.conftest import TINY_SERVER_CMD, MultiNode

pytestmark = pytest.mark.e2e

POLL_INTERVAL = 3
#: JupyterHub staggers polls by up to 10 % of the interval
POLL_JITTER = 0.1 * POLL_INTERVAL


def hub_config(swarm: MultiNode, extra: str) -> str:
    return f"""
        c.JupyterHub.spawner_class = "aiodocker-swarm"
        c.JupyterHub.hub_connect_ip = "{swarm.gateway}"
        c.Spawner.poll_interval = {POLL_INTERVAL}
        c.SwarmSpawner.client_kwargs = {{"base_url": "{swarm.manager}"}}
        c.SwarmSpawner.image = "{TINY_IMAGE}"
        c.SwarmSpawner.allowed_images = {{"default": "{TINY_IMAGE}"}}
        c.SwarmSpawner.cmd = {TINY_SERVER_CMD!r}
        c.SwarmSpawner.use_internal_ip = False
        c.SwarmSpawner.publish_mode = "host"
        c.SwarmSpawner.stop_grace_period = 1
        c.Spawner.start_timeout = 60
        c.Spawner.http_timeout = 30
        {extra}
        """


@pytest.fixture(scope="module")
def placed_hub(start_hub: HubFactory, multinode_session: MultiNode) -> Iterator[RunningHub]:
    """Placement by a callable; a lost node ends its servers (the default)."""
    hub = start_hub(
        "mn",
        hub_config(
            multinode_session,
            """
        def placement(spawner):
            # named servers "za..." go to zone a, "zb..." to zone b; others anywhere
            zone = spawner.name[1:2] if spawner.name.startswith("z") else ""
            return {"constraints": [f"node.labels.zone == {zone}"]} if zone else {}

        c.SwarmSpawner.extra_placement_spec = placement
        """,
        ),
    )
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def rescheduling_hub(start_hub: HubFactory, multinode_session: MultiNode) -> Iterator[RunningHub]:
    """Placement from the configuration; a lost node's servers move to another node."""
    hub = start_hub(
        "mnr",
        hub_config(
            multinode_session,
            """
        c.SwarmSpawner.extra_placement_spec = {"constraints": ["node.role == worker"]}
        c.SwarmSpawner.on_node_loss = "reschedule"
        """,
        ),
    )
    yield hub
    hub.stop()


# -- helpers ------------------------------------------------------------------------


def spawn(hub: RunningHub, user: str, server: str = "") -> None:
    path = f"users/{user}/servers/{server}" if server else f"users/{user}/server"
    if hub.api("GET", f"users/{user}").status_code == 404:
        assert hub.api("POST", f"users/{user}").status_code == 201
    resp = hub.api("POST", path, json={})
    assert resp.status_code in (201, 202), resp.text


def servers(hub: RunningHub, user: str) -> dict[str, dict[str, object]]:
    model = hub.api("GET", f"users/{user}").json()
    return dict(model["servers"])


def wait_until(
    what: str, check: Callable[[], object], hub: RunningHub, timeout: float = 60
) -> float:
    """Seconds until ``check()`` is true; fails with the Hub's log after ``timeout``."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if check():
            return time.monotonic() - began
        time.sleep(0.1)
    pytest.fail(f"{what}: not within {timeout} s\n{hub.log_tail()}")


def ready(hub: RunningHub, user: str, server: str = "") -> None:
    wait_until(
        f"{user}/{server} ready",
        lambda: bool(servers(hub, user).get(server, {}).get("ready")),
        hub,
    )


def service_of(swarm: MultiNode, hub: RunningHub, user: str, server: str = "") -> str:
    names = swarm.docker(
        "service",
        "ls",
        "--format",
        "{{.Name}}",
        "--filter",
        f"label=aiodockerspawner.user={user}",
        "--filter",
        f"label=aiodockerspawner.server={server}",
    ).split()
    names = [n for n in names if n.startswith(hub.prefix)]
    assert len(names) == 1, names
    return names[0]


def through_proxy(hub: RunningHub, user: str, server: str = "") -> requests.Response:
    path = f"{server}/" if server else ""
    return requests.get(f"{hub.url}/user/{user}/{path}", timeout=10)


def answers(hub: RunningHub, user: str, server: str = "") -> bool:
    try:
        resp = through_proxy(hub, user, server)
    except requests.RequestException:
        return False
    return resp.status_code == 200 and f"multinode server of {user}" in resp.text


def route_target(hub: RunningHub, user: str, server: str = "") -> str:
    suffix = f"/user/{user}/{server}/" if server else f"/user/{user}/"
    routes = hub.api("GET", "proxy").json()
    targets = [r["target"] for key, r in routes.items() if key.endswith(suffix)]
    assert len(targets) == 1, routes
    return str(targets[0])


def kill(swarm: MultiNode, hostname: str) -> None:
    import subprocess

    subprocess.run(["docker", "kill", swarm.containers[hostname]], check=True, capture_output=True)


def other(hostname: str) -> str:
    return "worker2" if hostname == "worker1" else "worker1"


# -- tests --------------------------------------------------------------------------


def test_servers_placed_by_a_callable_answer_through_the_proxy_then_stop_and_remove(
    placed_hub: RunningHub, multinode: MultiNode
) -> None:
    hub, user = placed_hub, "pia"
    spawn(hub, user, "za1")
    spawn(hub, user, "zb1")
    ready(hub, user, "za1")
    ready(hub, user, "zb1")
    for server, node in (("za1", "worker1"), ("zb1", "worker2")):
        service = service_of(multinode, hub, user, server)
        assert multinode.running_node(service) == node
        spec = json.loads(multinode.docker("service", "inspect", "-f", "{{json .Spec}}", service))
        zone = node[-1:].replace("1", "a").replace("2", "b")
        assert spec["TaskTemplate"]["Placement"]["Constraints"] == [f"node.labels.zone == {zone}"]
        # the proxy sends the request to the worker that runs the task
        assert route_target(hub, user, server).startswith(f"http://{multinode.workers[node]}:")
        assert answers(hub, user, server), through_proxy(hub, user, server).text

    # stop one: its service goes, the other server keeps answering
    stopped = service_of(multinode, hub, user, "za1")
    assert hub.api("DELETE", f"users/{user}/servers/za1").status_code in (202, 204)
    wait_until("za1 stopped", lambda: "za1" not in servers(hub, user), hub)
    assert stopped not in multinode.services()
    assert answers(hub, user, "zb1")
    # remove the other (a named server deleted for good)
    removed = service_of(multinode, hub, user, "zb1")
    resp = hub.api("DELETE", f"users/{user}/servers/zb1", json={"remove": True})
    assert resp.status_code in (202, 204), resp.text
    wait_until("zb1 removed", lambda: "zb1" not in servers(hub, user), hub)
    assert removed not in multinode.services()
    assert not multinode.tasks(removed)


def test_a_killed_worker_ends_its_server_within_a_poll_and_a_new_spawn_goes_elsewhere(
    placed_hub: RunningHub, multinode: MultiNode
) -> None:
    hub, user = placed_hub, "kim"
    spawn(hub, user)
    ready(hub, user)
    service = service_of(multinode, hub, user)
    node = multinode.running_node(service)
    assert node in ("worker1", "worker2")

    kill(multinode, node)
    # swarm notices first (no heartbeat for 3 periods of 2 s), then one poll tells the Hub
    noticed = wait_until(
        f"{node} marked down", lambda: multinode.node_status(node) == "down", hub, timeout=30
    )
    gone = wait_until("the server reported gone", lambda: "" not in servers(hub, user), hub)
    print(f"\n{node} killed: marked down after {noticed:.1f} s, server gone {gone:.1f} s later")
    assert gone <= POLL_INTERVAL + POLL_JITTER + 2.0  # one poll, plus the stop it triggers
    assert service not in multinode.services()

    spawn(hub, user)
    ready(hub, user)
    assert multinode.running_node(service_of(multinode, hub, user)) == other(node)
    assert answers(hub, user)
    assert hub.api("DELETE", f"users/{user}/server").status_code in (202, 204)
    wait_until("stopped", lambda: "" not in servers(hub, user), hub)


def test_a_drained_worker_ends_its_servers_by_default(
    placed_hub: RunningHub, multinode: MultiNode
) -> None:
    hub, user = placed_hub, "dan"
    spawn(hub, user, "za2")
    ready(hub, user, "za2")
    service = service_of(multinode, hub, user, "za2")
    assert multinode.running_node(service) == "worker1"

    multinode.docker("node", "update", "--availability", "drain", "worker1")
    gone = wait_until("the server reported gone", lambda: "za2" not in servers(hub, user), hub)
    print(f"\nworker1 drained: server gone after {gone:.1f} s")
    assert gone <= POLL_INTERVAL + POLL_JITTER + 2.0
    assert service not in multinode.services()


def test_a_drained_worker_has_its_servers_rescheduled_and_rerouted(
    rescheduling_hub: RunningHub, multinode: MultiNode
) -> None:
    hub = rescheduling_hub
    users = ["rae", "rob"]
    for user in users:
        spawn(hub, user)
    for user in users:
        ready(hub, user)
    spec = json.loads(
        multinode.docker(
            "service", "inspect", "-f", "{{json .Spec}}", service_of(multinode, hub, "rae")
        )
    )
    assert spec["TaskTemplate"]["Placement"]["Constraints"] == ["node.role == worker"]
    nodes = {u: multinode.running_node(service_of(multinode, hub, u)) for u in users}
    # spread: one server on each worker
    assert sorted(n or "" for n in nodes.values()) == ["worker1", "worker2"], nodes
    moving = next(u for u in users if nodes[u] == "worker1")
    staying = next(u for u in users if u != moving)
    before = route_target(hub, moving)

    multinode.docker("node", "update", "--availability", "drain", "worker1")
    service = service_of(multinode, hub, moving)
    moved = wait_until(
        "the server running on worker2",
        lambda: multinode.running_node(service) == "worker2",
        hub,
    )
    rerouted = wait_until(
        "the route following the server",
        lambda: route_target(hub, moving) != before and answers(hub, moving),
        hub,
    )
    print(
        f"\nworker1 drained: running on worker2 after {moved:.1f} s, "
        f"rerouted {rerouted:.1f} s later"
    )
    assert route_target(hub, moving).startswith(f"http://{multinode.workers['worker2']}:")
    # the Hub still counts it as running, and the other server never noticed
    assert servers(hub, moving)[""]["ready"]
    assert answers(hub, staying)
    for user in users:
        assert hub.api("DELETE", f"users/{user}/server").status_code in (202, 204)
    for user in users:
        wait_until("stopped", lambda u=user: "" not in servers(hub, u), hub)  # type: ignore[misc]
    assert not [s for s in multinode.services() if s.startswith(hub.prefix)]
