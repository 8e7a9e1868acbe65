"""``dockerspawner.swarmspawner``: the module dockerspawner defines SwarmSpawner in."""

from aiodockerspawner import SwarmSpawner

__all__ = ["SwarmSpawner"]
