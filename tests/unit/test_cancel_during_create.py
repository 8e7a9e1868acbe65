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
