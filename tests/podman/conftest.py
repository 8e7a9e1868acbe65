"""The Podman tier: the same spawner against Podman's Docker-compatible API.

scripts/ensure-services starts ``podman system service`` on PODMAN_SOCK and
loads the test images into Podman's own store. Tests fail (never skip) when
it does not answer.
"""

from __future__ import annotations

import subprocess

import pytest

PODMAN_SOCK = "/run/podman/podman.sock"
PODMAN_HOST = f"unix://{PODMAN_SOCK}"


@pytest.fixture(scope="session")
def podman_host() -> str:
    result = subprocess.run(
        ["docker", "-H", PODMAN_HOST, "version", "--format", "{{.Server.Version}}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        pytest.fail(
            f"Podman's API does not answer on {PODMAN_SOCK}; run scripts/ensure-services:\n"
            + result.stderr
        )
    return PODMAN_HOST


async def podman_cli(*args: str, check: bool = True) -> str:
    """The docker CLI pointed at Podman (an observer independent of our client)."""
    from tests.helpers import docker_cli

    return await docker_cli("-H", PODMAN_HOST, *args, check=check)


from tests.e2e.conftest import start_hub  # noqa: E402

__all__ = ["podman_cli", "podman_host", "start_hub"]
