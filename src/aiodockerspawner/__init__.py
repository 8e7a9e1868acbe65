"""aiodockerspawner: an asyncio-native JupyterHub spawner for Docker.

Importing this package does no I/O and creates no Docker client: JupyterHub
imports every installed spawner just to list their configuration.

``aiodockerspawner.dockerpy`` is the module behind ``spawner.docker(...)``
(:mod:`aiodockerspawner.backends.docker.dockerpy`): docker-py's error classes
(``NotFound``, ``APIError``...) for subclasses that catch them.
"""

from aiodockerspawner._version import __version__
from aiodockerspawner.backends import ContainerBackend, ObjectBackend, ServiceBackend, dockerpy
from aiodockerspawner.spawner import DockerSpawner
from aiodockerspawner.swarm import SwarmSpawner
from aiodockerspawner.systemuser import SystemUserMixin, SystemUserSpawner, SystemUserSwarmSpawner

__all__ = [
    "ContainerBackend",
    "DockerSpawner",
    "ObjectBackend",
    "ServiceBackend",
    "SwarmSpawner",
    "SystemUserMixin",
    "SystemUserSpawner",
    "SystemUserSwarmSpawner",
    "__version__",
    "dockerpy",
]
