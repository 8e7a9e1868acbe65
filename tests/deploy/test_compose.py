"""examples/compose: the Hub in a container, brought up with Docker Compose.

A user logs in through the login form, starts a server and reaches it
through the proxy; the Hub container restarts and finds the server again
(the same container, never restarted, still reachable); then everything the
example made is torn down: the Hub, the users' containers, the network and
the volumes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.deploy.conftest import (
    EXAMPLES,
    Example,
    compose_command,
    container_of,
    docker,
    example_settings,
    labelled,
    quietly,
    run,
)

EXAMPLE = EXAMPLES / "compose"


@pytest.fixture
def compose_example(hub_image: str) -> Iterator[Example]:
    env = example_settings("compose", hub_image)
    project = env["SPAWNER_PREFIX"].replace("-", "")
    compose = [*compose_command(), "-p", project]

    def logs() -> str:
        return run(*compose, "logs", "--no-color", "--tail", "60", cwd=EXAMPLE, env=env)

    example = Example(
        name=project,
        workdir=EXAMPLE,
        env=env,
        port=int(env["HUB_PORT"]),
        hub_id=env["HUB_ID"],
        prefix=env["SPAWNER_PREFIX"],
        password=env["SHARED_PASSWORD"],
        logs=logs,
        compose=compose,
    )
    try:
        yield example
    finally:
        # shown by pytest when the test failed
        print(quietly(*compose, "logs", "--no-color", "--tail", "200", cwd=EXAMPLE, env=env))
        # whatever a failed test left behind: the users' containers first
        # (they hold the network), then the project, then the users' volumes
        for cid in labelled("container", example.hub_id):
            quietly("docker", "rm", "-fv", cid)
        quietly(*compose, "down", "-v", "--remove-orphans", cwd=EXAMPLE, env=env)
        for volume in labelled("volume", example.hub_id):
            quietly("docker", "volume", "rm", volume)


def test_compose_example_adopts_servers_across_a_hub_restart(compose_example: Example) -> None:
    ex = compose_example
    # the README's command, with the image the session built from this checkout
    ex.run(*ex.compose, "up", "-d", "--no-build")
    ex.wait_for_hub()

    name = "alice"
    session = ex.login(name)
    token = ex.start_server(session, name)
    ex.server_answers(name, token)
    before = container_of(ex.hub_id, name)
    # on the example's network, with the user's named volume
    assert list(before["NetworkSettings"]["Networks"]) == [ex.env["DOCKER_NETWORK_NAME"]]
    volumes = {m["Name"] for m in before["Mounts"] if m["Type"] == "volume"}
    assert f"{ex.prefix}-{name}-work" in volumes

    # the Hub container restarts; the server keeps running and the Hub adopts it
    hub = ex.run(*ex.compose, "ps", "-q", "jupyterhub").strip()
    hub_started = docker("inspect", "-f", "{{.State.StartedAt}}", hub).strip()
    ex.run(*ex.compose, "restart", "jupyterhub")
    assert docker("inspect", "-f", "{{.State.StartedAt}}", hub).strip() != hub_started
    ex.wait_for_hub()
    session = ex.login(name)
    ex.wait_ready(session, name)
    ex.server_answers(name, token)
    after = container_of(ex.hub_id, name)
    assert after["Id"] == before["Id"]
    assert after["State"]["StartedAt"] == before["State"]["StartedAt"]

    # tear down as the README says: the servers, the project, the users' volumes
    ex.stop_server(session, name)
    assert labelled("container", ex.hub_id) == []  # remove = True
    ex.run(*ex.compose, "down", "-v")
    for volume in labelled("volume", ex.hub_id):
        docker("volume", "rm", volume)
    assert labelled("volume", ex.hub_id) == []
    assert docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={ex.name}") == ""
    network = ex.env["DOCKER_NETWORK_NAME"]
    assert docker("network", "ls", "-q", "--filter", f"name=^{network}$") == ""
    assert docker("volume", "ls", "-q", "--filter", f"name=^{ex.name}_hub-data$") == ""
