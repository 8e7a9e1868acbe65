"""Property-based names: whatever users and servers are called, Docker accepts
the container, service and volume names, and they stay unique and
dockerspawner-compatible.

Server names are compared case-insensitively for uniqueness: dockerspawner
lower-cases them before escaping (so upgraded Hubs keep their volume names),
and JupyterHub 6 only allows lower-case server names anyway.
"""

from __future__ import annotations

import string

import escapism
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiodockerspawner import SwarmSpawner
from aiodockerspawner.core.naming import DOCKER_NAME, VOLUME_NAME_MAX, is_service_name
from tests.helpers import make_spawner

TRICKY = st.sampled_from(
    ["user--foo", "--", "../", "../../etc", "1leading", "UPPER", "ÄÖÜ-ß", "名前", "a" * 200]
)
USERS = st.one_of(TRICKY, st.text(min_size=1, max_size=200))
SERVERS = st.one_of(st.just(""), TRICKY, st.text(min_size=1, max_size=60))
CASES = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def dockerspawner_escape(s: str) -> str:
    """dockerspawner 14's default escape, written out from its source."""
    safe = set(string.ascii_lowercase + string.digits)
    return str(escapism.escape(s, safe=safe, escape_char="-")).lower()


def dockerspawner_name(user: str, server: str) -> str:
    name = f"jupyter-{dockerspawner_escape(user)}"
    return f"{name}--{dockerspawner_escape(server.lower())}" if server else name


@CASES
@given(USERS, SERVERS)
def test_container_name_is_valid_and_dockerspawners(user: str, server: str) -> None:
    name = make_spawner(user=user, server_name=server, prefix="jupyter").object_name
    assert DOCKER_NAME.match(name), name
    assert name == dockerspawner_name(user, server)


@CASES
@given(USERS, SERVERS)
def test_service_name_is_a_dns_label(user: str, server: str) -> None:
    spawner = make_spawner(SwarmSpawner, user=user, server_name=server, prefix="jupyter")
    name = spawner.object_name
    assert is_service_name(name), name
    if is_service_name(dockerspawner_name(user, server)):
        assert name == dockerspawner_name(user, server)


@CASES
@given(USERS, SERVERS)
def test_volume_name_is_valid(user: str, server: str) -> None:
    spawner = make_spawner(
        user=user,
        server_name=server,
        volumes={"jupyterhub-user-{username}--{servername}": "/home/jovyan/work"},
    )
    (volume,) = spawner.volume_binds
    assert DOCKER_NAME.match(volume), volume
    assert len(volume.encode()) <= VOLUME_NAME_MAX
    plain = f"jupyterhub-user-{dockerspawner_escape(user)}--{dockerspawner_escape(server.lower())}"
    if len(plain) <= VOLUME_NAME_MAX:
        assert volume == plain


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(USERS, SERVERS), min_size=2, max_size=12))
def test_names_are_unique_per_user_and_server(pairs: list[tuple[str, str]]) -> None:
    distinct = {(u, s.lower()) for u, s in pairs}
    containers, services, volumes = set(), set(), set()
    for user, server in distinct:
        containers.add(make_spawner(user=user, server_name=server).object_name)
        services.add(make_spawner(SwarmSpawner, user=user, server_name=server).object_name)
        volume = make_spawner(
            user=user, server_name=server, volumes={"v-{username}--{servername}": "/data"}
        ).volume_binds
        volumes.update(volume)
    assert len(containers) == len(services) == len(volumes) == len(distinct)
