"""Exclusive GPU assignment: which device ids a starting server gets.

With ``gpu_assignment = "exclusive"`` a start lists this Hub's containers
(one request), reads the device ids the live ones hold from their
``aiodockerspawner.gpus`` label, and picks free ones from ``gpu_devices``
(:mod:`aiodockerspawner.core.gpus` decides). Starts of one Hub pick one at a
time, and the ids a start picked count as held until its container exists:
two concurrent starts never get the same id. The labels are the only record,
so a Hub restarted after a crash knows what its running servers hold.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from traitlets import HasTraits

from aiodockerspawner.backends import daemon_generic_resources, hub_containers
from aiodockerspawner.core import gpus, options
from aiodockerspawner.errors import InvalidSpec
from aiodockerspawner.labels import LABEL_GPUS
from aiodockerspawner.model import GpuRequest, ObjectSpec

ServerKey = tuple[str, str]


@dataclass
class _Ledger:
    """The picks of one Hub's starts on one daemon that have no container yet."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    reserved: dict[ServerKey, tuple[str, ...]] = field(default_factory=dict)


_ledgers: dict[tuple[int, str, str], _Ledger] = {}


def _ledger(endpoint_key: str, hub_id: str) -> _Ledger:
    key = (id(asyncio.get_running_loop()), endpoint_key, hub_id)
    if key not in _ledgers:
        _ledgers[key] = _Ledger()
    return _ledgers[key]


class GpuAssignment(HasTraits):
    """``gpus`` into the spec, and exclusive device ids, as a mixin of DockerSpawner."""

    if TYPE_CHECKING:  # the rest of DockerSpawner and JupyterHub's Spawner

        def __getattr__(self, name: str) -> Any: ...

    _gpu_reservation: tuple[_Ledger, ServerKey] | None = None

    async def _gpu_request(self) -> GpuRequest | None:
        """The ``gpus`` setting, evaluated and checked, as the spec carries it."""
        value = await self._evaluate("gpus")
        try:
            ask = gpus.parse_gpus(value, setting=self._setting("gpus"))
        except ValueError as e:
            raise InvalidSpec(str(e)) from e
        if not ask.wanted:
            return None
        return GpuRequest(
            count=ask.count,
            device_ids=ask.device_ids,
            driver=self.gpu_driver,
            mode=self.gpu_request.lower(),
            resource_kind=self.gpu_resource_kind,
        )

    async def _assign_gpus(self, spec: ObjectSpec) -> ObjectSpec:
        """Name the devices of an exclusive start (or refuse with 503); label named ids."""
        request = spec.gpus
        if request is None:
            return spec
        if self.gpu_assignment.lower() != "exclusive":
            if request.device_ids:
                spec.labels[LABEL_GPUS] = gpus.format_ids(request.device_ids)
            return spec
        ask = gpus.GpuAsk(count=request.count, device_ids=request.device_ids)
        server: ServerKey = (self.user.name, self.name or "")
        endpoint = self.endpoint
        ledger = _ledger(endpoint.url, self.hub_id)
        async with ledger.lock:
            objects = await hub_containers(endpoint, self.hub_id)
            devices = list(self.gpu_devices) or gpus.devices_from_generic_resources(
                await daemon_generic_resources(endpoint), self.gpu_resource_kind
            )
            if not devices:
                raise self._gpu_error(
                    f"gpu_assignment = 'exclusive' needs the device ids: set gpu_devices "
                    f"(the daemon advertises no {self.gpu_resource_kind} resources)",
                    500,
                )
            taken = set(gpus.held(objects, user=server[0], server=server[1]))
            for other, ids in ledger.reserved.items():
                if other != server:
                    taken.update(ids)
            try:
                ids = gpus.assign(
                    ask,
                    devices,
                    taken,
                    prefer=gpus.previous_ids(objects, user=server[0], server=server[1]),
                )
            except gpus.NoFreeGpu as e:
                raise self._gpu_error(str(e), 503) from e
            except ValueError as e:
                raise self._gpu_error(str(e), 500) from e
            ledger.reserved[server] = ids
        self._gpu_reservation = (ledger, server)
        self.log.info("GPU %s for %s (%s)", gpus.format_ids(ids), self._log_name, spec.name)
        spec.gpus = dataclasses.replace(request, count=0, device_ids=ids)
        spec.labels[LABEL_GPUS] = gpus.format_ids(ids)
        return spec

    def _release_gpu_reservation(self) -> None:
        """The start is over: its container (if any) now says what it holds."""
        if self._gpu_reservation is not None:
            ledger, server = self._gpu_reservation
            ledger.reserved.pop(server, None)
            self._gpu_reservation = None

    def _gpu_error(self, message: str, status: int) -> Exception:
        if status == 503:
            self.log.warning("Not starting %s: %s", self._log_name, message)
        else:
            self.log.error("Invalid GPU configuration for %s: %s", self._log_name, message)
        return options.spawn_error(message, reason="gpu", status_code=status)
