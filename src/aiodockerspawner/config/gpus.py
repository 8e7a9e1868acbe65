"""GPUs for servers: how many, which, and whether servers may share them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from traitlets import Any as AnyTrait
from traitlets import CaselessStrEnum, HasTraits, List, TraitError, Unicode, validate

from aiodockerspawner.core import gpus


class GpuConfig(HasTraits):
    """GPUs for servers: how many, which, and whether servers may share them."""

    if TYPE_CHECKING:  # the rest of DockerSpawner and JupyterHub's Spawner

        def __getattr__(self, name: str) -> Any: ...

    gpus = AnyTrait(
        None,
        allow_none=True,
        help="""
        GPUs each server gets: a count (``1``), ``"all"``, device ids
        (``["0", "2"]`` or ``"0,2"``; indices or UUIDs, as the driver names
        them), ``None`` or ``0`` for none; or a callable ``f(spawner)``
        (possibly async) returning one of these, evaluated at each start (so
        it may depend on groups and user options). Profiles usually set it.

        Containers get a ``DeviceRequests`` entry like ``docker run --gpus``
        (see ``gpu_request``); swarm services reserve that many generic
        resources of ``gpu_resource_kind``, which the swarm hands out
        exclusively by itself.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    @validate("gpus")
    def _validate_gpus(self, proposal: Any) -> Any:
        value = proposal.value
        if callable(value):
            return value
        try:
            gpus.parse_gpus(value, setting="gpus")
        except ValueError as e:
            raise TraitError(str(e)) from e
        return value

    gpu_assignment = CaselessStrEnum(
        ["shared", "exclusive"],
        default_value="shared",
        help="""
        ``shared`` (default): Docker's driver picks the devices, and servers
        asking for a count may share them. ``exclusive``: the spawner names
        the devices itself, from ``gpu_devices``, so that running servers on
        one daemon never share a device; a start that asks for more than are
        free fails with HTTP 503 ("No free GPU"). The ids a server holds are
        kept in a label of its container, so a restarted Hub knows them.
        Swarm services are always exclusive (the swarm assigns them); this
        setting is for containers.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    gpu_devices = List(
        Unicode(),
        help="""
        The device ids ``exclusive`` assignment hands out (e.g. ``["0", "1"]``
        or GPU UUIDs). Empty (default): the ``gpu_resource_kind`` resources the
        daemon advertises in ``docker info`` (``node-generic-resources`` in its
        configuration); a start fails with a message saying so when there are
        none.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    gpu_request = CaselessStrEnum(
        ["device-requests", "environment"],
        default_value="device-requests",
        help="""
        How a container is given its GPUs: ``device-requests`` (default), a
        ``HostConfig.DeviceRequests`` entry with ``gpu_driver``, as ``docker
        run --gpus`` makes; ``environment``, only ``NVIDIA_VISIBLE_DEVICES``,
        for daemons whose default runtime is NVIDIA's (a count then needs
        ``exclusive`` assignment, which names the devices).

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    gpu_driver = Unicode(
        "nvidia",
        help="""
        The device driver of the ``DeviceRequests`` entry (``""`` lets Docker
        pick a driver with the ``gpu`` capability).

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    gpu_resource_kind = Unicode(
        "NVIDIA-GPU",
        help="""
        The generic resource kind of GPUs: what a swarm service reserves, and
        what ``exclusive`` assignment reads from ``docker info`` when
        ``gpu_devices`` is empty.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)
