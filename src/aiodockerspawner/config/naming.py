"""How containers, services and volumes are named."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from traitlets import Any as AnyTrait
from traitlets import (
    HasTraits,
    Unicode,
    default,
    validate,
)

from aiodockerspawner.core import naming


class NamingConfig(HasTraits):
    """How containers, services and volumes are named."""

    if TYPE_CHECKING:  # the rest of DockerSpawner and JupyterHub's Spawner

        def __getattr__(self, name: str) -> Any: ...

    # -- naming -----------------------------------------------------------

    prefix = Unicode(
        "jupyter",
        help="Prefix of container names; the ``{prefix}`` of ``name_template``.",
    ).tag(config=True)

    name_template = Unicode(
        help="""
        Template of the container name. Fields: ``{prefix}``, ``{username}``
        (escaped), ``{raw_username}``, ``{safe_username}``, ``{imagename}``,
        ``{servername}`` (escaped), ``{raw_servername}``.

        Defaults to ``{prefix}-{username}`` for the default server and
        ``{prefix}-{username}--{servername}`` for named servers. With
        ``{imagename}`` and ``remove = False``, each image keeps its own
        container: the name is rendered again at every start for the image
        chosen, and the other images' containers are left as they are.
        """,
    ).tag(config=True)

    @default("name_template")
    def _default_name_template(self) -> str:
        return naming.default_name_template(self.name)

    escape = AnyTrait(
        help="""
        How user and server names are escaped for Docker names: a callable
        ``f(str) -> str``, or ``"legacy"`` for the pre-12 dockerspawner scheme.
        The default keeps ``[a-z0-9]`` and escapes everything else as
        ``-XX``, which is safe for DNS and identical to dockerspawner's.
        """,
    ).tag(config=True)

    @default("escape")
    def _default_escape(self) -> Callable[[str], str]:
        return naming.escape_dns

    @validate("escape")
    def _validate_escape(self, proposal: Any) -> Callable[[str], str]:
        return naming.resolve_escape(proposal.value)
