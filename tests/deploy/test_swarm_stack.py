"""examples/swarm-stack: the Hub as a ``docker stack deploy`` on the single-node swarm.

A user logs in through the login form, starts a server (a swarm service) and
reaches it through the proxy; the Hub's service is forced to replace its task
and the new Hub finds the server again (the same service and the same task
container, still reachable); then the stack, the users' services, the network
and the volumes are torn down.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.deploy.conftest import (
    EXAMPLES,
    Example,
    docker,
    example_settings,
    labelled,
    quietly,
    wait_until,
)
from tests.swarm.conftest import swarm  # noqa: F401  (the fixture)

EXAMPLE = EXAMPLES / "swarm-stack"

pytestmark = pytest.mark.usefixtures("swarm")


def stack_containers(stack: str) -> list[str]:
    label = f"label=com.docker.stack.namespace={stack}"
    return docker("ps", "-aq", "--filter", label).split()


def server_task_container(service: str) -> str:
    """The container of the service's running task."""
    label = f"label=com.docker.swarm.service.name={service}"
    ids = docker("ps", "-q", "--no-trunc", "--filter", label).split()
    assert len(ids) == 1, f"expected one running task container of {service}, found {ids}"
    return ids[0]


@pytest.fixture
def stack_example(hub_image: str) -> Iterator[Example]:
    env = example_settings("stack", hub_image)
    stack = env["SPAWNER_PREFIX"].replace("-", "")

    def logs() -> str:
        return quietly("docker", "service", "logs", "--tail", "60", f"{stack}_jupyterhub")

    example = Example(
        name=stack,
        workdir=EXAMPLE,
        env=env,
        port=int(env["HUB_PORT"]),
        hub_id=env["HUB_ID"],
        prefix=env["SPAWNER_PREFIX"],
        password=env["SHARED_PASSWORD"],
        logs=logs,
    )
    try:
        yield example
    finally:
        print(quietly("docker", "service", "logs", "--tail", "200", f"{stack}_jupyterhub"))
        for service in labelled("service", example.hub_id):
            quietly("docker", "service", "rm", service)
        quietly("docker", "stack", "rm", stack)
        # the stack's network and volumes go once its containers are gone
        wait_until(
            lambda: not stack_containers(stack) and not labelled("container", example.hub_id),
            "the stack's containers were not removed",
            60,
            logs,
        )
        quietly("docker", "network", "rm", env["DOCKER_NETWORK_NAME"])
        quietly("docker", "volume", "rm", f"{stack}_hub-data")
        for volume in docker("volume", "ls", "-q", "--filter", f"name={example.prefix}-").split():
            quietly("docker", "volume", "rm", volume)


def test_swarm_stack_adopts_servers_across_a_hub_task_replacement(
    stack_example: Example,
) -> None:
    ex = stack_example
    hub_service = f"{ex.name}_jupyterhub"
    ex.run("docker", "stack", "deploy", "-c", "docker-stack.yml", ex.name)
    ex.wait_for_hub()

    name = "alice"
    session = ex.login(name)
    token = ex.start_server(session, name)
    ex.server_answers(name, token)
    (service,) = labelled("service", ex.hub_id)
    spec = json.loads(docker("service", "inspect", service))[0]
    assert spec["Spec"]["Name"] == f"{ex.prefix}-{name}"
    networks = spec["Spec"]["TaskTemplate"]["Networks"]
    net_id = docker("network", "inspect", "-f", "{{.Id}}", ex.env["DOCKER_NETWORK_NAME"]).strip()
    assert [n["Target"] for n in networks] == [net_id]
    task_container = server_task_container(spec["Spec"]["Name"])
    mounts = json.loads(docker("inspect", "-f", "{{json .Mounts}}", task_container))
    assert f"{ex.prefix}-{name}-work" in {m.get("Name") for m in mounts}

    # a new Hub task (as after an upgrade or a node failure); the server lives on
    old_hub_task = docker(
        "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={hub_service}"
    )
    ex.run("docker", "service", "update", "--force", "--detach=false", hub_service)
    new_hub_task = docker(
        "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={hub_service}"
    )
    assert new_hub_task.strip() and new_hub_task != old_hub_task
    ex.wait_for_hub()
    session = ex.login(name)
    ex.wait_ready(session, name)
    ex.server_answers(name, token)
    assert labelled("service", ex.hub_id) == [service]
    assert server_task_container(spec["Spec"]["Name"]) == task_container

    # tear down as the README says: the servers, the stack, the network, the volumes
    ex.stop_server(session, name)
    assert labelled("service", ex.hub_id) == []
    ex.run("docker", "stack", "rm", ex.name)
    wait_until(
        lambda: not stack_containers(ex.name) and not labelled("container", ex.hub_id),
        "the stack's containers were not removed",
        60,
        ex.logs,
    )
    network = ex.env["DOCKER_NETWORK_NAME"]
    wait_until(
        lambda: docker("network", "ls", "-q", "--filter", f"name=^{network}$") == "",
        "the stack's network was not removed",
        30,
        ex.logs,
    )
    docker("volume", "rm", f"{ex.name}_hub-data", f"{ex.prefix}-{name}-work")
    assert docker("volume", "ls", "-q", "--filter", f"name={ex.name}_") == ""
    assert docker("volume", "ls", "-q", "--filter", f"name={ex.prefix}-") == ""
