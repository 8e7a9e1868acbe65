"""Test helpers for aiodockerspawner and for Hubs that configure it.

- :class:`FakeEngine`: an in-memory Docker Engine on a unix socket, with fault
  injection, for testing spawner settings and subclasses without Docker.
- :func:`make_spawner`: a spawner with a mock user and Hub, for direct use.
- ``aiodockerspawner.testing.pytest_plugin``: pytest fixtures built on both;
  enable it with ``pytest_plugins = ["aiodockerspawner.testing.pytest_plugin"]``.

Nothing here is imported by the spawner itself.
"""

from aiodockerspawner.testing.engine import FakeContainer, FakeEngine, FakeImage, FakeVolume, Fault
from aiodockerspawner.testing.spawners import make_spawner, mock_user

__all__ = [
    "FakeContainer",
    "FakeEngine",
    "FakeImage",
    "FakeVolume",
    "Fault",
    "make_spawner",
    "mock_user",
]
