"""``dockerspawner.volumenamingstrategy``: the volume naming functions."""

from aiodockerspawner.volumenamingstrategy import (
    default_format_volume_name,
    escaped_format_volume_name,
)

__all__ = ["default_format_volume_name", "escaped_format_volume_name"]
