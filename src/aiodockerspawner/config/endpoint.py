"""Which Docker daemon to talk to, how, and how its events are followed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from traitlets import (
    Bool,
    Dict,
    Float,
    HasTraits,
    Int,
)


class EndpointConfig(HasTraits):
    """Which Docker daemon to talk to, how, and how its events are followed."""

    if TYPE_CHECKING:  # the rest of DockerSpawner and JupyterHub's Spawner

        def __getattr__(self, name: str) -> Any: ...

    # -- Docker endpoint ----------------------------------------------------

    client_kwargs = Dict(
        help="""
        docker-py style client settings, applied last: ``base_url``,
        ``version``, ``timeout``, ``tls`` and ``max_pool_size`` are understood.
        """,
    ).tag(config=True)

    tls_config = Dict(
        help="""
        TLS settings for a tcp Docker endpoint, in docker-py's ``TLSConfig``
        vocabulary: ``client_cert`` (cert, key), ``ca_cert``, ``verify``,
        ``assert_hostname``.
        """,
    ).tag(config=True)

    docker_connection_limit = Int(
        100,
        help="""
        Most simultaneous connections to the Docker daemon from this Hub
        (shared by all servers). Requests beyond it wait for a free
        connection, for as long as it takes (a start is still bounded by
        ``start_timeout``).

        The events stream that keeps ``poll()`` free has a connection of its
        own, outside this limit. An image pull holds one connection for as
        long as it runs, and ``post_start_cmd`` one while the command runs.
        1 works (no deadlock) but makes every request wait for the one
        before; 4 or more lets a start go on while a pull is running.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    docker_request_timeout = Float(
        60.0,
        help="""
        Seconds to wait for any single Docker API answer before giving up.
        Pulls and stops have their own, longer deadlines.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    # -- events cache ---------------------------------------------------------

    events_cache = Bool(
        True,
        help="""
        Answer ``poll()`` from a Hub-wide cache kept current by one Docker
        events stream, instead of inspecting every server's container at
        every poll. The stream and the cache are shared by all servers of
        the Hub; a poll then costs no Docker request. Turn it off only for a
        Docker-compatible daemon whose events stream misbehaves.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    events_resync_interval = Float(
        60.0,
        help="""
        Seconds between full resynchronisations of the events cache: the
        stream is reopened and one label-filtered list request replaces the
        cache. A resync also follows every reconnection.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)
