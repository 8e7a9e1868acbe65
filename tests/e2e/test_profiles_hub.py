"""Profiles through a real Hub's REST API, for containers and for swarm services.

The Hub spawns tiny servers (tests/faults/servers.py): the checks are about
what Docker was asked to create (image, memory, CPU) and what was refused.
A ``pre_spawn_hook`` records the settings it sees, which must already be the
profile's: JupyterHub runs it after ``apply_user_options``.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import HubFactory, RunningHub
from tests.faults.servers import reachable, server_path, tiny_hub_config, wait_ready, wait_stopped
from tests.swarm.conftest import swarm  # noqa: F401  (the fixture)

pytestmark = pytest.mark.e2e

M = 1024**2


def profile_config(configured: str, big: str, *, spawner_class: str) -> str:
    """``profile_list`` for both Hubs: the profile image differs from the configured one."""
    cls = "SwarmSpawner" if spawner_class == "aiodocker-swarm" else "DockerSpawner"
    return textwrap.dedent(
        f"""
        import json

        c.JupyterHub.load_groups = {{"gpu-users": {{"users": ["gina"]}}}}

        def record(spawner):
            seen = {{
                "user": spawner.user.name,
                "image": spawner.image,
                "mem_limit": spawner.mem_limit,
                "cpu_limit": spawner.cpu_limit,
            }}
            with open("pre_spawn.jsonl", "a") as f:
                f.write(json.dumps(seen) + "\\n")

        c.Spawner.pre_spawn_hook = record
        c.{cls}.image = {configured!r}
        c.{cls}.profile_list = [
            {{
                "display_name": "Small",
                "slug": "small",
                "default": True,
                "spawner_override": {{"mem_limit": "64M"}},
            }},
            {{
                "display_name": "Big",
                "slug": "big",
                "spawner_override": {{"image": {big!r}, "mem_limit": "256M", "cpu_limit": 0.5}},
                "profile_options": {{
                    "memory": {{
                        "choices": {{
                            "normal": {{"default": True}},
                            "more": {{"spawner_override": {{"mem_limit": "384M"}}}},
                        }},
                    }},
                    "image": {{
                        "choices": {{"profile": {{"display_name": "The profile's"}}}},
                        "unlisted_choice": {{
                            "enabled": True,
                            "validation_regex": r"aiodockerspawner-test/tiny:[a-z]+",
                            "validation_message": "a tag of aiodockerspawner-test/tiny",
                            "spawner_override": {{"image": "{{value}}"}},
                        }},
                    }},
                }},
            }},
            {{
                "display_name": "GPU",
                "slug": "gpu",
                "allowed_groups": ["gpu-users"],
                "spawner_override": {{"mem_limit": "128M"}},
            }},
        ]
        """
    )


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


def created(kind: str, name: str) -> dict[str, Any]:
    """Image, memory and CPU of what Docker runs for ``name``: container or service."""
    if kind == "container":
        doc = json.loads(docker("inspect", name))[0]
        host = doc["HostConfig"]
        return {
            "image": doc["Config"]["Image"],
            "memory": host["Memory"],
            "cpus": host["CpuQuota"] / host["CpuPeriod"] if host["CpuQuota"] else None,
        }
    spec = json.loads(docker("service", "inspect", name))[0]["Spec"]["TaskTemplate"]
    return {
        "image": spec["ContainerSpec"]["Image"].split("@")[0],
        "memory": spec["Resources"]["Limits"]["MemoryBytes"],
        "cpus": spec["Resources"]["Limits"].get("NanoCPUs", 0) / 1e9 or None,
    }


def objects_of(kind: str, prefix: str) -> list[str]:
    if kind == "container":
        args = ["ps", "-a", "--format", "{{.Names}}", "--filter", f"name=^/{prefix}-"]
    else:
        args = ["service", "ls", "--format", "{{.Name}}", "--filter", f"name={prefix}-"]
    return docker(*args).split()


def pre_spawn_seen(hub: RunningHub, user: str) -> list[dict[str, Any]]:
    path = Path(hub.workdir) / "pre_spawn.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [entry for entry in map(json.loads, lines) if entry["user"] == user]


@pytest.fixture(scope="module", params=["container", "service"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def profile_hub(
    kind: str, start_hub: HubFactory, tiny_image: str, second_tiny_image: str, request: Any
) -> Iterator[RunningHub]:
    spawner_class = "aiodocker" if kind == "container" else "aiodocker-swarm"
    extra = ""
    if kind == "service":
        request.getfixturevalue("swarm")
        # no ingress routing mesh on the test machine (no IPVS): publish on the node
        extra = 'c.SwarmSpawner.use_internal_ip = False\nc.SwarmSpawner.publish_mode = "host"\n'
    hub = start_hub(
        f"profiles-{kind}",
        tiny_hub_config(tiny_image, remove=True, spawner_class=spawner_class)
        + "c.JupyterHub.cleanup_servers = True\n"
        + extra
        + profile_config(tiny_image, second_tiny_image, spawner_class=spawner_class),
    )
    yield hub
    hub.stop()


def spawn(hub: RunningHub, name: str, user_options: dict[str, Any]) -> Any:
    hub.api("POST", f"users/{name}")  # 201, or 409 when the user exists
    return hub.api("POST", server_path(name), json=user_options)


def test_the_big_profile_gives_its_image_memory_and_cpu(kind: str, profile_hub: RunningHub) -> None:
    name = "bea"
    resp = spawn(profile_hub, name, {"profile": "big"})
    assert resp.status_code in (201, 202), resp.text
    try:
        wait_ready(profile_hub, [(name, "")])
        assert reachable(profile_hub, name)
        got = created(kind, f"{profile_hub.prefix}-{name}")
        assert got == {"image": "aiodockerspawner-test/tiny:second", "memory": 256 * M, "cpus": 0.5}
        seen = pre_spawn_seen(profile_hub, name)
        assert seen[-1] == {
            "user": name,
            "image": "aiodockerspawner-test/tiny:second",
            "mem_limit": 256 * M,
            "cpu_limit": 0.5,
        }
        assert "unhandled user_options" not in profile_hub.log_path.read_text()
    finally:
        profile_hub.api("DELETE", server_path(name))
        wait_stopped(profile_hub, [(name, "")])


def test_option_choices_override_on_top_of_the_profile(kind: str, profile_hub: RunningHub) -> None:
    name = "otto"
    options = {
        "profile": "big",
        "memory": "more",
        "image--unlisted-choice": "aiodockerspawner-test/tiny:latest",
    }
    resp = spawn(profile_hub, name, options)
    assert resp.status_code in (201, 202), resp.text
    try:
        wait_ready(profile_hub, [(name, "")])
        got = created(kind, f"{profile_hub.prefix}-{name}")
        assert got == {"image": "aiodockerspawner-test/tiny:latest", "memory": 384 * M, "cpus": 0.5}
        assert pre_spawn_seen(profile_hub, name)[-1]["image"] == "aiodockerspawner-test/tiny:latest"
    finally:
        profile_hub.api("DELETE", server_path(name))
        wait_stopped(profile_hub, [(name, "")])


def test_a_group_member_may_launch_the_groups_profile(kind: str, profile_hub: RunningHub) -> None:
    name = "gina"
    resp = spawn(profile_hub, name, {"profile": "gpu"})
    assert resp.status_code in (201, 202), resp.text
    try:
        wait_ready(profile_hub, [(name, "")])
        assert created(kind, f"{profile_hub.prefix}-{name}")["memory"] == 128 * M
    finally:
        profile_hub.api("DELETE", server_path(name))
        wait_stopped(profile_hub, [(name, "")])


REFUSED = [
    ({"profile": "huge"}, "Profile 'huge' is not offered to user"),
    ({"profile": "gpu"}, "Profile 'gpu' is not offered to user"),
    ({"profile": "big", "memory": "all"}, "option 'memory': 'all' is not offered"),
    (
        {"profile": "big", "image--unlisted-choice": "evil/image:latest"},
        "'evil/image:latest' is not accepted: a tag of aiodockerspawner-test/tiny",
    ),
    ({"profile": ["big"]}, "expected a string"),
]


@pytest.mark.parametrize(("user_options", "reason"), REFUSED)
def test_refused_profiles_are_400_and_create_nothing(
    kind: str, profile_hub: RunningHub, user_options: dict[str, Any], reason: str
) -> None:
    name = "ulla"
    before = len(pre_spawn_seen(profile_hub, name))
    resp = spawn(profile_hub, name, user_options)
    assert resp.status_code == 400, resp.text
    message = resp.json()["message"]
    assert reason in message and "\n" not in message
    assert not [o for o in objects_of(kind, profile_hub.prefix) if name in o]
    assert profile_hub.api("GET", f"users/{name}").json()["servers"] == {}
    # refused in apply_user_options: the pre_spawn_hook never ran
    assert len(pre_spawn_seen(profile_hub, name)) == before
