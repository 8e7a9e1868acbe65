"""conftest.py for dockerspawner 14.0.0's test suite, as the compatibility tier runs it.

dockerspawner's sdist ships its ``tests/`` without the ``conftest.py`` that
defines their fixtures; the tier copies this file in as ``tests/conftest.py``.
It provides the fixtures those tests ask for, with the meaning dockerspawner's
own conftest gives them (JupyterHub's module-scoped ``MockHub`` with a real
configurable-http-proxy, the Hub listening on every address so that containers
reach it, spawner classes patched into the Hub's settings) and, for the tier:

- the container prefix, the hub id and the Hub's connect address come from the
  environment (``COMPAT_PREFIX``, ``COMPAT_HUB_ID``, ``HUB_CONNECT_IP``), so
  that two runs on one daemon do not remove each other's containers;
- before every test the local images are tagged again under the names the
  tests use (``COMPAT_IMAGE_ALIASES``, a JSON ``{alias: local image}``):
  ``test_image_pull_policy`` removes one of them;
- every test's outcome is written as JSON to ``COMPAT_REPORT``.

The async tests must run on the module's event loop, where JupyterHub's
module-scoped Hub lives (dockerspawner's conftest marks them so; with
pytest-asyncio 1.x a marker added at collection comes too late): the tier
runs pytest with ``-o asyncio_default_test_loop_scope=module``.

It imports nothing from either spawner package but ``dockerspawner`` (which
is dockerspawner itself or the shim, depending on the run) and no docker-py.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from dockerspawner import DockerSpawner, SwarmSpawner, SystemUserSpawner
from jupyterhub.tests.conftest import app as jupyterhub_app  # noqa: F401
from jupyterhub.tests.conftest import io_loop, ssl_tmpdir, user  # noqa: F401
from jupyterhub.tests.mocking import MockHub

PREFIX = os.environ.get("COMPAT_PREFIX", "dockerspawner-test")
HUB_ID = os.environ.get("COMPAT_HUB_ID", "")
ALIASES: dict[str, str] = json.loads(os.environ.get("COMPAT_IMAGE_ALIASES", "{}"))

# containers reach the Hub on the docker bridge, not on loopback
MockHub.hub_ip = "0.0.0.0"
if os.environ.get("HUB_CONNECT_IP"):
    MockHub.hub_connect_ip = os.environ["HUB_CONNECT_IP"]


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)


def _tag_aliases() -> None:
    if not ALIASES or _docker("image", "inspect", *ALIASES).returncode == 0:
        return
    for alias, image in ALIASES.items():
        if _docker("image", "inspect", alias).returncode != 0:
            tagged = _docker("tag", image, alias)
            if tagged.returncode != 0:
                raise RuntimeError(f"docker tag {image} {alias}: {tagged.stderr.strip()}")


def _remove_objects() -> None:
    """Remove the containers and services this run's prefix names."""
    ids = _docker("ps", "-aq", "--filter", f"name=^/{PREFIX}-").stdout.split()
    if ids:
        _docker("rm", "-fv", *ids)
    services = _docker("service", "ls", "-q", "--filter", f"name={PREFIX}-").stdout.split()
    if services:
        _docker("service", "rm", *services)


@pytest.fixture(autouse=True, scope="session")
def _clean_daemon() -> Iterator[None]:
    _remove_objects()
    yield
    _remove_objects()


@pytest.fixture(autouse=True)
def _images() -> None:
    _tag_aliases()


@pytest.fixture
def app(jupyterhub_app: Any) -> Any:  # noqa: F811
    jupyterhub_app.config.DockerSpawner.prefix = PREFIX
    if HUB_ID and "hub_id" in DockerSpawner.class_traits():
        # aiodockerspawner labels its objects with a hub id; keep this run's apart
        jupyterhub_app.config.DockerSpawner.hub_id = HUB_ID
    return jupyterhub_app


@pytest.fixture
def named_servers(app: Any) -> Iterator[None]:
    with mock.patch.dict(
        app.tornado_settings, {"allow_named_servers": True, "named_server_limit_per_user": 2}
    ):
        yield


@pytest.fixture
def dockerspawner_configured_app(app: Any, named_servers: None) -> Iterator[Any]:
    with mock.patch.dict(app.tornado_settings, {"spawner_class": DockerSpawner}):
        yield app


@pytest.fixture
def swarmspawner_configured_app(app: Any, named_servers: None) -> Iterator[Any]:
    with (
        mock.patch.dict(app.tornado_settings, {"spawner_class": SwarmSpawner}),
        mock.patch.dict(app.config.SwarmSpawner, {"network_name": "bridge"}),
    ):
        yield app


@pytest.fixture
def systemuserspawner_configured_app(app: Any, named_servers: None) -> Iterator[Any]:
    with mock.patch.dict(app.tornado_settings, {"spawner_class": SystemUserSpawner}):
        yield app


_usernames = itertools.count()


@pytest.fixture
def username() -> str:
    return f"test-user-{next(_usernames)}"


# -- per-test outcomes ------------------------------------------------------------

_outcomes: dict[str, dict[str, str]] = {}


def _message(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message).strip().splitlines()[0][:300]
    if isinstance(report.longrepr, tuple):  # a skip: (file, line, reason)
        return str(report.longrepr[2])[:300]
    lines = str(report.longrepr or "").strip().splitlines()
    return lines[-1][:300] if lines else ""


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    entry = _outcomes.setdefault(report.nodeid, {"outcome": "passed", "message": ""})
    if hasattr(report, "wasxfail"):
        entry["outcome"] = "xfailed" if report.skipped else "xpassed"
    elif report.failed:
        if entry["outcome"] not in ("failed", "error"):
            entry["outcome"] = "failed" if report.when == "call" else "error"
            entry["message"] = f"{report.when}: {_message(report)}"
    elif report.skipped and entry["outcome"] == "passed":
        entry["outcome"] = "skipped"
        entry["message"] = _message(report)


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get("COMPAT_REPORT")
    if path:
        with open(path, "w") as f:
            json.dump(_outcomes, f, indent=1, sort_keys=True)
