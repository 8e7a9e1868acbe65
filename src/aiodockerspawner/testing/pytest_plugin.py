"""pytest fixtures: a fake Docker Engine and spawners wired to it.

Enable in your ``conftest.py``::

    pytest_plugins = ["aiodockerspawner.testing.pytest_plugin"]

and use the fixtures with pytest-asyncio (``asyncio_mode = "auto"``, or mark
tests with ``@pytest.mark.asyncio``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from aiodockerspawner.backends import close_all
from aiodockerspawner.spawner import DockerSpawner
from aiodockerspawner.testing.engine import FakeEngine
from aiodockerspawner.testing.spawners import make_spawner

#: the image the fake engine has present by default
DEFAULT_IMAGE = "example/singleuser:latest"


@pytest_asyncio.fixture
async def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeEngine]:
    """A running :class:`FakeEngine`; ``DOCKER_HOST`` points at it for the test."""
    engine = FakeEngine()
    engine.add_image(DEFAULT_IMAGE)
    url = await engine.start(tmp_path / "docker.sock")
    monkeypatch.setenv("DOCKER_HOST", url)
    try:
        yield engine
    finally:
        await close_all()
        await engine.stop()


@pytest.fixture
def fake_spawner(fake_docker: FakeEngine) -> Callable[..., DockerSpawner]:
    """A factory: ``fake_spawner(cls=DockerSpawner, user="alice", **traits)``."""

    def build(cls: type[DockerSpawner] = DockerSpawner, **kw: Any) -> DockerSpawner:
        kw.setdefault("image", DEFAULT_IMAGE)
        return make_spawner(cls, **kw)

    return build
