"""A real Hub on a remote Docker daemon that speaks TLS only.

The daemon is a private dockerd with ``--tlsverify`` on a loopback TCP port
(tests/tls/conftest.py). A Hub configured with ``tls_config``, and one
configured the docker CLI's way (``DOCKER_HOST``, ``DOCKER_TLS_VERIFY``,
``DOCKER_CERT_PATH``), spawn a server, see it die through ``poll()`` (the
events stream runs over TLS too), spawn it again and stop it.

Three Hubs that get TLS wrong - a CA that did not sign the daemon's
certificate, an expired client certificate, no TLS at all - fail the spawn
with one line on the spawn page that says which side refused what and which
setting to look at, and the daemon has created nothing.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
import threading

import pytest

from tests.e2e.conftest import HubFactory, RunningHub
from tests.faults.servers import (
    create_users,
    reachable,
    request_spawns,
    request_stops,
    server_models,
    tiny_hub_config,
    wait_ready,
    wait_stopped,
)
from tests.privatedockerd import PrivateDockerd
from tests.tls.conftest import Certificates

pytestmark = pytest.mark.e2e

POLL_INTERVAL = 1


def tls_config_lines(ca: str, cert: str, key: str) -> str:
    return textwrap.dedent(
        f"""
        c.DockerSpawner.tls_config = {{
            "ca_cert": {ca!r},
            "client_cert": ({cert!r}, {key!r}),
            "verify": True,
        }}
        """
    )


def hub_on(
    start_hub: HubFactory,
    name: str,
    image: str,
    *,
    env: dict[str, str],
    extra: str = "",
) -> RunningHub:
    config = tiny_hub_config(image, remove=True) + f"\nc.Spawner.poll_interval = {POLL_INTERVAL}\n"
    return start_hub(name, config + extra, env=env)


async def names_on(daemon: PrivateDockerd, prefix: str) -> list[str]:
    out = await daemon.cli("ps", "-a", "--filter", f"name=^/{prefix}-", "--format", "{{.Names}}")
    return out.split()


def read_progress(hub: RunningHub, name: str) -> list[dict]:
    """The spawn page's event stream until it reports failure or readiness."""
    events: list[dict] = []
    resp = hub.api("GET", f"users/{name}/server/progress", stream=True)
    for line in resp.iter_lines(decode_unicode=True):
        if line and line.startswith("data:"):
            event = json.loads(line[len("data:") :])
            events.append(event)
            if event.get("failed") or event.get("ready"):
                break
    return events


@pytest.mark.parametrize("how", ["tls_config", "docker_env"])
async def test_spawn_poll_stop_over_tls(
    start_hub: HubFactory,
    tls_daemon: PrivateDockerd,
    certs: Certificates,
    tiny_image: str,
    how: str,
) -> None:
    if how == "tls_config":
        env = {"DOCKER_HOST": tls_daemon.tcp_url}
        extra = tls_config_lines(str(certs.ca), str(certs.client.cert), str(certs.client.key))
    else:
        env = {
            "DOCKER_HOST": tls_daemon.tcp_url,
            "DOCKER_TLS_VERIFY": "1",
            "DOCKER_CERT_PATH": str(certs.cert_path),
        }
        extra = ""
    hub = await asyncio.to_thread(hub_on, start_hub, f"tls-{how}", tiny_image, env=env, extra=extra)
    server = [("alice", "")]
    try:
        await asyncio.to_thread(create_users, hub, ["alice"])
        await asyncio.to_thread(request_spawns, hub, server)
        await asyncio.to_thread(wait_ready, hub, server, timeout=60)
        assert await asyncio.to_thread(reachable, hub, "alice")
        names = await names_on(tls_daemon, hub.prefix)
        assert names == [f"{hub.prefix}-alice"], names

        # poll() over TLS: the server dies behind the Hub's back, the Hub notices
        await tls_daemon.cli("kill", names[0])
        await asyncio.to_thread(wait_stopped, hub, server, timeout=30)

        # and again, then a stop through the Hub
        await asyncio.to_thread(request_spawns, hub, server)
        await asyncio.to_thread(wait_ready, hub, server, timeout=60)
        assert await asyncio.to_thread(reachable, hub, "alice")
        await asyncio.to_thread(request_stops, hub, server)
        await asyncio.to_thread(wait_stopped, hub, server, timeout=30)
        assert await names_on(tls_daemon, hub.prefix) == []
    finally:
        await asyncio.to_thread(hub.stop)
        for name in await names_on(tls_daemon, hub.prefix):
            await tls_daemon.cli("rm", "-f", name, check=False)


#: (id, how the Hub is set up, what the spawn page must say)
REFUSALS = [
    (
        "wrong-ca",
        "Could not start your server: Docker's TLS certificate is not trusted "
        "(create container {prefix}-mallory failed: certificate verify failed: unable to get "
        "local issuer certificate); check the CA certificate (tls_config ca_cert, or ca.pem "
        "in DOCKER_CERT_PATH)",
    ),
    (
        "expired-client-cert",
        "Could not start your server: Docker refused this Hub's TLS client certificate "
        "(create container {prefix}-mallory failed: sslv3 alert bad certificate); the "
        "certificate must be signed by the daemon's CA and not expired (tls_config "
        "client_cert, or cert.pem and key.pem in DOCKER_CERT_PATH)",
    ),
    (
        "plain-http",
        "Could not start your server: Docker expects TLS at this address and this Hub spoke "
        "plain HTTP (create container {prefix}-mallory failed: Client sent an HTTP request to "
        "an HTTPS server); set tls_config, or DOCKER_TLS_VERIFY=1 with DOCKER_CERT_PATH",
    ),
]


@pytest.mark.parametrize(("case", "expected"), REFUSALS, ids=[r[0] for r in REFUSALS])
async def test_bad_tls_is_refused_with_one_line_and_nothing_started(
    start_hub: HubFactory,
    tls_daemon: PrivateDockerd,
    certs: Certificates,
    tiny_image: str,
    case: str,
    expected: str,
) -> None:
    env = {"DOCKER_HOST": tls_daemon.tcp_url}
    extra = ""
    if case == "wrong-ca":
        extra = tls_config_lines(str(certs.wrong_ca), str(certs.client.cert), str(certs.client.key))
    elif case == "expired-client-cert":
        env.update({"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs.expired_cert_path)})
    hub = await asyncio.to_thread(
        hub_on, start_hub, f"tls-{case}", tiny_image, env=env, extra=extra
    )
    try:
        await asyncio.to_thread(create_users, hub, ["mallory"])
        resp = await asyncio.to_thread(hub.api, "POST", "users/mallory/server")
        if resp.status_code == 500:
            # failed within slow_spawn_timeout: the API request itself answers
            message = resp.json()["message"]
            prefix = ""
        else:
            # still pending then: the spawn page's event stream reports it
            assert resp.status_code == 202, resp.text
            box: list[list[dict]] = []
            reader = threading.Thread(target=lambda: box.append(read_progress(hub, "mallory")))
            reader.start()
            await asyncio.to_thread(reader.join, 60)
            assert box, "the progress stream did not end"
            events = box[0]
            assert events and events[-1].get("failed"), events
            message = events[-1]["message"]
            prefix = "Spawn failed: "
        print(f"\nMEASURE TLS refusal ({case}): {message}")
        assert message == prefix + expected.format(prefix=hub.prefix)
        assert "\n" not in message
        assert ("", {}) not in server_models(hub).items()
        assert await names_on(tls_daemon, hub.prefix) == []
        assert await tls_daemon.cli("ps", "-aq") == ""
    finally:
        await asyncio.to_thread(hub.stop)
