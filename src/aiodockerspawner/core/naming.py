"""Object names, username escaping, template rendering and volume naming.

Everything here reproduces dockerspawner's results exactly, so that a hub
switching spawner classes finds the containers and volumes its users already
have. All functions are pure: no I/O and no Docker client.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

import escapism

from aiodockerspawner.errors import InvalidSpec
from aiodockerspawner.model import VolumeBind

__all__ = [
    "EscapeFunc",
    "default_format_volume_name",
    "default_name_template",
    "escape_dns",
    "escape_legacy",
    "escape_server_name",
    "escaped_format_volume_name",
    "format_volume_name_default",
    "host_path_templates",
    "mount_paths",
    "mount_points",
    "path_steered",
    "render_templates",
    "resolve_escape",
    "template_namespace",
    "volumes_to_binds",
]

#: A function turning arbitrary text (a username, a server name) into name-safe text.
EscapeFunc = Callable[[str], str]

_DNS_SAFE = frozenset(string.ascii_lowercase + string.digits)
_LEGACY_SAFE = frozenset(string.ascii_letters + string.digits + "-")


def escape_dns(s: str) -> str:
    """dockerspawner's default escaping (since 12.0).

    Only ``[a-z0-9]`` are kept; every other character, including ``-`` and
    upper-case letters, becomes ``-XX`` per UTF-8 byte (hex), and the result is
    lower-cased. The output is a valid DNS label fragment and the mapping is
    injective, so ``--`` can safely separate a username from a server name.
    """
    escaped: str = escapism.escape(s, safe=_DNS_SAFE, escape_char="-")
    return escaped.lower()


def escape_legacy(s: str) -> str:
    """dockerspawner's pre-12 escaping, selected with ``escape = "legacy"``.

    Letters (either case), digits and ``-`` are kept; everything else becomes
    ``_XX`` per UTF-8 byte. No lower-casing.
    """
    escaped: str = escapism.escape(s, safe=_LEGACY_SAFE, escape_char="_")
    return escaped


def resolve_escape(value: object) -> EscapeFunc:
    """Turn the ``escape`` trait's value into an escaping function.

    ``None`` selects :func:`escape_dns`, the string ``"legacy"`` selects
    :func:`escape_legacy` and any callable is used as is. Anything else is a
    configuration error.
    """
    if value is None:
        return escape_dns
    if isinstance(value, str) and value == "legacy":
        return escape_legacy
    if callable(value):
        func: EscapeFunc = value
        return func
    raise ValueError(f"DockerSpawner.escape must be callable, got {value!r}")


def escape_server_name(server_name: str, escape: EscapeFunc) -> str:
    """Escape a server name the way dockerspawner does.

    The name is lower-cased *before* escaping (so ``Foo`` and ``foo`` yield the
    same object name). That is a dockerspawner quirk kept on purpose: changing
    it would rename existing named-server containers and volumes.
    """
    return escape(server_name.lower())


def default_name_template(server_name: str) -> str:
    """The default ``name_template``: named servers get a ``--`` suffix.

    ``--`` never occurs in :func:`escape_dns` output, so names stay unambiguous.
    """
    if server_name:
        return "{prefix}-{username}--{servername}"
    return "{prefix}-{username}"


def template_namespace(
    *,
    escaped_username: str,
    raw_username: str,
    image: str,
    escaped_servername: str,
    raw_servername: str,
    prefix: str,
) -> dict[str, str]:
    """The keys available to ``name_template``, volumes, mounts and extra configs.

    Identical to dockerspawner's ``template_namespace()``. ``escaped_servername``
    should come from :func:`escape_server_name` (lower-cased, then escaped) to
    keep dockerspawner's names. ``imagename`` is the image reference with ``/``
    and ``:`` replaced by ``-``.
    """
    return {
        "username": escaped_username,
        "safe_username": escaped_username,
        "raw_username": raw_username,
        "imagename": image.replace("/", "-").replace(":", "-"),
        "servername": escaped_servername,
        "raw_servername": raw_servername,
        "prefix": prefix,
    }


def render_templates(obj: Any, ns: Mapping[str, str]) -> Any:
    """Format every string inside ``obj`` with ``str.format(**ns)``.

    Walks mappings (keys and values), lists and tuples and returns new
    containers; other values are returned untouched. A string that is not a
    valid template for ``ns`` (unknown field, stray brace, positional field,
    attribute lookup that fails) is left exactly as it was, like dockerspawner.
    """
    if isinstance(obj, str):
        try:
            return obj.format(**ns)
        except (KeyError, ValueError, IndexError, AttributeError):
            return obj
    if isinstance(obj, Mapping):
        return {render_templates(k, ns): render_templates(v, ns) for k, v in obj.items()}
    if isinstance(obj, list):
        return [render_templates(item, ns) for item in obj]
    if isinstance(obj, tuple):
        return tuple(render_templates(item, ns) for item in obj)
    return obj


def format_volume_name_default(template: str, ns: Mapping[str, str]) -> str:
    """Render one volume name or path. Format errors propagate (not swallowed)."""
    return template.format(**ns)


class _SpawnerNamespace(Protocol):
    """The part of a spawner the dockerspawner volume naming strategies use."""

    @property
    def escaped_name(self) -> str: ...

    def template_namespace(self) -> Mapping[str, str]: ...


def default_format_volume_name(template: str, spawner: _SpawnerNamespace) -> str:
    """dockerspawner's default ``format_volume_name``: the spawner's template namespace."""
    return template.format(**spawner.template_namespace())


def escaped_format_volume_name(template: str, spawner: _SpawnerNamespace) -> str:
    """dockerspawner's ``escaped_format_volume_name``, kept for old configurations.

    ``{username}`` is the escaped username, which the default namespace already
    provides, so the result equals :func:`default_format_volume_name`.
    """
    ns = dict(spawner.template_namespace())
    ns["username"] = spawner.escaped_name
    return template.format(**ns)


_ACCESS_MODES = frozenset({"rw", "ro"})


def _read_only_mode(own_mode: str | None) -> str:
    """``ro`` plus any non-access options of ``own_mode`` (``z``, ``Z``, ...)."""
    options = [o for o in (own_mode or "").split(",") if o and o not in _ACCESS_MODES]
    return ",".join(["ro", *options])


def volumes_to_binds(
    volumes: Mapping[str, str | Mapping[str, Any]],
    *,
    mode: str,
    format_name: Callable[[str], str],
    trait: str = "DockerSpawner.volumes",
) -> list[VolumeBind]:
    """Turn a ``volumes``-style mapping into binds, rendering names.

    Each key is a host path or a named volume; each value is either the guest
    path (taking ``mode``) or a dict with ``bind`` and optional ``mode`` and
    ``propagation``. Keys and guest paths go through ``format_name``.

    ``mode="ro"`` is how ``read_only_volumes`` is processed and it is enforced:
    a dict's own access mode (``rw``) is replaced by ``ro``, while its other
    options such as SELinux ``z``/``Z`` are kept (``{"mode": "z"}`` becomes
    ``ro,z``). dockerspawner let the dict's mode win, which could make a
    "read-only" volume writable.
    """
    binds: list[VolumeBind] = []
    for key, value in volumes.items():
        if not isinstance(key, str):
            raise InvalidSpec(f"{trait}: keys must be strings, got {key!r}")
        bind_mode = mode
        propagation: str | None = None
        if isinstance(value, str):
            target = value
        elif isinstance(value, Mapping):
            bind = value.get("bind")
            if not isinstance(bind, str):
                raise InvalidSpec(
                    f"{trait}: entry {key!r} needs a string 'bind' (the path inside the "
                    f"container), got {value!r}"
                )
            target = bind
            own_mode = value.get("mode")
            if own_mode is not None and not isinstance(own_mode, str):
                raise InvalidSpec(f"{trait}: entry {key!r} has a non-string mode {own_mode!r}")
            own_propagation = value.get("propagation")
            if own_propagation is not None and not isinstance(own_propagation, str):
                raise InvalidSpec(
                    f"{trait}: entry {key!r} has a non-string propagation {own_propagation!r}"
                )
            if mode == "ro":
                bind_mode = _read_only_mode(own_mode)
            elif own_mode:
                bind_mode = own_mode
            propagation = own_propagation or None
        else:
            raise InvalidSpec(
                f"{trait}: entry {key!r} must be a path string or a dict with 'bind', "
                f"got {type(value).__name__}"
            )
        binds.append(
            VolumeBind(
                source=format_name(key),
                target=format_name(target),
                mode=bind_mode,
                propagation=propagation,
            )
        )
    return binds


def mount_points(binds: Iterable[VolumeBind]) -> list[str]:
    """dockerspawner's ``volume_mount_points``: the guest paths, sorted."""
    return sorted(b.target for b in binds)


def path_steered(template: str, rendered: str) -> bool:
    """Whether rendering ``template`` changed the shape of the path it describes.

    Template fields such as ``{raw_username}`` come from users. A value holding
    ``/``, ``.`` or ``..`` could move a host path out of the place the admin's
    template put it (``/srv/{raw_username}`` with the name ``../etc``), so a
    rendered path may not have more ``/`` separators, or more ``.``/``..``
    segments, than its template. ``:`` counts as a separator too: Docker
    reads a bind as ``source:target[:options]``, so a name holding ``:``
    could move the target or add options.
    """
    if "\x00" in rendered:
        return True
    if any(rendered.count(sep) > template.count(sep) for sep in "/:"):
        return True
    return _dot_segments(rendered) > _dot_segments(template)


def _dot_segments(path: str) -> int:
    return sum(seg in (".", "..") for seg in re.split("[/:]", path))


#: keys (docker-py and Engine spellings) whose values name host paths or volumes
_BIND_KEYS = frozenset({"binds", "Binds", "devices", "Devices"})
_MOUNT_LIST_KEYS = frozenset({"mounts", "Mounts"})


def _mount_paths(mount: Any, where: str) -> list[tuple[str, str]]:
    """Host paths and volume names of one mount: a dict, or a ``source:target`` string."""
    if isinstance(mount, str):
        return [(where, mount)]
    if not isinstance(mount, Mapping):
        return []
    found = [(f"{where}[{k!r}]", v) for k, v in mount.items() if k in ("source", "Source")]
    # a volume driver's ``device`` option is a path too (an NFS export, a block device)
    driver = mount.get("driver_config")
    driver_where = f"{where}['driver_config']"
    volume_options = mount.get("VolumeOptions")
    if isinstance(volume_options, Mapping):
        driver = volume_options.get("DriverConfig")
        driver_where = f"{where}['VolumeOptions']['DriverConfig']"
    if isinstance(driver, Mapping):
        for key in ("options", "Options"):
            options = driver.get(key)
            if isinstance(options, Mapping) and "device" in options:
                found.append((f"{driver_where}[{key!r}]['device']", options["device"]))
    return [(w, v) for w, v in found if isinstance(v, str)]


def mount_paths(mounts: Any, where: str) -> list[tuple[str, str]]:
    """``(where, template)`` of each host path or volume name in a list of mounts (pure)."""
    if not isinstance(mounts, list | tuple):
        return []
    return [found for i, m in enumerate(mounts) for found in _mount_paths(m, f"{where}[{i}]")]


def host_path_templates(value: Any, where: str = "") -> list[tuple[str, str]]:
    """``(where, template)`` of each host path or volume name in an ``extra_*`` setting.

    Searches every level (so ``host_config`` in ``extra_create_kwargs`` and
    ``container_spec`` in ``extra_task_spec`` are covered) under the keys
    that carry them, in docker-py and Engine spellings: ``binds``/``Binds``
    and ``devices``/``Devices`` (``"source:target[:mode]"`` strings, a dict
    keyed by host path, or Engine device dicts' ``PathOnHost``) and
    ``mounts``/``Mounts`` (mount dicts or strings). ``where`` locates the
    string, e.g. ``['binds'][0]``, after the given prefix.
    """
    found: list[tuple[str, str]] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            sub = f"{where}[{key!r}]"
            if key in _MOUNT_LIST_KEYS:
                found += mount_paths(item, sub)
            elif key in _BIND_KEYS:
                found += _bind_paths(item, sub)
            else:
                found += host_path_templates(item, sub)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found += host_path_templates(item, f"{where}[{i}]")
    return found


def _bind_paths(binds: Any, where: str) -> list[tuple[str, str]]:
    if isinstance(binds, Mapping):  # docker-py: {host path: target or {"bind": ...}}
        return [(f"{where}[{k!r}]", k) for k in binds if isinstance(k, str)]
    found: list[tuple[str, str]] = []
    if isinstance(binds, list | tuple):
        for i, item in enumerate(binds):
            if isinstance(item, str):
                found.append((f"{where}[{i}]", item))
            elif isinstance(item, Mapping) and isinstance(item.get("PathOnHost"), str):
                found.append((f"{where}[{i}]['PathOnHost']", item["PathOnHost"]))
    return found


#: what Docker accepts as a container or volume name
DOCKER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
#: a volume name is a directory name on the daemon's host
VOLUME_NAME_MAX = 255


def fit_volume_name(name: str) -> str:
    """``name`` short enough for a named volume; unchanged when it already is.

    Escaped names can grow long (a 200-character non-ASCII user name escapes
    to over 1,000 characters) and the daemon refuses volume names longer than
    a file name. Such a name keeps a readable head and ends in a hash of the
    whole name, so it stays unique and stable.
    """
    if len(name.encode()) <= VOLUME_NAME_MAX:
        return name  # valid or not, as the admin's template made it
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    head = re.sub(r"[^a-zA-Z0-9_.-]", "-", name)
    if not head[:1].isalnum():
        head = "v" + head
    return f"{head[: VOLUME_NAME_MAX - len(digest) - 1]}-{digest}"


# -- service names ------------------------------------------------------------

#: longest service name: a DNS label
SERVICE_NAME_MAX = 63
_DNS_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_NOT_LABEL_CHARS = re.compile(r"[^a-z0-9]+")
_HASH_LEN = 10


def is_service_name(name: str) -> bool:
    """Whether ``name`` is a lower-case DNS label (``[a-z0-9-]``, at most 63, no edge ``-``)."""
    return bool(_DNS_LABEL.match(name))


def service_name(name: str) -> str:
    """A valid, stable service name for the rendered ``name_template``.

    A name that already is a DNS label is returned unchanged, so the default
    names (``{prefix}-{username}[--{servername}]`` with the default escaping)
    are the ones dockerspawner gives. Any other name (too long, upper case,
    dots, underscores from ``escape = "legacy"``...) is lower-cased, every run
    of other characters becomes ``-``, it is shortened, and a hash of the
    *original* name is appended: different names stay different, and the same
    name always gives the same result.
    """
    if is_service_name(name):
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_LEN]
    base = _NOT_LABEL_CHARS.sub("-", name.lower()).strip("-")
    base = base[: SERVICE_NAME_MAX - _HASH_LEN - 1].rstrip("-")
    return f"{base}-{digest}" if base else digest
