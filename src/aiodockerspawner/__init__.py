"""aiodockerspawner: an asyncio-native JupyterHub spawner for Docker.

Importing this package does no I/O and creates no Docker client: JupyterHub
imports every installed spawner just to list their configuration.
"""

from ._version import __version__
from .backends import ObjectBackend
from .backends.container import ContainerBackend
from .backends.service import ServiceBackend
from .spawner import DockerSpawner
from .swarm import SwarmSpawner
from .systemuser import SystemUserMixin, SystemUserSpawner, SystemUserSwarmSpawner

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
]
