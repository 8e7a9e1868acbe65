"""Image choice: ``allowed_images``, the spawn form and ``user_options``.

Everything here is a pure function: no Docker calls, no logging, no trait
access. The spawner resolves its configuration, hands the values in and acts on
what comes back.

Security model (the same as DockerSpawner since 13.0):

* ``allowed_images = "*"`` lets a user launch any image string they send.
* A mapping (or a list, which becomes ``{image: image}``) lets a user pick one of
  its *keys*; the spawner then runs the matching *value*. A raw image string is
  never taken from the user.
* No mapping at all (``None`` or empty) means users cannot choose; an explicit
  request is refused even when it names the configured default image.
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeAlias, cast

from tornado import web

__all__ = [
    "AllowedImages",
    "check_allowed",
    "choose_image",
    "normalize_allowed_images",
    "options_from_form",
    "render_options_form",
    "resolve_allowed_images",
    "spawn_error",
    "validate_user_options",
]

AllowedImages: TypeAlias = dict[str, str] | Literal["*"] | None
"""``allowed_images`` after normalisation: a key → image mapping, ``"*"`` or unset."""

# Longest piece of user input quoted back in an error message.
_MAX_ECHO = 100


def _load_spawn_exception() -> Callable[..., web.HTTPError] | None:
    """``jupyterhub.spawner.SpawnException`` (JupyterHub >= 6.0), or None on older hubs."""
    try:
        from jupyterhub.spawner import SpawnException
    except ImportError:  # JupyterHub 5.x
        return None
    return cast("Callable[..., web.HTTPError]", SpawnException)


_SpawnException = _load_spawn_exception()


def spawn_error(message: str, *, reason: str, status_code: int = 400) -> web.HTTPError:
    """Build the exception for a spawn refused because of the user's request.

    On JupyterHub >= 6.0 this is a ``SpawnException`` (no traceback in the log,
    counted as a policy failure, not a hub fault). On 5.x it is a
    ``tornado.web.HTTPError`` carrying ``jupyterhub_message`` so the hub still
    shows ``message`` to the user. Either way ``status_code`` and
    ``log_message`` are set and the object is an ``HTTPError``.
    """
    if _SpawnException is not None:
        return _SpawnException(message, reason=reason, status_code=status_code)
    err = web.HTTPError(status_code, log_message=message)
    err.jupyterhub_message = message  # type: ignore[attr-defined]
    return err


def _echo(value: str) -> str:
    """Quote user input for an error message: one line, bounded length."""
    if len(value) > _MAX_ECHO:
        value = value[:_MAX_ECHO] + "..."
    return repr(value)


def normalize_allowed_images(value: object) -> AllowedImages:
    """Check a (non-callable) ``allowed_images`` value and bring it to canonical form.

    * ``None`` stays ``None`` (users may not choose an image).
    * ``"*"`` stays ``"*"`` (users may launch any image).
    * A list, tuple or set of image names becomes ``{name: name}``; sets are
      sorted so the result does not depend on hashing.
    * A mapping is copied into a new ``dict``, keeping its order.

    Anything else, and any key, value or item that is not a ``str``, raises
    ``ValueError`` naming ``allowed_images``.
    """
    if value is None:
        return None
    if isinstance(value, str):
        if value == "*":
            return "*"
        raise ValueError(
            f"allowed_images: the only string accepted is '*' (meaning any image); "
            f"got {_echo(value)}. Use a list or a dict to name specific images."
        )
    if isinstance(value, (list, tuple, set, frozenset)):
        items: list[object] = list(value)
        for item in items:
            if not isinstance(item, str):
                raise ValueError(
                    f"allowed_images: every list entry must be an image name (str); "
                    f"got {type(item).__name__} {item!r}"
                )
        names = cast("list[str]", items)
        if isinstance(value, (set, frozenset)):
            names = sorted(names)
        return {name: name for name in names}
    if isinstance(value, Mapping):
        result: dict[str, str] = {}
        for key, image in value.items():
            if not isinstance(key, str) or not isinstance(image, str):
                raise ValueError(
                    f"allowed_images: keys and values must be str; got {key!r}: {image!r}"
                )
            result[key] = image
        return result
    raise ValueError(
        f"allowed_images must be '*', a list, a dict, a callable or None; "
        f"got {type(value).__name__}"
    )


async def resolve_allowed_images(value: object, spawner: Any) -> AllowedImages:
    """Evaluate ``allowed_images`` for one spawner.

    A callable is called as ``value(spawner)``; if it returns an awaitable, that
    is awaited. The result (or ``value`` itself when it is not callable) goes
    through :func:`normalize_allowed_images`.
    """
    if callable(value):
        result = cast("Callable[[Any], object]", value)(spawner)
        if inspect.isawaitable(result):
            result = await result
        return normalize_allowed_images(result)
    return normalize_allowed_images(value)


def check_allowed(allowed: AllowedImages, requested: str) -> str:
    """Map an image the user asked for to the image to run, or refuse.

    With ``"*"`` the request is returned unchanged. With a mapping, ``requested``
    must be one of its keys and the matching value is returned. With no mapping
    (``None`` or empty) every request is refused. A refusal is a 400
    :func:`spawn_error`.
    """
    if allowed == "*":
        return requested
    if not allowed:
        raise spawn_error(
            "Choosing an image is not allowed on this hub; start without one to get the default.",
            reason="image",
        )
    if requested not in allowed:
        keys = ", ".join(_echo(key) for key in allowed)
        raise spawn_error(
            f"Image {_echo(requested)} is not in the allowed list: {keys}",
            reason="image",
        )
    return allowed[requested]


def choose_image(allowed: AllowedImages, requested: str | None, default: str) -> str:
    """The image to run: ``default`` when nothing was requested, else :func:`check_allowed`.

    An empty request counts as none, as in DockerSpawner.
    """
    if not requested:
        return default
    return check_allowed(allowed, requested)


def render_options_form(allowed: AllowedImages, current_image: str) -> str:
    """HTML for the spawn page: a ``<select name="image">`` over the allowed keys.

    Returns ``""`` (no form) when any image is allowed, when none is, or when
    there is only one to choose. The option whose key or image equals
    ``current_image`` is pre-selected (the first one, if several match). Markup
    targets Bootstrap 5 as used by JupyterHub >= 5.
    """
    if allowed is None or allowed == "*" or len(allowed) <= 1:
        return ""
    options: list[str] = []
    picked = False
    for key, image in allowed.items():
        selected = ""
        if not picked and current_image in (key, image):
            selected = " selected"
            picked = True
        text = html.escape(key, quote=True)
        options.append(f'  <option value="{text}"{selected}>{text}</option>')
    return "\n".join(
        [
            '<label for="image" class="form-label">Image to launch</label>',
            '<select class="form-select" name="image" id="image" required autofocus>',
            *options,
            "</select>",
            "",
        ]
    )


def options_from_form(formdata: Mapping[str, list[str]]) -> dict[str, str]:
    """Turn submitted form fields into ``user_options``.

    Only the ``image`` field is read (its first value, when non-empty); every
    other field is dropped.
    """
    values = formdata.get("image")
    if values and isinstance(values[0], str) and values[0]:
        return {"image": values[0]}
    return {}


def validate_user_options(
    user_options: Mapping[str, object] | None,
) -> tuple[str | None, list[str]]:
    """Extract the requested image from ``user_options``.

    Returns ``(image, ignored_keys)``. ``image`` is the requested key (still to
    be checked with :func:`check_allowed`) or ``None`` when none was requested
    (absent, ``None`` or ``""``). ``ignored_keys`` lists, sorted, every other key.

    ``image`` is the only option this spawner reads. A present ``image`` that is
    not a string is refused with a 400 :func:`spawn_error`. Whether other keys
    are an error depends on the Hub's configuration (an ``apply_user_options``
    or ``pre_spawn_hook`` may read them), so they are returned for the caller
    to decide.
    """
    if not user_options:
        return None, []
    ignored = sorted(str(key) for key in user_options if key != "image")
    image = user_options.get("image")
    if image is None or image == "":
        return None, ignored
    if not isinstance(image, str):
        raise spawn_error(
            f"Invalid user option 'image': expected a string, got {type(image).__name__}",
            reason="user_options",
        )
    return image, ignored
