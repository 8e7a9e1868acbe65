"""Ownership labels on volumes, and the orphan sweep with two Hubs on one daemon.

Each Hub's knowledge is a real JupyterHub database (``jupyterhub.orm`` on an
in-memory sqlite), as the sweep reads it in a running Hub.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from jupyterhub import orm

from aiodockerspawner import DockerSpawner
from aiodockerspawner.backends.container.sweep import OrphanSweeper
from aiodockerspawner.labels import (
    LABEL_HUB,
    LABEL_MANAGED_BY,
    LABEL_SERVER,
    LABEL_USER,
    LABEL_VERSION,
)
from tests.conftest import TEST_HUB_ID, TEST_PREFIX
from tests.helpers import docker_cli, make_spawner, unique_user, wait_for

pytestmark = pytest.mark.docker

HUB_A = f"{TEST_HUB_ID}-hub-a"
HUB_B = f"{TEST_HUB_ID}-hub-b"


def hub_database(servers: dict[str, list[str]]) -> orm.Session:
    """A Hub database with these users and their spawner rows."""
    session = orm.new_session_factory("sqlite://")()
    for name, names in servers.items():
        user = orm.User(name=name)
        session.add(user)
        for server in names:
            session.add(orm.Spawner(name=server, user=user))
    session.commit()
    return session


class Objects:
    """Containers and volumes made for a test, removed afterwards whatever happens."""

    def __init__(self) -> None:
        self.containers: list[str] = []
        self.volumes: list[str] = []

    async def container(self, hub: str, user: str, server: str, image: str) -> str:
        name = f"{TEST_PREFIX}-sweep-{unique_user()}"
        await docker_cli(
            "run", "-d", "--network", "none", "--name", name,
            "--label", f"{LABEL_MANAGED_BY}=aiodockerspawner", "--label", f"{LABEL_HUB}={hub}",
            "--label", f"{LABEL_USER}={user}", "--label", f"{LABEL_SERVER}={server}",
            image,
        )  # fmt: skip
        self.containers.append(name)
        return name

    async def volume(self, hub: str, user: str) -> str:
        name = f"{TEST_PREFIX}-sweep-{unique_user()}"
        await docker_cli(
            "volume", "create", "--label", f"{LABEL_MANAGED_BY}=aiodockerspawner",
            "--label", f"{LABEL_HUB}={hub}", "--label", f"{LABEL_USER}={user}", name,
        )  # fmt: skip
        self.volumes.append(name)
        return name

    async def remaining(self) -> set[str]:
        containers = (await docker_cli("ps", "-a", "--format", "{{.Names}}")).split()
        volumes = (await docker_cli("volume", "ls", "--format", "{{.Name}}")).split()
        return (set(containers) & set(self.containers)) | (set(volumes) & set(self.volumes))


@pytest.fixture
async def objects() -> AsyncIterator[Objects]:
    made = Objects()
    yield made
    if made.containers:
        await docker_cli("rm", "-f", *made.containers, check=False)
    if made.volumes:
        await docker_cli("volume", "rm", "-f", *made.volumes, check=False)


def sweeping_spawner(hub_id: str, session: orm.Session, user: str) -> DockerSpawner:
    """A spawner of ``user``'s default server whose row lives in ``session``."""
    spawner = make_spawner(user=user, hub_id=hub_id, orphan_sweep=True, orphan_sweep_volumes=True)
    owner = session.query(orm.User).filter_by(name=user).one()
    spawner.orm_spawner.user = owner
    session.add(spawner.orm_spawner)
    session.commit()
    return spawner


async def run_sweep(spawner: DockerSpawner) -> OrphanSweeper:
    sweeper = spawner._start_sweeper()
    assert sweeper is not None

    async def swept() -> bool:
        return sweeper.runs >= 1

    await wait_for(swept, timeout=30)
    return sweeper


async def test_two_hubs_on_one_daemon_sweep_only_their_own_orphans(
    objects: Objects, tiny_image: str
) -> None:
    ada, bob, cy = unique_user("ada"), unique_user("bob"), unique_user("cy")
    # hub A knows ada (default server, "lab", and "new", renamed from "old") and bob
    db_a = hub_database({ada: ["lab", "new"], bob: [""]})
    a_default = await objects.container(HUB_A, ada, "", tiny_image)
    a_lab = await objects.container(HUB_A, ada, "lab", tiny_image)
    a_renamed = await objects.container(HUB_A, ada, "old", tiny_image)
    renamed_row = db_a.query(orm.Spawner).filter_by(name="new").one()
    renamed_row.state = {"object_name": a_renamed}
    db_a.commit()
    a_deleted_server = await objects.container(HUB_A, ada, "gone", tiny_image)
    a_deleted_user = await objects.container(HUB_A, cy, "", tiny_image)
    a_volume_kept = await objects.volume(HUB_A, bob)
    a_volume_orphan = await objects.volume(HUB_A, cy)
    # hub B knows only bob; cy's objects there are B's orphans, not A's business
    db_b = hub_database({bob: [""]})
    b_orphan = await objects.container(HUB_B, cy, "", tiny_image)
    b_kept = await objects.container(HUB_B, bob, "", tiny_image)
    b_volume_orphan = await objects.volume(HUB_B, cy)
    # a container without our labels at all
    foreign = f"{TEST_PREFIX}-sweep-foreign-{unique_user()}"
    await docker_cli("run", "-d", "--network", "none", "--name", foreign, tiny_image)
    objects.containers.append(foreign)

    sweeper_a = await run_sweep(sweeping_spawner(HUB_A, db_a, ada))
    assert sweeper_a.last is not None
    assert sorted(sweeper_a.last.containers) == sorted([a_deleted_server, a_deleted_user])
    assert sweeper_a.last.volumes == [a_volume_orphan]
    assert await objects.remaining() == {
        a_default, a_lab, a_renamed, a_volume_kept,
        b_orphan, b_kept, b_volume_orphan, foreign,
    }  # fmt: skip

    sweeper_b = await run_sweep(sweeping_spawner(HUB_B, db_b, bob))
    assert sweeper_b.last is not None
    assert sweeper_b.last.containers == [b_orphan]
    assert sweeper_b.last.volumes == [b_volume_orphan]
    assert await objects.remaining() == {
        a_default, a_lab, a_renamed, a_volume_kept, b_kept, foreign,
    }  # fmt: skip


async def test_sweep_is_off_by_default(objects: Objects, tiny_image: str) -> None:
    spawner = make_spawner(user=unique_user())
    assert spawner._start_sweeper() is None


async def test_named_volumes_get_ownership_labels(tiny_image: str) -> None:
    spawner = make_spawner(
        image=tiny_image,
        remove=True,
        stop_grace_period=0,
        server_name="lab",
        volumes={f"{TEST_PREFIX}-vol-{{username}}-{{servername}}": "/srv/work"},
    )
    volume = f"{TEST_PREFIX}-vol-{spawner.escaped_name}-lab"
    try:
        await spawner.start()
        await spawner.stop()
        labels = json.loads(await docker_cli("volume", "inspect", "-f", "{{json .Labels}}", volume))
        assert labels[LABEL_HUB] == TEST_HUB_ID
        assert labels[LABEL_USER] == spawner.user.name
        assert labels[LABEL_SERVER] == "lab"
        assert labels[LABEL_MANAGED_BY] == "aiodockerspawner"
        assert LABEL_VERSION in labels
    finally:
        await docker_cli("volume", "rm", "-f", volume, check=False)
