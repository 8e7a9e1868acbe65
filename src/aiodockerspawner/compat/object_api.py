"""dockerspawner's object API, for subclasses and hooks written against it.

dockerspawner exposes its start sequence as overridable methods
(``pull_image``, ``create_object``, ``start_object``, ``get_ip_and_port``,
``stop_object``) and a few read-only properties. This mixin provides the same
names on top of the backend, with the same meaning, so code that calls them
keeps working. They return neutral values (``ObservedObject``) or the Engine's
own JSON, never docker-py objects.

``start()`` calls :meth:`get_ip_and_port` and ``post_start_exec`` through
``self``, so overriding those two changes how a server is started, as in
dockerspawner. The other hooks are helpers: ``start()`` drives the backend
directly, to keep its single create request and its cleanup on cancellation.

:meth:`docker` is dockerspawner's door to docker-py's low-level API
(``await self.docker("inspect_container", self.container_id)``); here it runs
on the Hub's shared aiodocker client (:mod:`aiodockerspawner.backends.docker.dockerpy`).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from traitlets import HasTraits

from aiodockerspawner.backends import docker_py_call
from aiodockerspawner.core import naming, options
from aiodockerspawner.errors import DockerOperationError
from aiodockerspawner.model import ObservedObject, VolumeBind, binds_as_dockerspawner_dict

if TYPE_CHECKING:
    from aiodockerspawner.backends import ObjectBackend, ObjectSpec

__all__ = ["ObjectAPI"]


class ObjectAPI(HasTraits):
    """dockerspawner's ``object_*`` hooks and properties, as a mixin of DockerSpawner."""

    if TYPE_CHECKING:  # provided by DockerSpawner and JupyterHub's Spawner
        object_id: Any
        port: int

        def __getattr__(self, name: str) -> Any: ...

    #: the object the current start last observed (saves an inspect in get_ip_and_port)
    _last_started: ObservedObject | None = None

    # -- names ----------------------------------------------------------------

    @property
    def container_id(self) -> str:
        """Alias of ``object_id``."""
        return str(self.object_id or "")

    @property
    def container_name(self) -> str:
        """Alias of ``object_name``."""
        return str(self.object_name)

    @property
    def internal_hostname(self) -> str:
        """The name other containers on a user-defined network reach the server by."""
        return str(self.object_name)

    # -- volumes and mounts ----------------------------------------------------

    def _checked_path(self, template: str, rendered: str, setting: str) -> str:
        """``rendered``, unless a user or server name changed the path ``template`` gives.

        The one check for every templated host path (volumes, mounts, binds
        and mounts in ``extra_*`` settings, the system user's home): HTTP 400
        naming ``setting`` when the rendering added ``/``, ``:``, ``.`` or
        ``..`` segments (see :func:`naming.path_steered`).
        """
        if not naming.path_steered(template, rendered):
            return rendered
        message = (
            f"{setting}: {template!r} cannot be used for this user or server name: "
            "the name would change the path"
        )
        self.log.warning("Refused to start %s: %s", self._log_name, message)
        raise options.spawn_error(message, reason="host_path")

    def _volume_bind_list(self) -> list[VolumeBind]:
        """``volumes`` (read-write) then ``read_only_volumes``, rendered."""
        # a custom format_volume_name is admin code that may build paths itself
        ours = self.format_volume_name in (
            naming.default_format_volume_name,
            naming.escaped_format_volume_name,
        )

        def formatter(trait: str) -> Callable[[str], str]:
            def format_name(template: str) -> str:
                rendered = str(self.format_volume_name(template, self))
                if ours:
                    rendered = self._checked_path(template, rendered, trait)
                return self._fit_volume_source(rendered)

            return format_name

        return naming.volumes_to_binds(
            self.volumes,
            mode="rw",
            format_name=formatter("DockerSpawner.volumes"),
            trait="DockerSpawner.volumes",
        ) + naming.volumes_to_binds(
            self.read_only_volumes,
            mode="ro",
            format_name=formatter("DockerSpawner.read_only_volumes"),
            trait="DockerSpawner.read_only_volumes",
        )

    def _fit_volume_source(self, rendered: str) -> str:
        """A rendered named volume shortened to what Docker accepts; paths unchanged."""
        ours = self.format_volume_name in (
            naming.default_format_volume_name,
            naming.escaped_format_volume_name,
        )
        if ours and "/" not in rendered:
            return naming.fit_volume_name(rendered)
        return rendered

    def volume_source_name(self, template: str) -> str:
        """The volume name (or host path) a ``volumes`` key renders to for this server.

        The one function that names a volume: creation, ``rename()`` and
        ``delete_forever()`` all use it, so a shortened name is the same in each.
        """
        return self._fit_volume_source(str(self.format_volume_name(template, self)))

    @property
    def volume_binds(self) -> dict[str, dict[str, str]]:
        """``{source: {"bind": target, "mode": mode[, "propagation": p]}}``, as dockerspawner."""
        return binds_as_dockerspawner_dict(self._volume_bind_list())

    @property
    def volume_mount_points(self) -> list[str]:
        """The container paths of ``volume_binds``, sorted."""
        return naming.mount_points(self._volume_bind_list())

    @property
    def mount_binds(self) -> list[dict[str, Any]]:
        """``mounts`` with every string value templated (dicts, not docker-py ``Mount``)."""
        ns = self.template_namespace()
        for where, template in naming.mount_paths(self.mounts, "DockerSpawner.mounts"):
            self._checked_path(template, str(naming.render_templates(template, ns)), where)
        return [dict(naming.render_templates(dict(m), ns)) for m in self.mounts]

    # -- docker-py's low-level API ----------------------------------------------

    def docker(self, method: str, *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        """docker-py's ``APIClient.<method>(*args, **kwargs)``, as a future.

        As in dockerspawner the result is an asyncio future (``await`` it, or
        pass it to ``asyncio.wrap_future``) and the return value has docker-py's
        shape. It runs on the shared aiodocker client, without a thread. An
        unknown method or a bad argument raises at once; Docker's errors come
        through the future as docker-py's (``NotFound``, ``APIError`` with
        ``status_code``; see :mod:`aiodockerspawner.backends.docker.dockerpy`).
        """
        call = docker_py_call(self.client, method, *args, **kwargs)
        loop = asyncio.get_running_loop()
        return loop.create_task(call, name=f"docker({method!r})")

    # -- image ------------------------------------------------------------------

    def _get_allowed_images(self) -> dict[str, str] | str | None:
        """``allowed_images`` evaluated for this spawner: a dict, ``"*"`` or None.

        dockerspawner's helper, for subclasses and hooks: a callable is called
        with the spawner and a list becomes ``{image: image}``. An async
        callable cannot be evaluated here; use ``await check_allowed(...)``.
        """
        value = self.allowed_images
        if callable(value):
            result = value(self)
            if inspect.isawaitable(result):
                if inspect.iscoroutine(result):
                    result.close()
                raise TypeError(
                    "allowed_images is an async callable: _get_allowed_images() cannot "
                    "evaluate it; await check_allowed(image) instead"
                )
            value = result
        allowed: dict[str, str] | str | None = options.normalize_allowed_images(value)
        return allowed

    #: dockerspawner's pre-12 escaping (``escape = "legacy"``), as a static method
    _legacy_escape = staticmethod(naming.escape_legacy)

    async def check_allowed(self, image: str) -> str:
        """The image to run for the user's choice ``image``; HTTP 400 if not allowed."""
        allowed = await options.resolve_allowed_images(self.allowed_images, self)
        return options.check_allowed(allowed, image)

    async def pull_image(self, image: str) -> None:
        """Make ``image`` available according to ``pull_policy``."""
        await self.backend.ensure_image(image, self.pull_policy)

    async def get_command(self) -> list[str]:
        """``cmd`` (or the image's own CMD when unset) followed by ``get_args()``."""
        if self.cmd:
            command = [str(c) for c in self.cmd]
        else:
            command = await self.backend.image_command(self.image) or []
        return command + [str(a) for a in self.get_args()]

    # -- the object -------------------------------------------------------------

    async def get_object(self) -> dict[str, Any] | None:
        """The Engine's inspect document of the server's object, or None if it is gone."""
        obj = await self.backend.inspect(self.object_name)
        if obj is None:
            self.object_id = ""
            return None
        self.object_id = obj.id
        return dict(obj.raw)

    async def create_object(self) -> ObservedObject:
        """Create (not start) the object from the current configuration.

        ``start()`` creates through this method, as dockerspawner's does, so a
        subclass that overrides it (calling ``super().create_object()`` or
        creating the object itself through :meth:`docker`) is honoured. During
        a start it creates that start's spec; called on its own it resolves
        the configuration first. The result reads like docker-py's answer too
        (``obj["Id"]``).
        """
        pinned = self._start_create
        if pinned is not None:
            backend, spec = pinned
        else:
            backend, spec = self.backend, await self.build_spec()
        obj: ObservedObject = await backend.create(spec, self.pull_policy)
        self.object_id = obj.id
        return obj

    #: the backend and spec of the create a start is making (see create_object)
    _start_create: tuple[ObjectBackend, ObjectSpec] | None = None

    async def _create_for_start(self, backend: ObjectBackend, spec: ObjectSpec) -> ObservedObject:
        """A start's create, through ``self.create_object()``; its result as an ObservedObject.

        An overridden ``create_object()`` may return docker-py's answer
        (``{"Id": ...}``, ``{"ID": ...}`` for a service) or nothing (it set
        ``object_id``): the object is then inspected.
        """
        self._start_create = (backend, spec)
        try:
            result = await self.create_object()
        finally:
            self._start_create = None
        if isinstance(result, ObservedObject):
            return result
        found = (result.get("Id") or result.get("ID")) if isinstance(result, Mapping) else None
        target = str(found or self.object_id or "")
        obj = await backend.inspect(target) if target else None
        if obj is None:
            raise DockerOperationError(
                f"create {self.object_type}",
                spec.name,
                500,
                f"create_object() returned {result!r}, which names no existing {self.object_type}",
            )
        self.object_id = obj.id
        return obj

    async def _current_object(self) -> ObservedObject:
        target = self.object_id or self.object_name
        obj: ObservedObject | None = await self.backend.inspect(target)
        if obj is None:
            raise DockerOperationError(
                f"find {self.object_type}", target, 404, f"no such {self.object_type}"
            )
        return obj

    async def start_object(self) -> None:
        """Start the created (or stopped) object."""
        self._last_started = await self.backend.start(await self._current_object())

    async def remove_object(self) -> None:
        """Remove the object (a container with its anonymous volumes); gone is success."""
        target = self.object_id or self.object_name
        self.log.info("Removing %s %s for %s", self.object_type, target, self._log_name)
        await self.backend.remove(target)

    def get_network_ip(self, network_settings: Mapping[str, Any]) -> str:
        """The IP address on ``network_name`` in an inspect's ``NetworkSettings``."""
        networks = network_settings.get("Networks") or {}
        if self.network_name not in networks:
            raise DockerOperationError(
                "find address of",
                str(self.object_name),
                404,
                f"Unknown docker network {self.network_name!r}. "
                "Did you create it with `docker network create <name>`?",
            )
        return str(networks[self.network_name]["IPAddress"])

    async def stop_object(self) -> None:
        """Stop the object, allowing ``stop_grace_period`` before SIGKILL."""
        await self.backend.stop(self.object_id or self.object_name, self.stop_grace_period)

    async def get_ip_and_port(self) -> tuple[str, int]:
        """Where the Hub and the proxy reach the started server."""
        obj = self._last_started
        if obj is None or obj.id != self.object_id:
            obj = await self._current_object()
        address = await self.backend.address(obj, self.address_policy())
        return address.host, address.port
