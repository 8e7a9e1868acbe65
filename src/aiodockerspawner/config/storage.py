"""Volumes, bind mounts and mounts a server gets."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from traitlets import Any as AnyTrait
from traitlets import (
    Dict,
    HasTraits,
    List,
    default,
)

from aiodockerspawner.core import naming


class StorageConfig(HasTraits):
    """Volumes, bind mounts and mounts a server gets."""

    if TYPE_CHECKING:  # the rest of DockerSpawner and JupyterHub's Spawner

        def __getattr__(self, name: str) -> Any: ...

    # -- storage ----------------------------------------------------------

    volumes = Dict(
        help="""
        Host paths or named volumes to mount: ``{source: target}`` or
        ``{source: {"bind": target, "mode": "rw", "propagation": ...}}``.
        Both sides may use ``{username}``, ``{raw_username}``,
        ``{servername}`` and ``{prefix}``. A source without ``/`` is a
        named volume.
        """,
    ).tag(config=True)

    read_only_volumes = Dict(
        help="Like ``volumes``, always mounted read-only.",
    ).tag(config=True)

    mounts = List(
        Dict(),
        help="""
        Extra mounts as dicts, in docker-py ``Mount`` keywords (``target``,
        ``source``, ``type``, ``read_only``, ...) or Engine ``Mount`` keys.
        String values are templated like ``volumes``; a user or server name
        that would change a source path is refused, as for ``volumes``.
        """,
    ).tag(config=True)

    format_volume_name = AnyTrait(
        help="""
        Callable ``f(template, spawner) -> str`` that renders volume sources
        and targets. See ``aiodockerspawner.volumenamingstrategy``.
        """,
    ).tag(config=True)

    @default("format_volume_name")
    def _default_format_volume_name(self) -> Callable[[str, Any], str]:
        return naming.default_format_volume_name
