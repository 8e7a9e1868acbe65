"""Named volumes: created with the ownership labels before the container.

Docker creates a missing named volume on its own when a container mounts it,
but without labels. The container backend therefore creates each named
volume of a spec first (``POST /volumes/create``, which leaves an existing
volume and its labels as they are), so that the orphan sweep and
``delete_forever()`` can tell this Hub's volumes apart.

Volumes with a driver of their own (a mount's ``VolumeOptions``, or a
``volume_driver`` in ``extra_host_config``) are left to Docker: creating them
with the local driver here would change what they are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiodocker
from aiodocker.volumes import DockerVolume

from aiodockerspawner.backends.docker.client import docker_errors
from aiodockerspawner.errors import DockerOperationError
from aiodockerspawner.labels import (
    LABEL_HUB,
    LABEL_MANAGED_BY,
    LABEL_SERVER,
    LABEL_USER,
    LABEL_VERSION,
)
from aiodockerspawner.model import ObjectSpec

_VOLUME_LABELS = (LABEL_MANAGED_BY, LABEL_HUB, LABEL_USER, LABEL_SERVER, LABEL_VERSION)


def _get(mount: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in mount:
            return mount[key]
    return None


def named_volumes(spec: ObjectSpec) -> list[str]:
    """The named volumes of ``spec`` that this spawner may create (pure)."""
    names: list[str] = []
    custom_driver = any(k in spec.extra_host_config for k in ("volume_driver", "VolumeDriver"))
    if not custom_driver:
        names += [b.source for b in spec.binds if b.source and "/" not in b.source]
    for mount in spec.mounts:
        kind = _get(mount, "type", "Type") or "volume"
        source = _get(mount, "source", "Source")
        options = any(
            k in mount
            for k in ("volume_options", "VolumeOptions", "driver_config", "DriverConfig", "labels")
        )
        if kind == "volume" and source and not options:
            names.append(str(source))
    return list(dict.fromkeys(names))


def volume_labels(spec: ObjectSpec) -> dict[str, str]:
    """The ownership labels a spec's volumes get (those of its object)."""
    return {k: spec.labels[k] for k in _VOLUME_LABELS if k in spec.labels}


async def ensure_volumes(docker: aiodocker.Docker, spec: ObjectSpec) -> None:
    """Create the spec's named volumes with labels (existing ones are left as they are)."""
    names = named_volumes(spec)
    if not names:
        return
    labels = volume_labels(spec)

    async def create(name: str) -> None:
        async with docker_errors("create volume", name):
            await docker.volumes.create({"Name": name, "Labels": labels})  # type: ignore[no-untyped-call]

    await asyncio.gather(*(create(name) for name in names))


async def existing_volume_labels(docker: aiodocker.Docker, name: str) -> dict[str, str] | None:
    """The labels of volume ``name``, or ``None`` when it does not exist."""
    try:
        async with docker_errors("inspect volume", name):
            volume = await DockerVolume(docker, name).show()  # type: ignore[no-untyped-call]
    except DockerOperationError as e:
        if e.status == 404:
            return None
        raise
    return {str(k): str(v) for k, v in (volume.get("Labels") or {}).items()}


async def remove_volume(docker: aiodocker.Docker, name: str) -> bool:
    """Remove volume ``name``; ``False`` when it did not exist."""
    try:
        async with docker_errors("remove volume", name):
            await DockerVolume(docker, name).delete()  # type: ignore[no-untyped-call]
    except DockerOperationError as e:
        if e.status == 404:
            return False
        raise
    return True
