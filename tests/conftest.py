"""Shared fixtures: the real Docker daemon, test images and spawner factories.

Tests that need a service fail loudly when it is missing: ``nox -s tests``
(scripts/ensure-services) brings every service up first, so a skip would only
hide a broken environment.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import jupyterhub
import pytest

from aiodockerspawner.backends.container.sweep import stop_sweepers
from aiodockerspawner.backends.docker.client import close_shared_clients
from aiodockerspawner.backends.docker.prepull import stop_prepullers
from aiodockerspawner.backends.docker.watch import stop_watchers
from aiodockerspawner.backends.service.snapshot import stop_task_snapshots

TINY_IMAGE = "aiodockerspawner-test/tiny:latest"
#: the same image under another name (tagged on first use)
SECOND_TINY_IMAGE = "aiodockerspawner-test/tiny:second"
SINGLEUSER_IMAGE = f"aiodockerspawner-test/singleuser:{jupyterhub.__version__}"
#: hub id label of every object the test suite creates; set the variables to run
#: several suites side by side on one daemon without them removing each other's objects
TEST_HUB_ID = os.environ.get("AIODOCKERSPAWNER_TEST_HUB_ID", "aiodockerspawner-tests")
TEST_PREFIX = os.environ.get("AIODOCKERSPAWNER_TEST_PREFIX", "adst")
#: the checkout under test
ROOT = Path(__file__).resolve().parents[1]


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)


def remove_test_objects() -> None:
    ids = _docker(
        "ps", "-aq", "--filter", f"label=aiodockerspawner.hub-id={TEST_HUB_ID}"
    ).stdout.split()
    if ids:
        _docker("rm", "-fv", *ids)


@pytest.fixture(scope="session")
def docker_daemon() -> Iterator[None]:
    """A real Docker daemon; fails (never skips) when there is none."""
    result = _docker("info", "--format", "{{.ServerVersion}}")
    if result.returncode != 0:
        pytest.fail(
            "No Docker daemon answers; run scripts/ensure-services (nox -s tests does):\n"
            + result.stderr
        )
    remove_test_objects()
    yield
    remove_test_objects()


def _require_image(image: str) -> None:
    if _docker("image", "inspect", image).returncode != 0:
        pytest.fail(f"Test image {image} is missing; run scripts/build-images")


@pytest.fixture(scope="session")
def tiny_image(docker_daemon: None) -> str:
    _require_image(TINY_IMAGE)
    return TINY_IMAGE


@pytest.fixture(scope="session")
def second_tiny_image(tiny_image: str) -> str:
    """The tiny image under a second name, for tests that switch images."""
    result = _docker("tag", tiny_image, SECOND_TINY_IMAGE)
    if result.returncode != 0:
        pytest.fail(f"Could not tag {tiny_image} as {SECOND_TINY_IMAGE}: {result.stderr}")
    return SECOND_TINY_IMAGE


@pytest.fixture(scope="session")
def singleuser_image(docker_daemon: None) -> str:
    _require_image(SINGLEUSER_IMAGE)
    return SINGLEUSER_IMAGE


@pytest.fixture(scope="session")
def hub_connect_ip() -> str:
    """An address of this machine that containers on the default bridge reach."""
    if os.environ.get("HUB_CONNECT_IP"):
        return os.environ["HUB_CONNECT_IP"]
    out = _docker(
        "network", "inspect", "bridge", "--format", "{{(index .IPAM.Config 0).Gateway}}"
    ).stdout.strip()
    return out or "172.17.0.1"


@pytest.fixture(scope="session")
def dist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding this checkout's sdist and wheel.

    ``nox -s tests`` builds them (``python -m build``, then ``twine check``)
    and names the directory in ``AIODOCKERSPAWNER_TEST_DIST``; otherwise they
    are built here, with ``build`` from this interpreter or from a scratch
    virtualenv (the build backend comes from the package index either way).
    """
    given = os.environ.get("AIODOCKERSPAWNER_TEST_DIST")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("dist")
    python = sys.executable
    if importlib.util.find_spec("build") is None:
        venv = tmp_path_factory.mktemp("build-venv")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = str(venv / "bin" / "python")
        subprocess.run([python, "-m", "pip", "install", "-q", "build"], check=True)
    result = subprocess.run(
        [python, "-m", "build", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"python -m build failed:\n{result.stdout}\n{result.stderr}"
    return out


@pytest.fixture(autouse=True, scope="module")
async def _close_clients() -> AsyncIterator[None]:
    """Stop the watchers and close the shared aiodocker clients of each module's event loop."""
    yield
    await stop_prepullers()
    await stop_watchers()
    await stop_task_snapshots()
    await stop_sweepers()
    await close_shared_clients()
