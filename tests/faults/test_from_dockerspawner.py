"""Switching a Hub from dockerspawner 14.0.0 to aiodockerspawner keeps its servers.

A Hub runs dockerspawner 14.0.0 (with docker-py) from a virtualenv of its own,
the one the benchmarks make under .cache/bench (benchmarks/venvs.py), with
jupyterhub 6.1.1 as in ours: dockerspawner 14.0.0 asks for ``jupyterhub>=4``
and runs on 6.1.1 unchanged. It starts default and named servers with
``remove = False`` and ``cleanup_servers = False``, then is stopped. The same
Hub directory, database and configuration file are started again by our
virtualenv's JupyterHub with one line changed, ``spawner_class``. Every server
must be adopted: ready at once, the same container, reachable through the
proxy. Then each is stopped and started again through the REST API: the
stopped container is resumed, never duplicated.

dockerspawner's containers carry none of our labels, so the events cache
cannot list them; ``poll()`` falls back to one inspect for them.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import jupyterhub
import pytest

from aiodockerspawner.core import naming
from aiodockerspawner.labels import LABEL_HUB
from benchmarks.venvs import ensure_dockerspawner_venv
from tests.e2e.conftest import HubFactory
from tests.faults.servers import (
    clean_up,
    containers,
    create_users,
    reachable,
    request_spawns,
    request_stops,
    server_models,
    tiny_hub_config,
    wait_ready,
    wait_stopped,
)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
USERS = [f"ds{i}" for i in range(4)]
#: four default servers and two named ones, whose names dockerspawner templates alike
SERVERS = [(name, "") for name in USERS] + [("ds0", "lab"), ("ds1", "big-data")]


@pytest.fixture(scope="session")
def dockerspawner_python() -> str:
    """dockerspawner 14.0.0's virtualenv (made on first use, shared with the benchmarks)."""
    return ensure_dockerspawner_venv(ROOT / ".cache" / "bench", jupyterhub.__version__)


def container_name(prefix: str, name: str, server: str) -> str:
    """dockerspawner's default name (and ours): escaped names, ``--`` before a server name."""
    user = naming.escape_dns(name)
    if not server:
        return f"{prefix}-{user}"
    return f"{prefix}-{user}--{naming.escape_server_name(server, naming.escape_dns)}"


def test_switch_from_dockerspawner_adopts_every_server(
    start_hub: HubFactory, tiny_image: str, dockerspawner_python: str
) -> None:
    hub = start_hub(
        "from-ds",
        tiny_hub_config(tiny_image, remove=False, spawner_class="dockerspawner.DockerSpawner"),
        python=dockerspawner_python,
    )
    try:
        create_users(hub, USERS)
        request_spawns(hub, SERVERS)
        wait_ready(hub, SERVERS)
        assert "dockerspawner.dockerspawner" in hub.log_tail(400), "not dockerspawner's Hub"
        before = containers(hub.prefix)
        assert sorted(before) == sorted(container_name(hub.prefix, *s) for s in SERVERS)
        labels = subprocess.run(
            ["docker", "inspect", "-f", "{{json .Config.Labels}}", *before],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert LABEL_HUB not in labels, "dockerspawner's containers, not ours"

        hub.stop()  # cleanup_servers = False: the servers keep running
        assert containers(hub.prefix) == before

        log_offset = hub.log_path.stat().st_size
        began = time.monotonic()
        hub.restart(spawner_class="aiodocker", python=sys.executable)
        wait_ready(hub, SERVERS, timeout=60)
        switched_after = time.monotonic() - began
        since_switch = hub.log_path.read_bytes()[log_offset:].decode(errors="replace")
        assert "aiodockerspawner" in since_switch, "not our spawner after the switch"
        assert "Calling Spawner.start" not in since_switch, "a server was spawned again"
        after = containers(hub.prefix)
        adopted = [
            s
            for s in SERVERS
            if after.get(container_name(hub.prefix, *s)) == before[container_name(hub.prefix, *s)]
            and reachable(hub, *s)
        ]
        print(
            f"\nMEASURE switch from dockerspawner 14.0.0: {len(adopted)}/{len(SERVERS)} servers "
            f"adopted (same container, reachable through the proxy); the Hub answered and "
            f"had adopted them {switched_after:.1f}s after it was started with aiodockerspawner"
        )
        assert after == before
        assert adopted == SERVERS

        # stop and start again, now with aiodockerspawner: the same containers resume
        request_stops(hub, SERVERS)
        wait_stopped(hub, SERVERS)
        stopped = containers(hub.prefix)
        assert {n: cid for n, (cid, _) in stopped.items()} == {
            n: cid for n, (cid, _) in before.items()
        }
        assert {state for _, state in stopped.values()} == {"exited"}
        request_spawns(hub, SERVERS)
        wait_ready(hub, SERVERS)
        again = containers(hub.prefix)
        assert again == before, "a stopped container was replaced or duplicated"
        assert all(reachable(hub, *s) for s in SERVERS)
        assert set(server_models(hub)) == set(SERVERS)
    finally:
        clean_up(hub, USERS)
