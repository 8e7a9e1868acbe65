"""A three-node swarm (one manager, two workers), each node a Docker daemon in a container.

``scripts/multinode-swarm`` brings it up (``nox -s tests`` runs it through
scripts/ensure-services); the ``multinode`` fixture runs it again before
every test, which costs about 0.3 s when the swarm is as it should be and
repairs it otherwise (a killed worker is started again, a drained one made
active). When the nodes cannot start, the fixture fails with the script's
reason: these tests never skip.

The machine reaches each node's Engine API at ``tcp://<node address>:2375``
and a task's port published in host mode at ``<node address>:<port>``. The
manager is drained, so tasks run on the workers only; worker1 carries the
node label ``zone=a``, worker2 ``zone=b``.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEST_HUB_ID

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "multinode-swarm"

#: a server for the tiny image: busybox httpd serving ``$JUPYTERHUB_SERVICE_PREFIX``
#: (an index naming the user, and ``api``) on the port the spawner passes
#: (the Hub only needs an HTTP answer below 500 there)
TINY_SERVER_CMD = [
    "/bin/sh",
    "-c",
    "d=/tmp/www${JUPYTERHUB_SERVICE_PREFIX:-/}; mkdir -p $d; "
    'echo "multinode server of $JUPYTERHUB_USER" > ${d}index.html; echo "{}" > ${d}api; '
    "trap 'exit 0' TERM; /bin/httpd -f -p 8888 -h /tmp/www & wait",
]


@dataclass
class MultiNode:
    """The running three-node swarm, as ``scripts/multinode-swarm --json`` describes it."""

    manager: str
    #: hostname -> address on the nodes' network
    workers: dict[str, str]
    #: this machine's address on the nodes' network
    gateway: str
    #: hostname -> container name on this machine's daemon
    containers: dict[str, str]
    #: node id -> hostname, filled on demand
    _hostnames: dict[str, str] = field(default_factory=dict)

    @property
    def manager_ip(self) -> str:
        return self.manager.split("://", 1)[1].rsplit(":", 1)[0]

    def docker(self, *args: str, host: str | None = None, check: bool = True) -> str:
        """The docker CLI against the manager (or another node's daemon)."""
        result = subprocess.run(
            ["docker", "-H", host or self.manager, *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed: {result.stderr}")
        return result.stdout

    def hostname(self, node_id: str) -> str:
        if node_id not in self._hostnames:
            self._hostnames[node_id] = self.docker(
                "node", "inspect", "-f", "{{.Description.Hostname}}", node_id
            ).strip()
        return self._hostnames[node_id]

    def tasks(self, service: str) -> list[dict[str, Any]]:
        """The service's tasks as the manager reports them (``[]`` once it is gone)."""
        result = subprocess.run(
            ["docker", "-H", self.manager, "service", "ps", "-q", "--no-trunc", service],
            capture_output=True,
            text=True,
            timeout=60,
        )
        ids = result.stdout.split()
        if result.returncode != 0 or not ids:
            return []
        out: list[dict[str, Any]] = json.loads(self.docker("inspect", "--type", "task", *ids))
        return out

    def running_node(self, service: str) -> str | None:
        """The hostname of the node whose task of ``service`` is running, if any."""
        for task in self.tasks(service):
            if task["DesiredState"] == "running" and task["Status"]["State"] == "running":
                return self.hostname(task["NodeID"])
        return None

    def services(self) -> list[str]:
        """Names of this test run's services on the swarm."""
        return self.docker(
            "service",
            "ls",
            "--format",
            "{{.Name}}",
            "--filter",
            f"label=aiodockerspawner.hub-id={TEST_HUB_ID}",
        ).split()

    def remove_test_services(self) -> None:
        ids = self.docker(
            "service", "ls", "-q", "--filter", f"label=aiodockerspawner.hub-id={TEST_HUB_ID}"
        ).split()
        if ids:
            self.docker("service", "rm", *ids, check=False)

    def node_status(self, hostname: str) -> str:
        return self.docker("node", "inspect", "-f", "{{.Status.State}}", hostname).strip()


def bring_up() -> MultiNode:
    """Run the script (idempotent); fail with its reason when the swarm cannot start."""
    began = time.monotonic()
    try:
        result = subprocess.run(
            [str(SCRIPT), "up", "--json"], capture_output=True, text=True, timeout=900
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.fail(f"scripts/multinode-swarm could not run: {e}")
    if result.returncode != 0:
        pytest.fail(
            "The three-node swarm could not start (scripts/multinode-swarm up):\n"
            + result.stderr[-3000:]
        )
    data = json.loads(result.stdout.strip().splitlines()[-1])
    took = time.monotonic() - began
    if took > 2:
        print(f"\nscripts/multinode-swarm up: {took:.1f} s\n{result.stderr.strip()}")
    return MultiNode(
        manager=data["manager"],
        workers=dict(data["workers"]),
        gateway=data["gateway"],
        containers=dict(data["containers"]),
    )


@pytest.fixture(scope="session")
def multinode_session(docker_daemon: None) -> Iterator[MultiNode]:
    """The swarm, with this run's services removed at the start and the end."""
    swarm = bring_up()
    swarm.remove_test_services()
    yield swarm
    bring_up().remove_test_services()


@pytest.fixture
def multinode(multinode_session: MultiNode) -> MultiNode:
    """The swarm as the script leaves it (a worker killed or drained by a test is back)."""
    return bring_up()


from tests.e2e.conftest import start_hub  # noqa: E402, F401  (the Hub factory fixture)
from tests.multinode.authregistry import auth_registry  # noqa: E402, F401
