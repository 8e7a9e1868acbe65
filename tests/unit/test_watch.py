"""The watcher's pure parts: list items and events turned into cache entries."""

from __future__ import annotations

from typing import Any

import pytest

from aiodockerspawner.backends.container.observe import container_event, container_from_summary
from aiodockerspawner.backends.docker.watch import IGNORED, REMOVED
from aiodockerspawner.labels import LABEL_HUB, derive_hub_id, normalize_db_url, owned_by
from aiodockerspawner.model import ObjectStatus, ObservedObject


def event(action: str, object_id: str = "abc123", **attrs: str) -> dict[str, Any]:
    return {
        "Type": "container",
        "Action": action,
        "Actor": {"ID": object_id, "Attributes": {"name": "jupyter-ann", "image": "img", **attrs}},
        "timeNano": 1_700_000_000_123_456_789,
    }


def test_summary_running_and_exited() -> None:
    running = container_from_summary(
        {
            "Id": "abc",
            "Names": ["/jupyter-ann"],
            "Image": "img:1",
            "State": "running",
            "Status": "Up 3 minutes",
            "Labels": {LABEL_HUB: "h"},
        }
    )
    assert running.name == "jupyter-ann"
    assert running.status.running and running.status.exit_code is None
    assert running.labels == {LABEL_HUB: "h"}
    exited = container_from_summary(
        {"Id": "d", "Names": ["/x"], "State": "exited", "Status": "Exited (137) 2 seconds ago"}
    )
    assert not exited.status.running
    assert exited.status.exit_code == 137
    created = container_from_summary({"Id": "e", "Names": ["/y"], "State": "created"})
    assert not created.status.running and created.status.exit_code is None
    paused = container_from_summary({"Id": "f", "Names": ["/z"], "State": "paused"})
    assert paused.status.running


def test_event_sequence_converges() -> None:
    obj = container_event(event("create", **{LABEL_HUB: "h"}), None)
    assert isinstance(obj, ObservedObject)
    assert obj.status.status == "created" and obj.labels == {LABEL_HUB: "h"}
    obj = container_event(event("start"), obj)
    assert isinstance(obj, ObservedObject) and obj.status.running
    obj = container_event(event("die", exitCode="137"), obj)
    assert isinstance(obj, ObservedObject)
    assert obj.status == ObjectStatus(running=False, status="exited", exit_code=137)
    assert container_event(event("destroy"), obj) is REMOVED


def test_event_details() -> None:
    base = ObservedObject("abc123", "old", "img", ObjectStatus(running=True, status="running"))
    renamed = container_event(event("rename", name="new", oldName="/old"), base)
    assert isinstance(renamed, ObservedObject) and renamed.name == "new"
    assert container_event(event("exec_create: sh"), base) is IGNORED
    paused = container_event(event("pause"), base)
    assert isinstance(paused, ObservedObject) and paused.status.status == "paused"
    # Podman says "died"
    died = container_event(event("died", exitCode="3"), base)
    assert isinstance(died, ObservedObject) and died.status.exit_code == 3
    # an unknown object seen first through an uninteresting action is still recorded
    first = container_event(event("kill", signal="9"), None)
    assert isinstance(first, ObservedObject) and first.name == "jupyter-ann"
    assert container_event({"Action": "start", "Actor": {}}, None) is IGNORED


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///jupyterhub.sqlite", "sqlite:///srv/hub/jupyterhub.sqlite"),
        ("sqlite:////var/db/hub.sqlite", "sqlite:///var/db/hub.sqlite"),
        ("sqlite://", "sqlite://:memory:"),
        (
            "postgresql+psycopg2://u:secret@DB.example:5432/hub?ssl=1",
            "postgresql://db.example:5432/hub",
        ),
        ("mysql://db/hub", "mysql://db/hub"),
    ],
)
def test_normalize_db_url(url: str, expected: str) -> None:
    assert normalize_db_url(url, cwd="/srv/hub") == expected


def test_derived_hub_id_is_stable_and_distinct() -> None:
    a = derive_hub_id("postgresql://u:one@db/hub", "/hub/")
    assert a == derive_hub_id("postgresql+psycopg2://u:two@db/hub", "/hub/")
    assert a.startswith("hub-") and len(a) == 16
    assert a != derive_hub_id("postgresql://u:one@db/otherhub", "/hub/")
    assert derive_hub_id("sqlite:///j.sqlite", "/hub/", cwd="/a") != derive_hub_id(
        "sqlite:///j.sqlite", "/hub/", cwd="/b"
    )


def test_owned_by() -> None:
    labels = {"aiodockerspawner.managed-by": "aiodockerspawner", LABEL_HUB: "h1"}
    assert owned_by(labels, "h1")
    assert not owned_by(labels, "h2")
    assert not owned_by({LABEL_HUB: "h1"}, "h1")
    assert not owned_by(None, "h1")


async def test_a_starts_own_inspect_fills_in_for_a_late_start_event() -> None:
    """Podman sends ``start`` some 0.2 s after the start request answered."""
    from aiodockerspawner.backends.container.observe import ContainerSource
    from aiodockerspawner.backends.docker.client import Endpoint
    from aiodockerspawner.backends.docker.watch import Watcher

    watcher = Watcher(Endpoint("unix:///nonexistent.sock"), ContainerSource(), "h")
    watcher._connected = True
    labels = {LABEL_HUB: "h"}

    def obj(status: str, running: bool) -> ObservedObject:
        state = ObjectStatus(running=running, status=status, exit_code=None if running else 3)
        return ObservedObject(id="c1", name="n", image="i", status=state, labels=labels)

    watcher._store(obj("created", False))
    watcher.note(obj("running", True))
    assert watcher.get("c1") == obj("running", True)
    # an exit the events already reported is newer than the start's inspect
    watcher._store(obj("exited", False))
    watcher.note(obj("running", True))
    assert watcher.get("c1") == obj("exited", False)
    # another Hub's object is never stored
    other = ObservedObject(id="c2", name="m", image="i", status=ObjectStatus(True, "running"))
    watcher.note(other)
    assert watcher.get("c2") is None
