"""How the events cache sees containers: list items, events and inspects as observations."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import aiodocker

from aiodockerspawner.backends.container.backend import observed_from_inspect
from aiodockerspawner.backends.docker.client import docker_errors
from aiodockerspawner.backends.docker.engine import engine_request
from aiodockerspawner.backends.docker.watch import (
    IGNORED,
    ITEMS_PER_SLICE,
    REMOVED,
    EventResult,
    decode_array,
    event_action,
)
from aiodockerspawner.errors import DockerOperationError
from aiodockerspawner.labels import hub_filter
from aiodockerspawner.model import ObjectStatus, ObservedObject

_EXITED = re.compile(r"^Exited \((-?\d+)\)")


def container_from_summary(item: Mapping[str, Any]) -> ObservedObject:
    """A cache entry from one ``GET /containers/json`` item.

    The list gives no exit code field; Docker writes it into the ``Status``
    text (``Exited (137) 3 seconds ago``), which is stable across versions.
    """
    state = str(item.get("State") or "")
    status_text = str(item.get("Status") or "")
    match = _EXITED.match(status_text)
    names = item.get("Names") or [""]
    return ObservedObject(
        id=str(item.get("Id", "")),
        name=str(names[0]).lstrip("/"),
        image=str(item.get("Image") or ""),
        status=ObjectStatus(
            running=state in ("running", "paused", "restarting"),
            status=state,
            exit_code=int(match.group(1)) if match else None,
        ),
        labels=dict(item.get("Labels") or {}),
    )


#: Docker's (and Podman's) container event actions and the status they leave
_RUNNING_ACTIONS = {"start": "running", "restart": "running", "unpause": "running"}
_LABEL_SKIP = {"name", "image", "exitCode", "oldName", "signal", "execID"}


def _actor(event: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    actor = event.get("Actor") or {}
    attrs = {str(k): str(v) for k, v in (actor.get("Attributes") or {}).items()}
    return str(actor.get("ID") or event.get("id") or ""), attrs


def container_event(event: Mapping[str, Any], current: ObservedObject | None) -> EventResult:
    """The cache entry for a container after ``event``.

    Container events carry the name, the image and every label in their
    attributes, and ``die`` carries the exit code, so no request is needed.
    """
    action = event_action(event)
    object_id, attrs = _actor(event)
    if not object_id:
        return IGNORED
    if action == "destroy":
        return REMOVED
    base = current or ObservedObject(
        id=object_id,
        name=attrs.get("name", ""),
        image=attrs.get("image", ""),
        status=ObjectStatus(running=False, status="created"),
        labels={k: v for k, v in attrs.items() if k not in _LABEL_SKIP},
    )
    if action == "create":
        return replace(base, status=ObjectStatus(running=False, status="created"))
    if action in _RUNNING_ACTIONS:
        return replace(base, status=ObjectStatus(running=True, status="running"))
    if action == "pause":
        return replace(base, status=ObjectStatus(running=True, status="paused"))
    if action in ("die", "died"):
        code = attrs.get("exitCode")
        exit_code = int(code) if code and code.lstrip("-").isdigit() else None
        exited = ObjectStatus(running=False, status="exited", exit_code=exit_code)
        return replace(base, status=exited)
    if action == "rename" and attrs.get("name"):
        return replace(base, name=attrs["name"])
    if current is None:
        # an action that changes nothing we track, for an object we did not know yet
        return base
    return IGNORED


class ContainerSource:
    """Plain containers: ``type=container`` events, ``/containers/json`` list."""

    kind = "container"

    def event_filters(self, hub_id: str) -> dict[str, list[str]]:
        return {"type": ["container"], "label": hub_filter(hub_id)}

    async def snapshot(self, docker: aiodocker.Docker, hub_id: str) -> list[ObservedObject]:
        """One list request; its answer (about 1.4 KB per container) is decoded in slices."""
        params = {"all": "1", "filters": json.dumps({"label": hub_filter(hub_id)})}
        async with docker_errors("list containers", f"of hub {hub_id}"):
            async with await engine_request(docker, "containers/json", params=params) as response:
                text = await response.text()
            items = await decode_array(text)
        out = []
        for i, item in enumerate(items, 1):
            out.append(container_from_summary(item))
            if i % ITEMS_PER_SLICE == 0:
                await asyncio.sleep(0)
        return out

    def apply(self, event: Mapping[str, Any], current: ObservedObject | None) -> EventResult:
        return container_event(event, current)

    async def fetch(self, docker: aiodocker.Docker, name_or_id: str) -> ObservedObject | None:
        try:
            async with docker_errors("inspect container", name_or_id):
                data = await docker.containers.container(name_or_id).show()
        except DockerOperationError as e:
            if e.status == 404:
                return None
            raise
        return observed_from_inspect(data)


# -- the watcher -------------------------------------------------------------------
