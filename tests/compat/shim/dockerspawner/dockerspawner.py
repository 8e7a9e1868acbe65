"""``dockerspawner.dockerspawner``: the module dockerspawner defines DockerSpawner in."""

from aiodockerspawner import DockerSpawner

__all__ = ["DockerSpawner"]
