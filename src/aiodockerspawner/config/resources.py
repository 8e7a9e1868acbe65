"""Memory and CPU limits and guarantees."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jupyterhub.traitlets import ByteSpecification
from traitlets import Callable as CallableTrait
from traitlets import (
    Float,
    HasTraits,
    TraitError,
    Union,
    validate,
)

#: the resource settings that may be callables
RESOURCE_TRAITS = ("mem_limit", "mem_guarantee", "cpu_limit", "cpu_guarantee")


class ResourceConfig(HasTraits):
    """Memory and CPU limits and guarantees."""

    if TYPE_CHECKING:  # the rest of DockerSpawner and JupyterHub's Spawner

        def __getattr__(self, name: str) -> Any: ...

    # -- resources --------------------------------------------------------------
    #
    # A callable is evaluated when it is set (as dockerspawner does), so code
    # that reads spawner.mem_limit (hooks, templates, admin tools) gets the
    # number; it is evaluated again at each start, where it may be async and
    # may read user_options, and the trait then holds that start's value.

    mem_limit = Union(
        [CallableTrait(), ByteSpecification()],
        allow_none=True,
        default_value=None,
        help="""
        Memory limit (``HostConfig.Memory``): bytes, a string such as ``"2G"``,
        or a callable ``f(spawner)``. A callable is evaluated when it is set
        (reading the setting then gives bytes, as with dockerspawner) and
        again at each start, where it may be async and may read
        ``user_options``; after a start the setting holds that start's value.
        """,
    ).tag(config=True)

    mem_guarantee = Union(
        [CallableTrait(), ByteSpecification()],
        allow_none=True,
        default_value=None,
        help="""
        Memory reservation (``HostConfig.MemoryReservation``), a soft limit;
        like ``mem_limit`` it may be a callable.

        .. versionchanged:: 0.1
           Applied to containers; dockerspawner has the setting (from
           JupyterHub's Spawner) but ignores it for them.
        """,
    ).tag(config=True)

    cpu_limit = Union(
        [CallableTrait(), Float()],
        allow_none=True,
        default_value=None,
        help="""
        CPU limit in cores, enforced as ``CpuQuota`` over a ``CpuPeriod`` of
        100 ms (the period can be overridden in ``extra_host_config``); may
        be a callable, evaluated like ``mem_limit``'s.
        """,
    ).tag(config=True)

    cpu_guarantee = Union(
        [CallableTrait(), Float()],
        allow_none=True,
        default_value=None,
        help="""
        Relative CPU weight in cores (``CpuShares = 1024 * cores``); a
        best-effort share under contention, not a reservation.

        .. versionchanged:: 0.1
           Applied to containers; dockerspawner has the setting (from
           JupyterHub's Spawner) but ignores it for them.
        """,
    ).tag(config=True)

    #: the configured callables, by trait name; evaluated again at each start
    _resource_callables: dict[str, Callable[..., Any]]
    _setting_evaluated = False

    @validate(*RESOURCE_TRAITS)
    def _evaluate_callable_resource(self, proposal: Any) -> Any:
        name = proposal.trait.name
        callables = self.__dict__.setdefault("_resource_callables", {})
        value = proposal.value
        if not callable(value):
            if not self._setting_evaluated:
                callables.pop(name, None)  # a plain value replaces the callable
            return value
        callables[name] = value
        try:
            result = value(self)
        except Exception as e:  # e.g. it reads user_options, which only a start has
            self.log.debug("%s(spawner) is evaluated at start: %s", name, e)
            return None
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()  # async: evaluated (awaited) at each start
            return None
        try:
            return proposal.trait.validate(self, result)
        except TraitError as e:
            self.log.debug("%s(spawner) is evaluated at start: %s", name, e)
            return None

    def _resource_callable(self, name: str) -> Callable[..., Any] | None:
        """The callable configured for resource setting ``name``, if any."""
        callables: dict[str, Callable[..., Any]] = self.__dict__.get("_resource_callables", {})
        return callables.get(name)

    def _set_evaluated(self, name: str, value: Any) -> None:
        """Store a start's value of a callable resource setting, keeping the callable."""
        self._setting_evaluated = True
        try:
            setattr(self, name, value)
        finally:
            self._setting_evaluated = False
