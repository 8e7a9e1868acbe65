"""GPUs: the ``gpus`` setting, and which device ids a server may have (pure).

``gpus`` is a count, ``"all"``, device ids (a list, or a comma-separated
string), or ``None``/``0`` for none. With ``gpu_assignment = "exclusive"``
the spawner hands out device ids itself, so that two running servers on one
daemon never share one: the ids a server got are written into a label of its
container (:data:`~aiodockerspawner.labels.LABEL_GPUS`), and the ids held are
read back from the labels of this Hub's live containers, so the bookkeeping
survives a Hub restart. This module decides; the spawner lists and labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiodockerspawner.labels import LABEL_GPUS, LABEL_SERVER, LABEL_USER
from aiodockerspawner.model import ObservedObject

__all__ = [
    "ALL",
    "HOLDING_STATES",
    "GpuAsk",
    "NoFreeGpu",
    "assign",
    "devices_from_generic_resources",
    "format_ids",
    "held",
    "parse_gpus",
    "parse_ids",
]

#: ``count`` of a request for every device
ALL = -1
#: container states that hold their devices (a stopped container gives them back)
HOLDING_STATES = frozenset({"created", "running", "restarting", "paused"})


@dataclass(frozen=True)
class GpuAsk:
    """What ``gpus`` asks for: a number of devices (``ALL``), or named ones."""

    count: int = 0
    device_ids: tuple[str, ...] = ()

    @property
    def wanted(self) -> bool:
        return bool(self.count or self.device_ids)

    def describe(self) -> str:
        if self.device_ids:
            return f"GPU {format_ids(self.device_ids)}"
        if self.count == ALL:
            return "all GPUs"
        return f"{self.count} GPU{'s' if self.count != 1 else ''}"


class NoFreeGpu(Exception):
    """Fewer devices are free than a start asks for; the message says how many."""


def parse_ids(text: str) -> tuple[str, ...]:
    """``"0, 1"`` -> ``("0", "1")``; empty items are dropped."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def format_ids(ids: Iterable[str]) -> str:
    return ",".join(ids)


def parse_gpus(value: Any, *, setting: str = "gpus") -> GpuAsk:
    """Check the (evaluated) ``gpus`` setting; ``ValueError`` names ``setting``."""
    if value is None or value is False or value == 0 or value == "":
        return GpuAsk()
    if isinstance(value, bool):
        raise ValueError(f"{setting}: True is not a number of GPUs; give a count")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{setting}: must not be negative, got {value}")
        return GpuAsk(count=value)
    if isinstance(value, str):
        if value.strip().lower() == "all":
            return GpuAsk(count=ALL)
        text = value.strip()
        if text.isdigit():
            return GpuAsk(count=int(text))
        return GpuAsk(device_ids=_checked_ids(parse_ids(text), setting))
    if isinstance(value, Sequence):
        ids = []
        for item in value:
            if not isinstance(item, (str, int)) or isinstance(item, bool):
                raise ValueError(f"{setting}: device ids are strings, got {item!r}")
            ids.append(str(item))
        return GpuAsk(device_ids=_checked_ids(tuple(ids), setting))
    raise ValueError(
        f"{setting}: expected a count, 'all' or device ids, got {type(value).__name__}"
    )


def _checked_ids(ids: tuple[str, ...], setting: str) -> tuple[str, ...]:
    for item in ids:
        if not item or "," in item or not item.isprintable() or item != item.strip():
            raise ValueError(f"{setting}: {item!r} is not a device id")
    if len(set(ids)) != len(ids):
        raise ValueError(f"{setting}: a device id is named twice in {list(ids)}")
    return ids


def held(objects: Iterable[ObservedObject], *, user: str, server: str) -> dict[str, str]:
    """The device ids held by live objects other than this server's: id -> object name.

    An object holds the ids in its label while it is created, running,
    restarting or paused; this server's own (being replaced or resumed) does
    not count.
    """
    found: dict[str, str] = {}
    for obj in objects:
        ids = parse_ids(obj.labels.get(LABEL_GPUS, ""))
        if not ids or obj.status.status not in HOLDING_STATES:
            continue
        if obj.labels.get(LABEL_USER) == user and obj.labels.get(LABEL_SERVER) == server:
            continue
        for device in ids:
            found.setdefault(device, obj.name)
    return found


def previous_ids(objects: Iterable[ObservedObject], *, user: str, server: str) -> tuple[str, ...]:
    """The ids this server's own object was given, if it still exists (to keep them)."""
    for obj in objects:
        if obj.labels.get(LABEL_USER) == user and obj.labels.get(LABEL_SERVER) == server:
            ids = parse_ids(obj.labels.get(LABEL_GPUS, ""))
            if ids:
                return ids
    return ()


def assign(
    ask: GpuAsk,
    devices: Sequence[str],
    taken: Iterable[str],
    *,
    prefer: Sequence[str] = (),
) -> tuple[str, ...]:
    """The device ids to give a server, none of them ``taken``.

    Named ids must all be free; a count takes the free ones in ``devices``
    order, preferring those in ``prefer`` (the ids the server had, so a
    resumed container keeps them); ``ALL`` needs every device free. Raises
    :class:`NoFreeGpu` saying how many are free, and ``ValueError`` for ids
    that are not in ``devices``.
    """
    taken = set(taken)
    free = [d for d in devices if d not in taken]
    if ask.device_ids:
        unknown = [d for d in ask.device_ids if d not in devices]
        if unknown:
            raise ValueError(
                f"gpus names {format_ids(unknown)}, which gpu_devices "
                f"({format_ids(devices) or 'none'}) does not list"
            )
        busy = [d for d in ask.device_ids if d in taken]
        if busy:
            raise NoFreeGpu(
                f"No free GPU: {format_ids(busy)} {'is' if len(busy) == 1 else 'are'} "
                "in use by another server"
            )
        return ask.device_ids
    count = len(devices) if ask.count == ALL else ask.count
    if count > len(free):
        raise NoFreeGpu(
            f"No free GPU: this server needs {ask.describe()}, "
            f"{len(free)} of {len(devices)} {'is' if len(free) == 1 else 'are'} free"
        )
    ordered = [d for d in prefer if d in free] + [d for d in free if d not in prefer]
    return tuple(ordered[:count])


def devices_from_generic_resources(resources: Iterable[Mapping[str, Any]], kind: str) -> list[str]:
    """Device ids of ``kind`` in a daemon's ``GenericResources`` (``GET /info``).

    Named resources give their values (e.g. GPU UUIDs); a discrete count
    ``n`` gives the indices ``0`` to ``n - 1``.
    """
    found: list[str] = []
    for item in resources:
        named = item.get("NamedResourceSpec")
        discrete = item.get("DiscreteResourceSpec")
        if isinstance(named, Mapping) and named.get("Kind") == kind:
            found.append(str(named.get("Value")))
        elif isinstance(discrete, Mapping) and discrete.get("Kind") == kind:
            found.extend(str(i) for i in range(int(discrete.get("Value") or 0)))
    return list(dict.fromkeys(found))
