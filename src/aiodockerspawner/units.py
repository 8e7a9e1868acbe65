"""Byte sizes as dockerspawner and docker-py write them (``512m``, ``2G``)."""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from aiodockerspawner.errors import InvalidSpec

_BYTES_RE = re.compile(
    r"^\s*(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?P<unit>[kmgtp]?)(?:i?b)?\s*$",
    re.IGNORECASE,
)
_BYTE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


def parse_bytes(value: object, *, key: str) -> int:
    """A byte size as an int: ``512m``, ``1G``, ``1.5g``, ``100k``, ``1024b``, ``2GiB``...

    Units ``b``/``k``/``m``/``g`` (docker-py) and ``t``/``p`` are powers of 1024 and
    case-insensitive; a trailing ``b``/``iB`` is allowed (``1gb``). A bare number
    is bytes. Ints pass through (``-1``, e.g. unlimited swap, included); floats
    are truncated. Anything else raises :class:`InvalidSpec` naming ``key``.
    """
    if isinstance(value, bool):
        raise InvalidSpec(f"{key}: expected a byte size, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidSpec(f"{key}: expected a byte size, got {value!r}")
        return int(value)
    if isinstance(value, str):
        match = _BYTES_RE.match(value)
        if match:
            try:
                number = Decimal(match["num"])
            except InvalidOperation:  # pragma: no cover - the regex admits only numbers
                pass
            else:
                return int(number * _BYTE_UNITS[match["unit"].lower()])
    raise InvalidSpec(
        f"{key}: invalid byte size {value!r}; use an int or a number with a unit "
        f"b, k, m, g or t (powers of 1024), e.g. '512m' or '2G'"
    )
