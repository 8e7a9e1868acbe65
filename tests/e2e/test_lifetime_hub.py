"""Through a real Hub: renaming servers, deleting them for good, and one container per image.

The servers run the tiny image with the benchmarks' script
(tests/faults/servers.py): it serves ``$JUPYTERHUB_SERVICE_PREFIX`` only, so a
server answers through the proxy only when its container was made for its
own URL prefix.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pytest

from tests.conftest import TEST_HUB_ID
from tests.e2e.conftest import HubFactory, RunningHub
from tests.faults.servers import (
    clean_up,
    containers,
    create_users,
    reachable,
    request_spawns,
    request_stops,
    server_models,
    server_path,
    tiny_hub_config,
    wait_ready,
    wait_stopped,
)

pytestmark = pytest.mark.e2e


def inspect(name_or_id: str) -> dict[str, Any] | None:
    out = subprocess.run(
        ["docker", "inspect", "--type", "container", name_or_id],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    found = json.loads(out) if out.strip() else []
    return found[0] if found else None


def env_of(name_or_id: str) -> dict[str, str]:
    container = inspect(name_or_id)
    assert container is not None, f"no container {name_or_id}"
    return dict(e.partition("=")[::2] for e in container["Config"]["Env"] or [])


def volume_exists(name: str) -> bool:
    result = subprocess.run(
        ["docker", "volume", "inspect", name], capture_output=True, text=True, check=False
    )
    return result.returncode == 0


def remove_volume(name: str) -> None:
    subprocess.run(["docker", "volume", "rm", "-f", name], capture_output=True, check=False)


def start_and_stop(hub: RunningHub, server: tuple[str, str], **body: Any) -> None:
    name, server_name = server
    resp = hub.api("POST", server_path(name, server_name), json=body)
    assert resp.status_code in (201, 202), resp.text
    wait_ready(hub, [server])
    assert reachable(hub, name, server_name)
    request_stops(hub, [server])
    wait_stopped(hub, [server])


def test_renamed_server_and_a_new_server_under_the_old_name_get_their_own_containers(
    start_hub: HubFactory, tiny_image: str
) -> None:
    hub = start_hub("rename", tiny_hub_config(tiny_image, remove=False))
    user = "ren"
    old_name, new_name = f"{hub.prefix}-{user}--one", f"{hub.prefix}-{user}--two"
    try:
        create_users(hub, [user])
        start_and_stop(hub, (user, "one"))
        kept = inspect(old_name)
        assert kept is not None
        old_token = env_of(old_name)["JUPYTERHUB_API_TOKEN"]

        resp = hub.api("PATCH", f"users/{user}/servers/one", json={"name": "two"})
        assert resp.status_code == 200, resp.text
        moved = inspect(kept["Id"])
        assert moved is not None and moved["Name"] == f"/{new_name}"
        assert inspect(old_name) is None

        # the renamed server, then a new server given the old name
        request_spawns(hub, [(user, "two"), (user, "one")])
        wait_ready(hub, [(user, "two"), (user, "one")])
        two, one = env_of(new_name), env_of(old_name)
        ids = {inspect(new_name)["Id"], inspect(old_name)["Id"], kept["Id"]}  # type: ignore[index]
        assert len(ids) == 3, "the renamed server's container was recreated, the new one is new"
        assert len({two["JUPYTERHUB_API_TOKEN"], one["JUPYTERHUB_API_TOKEN"], old_token}) == 3
        assert two["JUPYTERHUB_SERVICE_PREFIX"] == f"/user/{user}/two/"
        assert one["JUPYTERHUB_SERVICE_PREFIX"] == f"/user/{user}/one/"
        assert reachable(hub, user, "two")
        assert reachable(hub, user, "one")
        assert "files in its writable layer are lost" in hub.log_path.read_text()
    finally:
        clean_up(hub, [user])


IMAGE_HUB = """
c.DockerSpawner.name_template = "{{prefix}}-{{username}}-{{servername}}-{{imagename}}"
c.DockerSpawner.allowed_images = {{"one": "{one}", "two": "{two}"}}
c.DockerSpawner.volumes = {{"{{prefix}}-{{username}}-{{servername}}": "/data"}}
"""


def test_imagename_keeps_a_container_per_image_across_hub_restarts(
    start_hub: HubFactory, tiny_image: str, second_tiny_image: str
) -> None:
    config = tiny_hub_config(tiny_image, remove=False)
    hub = start_hub("imagename", config + IMAGE_HUB.format(one=tiny_image, two=second_tiny_image))
    user, server = "imma", ("imma", "lab")
    per_image = {
        "one": f"{hub.prefix}-{user}-lab-{tiny_image.replace('/', '-').replace(':', '-')}",
        "two": f"{hub.prefix}-{user}-lab-{second_tiny_image.replace('/', '-').replace(':', '-')}",
    }
    made: dict[str, str] = {}
    try:
        create_users(hub, [user])
        for i, choice in enumerate(["one", "two", "one"]):
            if i:
                # a restarted Hub knows the server by its state, which names the last image's
                hub.restart()
            start_and_stop(hub, server, image=choice)
            container = inspect(per_image[choice])
            assert container is not None
            made.setdefault(choice, container["Id"])
            assert container["Id"] == made[choice], f"image {choice} got another container"
            for other in made.values():
                assert inspect(other) is not None, "a container of the other image was removed"
        assert len(set(made.values())) == 2
    finally:
        clean_up(hub, [user])
        remove_volume(f"{hub.prefix}-{user}-lab")


def wait_spawn_over(hub: RunningHub, name: str, server: str, *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (model := server_models(hub).get((name, server))) and model.get("pending"):
        if time.monotonic() > deadline:
            raise AssertionError(f"{name}/{server} still pending:\n{hub.log_tail()}")
        time.sleep(0.25)


def test_a_second_hub_with_the_same_prefix_deletes_nothing_of_the_first(
    start_hub: HubFactory, tiny_image: str, second_tiny_image: str
) -> None:
    config = tiny_hub_config(tiny_image, remove=False) + IMAGE_HUB.format(
        one=tiny_image, two=second_tiny_image
    )
    first = start_hub("twohubs", config)
    second = None
    user, server = "dora", ("dora", "lab")
    try:
        create_users(first, [user])
        request_spawns(first, [server])
        wait_ready(first, [server])
        (container,) = [c for c in containers(first.prefix) if c.startswith(f"{first.prefix}-")]
        running = inspect(container)
        assert running is not None and running["State"]["Running"]
        volume = f"{first.prefix}-{user}-lab"
        assert volume_exists(volume)

        second = start_hub(
            "twohubs-other",
            config
            + f'c.DockerSpawner.prefix = "{first.prefix}"\n'
            + f'c.DockerSpawner.hub_id = "{TEST_HUB_ID}-other"\n',
        )
        create_users(second, [user])
        # the second Hub's start fails: the name is the first Hub's (it has no state)
        second.api("POST", server_path(*server))
        wait_spawn_over(second, *server)
        assert inspect(container)["Id"] == running["Id"]  # type: ignore[index]
        # ... and deleting that server for good must not touch the first Hub's objects
        resp = second.api("DELETE", server_path(*server), json={"remove": True})
        assert resp.status_code in (202, 204), resp.text
        still = inspect(container)
        assert still is not None and still["Id"] == running["Id"]
        assert still["State"]["Running"]
        assert volume_exists(volume)
        assert reachable(first, user, "lab")
        log = second.log_path.read_text()  # delete_forever() ran, and said why it kept them
        assert f"leaving container {container} alone" in log
        assert f"leaving volume {volume} alone" in log
    finally:
        if second is not None:
            second.stop()
        clean_up(first, [user])
        remove_volume(f"{first.prefix}-{user}-lab")
