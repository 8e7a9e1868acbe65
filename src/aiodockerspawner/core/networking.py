"""Host networking: one free port per server.

With ``network_name = "host"`` a container shares the host's network
namespace, so nothing is published and every server must listen on a port of
its own. dockerspawner keeps the fixed port 8888 (and fails to create the
container at all, #462). Here, unless ``port`` is configured, each start picks
a free port on the Hub's machine and hands it to the server through ``port``
(hence ``JUPYTERHUB_SERVICE_URL``), and the server listens on ``host_ip``
(127.0.0.1 by default) rather than on every interface of the host. A resumed
container keeps the port it was created with: it is read back from its
environment.

The free-port check runs where the Hub runs: with a remote Docker host
(``tcp://`` ``DOCKER_HOST``), configure ``port`` or use a bridge network.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from jupyterhub.utils import random_port

__all__ = ["HOST_NETWORK", "free_port", "port_from_env"]

HOST_NETWORK = "host"


def free_port() -> int:
    """A TCP port nobody listens on right now (JupyterHub's own ``random_port``)."""
    return int(random_port())


def port_from_env(env: Mapping[str, str]) -> int | None:
    """The port a server was told to listen on, from its ``JUPYTERHUB_SERVICE_URL``."""
    url = env.get("JUPYTERHUB_SERVICE_URL")
    if not url:
        return None
    try:
        return urlsplit(url).port
    except ValueError:
        return None
