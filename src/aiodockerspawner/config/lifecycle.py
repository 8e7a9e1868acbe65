"""What happens to a server's object over its life.

Creation extras, stop, removal, resume after a stop, which Hub owns it, and
the clean-up of what the Hub no longer knows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from traitlets import (
    Bool,
    CaselessStrEnum,
    Dict,
    Float,
    HasTraits,
    List,
    Unicode,
    Union,
    default,
)
from traitlets import Callable as CallableTrait

from aiodockerspawner.config.traits import UnicodeOrFalse
from aiodockerspawner.core import drift
from aiodockerspawner.hubdb import hub_database_url
from aiodockerspawner.labels import derive_hub_id


class LifecycleConfig(HasTraits):
    """Creation extras, stop and removal, resume, ownership and clean-up."""

    if TYPE_CHECKING:  # the rest of DockerSpawner and JupyterHub's Spawner

        def __getattr__(self, name: str) -> Any: ...

    # -- lifecycle ----------------------------------------------------------

    remove = Bool(
        False,
        help="""
        Remove the container when its server stops. When False, a stopped
        container is started again on the next spawn, keeping its files.
        """,
    ).tag(config=True)

    stop_grace_period = Float(
        10.0,
        help="""
        Seconds a stopping server gets between SIGTERM and SIGKILL.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    hub_id = Unicode(
        help="""
        Identifies this Hub in the labels of the objects it creates, so that
        several Hubs can share one Docker daemon: the events cache, the
        orphan sweep and ``delete_forever()`` only ever look at objects
        carrying this Hub's id.

        By default it is derived from what identifies the Hub and stays the
        same across restarts: its database (``JupyterHub.db_url`` without
        credentials, sqlite paths made absolute) and its base URL, e.g.
        ``hub-3f9a0c1d2e4b``. Set it to keep the id when the database moves.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    @default("hub_id")
    def _default_hub_id(self) -> str:
        db_url = hub_database_url(self.orm_spawner, self.config)
        base_url = getattr(self.hub, "base_url", None) or "/hub/"
        hub_id = derive_hub_id(db_url, base_url)
        if hub_id not in LifecycleConfig._hub_ids_logged:
            LifecycleConfig._hub_ids_logged.add(hub_id)
            self.log.info(
                "Objects of this Hub are labelled with hub id %s (derived from its database "
                "and base URL; set DockerSpawner.hub_id to pin it)",
                hub_id,
            )
        return hub_id

    _hub_ids_logged: ClassVar[set[str]] = set()

    extra_create_kwargs = Union(
        [CallableTrait(), Dict()],
        help="""
        Extra container settings, deep-merged over the generated ones: a dict
        (or a callable ``f(spawner)``, possibly async, returning one) of
        docker-py ``create_container`` keywords or Engine ``Config`` keys.
        String values are templated.
        """,
    ).tag(config=True)

    @default("extra_create_kwargs")
    def _default_extra_create_kwargs(self) -> dict[str, Any]:
        return {}

    extra_host_config = Union(
        [CallableTrait(), Dict()],
        help="""
        Extra host configuration, deep-merged over the generated one: a dict
        (or a callable, possibly async) of docker-py ``create_host_config``
        keywords (``shm_size``, ``cap_add``, ``device_requests``, ...) or
        Engine ``HostConfig`` keys. An unknown key fails the spawn. String
        values are templated; a user or server name that would change a host
        path in ``binds`` or ``mounts`` is refused, as for ``volumes``.
        """,
    ).tag(config=True)

    @default("extra_host_config")
    def _default_extra_host_config(self) -> dict[str, Any]:
        return {}

    post_start_cmd = Union(
        [UnicodeOrFalse(), List(Unicode())],
        default_value=False,
        help="""
        Command run inside the container (``docker exec``) once it has
        started, e.g. ``"pip install --user my-extension"``: a string, split
        like a shell would split it, or a list of words. Its output goes to the
        Hub log (stdout at debug level, stderr as a warning), and a non-zero
        exit code is logged as a warning; the spawn goes on either way.
        """,
    ).tag(config=True)

    slow_spawn_message_after = Float(
        30.0,
        help="""
        Seconds into a start after which the spawn page gets "still
        working" messages whenever nothing else has happened for
        ``slow_spawn_message_every`` seconds.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    slow_spawn_message_every = Float(
        10.0,
        help="""
        Seconds of silence between two "still working" messages on a slow
        spawn page.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    # -- orphan sweep ---------------------------------------------------------------

    orphan_sweep = Bool(
        False,
        help="""
        Remove this Hub's containers that the Hub no longer knows about: a
        container labelled with this Hub's ``hub_id`` whose user and server
        name have no spawner in the Hub's database and that no spawner's
        state refers to (e.g. left behind by a user or named server deleted
        while the Hub was down). Objects of another hub id are never touched.
        It runs when the first server is polled or started after the Hub
        starts, and then every ``orphan_sweep_interval`` seconds.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    orphan_sweep_interval = Float(
        3600.0,
        help="""
        Seconds between two orphan sweeps (see ``orphan_sweep``).

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    orphan_sweep_volumes = Bool(
        False,
        help="""
        Let the orphan sweep also remove this Hub's named volumes whose user
        the Hub no longer has. Volumes hold users' files: turn this on only
        when deleting a user should delete their data.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    # -- drift on resume ----------------------------------------------------------

    resume_drift = CaselessStrEnum(
        list(drift.POLICIES),
        default_value=drift.RECREATE_IMAGE,
        help="""
        What to do, with ``remove = False``, when the stopped container to
        resume no longer matches the configuration:

        - ``recreate-image`` (default): recreate it when its image differs
          from ``image``; resume it, with a warning in the log, when only
          other settings (command, environment, mounts, limits...) differ;
        - ``recreate``: recreate it when anything differs;
        - ``keep``: always resume it, with a warning.

        Recreating removes the container with its writable layer and
        anonymous volumes; named volumes and host directories are kept.
        Containers created by dockerspawner or before this setting existed
        are compared on their image only.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)
