"""A private image on the three-node swarm, through a real Hub: registry_credentials reach
the worker that pulls it (``X-Registry-Auth`` on the service create), and without them
the spawn fails with what the registry said."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import TINY_IMAGE
from tests.e2e.conftest import HubFactory, RunningHub
from tests.multinode.authregistry import AuthRegistry
from tests.multinode.conftest import TINY_SERVER_CMD, MultiNode
from tests.multinode.test_hub import answers, ready, service_of, spawn

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def private_hub(
    start_hub: HubFactory, multinode_session: MultiNode, auth_registry: AuthRegistry
) -> Iterator[RunningHub]:
    swarm, registry = multinode_session, auth_registry
    hub = start_hub(
        "mnp",
        f"""
        c.JupyterHub.spawner_class = "aiodocker-swarm"
        c.JupyterHub.hub_connect_ip = "{swarm.gateway}"
        c.SwarmSpawner.client_kwargs = {{"base_url": "{swarm.manager}"}}
        c.SwarmSpawner.image = "{TINY_IMAGE}"
        c.SwarmSpawner.allowed_images = {{"default": "{TINY_IMAGE}", "private": "{registry.image}"}}
        c.SwarmSpawner.cmd = {TINY_SERVER_CMD!r}
        c.SwarmSpawner.use_internal_ip = False
        c.SwarmSpawner.publish_mode = "host"
        c.SwarmSpawner.stop_grace_period = 1
        c.Spawner.start_timeout = 60

        def credentials(spawner, image):
            # users whose name starts with "anon" spawn without credentials
            if spawner.user.name.startswith("anon"):
                return None
            return {{"username": "{registry.username}", "password": "{registry.password}"}}

        c.SwarmSpawner.registry_credentials = credentials
        """,
    )
    yield hub
    hub.stop()


def test_a_private_image_starts_on_a_worker_with_credentials(
    private_hub: RunningHub, multinode: MultiNode, auth_registry: AuthRegistry
) -> None:
    hub, user = private_hub, "pat"
    resp = hub.api("POST", "users", json={"usernames": [user]})
    assert resp.status_code in (201, 409), resp.text
    resp = hub.api("POST", f"users/{user}/server", json={"image": "private"})
    assert resp.status_code in (201, 202), resp.text
    ready(hub, user)
    assert answers(hub, user)
    service = service_of(multinode, hub, user)
    node = multinode.running_node(service)
    assert node in multinode.workers
    # the worker itself got the image from the registry, with the credentials
    pulls = [
        line
        for line in auth_registry.log().splitlines()
        if 'msg="authorized request"' in line
        and f'remoteaddr="{multinode.workers[node]}:' in line
        and "/manifests/" in line
    ]
    assert pulls, auth_registry.log()[-3000:]
    assert hub.api("DELETE", f"users/{user}/server").status_code in (202, 204)


def test_without_credentials_the_spawn_fails_with_the_registrys_message(
    private_hub: RunningHub, multinode: MultiNode, auth_registry: AuthRegistry
) -> None:
    hub, user = private_hub, "anon1"
    spawn(hub, user)  # the public image works without credentials
    ready(hub, user)
    assert hub.api("DELETE", f"users/{user}/server").status_code in (202, 204)

    # A worker that has the image runs the task even when its pull fails (swarm
    # pulls at every start but falls back on the local image), and the test
    # above pulled it onto one: without this, the result would depend on the
    # worker swarm picks.
    for address in multinode.workers.values():
        multinode.docker(
            "rmi", "-f", auth_registry.image, host=f"tcp://{address}:2375", check=False
        )
    resp = hub.api("POST", f"users/{user}/servers/priv", json={"image": "private"})
    assert resp.status_code == 500, resp.text
    message = resp.json()["message"]
    print(f"\nwithout credentials: {message}")
    assert message.startswith("Could not start your server:"), message
    assert f"No such image: {auth_registry.image}" in message
    assert "no basic auth credentials" in message
    assert not [s for s in multinode.services() if s.startswith(f"{hub.prefix}-{user}--")]
