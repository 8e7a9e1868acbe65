"""User options, applied where JupyterHub expects them: ``apply_user_options``.

JupyterHub (5.3+) spawns in this order: group overrides, ``apply_user_options``,
``pre_spawn_hook``, ``start()``. Everything the user chose (the ``image``
option) is applied in the first of those, so that a ``pre_spawn_hook`` sees the
image that will run, and a refusal (HTTP 400 naming the keys) comes before any
hook or Docker request.

With ``profile_list`` set, the user's profile (``{"profile": slug, ...}``,
KubeSpawner's format) is resolved by :mod:`aiodockerspawner.core.profiles` and
its overrides are set on this spawner here: the profile's, then each option's
choice, then the ``image`` option (checked against ``allowed_images`` as the
profile left it). The spawn form for profiles is rendered here too.

The default ``apply_user_options`` is :func:`builtin_apply_user_options`. An
admin's own ``apply_user_options`` (a callable or a dict) does not replace the
spawner's handling: the spawner's runs first, then the admin's, which may read
further keys and refine what the spawner set.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import jinja2
from traitlets import HasTraits, TraitError, default

from aiodockerspawner.config.resources import RESOURCE_TRAITS
from aiodockerspawner.core import options, profiles
from aiodockerspawner.core.profiles import Profile, ProfileConfigError, ProfileRefused

#: settings a profile may not set: they decide how options are handled
NOT_OVERRIDABLE = frozenset(
    {
        "profile_list",
        "profile_form_template",
        "apply_user_options",
        "options_form",
        "options_from_form",
        "user_options",
    }
)


@cache
def _packaged_template() -> str:
    return (resources.files("aiodockerspawner") / "templates" / "profiles.html").read_text()


_jinja = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)


@cache
def _compiled(source: str) -> jinja2.Template:
    return _jinja.from_string(source)


def render_profile_form(
    template: str,
    visible: Sequence[Profile],
    *,
    selected: str | None,
    chosen: Mapping[str, Mapping[str, str]] | None = None,
    image_choices: Sequence[str] = (),
) -> str:
    """The spawn form for ``visible`` profiles (``template`` empty: the packaged one)."""
    return _compiled(template or _packaged_template()).render(
        profiles=list(visible),
        selected=selected,
        chosen=chosen or {},
        field=profiles.form_field,
        unlisted_value="unlisted_choice",
        image_choices=list(image_choices),
    )


def _snapshot(value: Any) -> Any:
    """A copy to compare with later: dict settings may be changed in place (group overrides)."""
    try:
        return copy.deepcopy(value)
    except Exception:
        return value


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


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
        selection = await self._select_profile(user_options)
        rest = dict(user_options)
        for key in selection.consumed if selection else ():
            rest.pop(key, None)
        requested, ignored = options.validate_user_options(rest)
        if ignored and not self._user_options_read_elsewhere():
            shown = ", ".join(repr(k[:40]) for k in ignored[:5])
            accepted = (
                "'profile', the options of the profile and 'image'" if selection else "'image'"
            )
            raise options.spawn_error(
                f"Unknown user option(s) {shown}: this server accepts only {accepted}",
                reason="user_options",
            )
        if ignored:
            self.log.debug(
                "User options %s for %s are left to the Hub's own hooks",
                ignored,
                self._log_name,
            )
        if selection is not None:
            self.log.info(
                "Applying profile %r%s for %s",
                selection.profile.slug,
                "".join(f", {k}={v!r}" for k, v in selection.choices.items()),
                self._log_name,
            )
            for where, override in selection.overrides:
                await self._apply_override(where, override)
        if requested:
            # after the profile: a profile may set its own allowed_images
            allowed = await options.resolve_allowed_images(self.allowed_images, self)
            self._set_for_options("image", options.check_allowed(allowed, requested))

    # -- profiles ---------------------------------------------------------------

    async def _profiles(self) -> list[Profile]:
        """``profile_list``, evaluated (a callable) and checked."""
        value = self.profile_list
        if callable(value):
            value = await _maybe_await(value(self))
        try:
            return profiles.parse_profile_list(value)
        except ProfileConfigError as e:
            self.log.error("Invalid profile_list for %s: %s", self._log_name, e)
            raise options.spawn_error(
                f"The server profiles are misconfigured: {e}", reason="config", status_code=500
            ) from e

    def _group_names(self) -> list[str]:
        return [str(g.name) for g in getattr(self.user, "groups", None) or []]

    async def _select_profile(self, user_options: Mapping[str, Any]) -> profiles.Selection | None:
        found = await self._profiles()
        try:
            return profiles.select(
                found, user_options, user=self.user.name, groups=self._group_names()
            )
        except ProfileRefused as e:
            raise options.spawn_error(str(e), reason="profile") from e

    async def _apply_override(self, where: str, override: Mapping[str, Any]) -> None:
        """Set the settings of one profile (or option choice) override on this spawner.

        A callable value is called with the spawner (and awaited); a dict
        value is merged into a dict setting (a ``None`` value removes that
        key), anything else replaces the setting.
        """
        for name, value in override.items():
            if (
                name in NOT_OVERRIDABLE
                or not self.has_trait(name)
                or not (self.trait_metadata(name, "config"))
            ):
                raise self._override_error(where, f"{name!r} is not a setting a profile may set")
            if callable(value):
                value = await _maybe_await(value(self))
            current = getattr(self, name)
            if isinstance(value, Mapping) and isinstance(current, Mapping):
                value = profiles.merge_setting(current, value)
            try:
                self._set_for_options(name, value)
            except (TraitError, ValueError, TypeError) as e:
                raise self._override_error(where, f"{name} = {value!r}: {e}") from e

    def _override_error(self, where: str, problem: str) -> Exception:
        self.log.error("Invalid profile_list for %s: %s: %s", self._log_name, where, problem)
        return options.spawn_error(
            f"The server profiles are misconfigured: {where}: {problem}",
            reason="config",
            status_code=500,
        )

    async def render_profile_form(self) -> str:
        """The spawn form listing the profiles this user may launch ("" without profiles)."""
        found = profiles.visible_profiles(
            await self._profiles(), self.user.name, self._group_names()
        )
        if not found:
            return ""
        previous = dict(self.user_options or {})
        chosen: dict[str, dict[str, str]] = {}
        selected = previous.get("profile")
        if not any(p.slug == selected for p in found):
            default_profile = profiles.default_profile(found)
            selected = default_profile.slug if default_profile else None
        else:
            chosen[str(selected)] = {
                k.removesuffix(profiles.UNLISTED_SUFFIX): str(v)
                for k, v in previous.items()
                if isinstance(v, str) and k != "profile" and v not in profiles.UNLISTED_VALUES
            }
        allowed = self.allowed_images
        if callable(allowed):
            allowed = await options.resolve_allowed_images(allowed, self)
        image_choices = list(allowed) if isinstance(allowed, dict) and len(allowed) > 1 else []
        return render_profile_form(
            self.profile_form_template,
            found,
            selected=selected,
            chosen=chosen,
            image_choices=image_choices,
        )

    #: setting -> (value before the options, its callable if any, value the options set)
    _set_by_options: dict[str, tuple[Any, Any, Any]]

    def _set_for_options(self, name: str, value: Any) -> None:
        """Set a setting for this start's options, remembering how to undo it."""
        undo: dict[str, tuple[Any, Any, Any]] = self.__dict__.setdefault("_set_by_options", {})
        before = undo[name][:2] if name in undo else (getattr(self, name), None)
        if name in RESOURCE_TRAITS and name not in undo:
            before = (before[0], self._resource_callable(name))
        setattr(self, name, value)
        undo[name] = (*before, _snapshot(getattr(self, name)))

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
