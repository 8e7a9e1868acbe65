"""A start cancelled while its create request is in flight leaves nothing behind.

Docker may have created the container before the answer reaches us, so the
spawner does not know the id yet. It removes the object of that name only if
it carries this start's API token, never an older object of the same name.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aiodockerspawner import DockerSpawner
from aiodockerspawner.errors import ObjectExists
from aiodockerspawner.model import ObjectSpec, ObjectStatus, ObservedObject
from tests.helpers import make_spawner


class SlowCreateBackend:
    """Creates (or not) the object, then never answers the create request."""

    object_type = "container"

    def __init__(self, *, creates: bool) -> None:
        self.creates = creates
        self.objects: dict[str, ObservedObject] = {}
        self.in_create = asyncio.Event()

    async def create(self, spec: ObjectSpec, policy: str) -> ObservedObject:
        if self.creates:
            self.objects[spec.name] = ObservedObject(
                id="new", name=spec.name, image=spec.image, status=ObjectStatus(False), env=spec.env
            )
        self.in_create.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def inspect(self, name_or_id: str) -> ObservedObject | None:
        return self.objects.get(name_or_id)

    async def remove(self, name_or_id: str) -> None:
        self.objects.pop(name_or_id, None)

    async def stop(self, name_or_id: str, grace: float) -> None:
        pass


async def cancel_in_create(
    backend: SlowCreateBackend, monkeypatch: pytest.MonkeyPatch, user: str = "ada"
) -> Any:
    monkeypatch.setattr(DockerSpawner, "backend", property(lambda self: backend))
    spawner = make_spawner(image="example/image:1", user=user, remove=False, events_cache=False)
    task = asyncio.create_task(spawner.start())
    await asyncio.wait_for(backend.in_create.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return spawner


async def test_object_created_before_the_cancel_is_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = SlowCreateBackend(creates=True)
    spawner = await cancel_in_create(backend, monkeypatch)
    assert backend.objects == {}
    assert not spawner.object_id


async def test_an_older_object_of_the_same_name_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = SlowCreateBackend(creates=False)
    spawner = make_spawner(image="example/image:1", user="ada")
    old = ObservedObject(
        id="old",
        name=spawner.object_name,
        image="example/image:1",
        status=ObjectStatus(False, "exited", 0),
        env={"JUPYTERHUB_API_TOKEN": "the-previous-token"},
    )
    backend.objects[old.name] = old
    await cancel_in_create(backend, monkeypatch)
    assert backend.objects == {old.name: old}


class ConflictThenSlowCreateBackend(SlowCreateBackend):
    """The first create finds the name taken; the adoption's create then hangs."""

    def __init__(self, existing: ObservedObject) -> None:
        super().__init__(creates=True)
        self.objects[existing.name] = existing
        self.conflicts = 0

    async def create(self, spec: ObjectSpec, policy: str) -> ObservedObject:
        if spec.name in self.objects:
            self.conflicts += 1
            raise ObjectExists("create container", spec.name, 409, "name in use")
        return await super().create(spec, policy)

    async def remove(self, name_or_id: str) -> None:
        for name, obj in list(self.objects.items()):
            if name_or_id in (name, obj.id):
                del self.objects[name]


@pytest.mark.parametrize(
    ("remove", "image"),
    [
        (True, "example/image:1"),  # a leftover is removed, then the create hangs
        (False, "example/image:0"),  # the image changed: recreated, and the create hangs
    ],
)
async def test_object_created_by_the_adoption_is_removed_on_cancel(
    monkeypatch: pytest.MonkeyPatch, remove: bool, image: str
) -> None:
    name = make_spawner(image="example/image:1", user="ada").object_name
    old = ObservedObject(
        id="old",
        name=name,
        image=image,
        status=ObjectStatus(False, "exited", 0),
        env={"JUPYTERHUB_API_TOKEN": "the-previous-token", "JUPYTERHUB_USER": "ada"},
    )
    backend = ConflictThenSlowCreateBackend(old)
    monkeypatch.setattr(DockerSpawner, "backend", property(lambda self: backend))
    spawner = make_spawner(image="example/image:1", user="ada", remove=remove, events_cache=False)
    task = asyncio.create_task(spawner.start())
    await asyncio.wait_for(backend.in_create.wait(), 5)
    assert backend.conflicts == 1
    assert backend.objects[name].id == "new"  # Docker made it; the answer never came
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert backend.objects == {}
    assert not spawner.object_id
