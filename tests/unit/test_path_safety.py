"""User and server names cannot move a templated volume path."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tornado.web import HTTPError

from aiodockerspawner import SwarmSpawner, SystemUserSpawner, SystemUserSwarmSpawner
from aiodockerspawner.core import naming
from aiodockerspawner.core.naming import path_steered
from tests.helpers import make_spawner


@pytest.mark.parametrize(
    ("template", "rendered", "steered"),
    [
        ("/srv/{raw_username}", "/srv/alice", False),
        ("/srv/{raw_username}", "/srv/..", True),
        ("/srv/{raw_username}/data", "/srv/../data", True),
        ("/srv/{raw_username}", "/srv/alice/../../etc", True),
        ("/srv/{raw_username}", "/srv/a/b", True),
        ("/srv/{raw_username}", "/srv/a\x00b", True),
        ("/srv/../shared/{username}", "/srv/../shared/alice", False),  # the admin's own ..
        ("jupyterhub-user-{username}", "jupyterhub-user-alice", False),
    ],
)
def test_path_steered(template: str, rendered: str, steered: bool) -> None:
    assert path_steered(template, rendered) is steered


@given(st.text(min_size=1, max_size=200))
def test_escaped_username_never_steers(name: str) -> None:
    spawner = make_spawner(user=name, volumes={"/srv/{username}": "/home/{username}"})
    binds = spawner.volume_binds
    (source,) = binds
    assert source.startswith("/srv/") and source.count("/") == 2


@pytest.mark.parametrize("name", ["..", "a/../../etc", "x/y"])
def test_raw_username_that_steers_is_refused(name: str) -> None:
    spawner = make_spawner(user=name, volumes={"/srv/{raw_username}": "/home/jovyan"})
    with pytest.raises(HTTPError) as info:
        spawner.volume_binds  # noqa: B018
    assert info.value.status_code == 400
    assert "/srv/{raw_username}" in str(info.value.log_message)


def test_custom_format_volume_name_is_trusted() -> None:
    spawner = make_spawner(
        user="alice",
        volumes={"{username}": "/home/jovyan"},
        format_volume_name=lambda template, sp: f"/nfs/users/{sp.user.name}/data",
    )
    assert list(spawner.volume_binds) == ["/nfs/users/alice/data"]


@pytest.mark.parametrize(
    ("template", "rendered", "steered"),
    [
        ("/srv/{raw_username}:/home/jovyan", "/srv/..:/home/jovyan", True),
        ("/srv/{raw_username}:/home/jovyan", "/srv/a:ro:/home/jovyan", True),
        ("/srv/{raw_username}:/home/jovyan:rw", "/srv/alice:/home/jovyan:rw", False),
        (":/exports/{raw_username}", ":/exports/.", True),
        ("{raw_username}-data", "..-data", False),  # one segment, not a directory move
    ],
)
def test_path_steered_in_bind_strings(template: str, rendered: str, steered: bool) -> None:
    assert path_steered(template, rendered) is steered


def test_host_path_templates_in_every_spelling() -> None:
    config = {
        "binds": ["/a/{raw_username}:/a", 42],
        "Binds": {"/b/{raw_username}": {"bind": "/b"}},
        "mounts": [
            {"type": "bind", "source": "/c/{raw_username}", "target": "/c"},
            {
                "type": "volume",
                "source": "v-{raw_username}",
                "target": "/v",
                "driver_config": {"name": "local", "options": {"device": ":/nfs/{raw_username}"}},
            },
            {"type": "tmpfs", "target": "/tmp/{raw_username}"},
        ],
        "Mounts": [
            {
                "Type": "volume",
                "Source": "w",
                "Target": "/w",
                "VolumeOptions": {"DriverConfig": {"Options": {"device": "/dev/{raw_username}"}}},
            }
        ],
        "devices": ["/dev/{raw_username}:/dev/x:rwm"],
        "Devices": [{"PathOnHost": "/dev/{raw_username}", "PathInContainer": "/dev/y"}],
        "host_config": {"Binds": ["/d/{raw_username}:/d"]},
        "container_spec": {"mounts": ["/e/{raw_username}:/e:ro"]},
        "labels": {"owner": "{raw_username}"},
        "shm_size": "1G",
    }
    assert naming.host_path_templates(config) == [
        ("['binds'][0]", "/a/{raw_username}:/a"),
        ("['Binds']['/b/{raw_username}']", "/b/{raw_username}"),
        ("['mounts'][0]['source']", "/c/{raw_username}"),
        ("['mounts'][1]['source']", "v-{raw_username}"),
        ("['mounts'][1]['driver_config']['options']['device']", ":/nfs/{raw_username}"),
        ("['Mounts'][0]['Source']", "w"),
        (
            "['Mounts'][0]['VolumeOptions']['DriverConfig']['Options']['device']",
            "/dev/{raw_username}",
        ),
        ("['devices'][0]", "/dev/{raw_username}:/dev/x:rwm"),
        ("['Devices'][0]['PathOnHost']", "/dev/{raw_username}"),
        ("['host_config']['Binds'][0]", "/d/{raw_username}:/d"),
        ("['container_spec']['mounts'][0]", "/e/{raw_username}:/e:ro"),
    ]


BASE = "/srv/data"

#: (traits, the setting the refusal must name); each steered by the user name ".."
STEERED_BY_USERNAME: list[tuple[dict[str, Any], str]] = [
    (
        {"mounts": [{"type": "bind", "source": BASE + "/{raw_username}", "target": "/d"}]},
        "DockerSpawner.mounts[0]['source']",
    ),
    (
        {"mounts": [{"Type": "volume", "Source": "{raw_username}", "Target": "/d"}]},
        "DockerSpawner.mounts[0]['Source']",
    ),
    (
        {"extra_host_config": {"binds": [BASE + "/{raw_username}:/d:rw"]}},
        "DockerSpawner.extra_host_config['binds'][0]",
    ),
    (
        {"extra_host_config": {"binds": {BASE + "/{raw_username}": {"bind": "/d"}}}},
        "DockerSpawner.extra_host_config['binds']['/srv/data/{raw_username}']",
    ),
    (
        {"extra_host_config": {"Binds": [BASE + "/{raw_username}:/d"]}},
        "DockerSpawner.extra_host_config['Binds'][0]",
    ),
    (
        {
            "extra_host_config": {
                "mounts": [{"type": "bind", "source": BASE + "/{raw_username}", "target": "/d"}]
            }
        },
        "DockerSpawner.extra_host_config['mounts'][0]['source']",
    ),
    (
        {
            "extra_host_config": lambda spawner: {
                "Mounts": [{"Type": "bind", "Source": BASE + "/{raw_username}", "Target": "/d"}]
            }
        },
        "DockerSpawner.extra_host_config['Mounts'][0]['Source']",
    ),
    (
        {"extra_create_kwargs": {"host_config": {"Binds": [BASE + "/{raw_username}:/d"]}}},
        "DockerSpawner.extra_create_kwargs['host_config']['Binds'][0]",
    ),
    (
        {"read_only_volumes": {BASE + "/{raw_username}": "/d"}},
        "DockerSpawner.read_only_volumes",
    ),
]


@pytest.mark.parametrize(("traits", "setting"), STEERED_BY_USERNAME)
async def test_templated_paths_steered_by_a_username_are_refused(
    traits: dict[str, Any], setting: str
) -> None:
    spawner = make_spawner(user="..", image="img", **traits)
    with pytest.raises(HTTPError) as info:
        await spawner.build_spec()
    assert info.value.status_code == 400
    message = str(info.value.log_message)
    assert message.startswith(setting + ": ")
    assert "\n" not in message
    assert getattr(info.value, "jupyterhub_message", message) == message


async def test_a_server_named_dotdot_cannot_move_a_mount() -> None:
    """JupyterHub 5.x allows a server named ``..``: /srv/alice/.. would be /srv."""
    spawner = make_spawner(
        user="alice",
        server_name="..",
        image="img",
        mounts=[{"type": "bind", "source": "/srv/{raw_username}/{raw_servername}", "target": "/d"}],
    )
    with pytest.raises(HTTPError) as info:
        await spawner.build_spec()
    assert info.value.status_code == 400
    assert "DockerSpawner.mounts[0]['source']" in str(info.value.log_message)


async def test_escaped_fields_and_untemplated_paths_pass() -> None:
    spawner = make_spawner(
        user="a/../b",
        image="img",
        mounts=[{"type": "bind", "source": "/srv/{username}", "target": "/d"}],
        extra_host_config={"binds": ["/srv/../shared:/shared:ro"]},
        extra_create_kwargs={"labels": {"owner": "{raw_username}"}},
    )
    spec = await spawner.build_spec()
    assert spec.mounts[0]["source"] == "/srv/a-2f-2e-2e-2fb"
    assert spec.extra_host_config["binds"] == ["/srv/../shared:/shared:ro"]
    assert spec.extra_create["labels"] == {"owner": "a/../b"}


@pytest.mark.parametrize(
    ("traits", "setting"),
    [
        (
            {"extra_container_spec": {"mounts": [BASE + "/{raw_username}:/d:ro"]}},
            "SwarmSpawner.extra_container_spec['mounts'][0]",
        ),
        (
            {
                "extra_task_spec": {
                    "ContainerSpec": {
                        "Mounts": [{"Type": "bind", "Source": BASE + "/{raw_username}"}]
                    }
                }
            },
            "SwarmSpawner.extra_task_spec['ContainerSpec']['Mounts'][0]['Source']",
        ),
        (
            {"mounts": [{"type": "bind", "source": BASE + "/{raw_username}", "target": "/d"}]},
            "DockerSpawner.mounts[0]['source']",
        ),
    ],
)
async def test_swarm_paths_steered_by_a_username_are_refused(
    traits: dict[str, Any], setting: str
) -> None:
    spawner = make_spawner(SwarmSpawner, user="..", image="img", **traits)
    with pytest.raises(HTTPError) as info:
        await spawner.build_spec()
    assert info.value.status_code == 400
    assert str(info.value.log_message).startswith(setting + ": ")


@pytest.mark.parametrize("cls", [SystemUserSpawner, SystemUserSwarmSpawner])
@pytest.mark.parametrize(
    ("traits", "setting"),
    [
        ({}, "SystemUserSpawner.image_homedir_format_string"),
        (
            {"image_homedir_format_string": "/home/jovyan"},
            "SystemUserSpawner.host_homedir_format_string",
        ),
    ],
)
async def test_system_user_home_steered_by_a_username_is_refused(
    cls: type[SystemUserSpawner], traits: dict[str, Any], setting: str
) -> None:
    spawner = make_spawner(cls, user="..", image="img", user_id=1234, group_id=100, **traits)
    with pytest.raises(HTTPError) as info:
        await spawner.build_spec()
    assert info.value.status_code == 400
    assert str(info.value.log_message).startswith(setting + ": ")
