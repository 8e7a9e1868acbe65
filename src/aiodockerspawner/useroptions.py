"""User options, applied where JupyterHub expects them: ``apply_user_options``.

JupyterHub (5.3+) spawns in this order: group overrides, ``apply_user_options``,
``pre_spawn_hook``, ``start()``. Everything the user chose (the ``image``
option) is applied in the first of those, so that a ``pre_spawn_hook`` sees the
image that will run, and a refusal (HTTP 400 naming the keys) comes before any
hook or Docker request.

The default ``apply_user_options`` is :func:`builtin_apply_user_options`. An
admin's own ``apply_user_options`` (a callable or a dict) does not replace the
spawner's handling: the spawner's runs first, then the admin's, which may read
further keys and refine what the spawner set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from traitlets import HasTraits, default

from aiodockerspawner.config.resources import RESOURCE_TRAITS
from aiodockerspawner.core import options


async def builtin_apply_user_options(spawner: Any, user_options: Mapping[str, Any]) -> None:
    """The default ``apply_user_options``: the spawner's own handling of the options."""
    await spawner.load_user_options(user_options)


def _is_builtin(hook: object) -> bool:
    return hook is builtin_apply_user_options


class UserOptionsHandling(HasTraits):
    """``apply_user_options`` and what it applies, as a mixin of DockerSpawner."""

    if TYPE_CHECKING:  # the rest of DockerSpawner and JupyterHub's Spawner

        def __getattr__(self, name: str) -> Any: ...

    @default("apply_user_options")
    def _default_apply_user_options(self) -> Any:
        return builtin_apply_user_options

    #: whether the options of the coming start are applied (start() applies them otherwise)
    _options_applied = False

    async def _run_apply_user_options(self, user_options: Mapping[str, Any]) -> None:
        """What JupyterHub calls before ``pre_spawn_hook``: ours, then the admin's hook.

        A refusal of ours is a ``SpawnException`` (HTTP 400, no traceback);
        the admin's hook runs the way JupyterHub runs it.
        """
        await self.load_user_options(user_options)
        hook = self.apply_user_options
        if hook and not _is_builtin(hook):
            await super()._run_apply_user_options(user_options)  # type: ignore[misc]

    async def load_user_options(self, user_options: Mapping[str, Any] | None = None) -> None:
        """Check ``user_options`` and apply them to this spawner's settings.

        ``None`` reads ``self.user_options``. What the previous options set is
        undone first (the spawner object lives on between a server's starts),
        so a start without options gets the configured settings. Raises a
        ``SpawnException`` (HTTP 400) naming what was refused; the settings
        are left as configured then.
        """
        if user_options is None:
            user_options = self.user_options
        self._undo_user_options()
        try:
            await self._apply_user_options(user_options)
        except BaseException:
            self._undo_user_options()
            raise
        self._options_applied = True

    async def _apply_user_options(self, user_options: Mapping[str, Any]) -> None:
        requested, ignored = options.validate_user_options(user_options)
        if ignored and not self._user_options_read_elsewhere():
            shown = ", ".join(repr(k[:40]) for k in ignored[:5])
            raise options.spawn_error(
                f"Unknown user option(s) {shown}: this server accepts only 'image'",
                reason="user_options",
            )
        if ignored:
            self.log.debug(
                "User options %s for %s are left to the Hub's own hooks",
                ignored,
                self._log_name,
            )
        if requested:
            allowed = await options.resolve_allowed_images(self.allowed_images, self)
            self._set_for_options("image", options.check_allowed(allowed, requested))

    #: setting -> (value before the options, its callable if any, value the options set)
    _set_by_options: dict[str, tuple[Any, Any, Any]]

    def _set_for_options(self, name: str, value: Any) -> None:
        """Set a setting for this start's options, remembering how to undo it."""
        undo: dict[str, tuple[Any, Any, Any]] = self.__dict__.setdefault("_set_by_options", {})
        before = undo[name][:2] if name in undo else (getattr(self, name), None)
        if name in RESOURCE_TRAITS and name not in undo:
            before = (before[0], self._resource_callable(name))
        setattr(self, name, value)
        undo[name] = (*before, getattr(self, name))

    def _undo_user_options(self) -> None:
        """Give back the configured values of what earlier options set.

        A setting something else changed since (a ``pre_spawn_hook``, group
        overrides) keeps that value.
        """
        undo: dict[str, tuple[Any, Any, Any]] = self.__dict__.pop("_set_by_options", {})
        for name, (before, function, ours) in undo.items():
            if getattr(self, name) == ours:
                setattr(self, name, function if function is not None else before)

    async def _ensure_user_options_applied(self) -> None:
        """Apply the options at start when JupyterHub did not (start() called directly)."""
        if not self._options_applied:
            await self.load_user_options(self.user_options)

    def _user_options_consumed(self) -> None:
        """The start that used the applied options is over: the next one applies its own."""
        self._options_applied = False

    def _user_options_read_elsewhere(self) -> bool:
        """Whether admin code may consume user options this spawner does not read.

        Keys nobody reads are refused (a typo or a probe should not pass
        silently), but an admin's ``apply_user_options`` hook, a
        ``pre_spawn_hook``, a custom ``options_from_form`` or a callable
        setting (``mem_limit``, ``extra_host_config``, ...) may legitimately
        use other keys.
        """
        callables = (
            "mem_limit",
            "mem_guarantee",
            "cpu_limit",
            "cpu_guarantee",
            "extra_create_kwargs",
            "extra_host_config",
        )
        hook = self.apply_user_options
        return (
            bool(hook and not _is_builtin(hook))
            or self.pre_spawn_hook is not None
            or self.options_from_form is not options.options_from_form
            or any(callable(getattr(self, name, None)) for name in callables)
            or any(self._resource_callable(name) for name in RESOURCE_TRAITS)
        )


__all__ = ["UserOptionsHandling", "builtin_apply_user_options"]
