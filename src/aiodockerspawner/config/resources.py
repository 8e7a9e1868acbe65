"""Memory and CPU limits and guarantees."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyterhub.traitlets import ByteSpecification
from traitlets import Callable as CallableTrait
from traitlets import (
    Float,
    HasTraits,
    Union,
)


class ResourceConfig(HasTraits):
    """Memory and CPU limits and guarantees."""

    if TYPE_CHECKING:  # the rest of DockerSpawner and JupyterHub's Spawner

        def __getattr__(self, name: str) -> Any: ...

    # -- resources (callables evaluated at each start) ---------------------

    mem_limit = Union(
        [CallableTrait(), ByteSpecification()],
        allow_none=True,
        default_value=None,
        help="""
        Memory limit (``HostConfig.Memory``): bytes, a string such as ``"2G"``,
        or a callable ``f(spawner)`` (possibly async) evaluated at each start.
        """,
    ).tag(config=True)

    mem_guarantee = Union(
        [CallableTrait(), ByteSpecification()],
        allow_none=True,
        default_value=None,
        help="""
        Memory reservation (``HostConfig.MemoryReservation``), a soft limit;
        like ``mem_limit`` it may be a callable.

        .. versionadded:: 0.1
           dockerspawner ignores it for containers.
        """,
    ).tag(config=True)

    cpu_limit = Union(
        [CallableTrait(), Float()],
        allow_none=True,
        default_value=None,
        help="""
        CPU limit in cores, enforced as ``CpuQuota`` over a ``CpuPeriod`` of
        100 ms (the period can be overridden in ``extra_host_config``); may
        be a callable evaluated at each start.
        """,
    ).tag(config=True)

    cpu_guarantee = Union(
        [CallableTrait(), Float()],
        allow_none=True,
        default_value=None,
        help="""
        Relative CPU weight in cores (``CpuShares = 1024 * cores``); a
        best-effort share under contention, not a reservation.

        .. versionadded:: 0.1
           dockerspawner ignores it for containers.
        """,
    ).tag(config=True)
