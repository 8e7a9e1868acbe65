"""What the Hub's own database knows: its users, servers and their states.

The orphan sweep removes only objects the Hub does not know; this module reads
that knowledge from the session JupyterHub's ``orm.Spawner`` rows belong to.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

from aiodockerspawner.model import KnownServers


def known_from_rows(
    rows: Iterable[tuple[str, str | None, Mapping[str, Any] | None]],
) -> KnownServers:
    """Build :class:`KnownServers` from (user, spawner name, state) rows (pure)."""
    users: set[str] = set()
    servers: set[tuple[str, str]] = set()
    objects: set[str] = set()
    for user, server, state in rows:
        users.add(user)
        if server is not None:
            servers.add((user, server))
        for key in ("object_id", "object_name", "container_id"):
            value = (state or {}).get(key)
            if value:
                objects.add(str(value))
    return KnownServers(frozenset(users), frozenset(servers), frozenset(objects))


def known_from_db(session: Any) -> KnownServers:
    """Read users, spawner rows and their states from the Hub's database session."""
    from jupyterhub import orm

    with session.no_autoflush:
        rows: list[tuple[str, str | None, Mapping[str, Any] | None]] = [
            (name, None, None) for (name,) in session.query(orm.User.name)
        ]
        # whole rows (the Hub has them loaded anyway): selecting the JSON state
        # column on its own makes SQLAlchemy warn about JupyterHub's JSONDict type
        rows += [
            (row.user.name, row.name, row.state)
            for row in session.query(orm.Spawner)
            if row.user is not None
        ]
    return known_from_rows(rows)


def orm_session(orm_spawner: Any) -> Any:
    """The database session an ``orm.Spawner`` row belongs to, or None."""
    if orm_spawner is None:
        return None
    try:
        from sqlalchemy import inspect as sa_inspect

        return sa_inspect(orm_spawner).session
    except Exception:  # not a mapped object (mocks in tests)
        return None


def hub_database_url(orm_spawner: Any, config: Any) -> str:
    """The Hub's database URL: from the live session, else the config, else JupyterHub's default."""
    session = orm_session(orm_spawner)
    if session is not None:
        with contextlib.suppress(Exception):
            return str(session.get_bind().url.render_as_string(hide_password=False))
    with contextlib.suppress(Exception):
        if "JupyterHub" in config and "db_url" in config.JupyterHub:
            return str(config.JupyterHub.db_url)
    return "sqlite:///jupyterhub.sqlite"
