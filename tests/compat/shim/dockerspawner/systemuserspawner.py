"""``dockerspawner.systemuserspawner``: the module of dockerspawner's SystemUserSpawner."""

from aiodockerspawner import SystemUserSpawner

__all__ = ["SystemUserSpawner"]
