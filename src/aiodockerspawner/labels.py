"""Ownership labels and the Hub's identity (pure functions, no I/O).

Every object the spawner creates carries these labels, so that one label filter
finds everything a Hub owns (the watcher's list and events stream, the orphan
sweep) and nothing that belongs to another Hub on the same daemon.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping

#: label keys put on every object this spawner creates
LABEL_MANAGED_BY = "aiodockerspawner.managed-by"
LABEL_HUB = "aiodockerspawner.hub-id"
LABEL_USER = "aiodockerspawner.user"
LABEL_SERVER = "aiodockerspawner.server"
LABEL_VERSION = "aiodockerspawner.version"
#: a random value per start(): tells an object this start created from one it found
LABEL_START = "aiodockerspawner.start-id"
#: a digest of the configuration a container was created from (drift detection)
LABEL_SPEC = "aiodockerspawner.spec-digest"
#: the GPU device ids a container was given (comma-separated), for exclusive assignment
LABEL_GPUS = "aiodockerspawner.gpus"
#: on a swarm secret: the name of the service it was made for (internal SSL files)
LABEL_SECRET_OF = "aiodockerspawner.secret-of"
#: the server's mem_limit and mem_guarantee in bytes, when set (capacity counting)
LABEL_MEM_LIMIT = "aiodockerspawner.mem-limit"
LABEL_MEM_GUARANTEE = "aiodockerspawner.mem-guarantee"
#: what an object that is not a server is for (``prepull``: a pre-pull job service)
LABEL_ROLE = "aiodockerspawner.role"

MANAGED_BY = "aiodockerspawner"

#: the hub id used when nothing about the Hub can be found (mock Hubs in tests)
FALLBACK_HUB_ID = "jupyterhub"


def hub_filter(hub_id: str) -> list[str]:
    """The Docker ``label`` filter values selecting the objects of one Hub."""
    return [f"{LABEL_HUB}={hub_id}"]


def object_labels(*, hub_id: str, user: str, server: str, version: str) -> dict[str, str]:
    """The ownership labels of one server's objects."""
    return {
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_HUB: hub_id,
        LABEL_USER: user,
        LABEL_SERVER: server,
        LABEL_VERSION: version,
    }


def owned_by(labels: Mapping[str, str] | None, hub_id: str) -> bool:
    """True when ``labels`` mark an object managed by us for ``hub_id``."""
    labels = labels or {}
    return labels.get(LABEL_MANAGED_BY) == MANAGED_BY and labels.get(LABEL_HUB) == hub_id


def normalize_db_url(url: str, *, cwd: str | None = None) -> str:
    """The identity of a Hub database: its URL without credentials or query.

    sqlite paths are made absolute (relative to ``cwd``), so two Hubs using
    ``sqlite:///jupyterhub.sqlite`` in different directories differ, and a
    password rotation or a driver change (``postgresql+psycopg2``) does not
    change the identity.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    dialect = scheme.split("+", 1)[0].lower()
    rest = rest.split("?", 1)[0]
    if dialect == "sqlite":
        # sqlite:///relative.sqlite, sqlite:////abs/path.sqlite, sqlite:// (memory)
        path = rest[1:] if rest.startswith("/") else rest
        if not path or path == ":memory:":
            return "sqlite://:memory:"
        return "sqlite://" + os.path.normpath(os.path.join(cwd or os.getcwd(), path))
    netloc, _, database = rest.partition("/")
    host = netloc.rsplit("@", 1)[-1].lower()
    return f"{dialect}://{host}/{database}"


def derive_hub_id(db_url: str, hub_base_url: str, *, cwd: str | None = None) -> str:
    """A stable, short hub id from what identifies a Hub: its database and base URL.

    Two Hubs cannot share a database, so the database identity separates the
    Hubs on one Docker daemon; the base URL separates Hubs that share one
    database server under different prefixes. Neither changes when the Hub
    restarts, moves to another port or rotates its database password.
    """
    identity = f"{normalize_db_url(db_url, cwd=cwd)}|{hub_base_url}"
    return "hub-" + hashlib.sha256(identity.encode()).hexdigest()[:12]


def built_for(
    labels: Mapping[str, str] | None, env: Mapping[str, str] | None
) -> tuple[str | None, str | None]:
    """The (user, server name) an object was created for; ``None`` where it cannot tell.

    Our own objects say it in their labels; dockerspawner's carry no labels,
    but JupyterHub exported ``JUPYTERHUB_USER`` and ``JUPYTERHUB_SERVER_NAME``
    into their environment.
    """
    labels = labels or {}
    env = env or {}
    user = labels.get(LABEL_USER, env.get("JUPYTERHUB_USER"))
    server = labels.get(LABEL_SERVER, env.get("JUPYTERHUB_SERVER_NAME"))
    return user, server


def other_owner(
    labels: Mapping[str, str] | None,
    env: Mapping[str, str] | None,
    *,
    user: str,
    server: str,
    service_prefix: str | None = None,
) -> str | None:
    """Who else an object was created for, or ``None`` when it may be ``user``'s ``server``.

    The hub id is not looked at here. When neither labels nor environment
    name the user and server, the service prefix (which contains both) is
    compared instead, when both sides have one.
    """
    owner_user, owner_server = built_for(labels, env)
    if owner_user is None and owner_server is None:
        prefix = (env or {}).get("JUPYTERHUB_SERVICE_PREFIX")
        if prefix and service_prefix and prefix != service_prefix:
            return f"the server at {prefix}"
        return None
    if (owner_user is not None and owner_user != user) or (
        owner_server is not None and owner_server != server
    ):
        whose = f" of user {owner_user!r}" if owner_user is not None else ""
        if owner_server is None:
            return f"user {owner_user!r}"
        if owner_server:
            return f"server {owner_server!r}{whose}"
        return f"the default server{whose}"
    return None
