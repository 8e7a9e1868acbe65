"""An import shim: ``dockerspawner`` names that resolve to aiodockerspawner's classes.

The compatibility tier (tests/compat) puts the folder holding this package first
on ``sys.path`` and runs dockerspawner 14.0.0's own test suite: every
``from dockerspawner import DockerSpawner`` there gets aiodockerspawner's class.
It re-exports, it never adapts: what fails through it is a real difference.
"""

from aiodockerspawner import DockerSpawner, SwarmSpawner, SystemUserSpawner
from aiodockerspawner._version import __version__

__all__ = ["DockerSpawner", "SwarmSpawner", "SystemUserSpawner", "__version__"]
