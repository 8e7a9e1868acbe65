"""SystemUserMixin without Docker: account lookup, env, spec, state."""

from __future__ import annotations

import asyncio
import pwd
from typing import Any

import pytest
import traitlets

from aiodockerspawner import SystemUserSpawner, SystemUserSwarmSpawner
from aiodockerspawner.backends.container.body import container_create_body
from aiodockerspawner.backends.service.body import service_create_body
from aiodockerspawner.errors import InvalidSpec
from aiodockerspawner.model import ServiceObjectSpec
from aiodockerspawner.systemuser import Account, forget_accounts, lookup_account, parse_passwd_line
from tests.helpers import make_spawner


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    forget_accounts()


def test_parse_passwd_line() -> None:
    assert parse_passwd_line("alice:x:1001:100:Alice,,,:/home/alice:/bin/bash\n") == Account(
        "alice", 1001, 100, "/home/alice"
    )
    assert parse_passwd_line("broken:x:nan:1:::") is None
    assert parse_passwd_line("short:x:1") is None


async def test_lookup_matches_pwd() -> None:
    root = pwd.getpwnam("root")
    account = await lookup_account("root")
    assert account == Account("root", root.pw_uid, root.pw_gid, root.pw_dir)
    assert await lookup_account("no-such-user-aiodockerspawner") is None


async def test_lookup_does_not_block_the_loop() -> None:
    """The loop keeps running while getent works (a blocking call would stall the ticker)."""
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    try:
        results = await asyncio.gather(*(lookup_account(n) for n in ("root", "daemon", "nobody")))
    finally:
        stop.set()
        await task
    assert [a.name for a in results if a] == ["root", "daemon", "nobody"]
    assert ticks > 3


async def test_lookup_is_cached() -> None:
    first = await lookup_account("root")
    second = await lookup_account("root")
    assert first is second


def spawner(**traits: Any) -> SystemUserSpawner:
    traits.setdefault("user", "alice")
    return make_spawner(SystemUserSpawner, image="img", **traits)


async def test_spec_from_ids_set_by_a_hook() -> None:
    sp = spawner(user_id=1234, group_id=100, host_homedir_format_string="/srv/home/{username}")
    spec = await sp.build_spec()
    body = container_create_body(spec)
    assert body["User"] == "1234:100"
    assert body["WorkingDir"] == "/home/alice"
    assert "/srv/home/alice:/home/alice:rw,rprivate" in body["HostConfig"]["Binds"]
    env = dict(e.split("=", 1) for e in body["Env"])
    assert env["NB_USER"] == "alice" and env["USER"] == "alice"
    assert env["NB_UID"] == "1234" and env["USER_ID"] == "1234"
    assert env["NB_GID"] == "100"
    assert env["HOME"] == "/home/alice"


async def test_ids_from_the_system_account() -> None:
    root = pwd.getpwnam("root")
    sp = spawner(user="root", host_homedir_format_string="")
    spec = await sp.build_spec()
    assert spec.user == f"{root.pw_uid}:{root.pw_gid}"
    assert spec.binds[-1].source == root.pw_dir
    assert spec.binds[-1].target == "/home/root"
    assert sp.get_state()["user_id"] == root.pw_uid


async def test_unknown_account_without_ids_fails_clearly() -> None:
    sp = spawner(user="no-such-user-aiodockerspawner")
    with pytest.raises(InvalidSpec, match="No system account named"):
        await sp.build_spec()
    sp = spawner(user="no-such-user-aiodockerspawner", host_homedir_format_string="", user_id=5)
    with pytest.raises(InvalidSpec, match="has no system account"):
        await sp.build_spec()


async def test_uid_only_from_a_hook() -> None:
    sp = spawner(user="no-such-user-aiodockerspawner", user_id=5)
    spec = await sp.build_spec()
    assert spec.user == "5"
    assert "NB_GID" not in spec.env


async def test_run_as_root_and_propagation() -> None:
    sp = spawner(user_id=1, group_id=1, run_as_root=True, homedir_bind_propagation="rslave")
    spec = await sp.build_spec()
    assert spec.user == "0"
    assert spec.binds[-1].propagation == "rslave"
    assert spec.env["NB_UID"] == "1"


@pytest.mark.parametrize("is_async", [False, True])
async def test_callable_extra_create_kwargs_keeps_working(is_async: bool) -> None:
    """dockerspawner calls .setdefault on it and breaks on a callable."""

    def make(s: SystemUserSpawner) -> dict[str, Any]:
        return {"hostname": f"nb-{s.user.name}", "working_dir": "/tmp"}

    async def amake(s: SystemUserSpawner) -> dict[str, Any]:
        return make(s)

    sp = spawner(user_id=1000, group_id=1000, extra_create_kwargs=amake if is_async else make)
    body = container_create_body(await sp.build_spec())
    assert body["Hostname"] == "nb-alice"
    assert body["User"] == "1000:1000"
    assert body["WorkingDir"] == "/tmp"  # the configuration wins, as with setdefault
    assert callable(sp.extra_create_kwargs)


async def test_state_round_trip() -> None:
    sp = spawner(user_id=7, group_id=8)
    state = sp.get_state()
    assert state["user_id"] == 7 and state["group_id"] == 8
    other = spawner()
    other.load_state(state)
    assert (other.user_id, other.group_id) == (7, 8)
    assert (await other.build_spec()).user == "7:8"


def test_volume_binds_include_the_home_as_in_dockerspawner() -> None:
    sp = spawner(volumes={"/srv/shared": "/shared"})
    assert sp.volume_binds == {
        "/srv/shared": {"bind": "/shared", "mode": "rw"},
        "/home/alice": {"bind": "/home/alice", "mode": "rw", "propagation": "rprivate"},
    }
    assert sp.volume_mount_points == ["/shared", "/home/alice"]
    # not known before the account is looked up: left out rather than guessed
    assert spawner(host_homedir_format_string="").volume_binds == {}


def test_bad_host_homedir_template() -> None:
    sp = spawner(host_homedir_format_string="/home/{user}")
    with pytest.raises(InvalidSpec, match="only \\{username\\}"):
        _ = sp.host_homedir


async def test_swarm_variant_mounts_the_home_and_sets_user() -> None:
    sp = make_spawner(
        SystemUserSwarmSpawner,
        user="alice",
        image="img",
        user_id=1234,
        group_id=100,
        host_homedir_format_string="/srv/home/{username}",
        extra_create_kwargs=lambda s: {"labels": {"x": "y"}},
    )
    spec = await sp.build_spec()
    assert isinstance(spec, ServiceObjectSpec)
    body = service_create_body(spec)
    container = body["TaskTemplate"]["ContainerSpec"]
    assert container["User"] == "1234:100"
    assert container["Dir"] == "/home/alice"
    assert {
        "Target": "/home/alice",
        "Source": "/srv/home/alice",
        "ReadOnly": False,
        "Type": "bind",
        "BindOptions": {"Propagation": "rprivate"},
    } in container["Mounts"]
    assert "NB_UID=1234" in container["Env"]
    assert body["Labels"]["x"] == "y"


@pytest.mark.parametrize("value", ["", "rslave", "RPRIVATE"])
async def test_homedir_bind_propagation_accepts_what_dockerspawner_14_accepts(value: str) -> None:
    """dockerspawner 14 defaults to "" (no propagation option: Docker's own rprivate)."""
    sp = spawner(user_id=1, group_id=1, homedir_bind_propagation=value)
    spec = await sp.build_spec()
    home = spec.binds[-1]
    assert home.propagation == (value.lower() or None)
    bind = container_create_body(spec)["HostConfig"]["Binds"][-1]
    expected = "/home/alice:/home/alice:rw" + (f",{value.lower()}" if value else "")
    assert bind == expected
    if not value:
        assert "propagation" not in sp.volume_binds["/home/alice"]


def test_homedir_bind_propagation_refuses_what_docker_would_refuse() -> None:
    with pytest.raises(traitlets.TraitError, match="homedir_bind_propagation: 'sideways'"):
        spawner(homedir_bind_propagation="sideways")
