"""Endpoint resolution and the shared-client lifecycle (no daemon needed)."""

from __future__ import annotations

import asyncio
import logging
import os
import pathlib
import subprocess
import sys
from collections.abc import Callable

import pytest

from aiodockerspawner import DockerSpawner
from aiodockerspawner.backends.docker import client as client_mod
from aiodockerspawner.backends.docker.client import resolve_endpoint, shared_client
from aiodockerspawner.errors import InvalidSpec
from aiodockerspawner.testing import FakeEngine
from aiodockerspawner.testing.pytest_plugin import fake_docker, fake_spawner
from tests.helpers import wait_for

__all__ = ["fake_docker", "fake_spawner"]  # fixtures used below

SpawnerFactory = Callable[..., DockerSpawner]

SRC = pathlib.Path(client_mod.__file__).parent


def resolve(**kw: object):
    args: dict[str, object] = {"tls_config": {}, "client_kwargs": {}, "environ": {}}
    args.update(kw)
    return resolve_endpoint(**args)  # type: ignore[arg-type]


def test_default_is_the_local_socket() -> None:
    ep = resolve()
    assert ep.url == "unix:///var/run/docker.sock"
    assert ep.host == "127.0.0.1"
    assert ep.connection_limit == 100
    assert ep.api_version == "auto"


def test_docker_host_tcp_is_plain_http() -> None:
    ep = resolve(environ={"DOCKER_HOST": "tcp://10.1.2.3:2375"})
    assert ep.url == "http://10.1.2.3:2375"
    assert ep.host == "10.1.2.3"


def test_tls_verify_env_forces_https_and_cert_files() -> None:
    ep = resolve(
        environ={
            "DOCKER_HOST": "tcp://docker.example:2376",
            "DOCKER_TLS_VERIFY": "1",
            "DOCKER_CERT_PATH": "/certs",
        }
    )
    assert ep.url == "https://docker.example:2376"
    assert ep.tls is not None
    assert ep.tls.ca_cert == "/certs/ca.pem"
    assert ep.tls.client_cert == ("/certs/cert.pem", "/certs/key.pem")


def test_tls_config_is_overridden_by_env_and_client_kwargs_win() -> None:
    ep = resolve(
        tls_config={"ca_cert": "/a/ca.pem", "verify": True},
        environ={"DOCKER_HOST": "tcp://h1:2376"},
        client_kwargs={"base_url": "tcp://h2:2376", "version": "1.44", "timeout": 5},
    )
    assert ep.url == "https://h2:2376"  # tls_config means https, never plaintext tcp
    assert ep.tls is not None and ep.tls.ca_cert == "/a/ca.pem"
    assert ep.api_version == "v1.44"
    assert ep.request_timeout == 5.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"client_kwargs": {"nonsense": 1}}, "nonsense"),
        ({"tls_config": {"bogus": 1}}, "tls_config"),
        ({"environ": {"DOCKER_HOST": "ftp://x"}}, "ftp://x"),
        ({"connection_limit": 0}, "docker_connection_limit"),
    ],
)
def test_bad_settings_name_what_is_wrong(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidSpec, match=match):
        resolve(**kwargs)


def _no_effect_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "has no effect" in r.getMessage()]


async def test_ignored_client_kwargs_warn_once_however_many_polls(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """The endpoint is resolved at every Docker access (every poll): one warning per key."""
    ignored = {"num_pools": 5, "user_agent": "my-hub"}
    spawners = [fake_spawner(user=u, remove=True, client_kwargs=ignored) for u in ("ann", "bob")]
    with caplog.at_level(logging.WARNING, logger="aiodockerspawner.backends.docker.client"):
        for spawner in spawners:
            await spawner.start()
        for _ in range(10):
            assert [await s.poll() for s in spawners] == [None, None]
        for spawner in spawners:
            await spawner.stop()
    assert sorted(_no_effect_warnings(caplog)) == [
        "DockerSpawner.client_kwargs['num_pools'] has no effect with aiodocker",
        "DockerSpawner.client_kwargs['user_agent'] has no effect with aiodocker",
    ]


def test_ignored_client_kwargs_warn_once_per_endpoint(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="aiodockerspawner.backends.docker.client"):
        for host in ("tcp://warn-once-a:2375", "tcp://warn-once-b:2375", "tcp://warn-once-a:2375"):
            resolve(client_kwargs={"base_url": host, "num_pools": 2})
    assert len(_no_effect_warnings(caplog)) == 2


async def test_one_client_per_loop_and_endpoint_closed_on_cancel() -> None:
    ep = resolve(connection_limit=7)
    first = shared_client(ep)
    assert shared_client(ep) is first
    assert first.connector.limit == 7
    other = shared_client(resolve(environ={"DOCKER_HOST": "tcp://127.0.0.1:1"}))
    assert other is not first
    # JupyterHub cancels every task at shutdown: that closes the clients
    keepers = [e.keeper for e in client_mod._clients.values() if e.client in (first, other)]
    for task in keepers:
        task.cancel()
    await asyncio.gather(*keepers, return_exceptions=True)

    async def both_closed() -> bool:
        return bool(first.connector.closed and other.connector.closed)

    await wait_for(both_closed, timeout=2)
    assert shared_client(ep) is not first  # a closed client is replaced


def test_import_creates_no_client() -> None:
    code = (
        "import aiodockerspawner, aiodockerspawner.backends.docker.client as c;"
        "assert not c._clients; print(aiodockerspawner.DockerSpawner.__name__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={
            "DOCKER_HOST": "unix:///nonexistent.sock",
            "PATH": "/usr/bin:/bin",
            # a checkout run without installing it (PYTHONPATH=src) imports itself
            **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"},
        },
        check=True,
    )
    assert out.stdout.strip() == "DockerSpawner"


#: the only thread use allowed: reading the internal-SSL files from the Hub's own
#: disk (a few kilobytes, not Docker I/O); each is removed before the search
THREAD_ALLOWED = {"internalssl.py": "asyncio.to_thread(read_cert_files, "}


def test_no_thread_executors_in_docker_io() -> None:
    forbidden = ("ThreadPoolExecutor", "run_in_executor", "to_thread")
    offenders = []
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        allowed = THREAD_ALLOWED.get(path.name)
        if allowed:
            assert text.count(allowed) == 1, f"{path.name}: the allowed thread use moved"
            text = text.replace(allowed, "")
        offenders += [f"{path.relative_to(SRC)}: {word}" for word in forbidden if word in text]
    assert offenders == []


async def test_api_version_is_probed_once_for_concurrent_requests(tmp_path: pathlib.Path) -> None:
    from aiodockerspawner.testing import FakeEngine

    engine = FakeEngine()
    url = await engine.start(tmp_path / "docker.sock")
    try:
        docker = shared_client(resolve(environ={"DOCKER_HOST": url}))
        results = await asyncio.gather(
            *(docker.containers.container(f"c{i}").show() for i in range(20)),
            return_exceptions=True,
        )
        assert all(getattr(r, "status", None) == 404 for r in results)  # none exist
        assert engine.count(r"^GET /version$") == 1
        assert engine.count(r"^GET /containers/c\d+/json$") == 20
    finally:
        await client_mod.close_shared_clients()
        await engine.stop()
