"""A Hub killed with SIGKILL under 20 running servers adopts all 20 when it restarts.

The Hub (tests/e2e/conftest.py) runs with ``cleanup_servers = False`` (the
setting adoption needs) and is killed with SIGKILL, as a crash or an OOM kill
would: nothing of the spawner's own shutdown runs, its proxy and the servers
live on. Restarted on the same directory, database and configuration, the Hub
must find every server running (``poll()`` through the events cache and, for
anything not in it, an inspect), route it again, and create nothing: the same
20 containers, each reachable through the proxy. Both values of ``remove``:
with ``remove = True`` the containers are AutoRemove ones.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import HubFactory
from tests.faults.servers import (
    clean_up,
    containers,
    create_users,
    reachable,
    request_spawns,
    server_models,
    tiny_hub_config,
    wait_ready,
)

pytestmark = pytest.mark.e2e

SERVERS = 20


@pytest.mark.parametrize("remove", [True, False], ids=["remove", "keep"])
def test_hub_killed_and_restarted_adopts_every_server(
    start_hub: HubFactory, tiny_image: str, remove: bool
) -> None:
    hub = start_hub(
        f"sigkill-{'rm' if remove else 'keep'}", tiny_hub_config(tiny_image, remove=remove)
    )
    names = [f"k{i:02d}" for i in range(SERVERS)]
    servers = [(name, "") for name in names]
    try:
        create_users(hub, names)
        request_spawns(hub, servers)
        wait_ready(hub, servers)
        before = containers(hub.prefix)
        assert len(before) == SERVERS, before
        assert {state for _, state in before.values()} == {"running"}
        assert all(reachable(hub, name) for name in names)

        hub.kill()
        assert hub.proc is not None and hub.proc.returncode == -9
        assert containers(hub.prefix) == before, "the servers must outlive the Hub"

        log_offset = hub.log_path.stat().st_size
        began = time.monotonic()
        hub.restart()
        wait_ready(hub, servers, timeout=60)
        adopted_after = time.monotonic() - began
        answering = [name for name in names if reachable(hub, name)]
        after = containers(hub.prefix)
        models = server_models(hub)
        adopted = [
            name
            for name in answering
            if models[(name, "")]["ready"]
            and after.get(f"{hub.prefix}-{name}") == before[f"{hub.prefix}-{name}"]
        ]
        print(
            f"\nMEASURE hub SIGKILL (remove={remove}): {len(adopted)}/{SERVERS} servers adopted "
            f"(same container, reachable through the proxy), {len(after)} containers after "
            f"the restart; the Hub answered and had adopted them {adopted_after:.1f}s after "
            f"it was started again"
        )
        assert after == before, "a container was created, replaced or lost"
        assert len(answering) == SERVERS, sorted(set(names) - set(answering))
        assert len(adopted) == SERVERS
        since_restart = hub.log_path.read_bytes()[log_offset:].decode(errors="replace")
        assert "Calling Spawner.start" not in since_restart, "a server was spawned again"
    finally:
        clean_up(hub, names)
