"""Server profiles: what a user may launch, chosen by slug (pure; no I/O, no traits).

``profile_list`` is a list of dicts in KubeSpawner's shape::

    {
        "display_name": "Big server",
        "slug": "big",                    # default: made from display_name
        "description": "8 GB, 4 CPUs",
        "default": False,
        "spawner_override": {"mem_limit": "8G", "cpu_limit": 4},   # kubespawner_override too
        "allowed_groups": ["staff"],      # who sees it; unset: everyone
        "allowed_users": ["alice"],
        "profile_options": {
            "image": {
                "display_name": "Image",
                "choices": {
                    "lab": {"display_name": "JupyterLab", "default": True,
                            "spawner_override": {"image": "lab:1"}},
                },
                "unlisted_choice": {
                    "enabled": True,
                    "display_name": "Other image",
                    "validation_regex": "^registry.example.org/.+$",
                    "validation_message": "Only images of registry.example.org",
                    "spawner_override": {"image": "{value}"},
                },
            },
        },
    }

The user options are KubeSpawner's too: ``{"profile": slug, "<option>": choice,
"<option>--unlisted-choice": free text}``. :func:`parse_profile_list` checks the
configuration (a :class:`ProfileConfigError` names the entry at fault);
:func:`select` turns a user's options into the profile and the overrides to
apply, or refuses with a :class:`ProfileRefused` whose message names what was
refused. Applying the overrides to a spawner is the spawner's business.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "OVERRIDE_KEYS",
    "PROFILE_KEY",
    "UNLISTED_SUFFIX",
    "UNLISTED_VALUES",
    "Choice",
    "Profile",
    "ProfileConfigError",
    "ProfileOption",
    "ProfileRefused",
    "Selection",
    "UnlistedChoice",
    "default_profile",
    "form_field",
    "make_slug",
    "merge_setting",
    "options_from_form",
    "parse_profile_list",
    "profile_images",
    "select",
    "visible_profiles",
]

#: the user option naming the profile
PROFILE_KEY = "profile"
#: suffix of the user option carrying free text for an option (KubeSpawner's spelling)
UNLISTED_SUFFIX = "--unlisted-choice"
#: values of ``<option>`` that mean "the free text" (what KubeSpawner's forms send)
UNLISTED_VALUES = frozenset({"unlisted_choice", "--unlisted-choice"})
#: the keys an override dict may have, the first one preferred
OVERRIDE_KEYS = ("spawner_override", "kubespawner_override")
#: the placeholder of an unlisted choice's override that the free text replaces
VALUE_PLACEHOLDER = "{value}"

#: longest free text accepted for an unlisted choice
MAX_FREE_TEXT = 1024
_MAX_ECHO = 100
_OPTION_NAME = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.]|-(?!-))*$")
_SLUG = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.]|-(?!-))*$")

_PROFILE_KEYS = {
    "display_name",
    "slug",
    "description",
    "default",
    "allowed_groups",
    "allowed_users",
    "profile_options",
    *OVERRIDE_KEYS,
}
_OPTION_KEYS = {"display_name", "choices", "unlisted_choice"}
_CHOICE_KEYS = {"display_name", "description", "default", *OVERRIDE_KEYS}
_UNLISTED_KEYS = {
    "enabled",
    "display_name",
    "display_name_in_choices",
    "description_in_choices",
    "validation_regex",
    "validation_message",
    *OVERRIDE_KEYS,
}


class ProfileConfigError(ValueError):
    """``profile_list`` is not valid; the message names the entry and key at fault."""


class ProfileRefused(ValueError):
    """The user's options ask for something not offered; the message says what."""


def _echo(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > _MAX_ECHO:
        text = text[:_MAX_ECHO] + "..."
    return repr(text)


@dataclass(frozen=True)
class Choice:
    """One named choice of a profile option."""

    slug: str
    display_name: str
    description: str = ""
    default: bool = False
    override: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UnlistedChoice:
    """Free text for a profile option, checked against a regular expression."""

    display_name: str
    display_name_in_choices: str
    description_in_choices: str
    validation_regex: str
    validation_message: str
    override: Mapping[str, Any] = field(default_factory=dict)

    def check(self, text: str, where: str) -> None:
        """Refuse ``text`` unless all of it matches ``validation_regex``."""
        if len(text) > MAX_FREE_TEXT:
            raise ProfileRefused(f"{where}: the text is longer than {MAX_FREE_TEXT} characters")
        if not text.isprintable() or "{" in text or "}" in text:
            raise ProfileRefused(
                f"{where}: {_echo(text)} is not accepted (no braces or control characters)"
            )
        if re.fullmatch(self.validation_regex, text) is None:
            reason = self.validation_message or f"it must match {self.validation_regex}"
            raise ProfileRefused(f"{where}: {_echo(text)} is not accepted: {reason}")


@dataclass(frozen=True)
class ProfileOption:
    """A named setting of a profile the user picks a choice (or free text) for."""

    name: str
    display_name: str
    choices: tuple[Choice, ...] = ()
    unlisted: UnlistedChoice | None = None

    @property
    def default_choice(self) -> Choice | None:
        """The choice marked ``default``, else the first one."""
        return next(
            (c for c in self.choices if c.default), self.choices[0] if self.choices else None
        )

    def choice(self, slug: str) -> Choice | None:
        return next((c for c in self.choices if c.slug == slug), None)


@dataclass(frozen=True)
class Profile:
    """One entry of ``profile_list``."""

    slug: str
    display_name: str
    description: str = ""
    default: bool = False
    override: Mapping[str, Any] = field(default_factory=dict)
    options: tuple[ProfileOption, ...] = ()
    #: who may see and request it; ``None``: anyone
    allowed_groups: frozenset[str] | None = None
    allowed_users: frozenset[str] | None = None

    def allows(self, user: str, groups: Iterable[str]) -> bool:
        """Whether ``user`` (a member of ``groups``) may see and request this profile.

        Unrestricted profiles are for everyone; otherwise being named in
        ``allowed_users`` or a member of one of ``allowed_groups`` suffices.
        """
        if self.allowed_groups is None and self.allowed_users is None:
            return True
        if self.allowed_users is not None and user in self.allowed_users:
            return True
        return self.allowed_groups is not None and not self.allowed_groups.isdisjoint(groups)

    def option(self, name: str) -> ProfileOption | None:
        return next((o for o in self.options if o.name == name), None)


@dataclass(frozen=True)
class Selection:
    """What a user's options select: the profile, the choices, the overrides to apply."""

    profile: Profile
    #: option name -> the choice's slug, or the free text
    choices: Mapping[str, str]
    #: the overrides in the order to apply them: the profile's, then each option's
    overrides: tuple[tuple[str, Mapping[str, Any]], ...]
    #: the user option keys the profile consumed
    consumed: frozenset[str]


# -- configuration ------------------------------------------------------------


def make_slug(display_name: str) -> str:
    """A slug from a display name: lower case, runs of other characters become ``-``."""
    slug = re.sub(r"[^a-z0-9_.]+", "-", display_name.lower()).strip("-")
    return slug or "profile"


def _str(value: object, where: str, *, default: str | None = None) -> str:
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise ProfileConfigError(f"{where}: expected a string, got {type(value).__name__}")
    return value


def _bool(value: object, where: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ProfileConfigError(f"{where}: expected True or False, got {value!r}")
    return value


def _names(value: object, where: str) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ProfileConfigError(f"{where}: expected a list of names, got {value!r}")
    names = list(value)
    for name in names:
        if not isinstance(name, str):
            raise ProfileConfigError(f"{where}: expected names (strings), got {name!r}")
    return frozenset(names)


def _keys(entry: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in entry if k not in allowed)
    if unknown:
        raise ProfileConfigError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(sorted(allowed))}"
        )


def _override(entry: Mapping[str, Any], where: str) -> dict[str, Any]:
    present = [k for k in OVERRIDE_KEYS if k in entry]
    if len(present) > 1:
        raise ProfileConfigError(f"{where}: give either {' or '.join(OVERRIDE_KEYS)}, not both")
    if not present:
        return {}
    value = entry[present[0]]
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ProfileConfigError(
            f"{where}.{present[0]}: expected a dict of settings, got {type(value).__name__}"
        )
    for key in value:
        if not isinstance(key, str) or not key.isidentifier():
            raise ProfileConfigError(f"{where}.{present[0]}: {key!r} is not a setting name")
    return dict(value)


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ProfileConfigError(f"{where}: expected a dict, got {type(value).__name__}")
    return value


def _parse_unlisted(value: object, where: str) -> UnlistedChoice | None:
    entry = _mapping(value, where)
    _keys(entry, _UNLISTED_KEYS, where)
    if not _bool(entry.get("enabled"), f"{where}.enabled"):
        return None
    regex = entry.get("validation_regex")
    if not isinstance(regex, str) or not regex:
        raise ProfileConfigError(
            f"{where}.validation_regex: required when free text is enabled "
            "(a regular expression all of the text must match)"
        )
    try:
        re.compile(regex)
    except re.error as e:
        raise ProfileConfigError(f"{where}.validation_regex: {e}") from e
    display = _str(entry.get("display_name"), f"{where}.display_name", default="Other")
    return UnlistedChoice(
        display_name=display,
        display_name_in_choices=_str(
            entry.get("display_name_in_choices"),
            f"{where}.display_name_in_choices",
            default=display,
        ),
        description_in_choices=_str(
            entry.get("description_in_choices"), f"{where}.description_in_choices", default=""
        ),
        validation_regex=regex,
        validation_message=_str(
            entry.get("validation_message"), f"{where}.validation_message", default=""
        ),
        override=_override(entry, where),
    )


def _parse_option(name: object, value: object, where: str) -> ProfileOption:
    if not isinstance(name, str) or not _OPTION_NAME.match(name) or name == PROFILE_KEY:
        raise ProfileConfigError(
            f"{where}: option name {name!r} must be letters, digits, '_', '.' or single '-', "
            f"and not {PROFILE_KEY!r}"
        )
    where = f"{where}[{name!r}]"
    entry = _mapping(value, where)
    _keys(entry, _OPTION_KEYS, where)
    choices: list[Choice] = []
    raw_choices = _mapping(entry.get("choices") or {}, f"{where}.choices")
    for slug, raw in raw_choices.items():
        at = f"{where}.choices[{slug!r}]"
        if not isinstance(slug, str) or not _SLUG.match(slug) or slug in UNLISTED_VALUES:
            raise ProfileConfigError(f"{at}: not a valid choice name")
        choice = _mapping(raw, at)
        _keys(choice, _CHOICE_KEYS, at)
        choices.append(
            Choice(
                slug=slug,
                display_name=_str(choice.get("display_name"), f"{at}.display_name", default=slug),
                description=_str(choice.get("description"), f"{at}.description", default=""),
                default=_bool(choice.get("default"), f"{at}.default"),
                override=_override(choice, at),
            )
        )
    unlisted = None
    if entry.get("unlisted_choice") is not None:
        unlisted = _parse_unlisted(entry["unlisted_choice"], f"{where}.unlisted_choice")
    if not choices and unlisted is None:
        raise ProfileConfigError(f"{where}: needs choices, or an enabled unlisted_choice")
    return ProfileOption(
        name=name,
        display_name=_str(entry.get("display_name"), f"{where}.display_name", default=name),
        choices=tuple(choices),
        unlisted=unlisted,
    )


def _parse_profile(index: int, value: object) -> Profile:
    where = f"profile_list[{index}]"
    entry = _mapping(value, where)
    _keys(entry, _PROFILE_KEYS, where)
    display = _str(entry.get("display_name"), f"{where}.display_name")
    slug = _str(entry.get("slug"), f"{where}.slug", default=make_slug(display))
    if not _SLUG.match(slug):
        raise ProfileConfigError(
            f"{where}.slug: {slug!r} must be letters, digits, '_', '.' or single '-'"
        )
    where = f"profile {slug!r}"
    options = []
    raw_options = _mapping(entry.get("profile_options") or {}, f"{where}.profile_options")
    for name, raw in raw_options.items():
        options.append(_parse_option(name, raw, f"{where}.profile_options"))
    return Profile(
        slug=slug,
        display_name=display,
        description=_str(entry.get("description"), f"{where}.description", default=""),
        default=_bool(entry.get("default"), f"{where}.default"),
        override=_override(entry, where),
        options=tuple(options),
        allowed_groups=_names(entry.get("allowed_groups"), f"{where}.allowed_groups"),
        allowed_users=_names(entry.get("allowed_users"), f"{where}.allowed_users"),
    )


def parse_profile_list(value: object) -> list[Profile]:
    """Check ``profile_list`` (after a callable was evaluated) and parse it.

    ``None`` and ``[]`` mean no profiles. Raises :class:`ProfileConfigError`.
    """
    if value is None:
        return []
    if isinstance(value, (str, Mapping)) or not isinstance(value, Sequence):
        raise ProfileConfigError(
            f"profile_list: expected a list of profiles (dicts), got {type(value).__name__}"
        )
    profiles = [_parse_profile(i, entry) for i, entry in enumerate(value)]
    seen: set[str] = set()
    for profile in profiles:
        if profile.slug in seen:
            raise ProfileConfigError(
                f"profile_list: two profiles have the slug {profile.slug!r}; give each its own"
            )
        seen.add(profile.slug)
    return profiles


def profile_images(profiles: Sequence[Profile]) -> list[str]:
    """The images the profiles and their listed choices set, in order, once each.

    An image with a ``{...}`` placeholder (filled from free text) cannot be
    known in advance and is left out.
    """
    found: list[str] = []
    overrides = [p.override for p in profiles] + [
        c.override for p in profiles for o in p.options for c in o.choices
    ]
    for override in overrides:
        image = override.get("image")
        if isinstance(image, str) and image and "{" not in image and image not in found:
            found.append(image)
    return found


def visible_profiles(
    profiles: Iterable[Profile], user: str, groups: Iterable[str]
) -> list[Profile]:
    """The profiles ``user`` may see and request, in configuration order."""
    groups = frozenset(groups)
    return [p for p in profiles if p.allows(user, groups)]


def default_profile(profiles: Sequence[Profile]) -> Profile | None:
    """The first profile marked ``default``, else the first one."""
    return next((p for p in profiles if p.default), profiles[0] if profiles else None)


def merge_setting(current: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: ``override`` merged into ``current``, recursively.

    A ``None`` value removes the key; neither argument is changed.
    """
    result = copy.deepcopy(dict(current))
    for key, value in override.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merge_setting(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


# -- the user's request -------------------------------------------------------


def _fill(value: Any, text: str) -> Any:
    """``value`` with every ``{value}`` in its strings replaced by ``text``."""
    if isinstance(value, str):
        return value.replace(VALUE_PLACEHOLDER, text)
    if isinstance(value, Mapping):
        return {k: _fill(v, text) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, text) for v in value]
    if isinstance(value, tuple):
        return tuple(_fill(v, text) for v in value)
    return copy.deepcopy(value)


def _string_option(user_options: Mapping[str, Any], key: str) -> str | None:
    value = user_options.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ProfileRefused(
            f"Invalid user option {key!r}: expected a string, got {type(value).__name__}"
        )
    return value


def _offered(profiles: Sequence[Profile]) -> str:
    return ", ".join(p.slug for p in profiles) or "none"


def select(
    profiles: Sequence[Profile],
    user_options: Mapping[str, Any],
    *,
    user: str,
    groups: Iterable[str],
) -> Selection | None:
    """The profile, choices and overrides ``user_options`` ask for.

    ``profiles`` is the whole (parsed) ``profile_list``; only those ``user``
    may see count. Without a ``profile`` key the default one of those is
    selected. Returns ``None`` when there are no profiles at all. Raises
    :class:`ProfileRefused` for a slug that is unknown or not offered to the
    user (the same message for both), a choice not offered, free text that
    fails the option's regex, and values that are not strings.
    """
    if not profiles:
        return None
    mine = visible_profiles(profiles, user, groups)
    slug = _string_option(user_options, PROFILE_KEY)
    if slug is None:
        profile = default_profile(mine)
        if profile is None:
            raise ProfileRefused(f"No server profile is offered to user {user!r}")
    else:
        found = next((p for p in mine if p.slug == slug), None)
        if found is None:
            raise ProfileRefused(
                f"Profile {_echo(slug)} is not offered to user {user!r}; "
                f"choose one of: {_offered(mine)}"
            )
        profile = found

    consumed = {PROFILE_KEY}
    chosen: dict[str, str] = {}
    overrides: list[tuple[str, Mapping[str, Any]]] = [
        (f"profile {profile.slug!r}", copy.deepcopy(dict(profile.override)))
    ]
    for option in profile.options:
        where = f"Profile {profile.slug!r}, option {option.name!r}"
        unlisted_key = option.name + UNLISTED_SUFFIX
        value = _string_option(user_options, option.name)
        text = _string_option(user_options, unlisted_key)
        consumed.update({option.name, unlisted_key})
        wants_text = value is None or value in UNLISTED_VALUES
        if text is not None or (value is not None and value in UNLISTED_VALUES):
            if option.unlisted is None:
                raise ProfileRefused(f"{where}: free text is not accepted; choose a listed choice")
            if not wants_text:
                raise ProfileRefused(
                    f"{where}: both the choice {_echo(value)} and free text were sent; "
                    "send one of them"
                )
            if text is None:
                raise ProfileRefused(f"{where}: the free text is missing ({unlisted_key!r})")
            option.unlisted.check(text, where)
            chosen[option.name] = text
            overrides.append(
                (
                    f"profile {profile.slug!r}, option {option.name!r} (free text)",
                    _fill(option.unlisted.override, text),
                )
            )
            continue
        if value is None:
            picked = option.default_choice
            if picked is None:
                raise ProfileRefused(f"{where}: a value is required ({unlisted_key!r})")
        else:
            found_choice = option.choice(value)
            if found_choice is None:
                offered = ", ".join(c.slug for c in option.choices)
                extra = " or free text" if option.unlisted is not None else ""
                raise ProfileRefused(
                    f"{where}: {_echo(value)} is not offered; choose one of: {offered}{extra}"
                )
            picked = found_choice
        chosen[option.name] = picked.slug
        overrides.append(
            (
                f"profile {profile.slug!r}, option {option.name!r} choice {picked.slug!r}",
                copy.deepcopy(dict(picked.override)),
            )
        )
    return Selection(
        profile=profile,
        choices=chosen,
        overrides=tuple(overrides),
        consumed=frozenset(consumed),
    )


# -- the form -------------------------------------------------------------------


def form_field(profile_slug: str, option_name: str, *, unlisted: bool = False) -> str:
    """The form field of an option: KubeSpawner's ``profile-option-<slug>--<option>``."""
    name = f"profile-option-{profile_slug}--{option_name}"
    return name + UNLISTED_SUFFIX if unlisted else name


def options_from_form(
    formdata: Mapping[str, Sequence[Any]], *, keep: Iterable[str] = ()
) -> dict[str, str]:
    """User options from the profile form's fields (KubeSpawner's parsing).

    ``profile`` names the profile; the fields ``profile-option-<slug>--<option>``
    of that profile become ``<option>`` (and ``<option>--unlisted-choice``).
    Free text is only taken when the option's chosen value says so (a form
    without JavaScript shows every text box). Fields of other profiles are
    dropped, and so is every other field except those named in ``keep``.
    Empty values count as absent.
    """

    def first(key: str) -> str | None:
        values = formdata.get(key)
        if values and isinstance(values[0], str) and values[0]:
            return values[0]
        return None

    result: dict[str, str] = {}
    for key in (PROFILE_KEY, *keep):
        value = first(key)
        if value is not None:
            result[key] = value
    slug = result.get(PROFILE_KEY)
    if slug is None:
        return result
    prefix = f"profile-option-{slug}--"
    fields = {
        k[len(prefix) :]: first(k) for k in formdata if isinstance(k, str) and k.startswith(prefix)
    }
    for name, value in fields.items():
        if value is None or name.endswith(UNLISTED_SUFFIX):
            continue
        if value in UNLISTED_VALUES:
            text = fields.get(name + UNLISTED_SUFFIX)
            if text is None:
                result[name] = value  # the free text is missing: select() says so
            else:
                result[name + UNLISTED_SUFFIX] = text
        else:
            result[name] = value
    return result
