"""Volume naming strategies, importable from the same module path as in dockerspawner.

``c.DockerSpawner.format_volume_name`` takes a callable ``(template, spawner) -> str``;
configurations that name ``dockerspawner.volumenamingstrategy`` functions can use
this module instead.
"""

from __future__ import annotations

from aiodockerspawner.core.naming import default_format_volume_name, escaped_format_volume_name

__all__ = ["default_format_volume_name", "escaped_format_volume_name"]
