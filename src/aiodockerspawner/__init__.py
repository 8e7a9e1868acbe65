"""aiodockerspawner: an asyncio-native JupyterHub spawner for Docker.

Importing this package does no I/O and creates no Docker client: JupyterHub
imports every installed spawner just to list their configuration.
"""

from ._version import __version__
from .backends import ObjectBackend
from .backends.container import ContainerBackend
from .spawner import DockerSpawner

__all__ = ["ContainerBackend", "DockerSpawner", "ObjectBackend", "__version__"]
