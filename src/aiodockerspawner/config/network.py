"""Which network a server joins and where the Hub reaches it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from traitlets import (
    Bool,
    Dict,
    HasTraits,
    Unicode,
    default,
)


class NetworkConfig(HasTraits):
    """Which network a server joins and where the Hub reaches it."""

    if TYPE_CHECKING:  # the rest of DockerSpawner and JupyterHub's Spawner

        def __getattr__(self, name: str) -> Any: ...

    # -- networking ---------------------------------------------------------

    network_name = Unicode(
        "bridge",
        help="""
        Docker network the container joins: ``bridge`` (default; the port is
        published on ``host_ip``), ``host``, or a user-defined network.
        """,
    ).tag(config=True)

    use_internal_ip = Bool(
        help="""
        Connect to the container's own IP on ``network_name`` instead of a
        published port. Defaults to True on user-defined networks.
        """,
    ).tag(config=True)

    @default("use_internal_ip")
    def _default_use_internal_ip(self) -> bool:
        return self.network_name not in {"bridge", "host"}

    use_internal_hostname = Bool(
        help="""
        Connect to the container by its name (needs Docker DNS, i.e. a
        user-defined network). Defaults to ``internal_ssl``.
        """,
    ).tag(config=True)

    @default("use_internal_hostname")
    def _default_use_internal_hostname(self) -> bool:
        return bool(self.internal_ssl)

    host_ip = Unicode(
        "127.0.0.1",
        help="""
        Host interface the server's port is published on (bridge network).
        Defaults to 127.0.0.1, or the host of a ``tcp://`` ``DOCKER_HOST``.
        """,
    ).tag(config=True)

    @default("host_ip")
    def _default_host_ip(self) -> str:
        docker_host = os.environ.get("DOCKER_HOST", "")
        if docker_host.startswith("tcp://"):
            from urllib.parse import urlsplit

            return urlsplit(docker_host).hostname or "127.0.0.1"
        return "127.0.0.1"

    links = Dict(
        help="Legacy container links: ``{container_name: alias}``.",
    ).tag(config=True)
