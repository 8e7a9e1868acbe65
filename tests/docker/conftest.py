"""Fixtures for the real-daemon tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aiodockerspawner.backends.docker.watch import stop_watchers
from tests.dockerproxy import DockerProxy


@pytest.fixture
async def proxy(tmp_path: Path) -> AsyncIterator[DockerProxy]:
    """A counting proxy on the real daemon's socket (see tests/dockerproxy.py)."""
    async with DockerProxy(tmp_path) as running:
        try:
            yield running
        finally:
            # the watchers of spawners that used the proxy must not outlive it
            await stop_watchers(running.url)
