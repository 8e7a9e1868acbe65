"""Orphan rules, volume naming for labels, and the default hub id (no Docker)."""

from __future__ import annotations

from pathlib import Path

from jupyterhub import orm
from traitlets.config import Config

from aiodockerspawner import testing
from aiodockerspawner.backends.container.sweep import orphan_objects, orphan_volumes
from aiodockerspawner.backends.container.volumes import named_volumes, volume_labels
from aiodockerspawner.hubdb import known_from_db, known_from_rows
from aiodockerspawner.labels import (
    LABEL_HUB,
    LABEL_MANAGED_BY,
    LABEL_SERVER,
    LABEL_USER,
    derive_hub_id,
)
from aiodockerspawner.model import (
    KnownServers,
    ObjectSpec,
    ObjectStatus,
    ObservedObject,
    VolumeBind,
)


def obj(name: str, hub: str, user: str | None, server: str = "") -> ObservedObject:
    labels = {LABEL_MANAGED_BY: "aiodockerspawner", LABEL_HUB: hub, LABEL_SERVER: server}
    if user is not None:
        labels[LABEL_USER] = user
    return ObservedObject(f"id-{name}-0123456789", name, "img", ObjectStatus(True), labels=labels)


def test_orphans_are_unknown_servers_of_this_hub_only() -> None:
    known = known_from_rows(
        [("ada", "", None), ("ada", "new", {"object_name": "c-renamed"}), ("bob", None, None)]
    )
    assert known.users == {"ada", "bob"}
    objects = [
        obj("c-ada", "h", "ada"),
        obj("c-renamed", "h", "ada", "old"),
        obj("c-gone-server", "h", "ada", "gone"),
        obj("c-bob", "h", "bob"),  # bob has no spawner row: an orphan
        obj("c-other-hub", "other", "cy"),
        obj("c-no-user-label", "h", None),
    ]
    assert [o.name for o in orphan_objects(objects, known, "h")] == ["c-gone-server", "c-bob"]
    by_id = KnownServers(objects=frozenset({"id-c-bob-0123"}))
    assert obj("c-bob", "h", "bob") not in orphan_objects([obj("c-bob", "h", "bob")], by_id, "h")


def test_orphan_volumes_are_those_of_users_gone() -> None:
    known = KnownServers(users=frozenset({"ada"}))
    mine = {LABEL_MANAGED_BY: "aiodockerspawner", LABEL_HUB: "h"}
    volumes = [
        {"Name": "v-ada", "Labels": {**mine, LABEL_USER: "ada"}},
        {"Name": "v-cy", "Labels": {**mine, LABEL_USER: "cy"}},
        {"Name": "v-other", "Labels": {**mine, LABEL_HUB: "x", LABEL_USER: "cy"}},
        {"Name": "v-nolabel", "Labels": None},
    ]
    assert orphan_volumes(volumes, known, "h") == ["v-cy"]


def test_known_from_a_real_hub_database() -> None:
    session = orm.new_session_factory("sqlite://")()
    ada = orm.User(name="ada")
    session.add_all([ada, orm.User(name="bob")])
    session.add(orm.Spawner(name="", user=ada, state={"object_id": "abc"}))
    session.commit()
    known = known_from_db(session)
    assert known == KnownServers(
        frozenset({"ada", "bob"}), frozenset({("ada", "")}), frozenset({"abc"})
    )


def spec(**kw: object) -> ObjectSpec:
    base: dict[str, object] = dict(
        name="n", image="i", env={}, command=None, args=[], port=8888, labels={}
    )
    base.update(kw)
    return ObjectSpec(**base)  # type: ignore[arg-type]


def test_named_volumes_of_a_spec() -> None:
    s = spec(
        binds=[
            VolumeBind("vol-a", "/a"),
            VolumeBind("/host/path", "/b"),
            VolumeBind("vol-a", "/c"),
        ],
        mounts=[
            {"type": "volume", "source": "vol-m", "target": "/m"},
            {"Type": "volume", "Source": "vol-driver", "Target": "/d", "VolumeOptions": {}},
            {"type": "bind", "source": "/x", "target": "/x"},
            {"type": "tmpfs", "target": "/t"},
        ],
        labels={LABEL_HUB: "h", LABEL_USER: "u", "other": "x"},
    )
    assert named_volumes(s) == ["vol-a", "vol-m"]
    assert volume_labels(s) == {LABEL_HUB: "h", LABEL_USER: "u"}
    assert (
        named_volumes(spec(binds=[VolumeBind("v", "/v")], extra_host_config={"volume_driver": "x"}))
        == []
    )


def test_default_hub_id_comes_from_the_hub_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/jupyterhub.sqlite"
    session = orm.new_session_factory(url)()
    spawner = testing.make_spawner()
    user = orm.User(name="alice")
    spawner.orm_spawner.user = user
    session.add(spawner.orm_spawner)
    assert spawner.hub_id == derive_hub_id(url, "/hub/")
    session.close()

    cfg = Config()
    cfg.JupyterHub.db_url = "postgresql://hub:secret@db/jupyterhub"
    first = testing.make_spawner(config=cfg)
    again = testing.make_spawner(config=cfg, user="bob")
    assert first.hub_id == again.hub_id == derive_hub_id("postgresql://db/jupyterhub", "/hub/")
    assert testing.make_spawner(hub_id="pinned").hub_id == "pinned"
