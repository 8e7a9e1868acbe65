"""A server only ever resumes, replaces, renames or deletes its own objects (fake Engine).

The real daemon and the real Hub prove the same in tests/docker/test_lifetime.py
and tests/e2e/test_lifetime_hub.py; these pin the decisions one by one.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from aiodockerspawner import DockerSpawner
from aiodockerspawner.errors import DockerOperationError
from aiodockerspawner.labels import LABEL_SERVER, LABEL_USER, other_owner
from aiodockerspawner.testing import FakeEngine
from aiodockerspawner.testing.pytest_plugin import DEFAULT_IMAGE, fake_docker, fake_spawner
from tests.helpers import make_spawner

__all__ = ["fake_docker", "fake_spawner"]  # fixtures used below

SpawnerFactory = Callable[..., DockerSpawner]
#: one name for every server of a user, so that servers meet on one container name
SHARED_NAME = "{prefix}-{username}-box"


def test_other_owner_from_labels_then_environment() -> None:
    mine = {"user": "ada", "server": "lab"}
    assert other_owner({LABEL_USER: "ada", LABEL_SERVER: "lab"}, {}, **mine) is None
    assert (
        other_owner({LABEL_USER: "ada", LABEL_SERVER: "old"}, {}, **mine)
        == "server 'old' of user 'ada'"
    )
    assert other_owner({LABEL_USER: "ada", LABEL_SERVER: ""}, {}, **mine) == (
        "the default server of user 'ada'"
    )
    # labels win over the environment
    env = {"JUPYTERHUB_USER": "bob", "JUPYTERHUB_SERVER_NAME": "x"}
    assert other_owner({LABEL_USER: "ada", LABEL_SERVER: "lab"}, env, **mine) is None
    # dockerspawner's containers: no labels, JupyterHub's environment
    assert other_owner({}, env, **mine) == "server 'x' of user 'bob'"
    same = {"JUPYTERHUB_USER": "ada", "JUPYTERHUB_SERVER_NAME": "lab"}
    assert other_owner({}, same, **mine) is None
    # nothing but a service prefix
    prefix = {"JUPYTERHUB_SERVICE_PREFIX": "/user/bob/x/"}
    assert other_owner({}, prefix, **mine, service_prefix="/user/ada/lab/") is not None
    assert other_owner({}, prefix, **mine, service_prefix="/user/bob/x/") is None
    assert other_owner({}, {}, **mine) is None  # cannot tell: this Hub's, as before


async def started_and_stopped(spawner: DockerSpawner) -> str:
    await spawner.start()
    await spawner.stop()
    return str(spawner.object_id)


async def test_another_servers_container_is_refused_and_left_alone(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    first = fake_spawner(user="ada", server_name="a", name_template=SHARED_NAME, remove=False)
    first_id = await started_and_stopped(first)
    env = fake_docker.containers[first_id].config["Env"]
    other = fake_spawner(user="ada", server_name="b", name_template=SHARED_NAME, remove=False)
    own_token = other.api_token
    with pytest.raises(DockerOperationError) as info:
        await other.start()
    assert info.value.status == 409
    assert "server 'a' of user 'ada'" in str(info.value)
    assert other.api_token == own_token  # not the other server's
    assert list(fake_docker.containers) == [first_id]
    assert fake_docker.containers[first_id].status == "exited"
    assert fake_docker.containers[first_id].config["Env"] == env


@pytest.mark.parametrize("remove", [False, True])
async def test_an_unlabelled_container_of_another_user_is_refused(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory, remove: bool
) -> None:
    spawner = fake_spawner(user="ada", remove=remove)
    # what dockerspawner made for bob under the name ada's server renders to
    bobs = await spawner.client.containers.create(
        {
            "Image": DEFAULT_IMAGE,
            "Env": ["JUPYTERHUB_USER=bob", "JUPYTERHUB_SERVER_NAME=", "JUPYTERHUB_API_TOKEN=bobs"],
        },
        name=spawner.object_name,
    )
    with pytest.raises(DockerOperationError, match="the default server of user 'bob'"):
        await spawner.start()
    assert spawner.api_token != "bobs"
    assert list(fake_docker.containers) == [bobs.id]


async def test_a_dockerspawner_container_of_this_server_is_resumed(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    spawner = fake_spawner(user="ada", remove=False)
    made = await spawner.client.containers.create(
        {
            "Image": DEFAULT_IMAGE,
            "Env": ["JUPYTERHUB_USER=ada", "JUPYTERHUB_SERVER_NAME=", "JUPYTERHUB_API_TOKEN=kept"],
            "HostConfig": {"PortBindings": {"8888/tcp": [{"HostIp": "127.0.0.1"}]}},
        },
        name=spawner.object_name,
    )
    await spawner.start()
    assert spawner.object_id == made.id
    assert spawner.api_token == "kept"
    await spawner.stop()


async def test_own_container_made_for_the_old_server_name_is_recreated(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    """The renamed server's container (found by the id in its state) cannot serve it."""
    old = fake_spawner(user="ada", server_name="a", name_template=SHARED_NAME, remove=False)
    old_id = await started_and_stopped(old)
    old_env = fake_docker.containers[old_id].config["Env"]
    renamed = fake_spawner(
        user="ada", server_name="b", name_template=SHARED_NAME, remove=False, resume_drift="keep"
    )
    renamed.load_state(old.get_state())
    await renamed.start()
    assert renamed.object_id != old_id
    assert list(fake_docker.containers) == [renamed.object_id]
    env = fake_docker.containers[renamed.object_id].config["Env"]
    assert "JUPYTERHUB_SERVER_NAME=b" in env
    assert not set(env) & {e for e in old_env if e.startswith("JUPYTERHUB_API_TOKEN=")}
    await renamed.stop()


async def test_delete_forever_leaves_what_is_not_this_servers(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    owner = fake_spawner(user="ada", server_name="a", name_template=SHARED_NAME, remove=False)
    await owner.start()  # running
    other_hub = fake_spawner(
        user="ada", server_name="a", name_template=SHARED_NAME, hub_id="hub-other"
    )
    other_server = fake_spawner(user="ada", server_name="b", name_template=SHARED_NAME)
    await other_hub.delete_forever()
    await other_server.delete_forever()
    assert fake_docker.containers[owner.object_id].running

    await owner.stop()
    kept_id = owner.object_id
    await owner.delete_forever()
    assert kept_id not in fake_docker.containers


async def test_imagename_gives_each_image_its_container(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    fake_docker.add_image("example/other:2")
    images = {"one": DEFAULT_IMAGE, "two": "example/other:2"}
    spawner = fake_spawner(
        user="ada",
        remove=False,
        name_template="{prefix}-{username}-{imagename}",
        allowed_images=images,
    )

    async def start_with(choice: str, state: dict | None = None) -> DockerSpawner:
        nonlocal spawner
        if state is not None:  # a Hub restarted in between: a new spawner, the saved state
            spawner = fake_spawner(
                user="ada",
                remove=False,
                name_template="{prefix}-{username}-{imagename}",
                allowed_images=images,
            )
            spawner.load_state(state)
        spawner.user_options = {"image": choice}
        await spawner.start()
        await spawner.stop()
        return spawner

    first = (await start_with("one")).object_id
    second = (await start_with("two")).object_id
    assert second != first
    assert set(fake_docker.containers) == {first, second}  # the first image's is kept
    assert (await start_with("one")).object_id == first
    # the same after a Hub restart: the state names the other image's container
    assert (await start_with("two", spawner.get_state())).object_id == second
    assert (await start_with("one", spawner.get_state())).object_id == first
    assert set(fake_docker.containers) == {first, second}


def test_object_name_for_another_server_name() -> None:
    default = make_spawner(user="ada", prefix="jh")
    assert default.object_name == "jh-ada"
    # renaming the default server (JupyterHub 6): the named-server default applies
    assert default.object_name_for("lab") == "jh-ada--lab"
    named = make_spawner(user="ada", server_name="lab", prefix="jh")
    assert named.object_name_for("lab2") == "jh-ada--lab2"
    assert named.object_name_for("Lab2") == "jh-ada--lab2"  # lower-cased like the rest
    template = "{prefix}-{imagename}-{servername}"
    custom = make_spawner(user="ada", server_name="lab", prefix="jh", name_template=template)
    assert custom.object_name_for("x", image="reg:5000/img:1") == "jh-reg-5000-img-1-x"


async def test_rename_leaves_a_container_that_is_not_this_servers(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    theirs = fake_spawner(user="ada", server_name="a", hub_id="hub-other", remove=False)
    their_id = await started_and_stopped(theirs)
    ours = fake_spawner(user="ada", server_name="a", remove=False)  # no state
    await ours.rename("a", "b")  # the fake Engine has no rename route: it would fail
    assert fake_docker.containers[their_id].name == theirs.object_name
    assert not ours.object_id
