"""The example in docs/testing.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

from aiodockerspawner.testing.pytest_plugin import fake_docker, fake_spawner

__all__ = ["fake_docker", "fake_spawner"]

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
blocks = re.findall(r"```python\n(# test_my_spawner.py.*?)```", DOC.read_text(), re.S)
assert len(blocks) == 1, "docs/testing.md lost its example"
exec(compile(blocks[0], str(DOC), "exec"))
