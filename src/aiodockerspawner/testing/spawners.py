"""Spawners for direct use in tests: real traits, a mock user and Hub."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any, TypeVar

from jupyterhub import orm
from jupyterhub.objects import Hub
from traitlets.config import Config

from aiodockerspawner.spawner import DockerSpawner

S = TypeVar("S", bound=DockerSpawner)

_tokens = itertools.count()


def mock_user(name: str, *, groups: list[str] | None = None) -> SimpleNamespace:
    """An object with what a spawner reads of JupyterHub's ``User``."""
    return SimpleNamespace(
        name=name,
        id=1,
        url=f"/user/{name}/",
        escaped_name=name,
        groups=[SimpleNamespace(name=g, properties={}) for g in groups or []],
        settings={},
        spawners={},
        server_url=lambda server_name="": f"/user/{name}/{server_name}",
    )


def make_spawner(
    cls: type[S] = DockerSpawner,
    *,
    user: str = "alice",
    server_name: str = "",
    config: Config | None = None,
    hub_ip: str = "127.0.0.1",
    groups: list[str] | None = None,
    **traits: Any,
) -> S:
    """A spawner as the Hub would build it, without a Hub.

    ``traits`` are set on the instance (they win over ``config``).
    """
    return cls(
        user=mock_user(user, groups=groups),
        hub=Hub(ip=hub_ip, port=8081, base_url="/hub/"),
        orm_spawner=orm.Spawner(name=server_name),
        config=config or Config(),
        api_token=f"test-token-{next(_tokens)}",
        oauth_client_id=f"jupyterhub-user-{user}",
        **traits,
    )
