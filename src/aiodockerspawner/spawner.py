"""DockerSpawner: the backend-agnostic spawner core.

The core owns configuration (the DockerSpawner trait surface), user options,
state and the start/stop/poll orchestration. It resolves everything into a
neutral :class:`~aiodockerspawner.backends.ObjectSpec` and hands it to an
:class:`~aiodockerspawner.backends.ObjectBackend`; it never builds Engine JSON
and never calls aiodocker itself.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

from jupyterhub.spawner import Spawner
from traitlets import (
    Unicode,
    default,
    observe,
)

from aiodockerspawner import progress
from aiodockerspawner.backends import (
    ContainerSource,
    DockerClient,
    Endpoint,
    ObjectBackend,
    OrphanSweeper,
    PullOptions,
    Watcher,
    WatchSource,
    container_backend,
    find_credentials,
    get_sweeper,
    get_watcher,
    resolve_endpoint,
    shared_client,
    within,
)
from aiodockerspawner.compat.deprecations import DeprecatedTraits
from aiodockerspawner.compat.object_api import ObjectAPI
from aiodockerspawner.config.capacity import CapacityConfig
from aiodockerspawner.config.defaults import ContainerDefaults
from aiodockerspawner.config.endpoint import EndpointConfig
from aiodockerspawner.config.failures import FailureConfig
from aiodockerspawner.config.gpus import GpuConfig
from aiodockerspawner.config.image import ImageConfig
from aiodockerspawner.config.lifecycle import LifecycleConfig
from aiodockerspawner.config.naming import NamingConfig
from aiodockerspawner.config.network import NetworkConfig
from aiodockerspawner.config.prepull import PrepullConfig
from aiodockerspawner.config.profiles import ProfileConfig
from aiodockerspawner.config.resources import ResourceConfig
from aiodockerspawner.config.storage import StorageConfig
from aiodockerspawner.core import drift, naming
from aiodockerspawner.core.networking import HOST_NETWORK, free_port, port_from_env
from aiodockerspawner.deadlines import StartTimedOut, run_start
from aiodockerspawner.errors import (
    DockerOperationError,
    InvalidSpec,
    ObjectExists,
    ObjectExited,
)
from aiodockerspawner.failfast import FastFailure
from aiodockerspawner.gpuassignment import GpuAssignment
from aiodockerspawner.hubdb import known_from_db, orm_session
from aiodockerspawner.internalssl import InternalSSL
from aiodockerspawner.labels import (
    LABEL_HUB,
    LABEL_SPEC,
    other_owner,
)
from aiodockerspawner.model import Address, ObjectSpec, ObservedObject
from aiodockerspawner.prepulling import Prepulling
from aiodockerspawner.progress import SpawnProgress
from aiodockerspawner.resolve import SpecResolver
from aiodockerspawner.serverlifetime import ServerLifetime
from aiodockerspawner.serverlimits import ServerLimits
from aiodockerspawner.useroptions import UserOptionsHandling

_TOKEN_ENV_KEYS = ("JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN")


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


class DockerSpawner(
    DeprecatedTraits,
    InternalSSL,
    ObjectAPI,
    ServerLifetime,
    UserOptionsHandling,
    GpuAssignment,
    FastFailure,
    Prepulling,
    ServerLimits,
    SpecResolver,
    ImageConfig,
    ProfileConfig,
    NamingConfig,
    EndpointConfig,
    NetworkConfig,
    StorageConfig,
    LifecycleConfig,
    ResourceConfig,
    GpuConfig,
    FailureConfig,
    PrepullConfig,
    CapacityConfig,
    ContainerDefaults,
    Spawner,  # type: ignore[misc]
):
    """Spawn each single-user server in its own Docker container.

    Configuration is read from ``c.DockerSpawner`` exactly as dockerspawner's
    is; see the migration guide for the few deliberate differences.
    """

    #: what kind of Docker object this spawner manages, for messages
    object_type: ClassVar[str] = "container"

    object_id = Unicode(allow_none=True, help="Docker ID of the current object.")
    object_name = Unicode(help="Name of the current object; persisted in state.")

    @default("object_name")
    def _default_object_name(self) -> str:
        return str(naming.render_templates(self.name_template, self.template_namespace()))

    @observe("image")
    def _image_changed(self, change: Any) -> None:
        # name templates may use {imagename}; keep the name in step with the image
        self._follow_image_in_name()

    def _follow_image_in_name(self) -> None:
        """With ``{imagename}`` in ``name_template``, each image has its own object.

        When the name rendered for the current image is not the one in use
        (from the state, or from the previous start), switch to it and forget
        the object id: the other image's object is left alone, and is resumed
        when that image is chosen again.
        """
        if "{imagename}" not in self.name_template:
            return
        rendered = self._default_object_name()
        if rendered == self.object_name:
            return
        if self.object_id:
            self.log.info(
                "%s now runs image %s: its %s is %s (%s stays for its own image)",
                self._log_name,
                self.image,
                self.object_type,
                rendered,
                self.object_name,
            )
        self.object_name = rendered
        self.object_id = ""

    def object_name_for(self, server_name: str, image: str | None = None) -> str:
        """The object name this user's server ``server_name`` renders to.

        ``name_template`` at its default follows the server (the default server
        has no ``--{servername}`` part); ``image`` fills ``{imagename}``.
        """
        template = self.name_template
        if template == naming.default_name_template(self.name or ""):
            template = naming.default_name_template(server_name)
        fields = naming.template_namespace(
            escaped_username=self.escaped_name,
            raw_username=self.user.name,
            image=image or self.image,
            escaped_servername=naming.escape_server_name(server_name, self.escape),
            raw_servername=server_name,
            prefix=self.prefix,
        )
        ns = dict(self.template_namespace())
        ns.update({k: fields[k] for k in ("imagename", "servername", "raw_servername")})
        return str(naming.render_templates(template, ns))

    def watch_source(self) -> WatchSource:
        """What the events cache watches for this spawner class (containers)."""
        return ContainerSource()

    @property
    def watcher(self) -> Watcher:
        """The Hub-wide events cache for this spawner's endpoint and hub id."""
        return get_watcher(
            self.endpoint,
            self.hub_id,
            self.watch_source(),
            resync_interval=self.events_resync_interval,
        )

    async def _observe(self, target: str) -> ObservedObject | None:
        """The object's state: from the events cache, or one inspect when it cannot tell."""
        self._start_sweeper()
        if not self.events_cache:
            return self._ours(await self.backend.inspect(target))
        return self._ours(
            await self.watcher.lookup(
                target, timeout=self.docker_request_timeout, fetch=self.backend.inspect
            )
        )

    def _ours(self, obj: ObservedObject | None) -> ObservedObject | None:
        """``obj`` unless it carries another Hub's id: that one is not ours to report on.

        Objects without the label (created by dockerspawner) count as ours, so
        a Hub switched from dockerspawner adopts its containers.
        """
        if obj is None or self._other_hub(obj) is not None:
            return None
        return obj

    async def _settled(self, target: str, gone: bool) -> None:
        """Wait until the cache has seen our own stop (or removal) of ``target``."""
        if not self.events_cache:
            return

        def done(obj: ObservedObject | None) -> bool:
            return obj is None if gone else obj is None or not obj.status.running

        watcher = self.watcher
        if await watcher.wait_ready(self.docker_request_timeout):
            await watcher.wait_for(target, done, timeout=5.0)

    async def _remove_settled(self, backend: ObjectBackend, target: str) -> None:
        """Remove ``target`` and wait until it is really gone.

        Docker answers a removal that AutoRemove already started with 409
        "removal in progress" while the container still exists.
        """
        await backend.remove(target)
        await self._settled(target, gone=True)

    def pull_options(self) -> PullOptions:
        """Pull settings for the backend, resolved from the traits."""

        async def credentials(image: str) -> Mapping[str, str] | None:
            value = self.registry_credentials
            if callable(value):
                found = await _maybe_await(value(self, image))
                return dict(found) if found else None
            return find_credentials(value, image)

        return PullOptions(
            timeout=self.pull_timeout,
            progress_interval=self.pull_progress_interval,
            credentials=credentials,
        )

    _spawn_progress: SpawnProgress | None = None

    async def progress(self) -> AsyncIterator[dict[str, Any]]:
        """Pull progress, then the start's steps, as the spawn page shows them.

        Any number of readers may follow one start; each sees every event.
        """
        while self._spawn_progress is None:
            # JupyterHub may open the stream before start() has begun
            await self._progress_begun().wait()
        async for event in self._spawn_progress.follow():
            yield event

    _progress_event: asyncio.Event | None = None

    def _progress_begun(self) -> asyncio.Event:
        """Set while a start's progress exists (readers wait on it)."""
        if self._progress_event is None:
            self._progress_event = asyncio.Event()
        return self._progress_event

    _sweep_warned = False

    def _start_sweeper(self) -> OrphanSweeper | None:
        """Start the Hub-wide tasks (once; they then run periodically) when enabled.

        The pre-puller (:mod:`aiodockerspawner.prepulling`), and the orphan
        sweeper, whose result is returned.
        """
        self._start_prepuller()
        if not self.orphan_sweep:
            return None
        session = orm_session(self.orm_spawner)
        if session is None:
            if not DockerSpawner._sweep_warned:
                DockerSpawner._sweep_warned = True
                self.log.warning("orphan_sweep is on but the Hub's database is not reachable")
            return None
        return get_sweeper(
            self.endpoint,
            self.hub_id,
            lambda: known_from_db(session),
            interval=self.orphan_sweep_interval,
            volumes=self.orphan_sweep_volumes,
        )

    # -- runtime state ------------------------------------------------------

    _starting = False
    _escaped_name: str | None = None

    @property
    def escaped_name(self) -> str:
        """The user's name escaped for Docker names."""
        if self._escaped_name is None:
            self._escaped_name = self.escape(self.user.name)
        return self._escaped_name

    @property
    def escaped_server_name(self) -> str:
        return naming.escape_server_name(self.name or "", self.escape)

    @property
    def will_resume(self) -> bool:
        return not self.remove

    def template_namespace(self) -> dict[str, str]:
        return naming.template_namespace(
            escaped_username=self.escaped_name,
            raw_username=self.user.name,
            image=self.image,
            escaped_servername=self.escaped_server_name,
            raw_servername=self.name or "",
            prefix=self.prefix,
        )

    # -- Docker access ------------------------------------------------------

    @property
    def endpoint(self) -> Endpoint:
        return resolve_endpoint(
            tls_config=self.effective_tls_config(),
            client_kwargs=self.client_kwargs,
            environ=os.environ,
            connection_limit=self.docker_connection_limit,
            request_timeout=self.docker_request_timeout,
        )

    @property
    def client(self) -> DockerClient:
        """The Hub-wide aiodocker client for this spawner's endpoint."""
        return shared_client(self.endpoint)

    @property
    def backend(self) -> ObjectBackend:
        return container_backend(self.endpoint, self.pull_options())

    # -- state ----------------------------------------------------------------

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self._start_prepuller()  # JupyterHub loads every spawner it creates: the Hub's start
        object_id = state.get("object_id") or state.get("container_id")
        if object_id:
            self.object_id = object_id
        if state.get("object_name"):
            self.object_name = state["object_name"]

    def get_state(self) -> dict[str, Any]:
        state: dict[str, Any] = super().get_state()
        if self.object_id:
            state["object_id"] = self.object_id
            state["object_name"] = self.object_name
        return state

    def get_env(self) -> dict[str, str]:
        env: dict[str, str] = super().get_env()
        env["JUPYTER_IMAGE_SPEC"] = self.image
        return env

    # -- start / stop / poll ------------------------------------------------------

    async def start(self) -> str:
        self._starting = True
        tracker = self._spawn_progress = SpawnProgress(
            patience_after=self.slow_spawn_message_after,
            patience_every=self.slow_spawn_message_every,
        )
        self._progress_begun().set()
        self._start_sweeper()
        try:
            with progress.reporting_to(tracker):
                try:
                    # gives up just before start_timeout, naming what it waited for
                    url = await run_start(
                        self._start(),
                        start_timeout=self.start_timeout,
                        tracker=tracker,
                        name=self.object_name,
                    )
                except StartTimedOut as e:
                    self.log.error("Giving up starting %s: %s", self._log_name, e.reason)
                    raise self._fail(e) from e.__cause__
            tracker.report(progress.STARTED, f"Server is up at {url}; waiting for it to respond")
            # a death while JupyterHub waits for the server's HTTP answer fails at once
            await self._watch_until_answered()
            return url
        except BaseException:
            self._release_capacity()
            await asyncio.shield(self._close_startup_watch())
            raise
        finally:
            self._starting = False
            self._user_options_consumed()
            self._release_gpu_reservation()
            tracker.finish()

    def _choose_host_port(self) -> None:
        """On the host network with no port configured, take a free one for this start."""
        if self.network_name == HOST_NETWORK and self.port == 0:
            self.port = free_port()
            self._port_chosen = True

    _port_chosen = False

    def clear_state(self) -> None:
        super().clear_state()
        self._user_options_consumed()  # a new start applies its own options
        if self._port_chosen:
            self.port = 0  # the next start picks a fresh free port
            self._port_chosen = False

    async def _start(self) -> str:
        await self._ensure_user_options_applied()
        self._follow_image_in_name()
        self._choose_host_port()
        try:
            spec = await self.build_spec()
        except InvalidSpec as e:
            self.log.error("Invalid configuration for %s: %s", self._log_name, e)
            raise
        spec = await self._assign_gpus(spec)
        spec.labels[LABEL_SPEC] = drift.spec_digest(spec)
        backend = self.backend
        await self._reserve_capacity(backend, spec)  # HTTP 503 when full; creates nothing
        created = False
        creating = False  # a create request is in flight: Docker may have made it already
        watch = None
        started = False  # the start request returned: a failure may be the server dying
        try:
            try:
                creating = True
                obj = await self._create_for_start(backend, spec)
                created = True
                self.log.info(
                    "Created %s %s (id: %s) from image %s for %s",
                    backend.object_type,
                    spec.name,
                    obj.id[:7],
                    spec.image,
                    self._log_name,
                )
            except ObjectExists:
                # the adoption may create again (a recreate, a leftover replaced):
                # a cancel during that create is cleaned up like one during the first
                obj, created = await self._adopt_existing(backend, spec)
            creating = False
            self.object_id = obj.id
            verb = "Created" if created else "Resuming"
            progress.report(progress.CREATE, f"{verb} {backend.object_type} {spec.name}")
            await self.copy_certs(backend, obj.id)
            # from here until the Hub has seen the server answer, a death ends the spawn
            watch = await self._open_startup_watch(backend, obj)
            progress.report(progress.START, f"Starting {backend.object_type} {spec.name}")
            self._last_started = await backend.start(obj)
            started = True
            if watch is not None:
                watch.started(self._last_started)
            progress.report(progress.ADDRESS, f"{spec.name} is running; finding its address")
            # through self: subclasses override get_ip_and_port, as with dockerspawner
            address = Address(*await self._until_death(self.get_ip_and_port(), watch))
            if self.post_start_cmd:
                progress.report(progress.POST_START, f"Running post_start_cmd in {spec.name}")
                await self._until_death(self.post_start_exec(), watch)
        except DockerOperationError as e:
            died = None
            if started or isinstance(e, ObjectExited):
                died = await self._explain_failure(e, watch)
            if died is None:
                self.log.error("Failed to start %s for %s: %s", spec.name, self._log_name, e)
            if created and (died is None or self.remove):
                await self._discard(backend, spec.name)
            # a server that died is kept for inspection unless `remove`
            raise (died or self._fail(e)) from e
        except BaseException:
            # cancelled (start_timeout) or an unexpected error: leave nothing behind
            if created:
                await self._discard(backend, spec.name)
            elif creating:
                await self._discard_if_ours(backend, spec)
            raise
        scheme = "https" if self.internal_ssl else "http"
        self.log.info(
            "%s %s for %s is at %s",
            backend.object_type.capitalize(),
            spec.name,
            self._log_name,
            address.url(scheme),
        )
        return address.url(scheme)

    async def _adopt_existing(
        self, backend: ObjectBackend, spec: ObjectSpec
    ) -> tuple[ObservedObject, bool]:
        """Handle a name conflict: resume the old object or replace it.

        Only an object of this Hub made for this user's server is resumed or
        replaced; anything else is refused with HTTP 409 and left alone.
        """
        existing = await backend.inspect(spec.name)
        if existing is None:
            return await self._create_for_start(backend, spec), True
        hub = self._other_hub(existing)
        if hub is not None:
            # never resume, replace or remove what another Hub runs
            raise DockerOperationError(
                f"create {backend.object_type}",
                spec.name,
                409,
                f"the name is taken by Hub {hub!r}; give each "
                "Hub sharing a Docker daemon its own prefix",
            )
        other = self._other_server(existing, spec)
        if other is not None and not self._in_state(existing):
            raise DockerOperationError(
                f"create {backend.object_type}",
                spec.name,
                409,
                f"the name is taken by a {backend.object_type} made for {other}, which is "
                "left alone; remove it, or make name_template tell the servers apart",
            )
        if not self.remove:
            elsewhere = other or self._other_prefix(existing, spec)
            if elsewhere is not None:
                # its environment (service prefix, OAuth callback) cannot be rewritten
                self.log.warning(
                    "Recreating %s %s for %s: it was made for %s (a renamed server?) and "
                    "cannot serve this one; files in its writable layer are lost, named "
                    "volumes and host directories are kept",
                    backend.object_type,
                    spec.name,
                    self._log_name,
                    elsewhere,
                )
                await self._remove_settled(backend, existing.id)
                return await self._create_for_start(backend, spec), True
            found = drift.drift(existing, spec)
            if drift.should_recreate(found, self.resume_drift):
                self.log.warning(
                    "Recreating %s %s for %s: %s (resume_drift=%r); named volumes are kept",
                    backend.object_type,
                    spec.name,
                    self._log_name,
                    found.describe(),
                    self.resume_drift,
                )
                await self._remove_settled(backend, existing.id)
                return await self._create_for_start(backend, spec), True
            if found.any:
                self.log.warning(
                    "Resuming %s %s for %s although %s (resume_drift=%r)",
                    backend.object_type,
                    spec.name,
                    self._log_name,
                    found.describe(),
                    self.resume_drift,
                )
            self.log.info(
                "Found existing %s %s (id: %s) for %s; resuming it",
                backend.object_type,
                spec.name,
                existing.id[:7],
                self._log_name,
            )
            for key in _TOKEN_ENV_KEYS:
                token = existing.env.get(key)
                if token:
                    self.api_token = token
                    break
            resumed_port = port_from_env(existing.env)
            if self._port_chosen and resumed_port:
                # the resumed server listens where it was told to when it was created
                self.port = resumed_port
            return existing, False
        self.log.warning(
            "Removing %s %s (id: %s) that should have been cleaned up",
            backend.object_type,
            spec.name,
            existing.id[:7],
        )
        await self._remove_settled(backend, existing.id)
        return await self._create_for_start(backend, spec), True

    def _other_hub(self, obj: ObservedObject) -> str | None:
        """The other Hub whose id ``obj`` carries, or ``None`` when it is this Hub's.

        Objects without the label (created by dockerspawner) count as this Hub's.
        """
        owner = obj.labels.get(LABEL_HUB)
        return None if owner is None or owner == self.hub_id else owner

    def _other_server(self, obj: ObservedObject, spec: ObjectSpec | None = None) -> str | None:
        """Which other server ``obj`` was made for (its labels, else its environment)."""
        return other_owner(
            obj.labels,
            obj.env,
            user=self.user.name,
            server=self.name or "",
            service_prefix=spec.env.get("JUPYTERHUB_SERVICE_PREFIX") if spec else None,
        )

    def _other_prefix(self, obj: ObservedObject, spec: ObjectSpec) -> str | None:
        """The other URL prefix ``obj`` serves under, when it differs from this start's."""
        theirs = obj.env.get("JUPYTERHUB_SERVICE_PREFIX")
        ours = spec.env.get("JUPYTERHUB_SERVICE_PREFIX")
        return f"the URL prefix {theirs}" if theirs and ours and theirs != ours else None

    def _owner_elsewhere(self, obj: ObservedObject) -> str | None:
        """Whose ``obj`` is, when it is not this server's to rename or delete.

        Another Hub's object never is; the object this server's state refers
        to always is (a renamed server's still names the old server);
        otherwise its user and server must be this one's.
        """
        hub = self._other_hub(obj)
        if hub is not None:
            return f"Hub {hub!r}"
        return None if self._in_state(obj) else self._other_server(obj)

    def _in_state(self, obj: ObservedObject) -> bool:
        """Whether ``obj`` is the object this server's state refers to (by id)."""
        known = self.object_id or ""
        return bool(known) and (obj.id == known or (len(known) >= 12 and obj.id.startswith(known)))

    async def _discard_if_ours(self, backend: ObjectBackend, spec: ObjectSpec) -> None:
        """Cancelled during the create request: remove the object if Docker made it.

        Only an object carrying this start's API token is ours; an older one of
        the same name (a stopped server to resume) is left alone.
        """
        token = spec.env.get("JUPYTERHUB_API_TOKEN")
        task = asyncio.ensure_future(backend.inspect(spec.name))
        try:
            existing = await asyncio.shield(task)
        except asyncio.CancelledError:
            existing = await task
        except DockerOperationError:
            return
        if existing is not None and token and existing.env.get("JUPYTERHUB_API_TOKEN") == token:
            await self._discard(backend, spec.name)

    async def _discard(self, backend: ObjectBackend, name: str) -> None:
        """Remove an object this start created, even while being cancelled."""
        task = asyncio.ensure_future(self._remove_settled(backend, name))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            await task
            raise
        except DockerOperationError as e:
            self.log.warning("Could not remove %s after a failed start: %s", name, e)
        self.object_id = ""

    async def post_start_exec(self) -> None:
        """Run ``post_start_cmd`` in the started container and log what it printed."""
        result = await self.backend.exec(self.object_id or self.object_name, self.post_start_cmd)
        name = self.object_name
        if result.stdout.strip():
            self.log.debug("post_start stdout in %s: %s", name, result.stdout.rstrip())
        if result.stderr.strip():
            self.log.warning("post_start stderr in %s: %s", name, result.stderr.rstrip())
        if result.exit_code:
            self.log.warning(
                "post_start command %r in %s exited with code %s",
                self.post_start_cmd,
                name,
                result.exit_code,
            )

    #: states poll() counts as "still running": the server may come back by itself
    _starting_states: ClassVar[frozenset[str]] = frozenset({"restarting", "paused"})

    async def poll(self) -> int | None:
        if self._starting:
            return None
        target = self.object_id or self.object_name
        if not target:
            return 0
        obj = await self._observe(target)
        if obj is None:
            self.log.debug("%s %s for %s not found", self.object_type, target, self._log_name)
            self.object_id = ""
            return 0
        if obj.status.running or obj.status.status in self._starting_states:
            return None
        self.log.debug(
            "%s %s for %s is %s",
            self.object_type,
            obj.name,
            self._log_name,
            obj.status.describe(),
        )
        return int(obj.status.exit_code or 0)

    async def stop(self, now: bool = False) -> None:
        self._release_capacity()  # its place on the endpoint is free again
        await self._close_startup_watch()
        target = self.object_id or self.object_name
        backend = self.backend
        if not self.object_id and target and await self._observe(target) is None:
            # nothing of ours by that name (gone, or another Hub's): nothing to stop
            self.clear_state()
            return
        grace = 0.0 if now else self.stop_grace_period
        self.log.info(
            "Stopping %s %s for %s", backend.object_type, self.object_name, self._log_name
        )
        self._spawn_progress = None
        self._progress_begun().clear()
        deadline = grace + self.docker_request_timeout
        try:
            # waiting for a free connection (a thousand stops at once) is not Docker's delay
            await within(backend.stop(target, grace), deadline)
        except asyncio.TimeoutError as e:
            message = (
                f"stop {backend.object_type} {self.object_name} for {self._log_name}: "
                f"Docker did not answer within {deadline:g} s"
            )
            # JupyterHub does not log what a stop raises; it forgets the server either way
            self.log.error("Giving up: %s", message)
            raise asyncio.TimeoutError(message) from e
        if self.remove:
            await self._remove_settled(backend, target)
            self.object_id = ""
        else:
            await self._settled(target, gone=False)
        self.clear_state()
