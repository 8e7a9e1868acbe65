"""Backends: how the spawner core's neutral spec reaches Docker."""

from aiodockerspawner.backends.base import ObjectBackend
from aiodockerspawner.model import (
    Address,
    AddressPolicy,
    ExecResult,
    ObjectSpec,
    ObjectStatus,
    ObservedObject,
    PullPolicy,
    VolumeBind,
)

__all__ = [
    "Address",
    "AddressPolicy",
    "ExecResult",
    "ObjectBackend",
    "ObjectSpec",
    "ObjectStatus",
    "ObservedObject",
    "PullPolicy",
    "VolumeBind",
]
