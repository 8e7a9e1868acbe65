"""Fixtures for tests against a real single-node Docker Swarm.

scripts/ensure-services initialises the swarm (``docker swarm init
--advertise-addr 127.0.0.1``) when it is inactive; a test that needs it fails,
never skips, when it is not there. Every service the suite creates carries the
suite's hub-id label and is removed at the start and end of the session (its
swarm secrets too).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.conftest import TEST_HUB_ID


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)


def remove_test_services() -> None:
    ids = _docker(
        "service", "ls", "-q", "--filter", f"label=aiodockerspawner.hub-id={TEST_HUB_ID}"
    ).stdout.split()
    if ids:
        _docker("service", "rm", *ids)
    # internal SSL files (swarm secrets) a failed test left; usable once the services are gone
    secrets = _docker(
        "secret", "ls", "-q", "--filter", f"label=aiodockerspawner.hub-id={TEST_HUB_ID}"
    ).stdout.split()
    if secrets:
        _docker("secret", "rm", *secrets)


@pytest.fixture(scope="session")
def swarm(docker_daemon: None) -> Iterator[None]:
    """An active swarm whose manager is the daemon the tests talk to."""
    state = _docker("info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}")
    if state.stdout.split() != ["active", "true"]:
        pytest.fail(
            "This Docker daemon is not a swarm manager; run scripts/ensure-services "
            f"(it runs `docker swarm init --advertise-addr 127.0.0.1`): {state.stdout!r}"
        )
    remove_test_services()
    yield
    remove_test_services()
