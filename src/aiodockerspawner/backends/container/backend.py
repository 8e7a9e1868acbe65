"""ContainerBackend: one plain Docker container per server, via aiodocker.

A plain start costs three requests: create, start, inspect. The image is only
looked at when it has to be (``always``, a create that reports a missing
image, or ``args`` appended to the image's own CMD), and an existing object is
discovered through the name conflict on create rather than a prior inspect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import aiodocker

from aiodockerspawner.backends.base import ObjectEvents
from aiodockerspawner.backends.container.body import container_create_body
from aiodockerspawner.backends.container.images import inspect_image, pull_image
from aiodockerspawner.backends.container.startup import ContainerStartupWatch
from aiodockerspawner.backends.container.volumes import (
    ensure_volumes,
    existing_volume_labels,
    remove_volume,
)
from aiodockerspawner.backends.docker.client import docker_errors
from aiodockerspawner.backends.docker.pulls import PullOptions
from aiodockerspawner.errors import (
    DockerOperationError,
    ImageNotAvailable,
    ObjectExists,
    ObjectExited,
)
from aiodockerspawner.exits import LogLimits
from aiodockerspawner.model import (
    Address,
    AddressPolicy,
    ExecResult,
    ObjectSpec,
    ObjectStatus,
    ObservedObject,
    PullPolicy,
)

log = logging.getLogger(__name__)

#: how long to wait for Docker to fill in the network settings after start (#460)
ADDRESS_DEADLINE = 10.0
#: how long a removal started by AutoRemove may take before remove() gives up
REMOVAL_DEADLINE = 30.0


def _env_dict(env: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in env or []:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def observed_from_inspect(data: Mapping[str, Any]) -> ObservedObject:
    """Reduce a container inspect document to what the core needs."""
    state = data.get("State") or {}
    config = data.get("Config") or {}
    status = ObjectStatus(
        running=bool(state.get("Running")),
        status=str(state.get("Status") or ""),
        exit_code=state.get("ExitCode"),
        error=str(state.get("Error") or ""),
        finished_at=str(state.get("FinishedAt") or ""),
    )
    return ObservedObject(
        id=str(data.get("Id", "")),
        name=str(data.get("Name", "")).lstrip("/"),
        image=str(config.get("Image", "")),
        status=status,
        env=_env_dict(config.get("Env")),
        labels=dict(config.get("Labels") or {}),
        raw=data,
    )


def _is_missing_image(e: DockerOperationError) -> bool:
    return e.status == 404 and "image" in e.message.lower()


def _is_name_conflict(e: DockerOperationError) -> bool:
    # Docker answers 409; Podman's compat API answers 500 "... is already in use"
    return e.status == 409 or (e.status == 500 and "already in use" in e.message)


def published_address(
    data: Mapping[str, Any], policy: AddressPolicy, docker_host: str
) -> Address | None:
    """The published host port of ``policy.port``, or ``None`` if not yet known."""
    ports = (data.get("NetworkSettings") or {}).get("Ports") or {}
    bindings = ports.get(f"{policy.port}/tcp") or []
    # Docker lists one binding per address family; prefer IPv4
    bindings = sorted(bindings, key=lambda b: ":" in (b.get("HostIp") or ""))
    for binding in bindings:
        host_port = binding.get("HostPort")
        if not host_port:
            continue
        host_ip = binding.get("HostIp") or policy.host_ip
        if host_ip in ("0.0.0.0", "::", ""):
            host_ip = docker_host
        return Address(host_ip, int(host_port))
    return None


def internal_address(data: Mapping[str, Any], policy: AddressPolicy) -> Address | None:
    """The container's own IP on ``policy.network``, or ``None`` if not yet known."""
    settings = data.get("NetworkSettings") or {}
    networks = settings.get("Networks") or {}
    if policy.network not in networks:
        if networks:
            raise DockerOperationError(
                "find address of",
                str(data.get("Name", "")).lstrip("/"),
                404,
                f"Unknown docker network {policy.network!r}: the container is on "
                f"{sorted(networks)}. Did you create it with "
                f"`docker network create {policy.network}`?",
            )
        return None
    ip = networks[policy.network].get("IPAddress")
    return Address(ip, policy.port) if ip else None


def exec_result(exit_code: int | None, stdout: str, stderr: str) -> ExecResult:
    """An exec's outcome, with the runtime's own failure moved to stderr.

    When the command cannot be run at all (not found, not executable), the
    Engine writes "OCI runtime exec failed: ..." to the exec's *stdout* and
    exits 126 or 127; it is an error, so report it as one (dockerspawner does
    the same).
    """
    if not stderr and "exec failed" in stdout:
        return ExecResult(exit_code, "", stdout)
    return ExecResult(exit_code, stdout, stderr)


class ContainerBackend:
    """Docker containers through a shared aiodocker client."""

    object_type = "container"

    def __init__(
        self,
        docker: aiodocker.Docker,
        *,
        docker_host: str = "127.0.0.1",
        pulls: PullOptions | None = None,
        streams: aiodocker.Docker | None = None,
    ) -> None:
        self.docker = docker
        #: the client for long-lived streams (attach), outside the connection limit
        self.streams = streams or docker
        #: pull timeout, progress interval and registry credentials
        self.pulls = pulls
        #: where ports published on all interfaces are reached
        self.docker_host = docker_host

    async def inspect(self, name_or_id: str) -> ObservedObject | None:
        try:
            async with docker_errors("inspect container", name_or_id):
                data = await self.docker.containers.container(name_or_id).show()
        except DockerOperationError as e:
            if e.status == 404:
                return None
            raise
        return observed_from_inspect(data)

    async def ensure_image(self, image: str, policy: PullPolicy) -> None:
        if policy == "skip":
            return
        if policy == "always":
            await pull_image(self.docker, image, options=self.pulls)
            return
        if await inspect_image(self.docker, image) is not None:
            return
        if policy == "never":
            raise ImageNotAvailable(
                "find image", image, 404, "not present and pull_policy is 'never'"
            )
        await pull_image(self.docker, image, options=self.pulls)

    async def image_command(self, image: str) -> list[str] | None:
        """The image's own CMD, or None when the daemon does not have it (nothing is pulled)."""
        info = await inspect_image(self.docker, image)
        if info is None:
            return None
        return [str(c) for c in (info.get("Config") or {}).get("Cmd") or []]

    async def _image_cmd(self, image: str, policy: PullPolicy) -> list[str]:
        info = await inspect_image(self.docker, image)
        if info is None:
            await self.ensure_image(image, policy)
            info = await inspect_image(self.docker, image)
        cmd = ((info or {}).get("Config") or {}).get("Cmd") or []
        return [str(c) for c in cmd]

    async def _create(self, body: dict[str, Any], name: str) -> str:
        async with docker_errors("create container", name):
            container = await self.docker.containers.create(body, name=name)
        return str(container.id)

    async def create(self, spec: ObjectSpec, policy: PullPolicy) -> ObservedObject:
        if policy == "always":
            await self.ensure_image(spec.image, policy)
        image_cmd = None
        if spec.command is None and spec.args:
            image_cmd = await self._image_cmd(spec.image, policy)
        body = container_create_body(spec, image_cmd=image_cmd)
        await ensure_volumes(self.docker, spec)
        try:
            container_id = await self._create(body, spec.name)
        except DockerOperationError as e:
            if _is_name_conflict(e):
                raise ObjectExists("create container", spec.name, 409, e.message) from e
            if not _is_missing_image(e):
                raise
            if policy in ("never", "skip"):
                raise ImageNotAvailable(
                    "create container",
                    spec.name,
                    404,
                    f"image {spec.image} is not present and pull_policy is {policy!r}",
                ) from e
            await pull_image(self.docker, spec.image, options=self.pulls)
            container_id = await self._create(body, spec.name)
        return ObservedObject(
            id=container_id,
            name=spec.name,
            image=spec.image,
            status=ObjectStatus(running=False, status="created"),
            env=dict(spec.env),
            labels=dict(spec.labels),
        )

    async def start(self, obj: ObservedObject) -> ObservedObject:
        async with docker_errors("start container", obj.name):
            await self.docker.containers.container(obj.id or obj.name).start()
        after = await self.inspect(obj.id or obj.name)
        if after is None:
            raise DockerOperationError(
                "start container", obj.name, 404, "the container vanished right after start"
            )
        return after

    async def watch_startup(
        self, obj: ObservedObject, *, logs: LogLimits, events: ObjectEvents | None
    ) -> ContainerStartupWatch:
        """Attach to the created container's output and follow its events (before start)."""
        watch = ContainerStartupWatch(
            self.docker, self.streams, obj.id, obj.name, logs=logs, events=events
        )
        await watch.open()
        return watch

    async def address(self, obj: ObservedObject, policy: AddressPolicy) -> Address:
        if policy.use_internal_hostname:
            return Address(obj.name, policy.port)
        if policy.network == "host":
            host = policy.host_ip if policy.host_ip not in ("", "0.0.0.0") else "127.0.0.1"
            return Address(host, policy.port)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ADDRESS_DEADLINE
        data: Mapping[str, Any] = obj.raw
        delay = 0.05
        while True:
            if data:
                if policy.use_internal_ip:
                    found = internal_address(data, policy)
                else:
                    found = published_address(data, policy, self.docker_host)
                if found is not None:
                    return found
                if not (data.get("State") or {}).get("Running"):
                    state = observed_from_inspect(data).status.describe()
                    raise ObjectExited(
                        "find address of", obj.name, 0, f"the container is not running ({state})"
                    )
            if loop.time() > deadline:
                what = "IP address" if policy.use_internal_ip else f"published port {policy.port}"
                raise DockerOperationError(
                    "find address of", obj.name, 0, f"Docker reported no {what}"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
            fresh = await self.inspect(obj.id or obj.name)
            if fresh is None:
                raise DockerOperationError("find address of", obj.name, 404, "container is gone")
            data = fresh.raw

    async def stop(self, name_or_id: str, grace: float) -> None:
        try:
            async with docker_errors("stop container", name_or_id):
                await self.docker.containers.container(name_or_id).stop(t=max(0, round(grace)))
        except DockerOperationError as e:
            if e.status in (304, 404):
                return
            raise

    async def remove(self, name_or_id: str) -> None:
        try:
            async with docker_errors("remove container", name_or_id):
                await self.docker.containers.container(name_or_id).delete(force=True, v=True)
        except DockerOperationError as e:
            if e.status == 404:
                return  # already gone
            if e.status != 409:
                raise
            # removal already in progress (AutoRemove got there first): "gone" means gone
            await self._wait_gone(name_or_id)

    async def servers(self, hub_id: str) -> list[ObservedObject]:
        """This Hub's containers (one list request; the events cache knows them too)."""
        from aiodockerspawner.backends.container.observe import ContainerSource  # (cycle)

        return await ContainerSource().snapshot(self.docker, hub_id)

    async def total_memory(self) -> int | None:
        """``MemTotal`` of ``GET /info``."""
        async with docker_errors("read the memory of", "the Docker host"):
            info = await self.docker.system.info()
        return int(info.get("MemTotal") or 0) or None

    async def volume_labels(self, name: str) -> dict[str, str] | None:
        """The labels of named volume ``name``, or ``None`` when it does not exist."""
        return await existing_volume_labels(self.docker, name)

    async def remove_volume(self, name: str) -> bool:
        """Remove named volume ``name``; ``False`` when it did not exist."""
        return await remove_volume(self.docker, name)

    async def rename(self, name_or_id: str, new_name: str) -> None:
        """Give the container another name (HTTP 409 when the name is taken)."""
        async with docker_errors("rename container", name_or_id):
            await self.docker.containers.container(name_or_id).rename(new_name)

    async def _wait_gone(self, name_or_id: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + REMOVAL_DEADLINE
        delay = 0.02
        while await self.inspect(name_or_id) is not None:
            if loop.time() > deadline:
                raise DockerOperationError(
                    "remove container", name_or_id, 409, "the removal did not finish"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def exec(self, name_or_id: str, cmd: str | list[str]) -> ExecResult:
        container = self.docker.containers.container(name_or_id)
        stdout: list[bytes] = []
        stderr: list[bytes] = []
        async with docker_errors("exec in container", name_or_id):
            execution = await container.exec(cmd, stdout=True, stderr=True)
            async with execution.start(detach=False) as stream:
                while True:
                    msg = await stream.read_out()
                    if msg is None:
                        break
                    (stderr if msg.stream == 2 else stdout).append(msg.data)
            info = await execution.inspect()
        return exec_result(
            info.get("ExitCode"),
            b"".join(stdout).decode("utf-8", "replace"),
            b"".join(stderr).decode("utf-8", "replace"),
        )

    async def put_archive(self, name_or_id: str, path: str, data: bytes) -> None:
        """Extract the tar archive ``data`` at ``path`` in the (created or running) container.

        aiodocker labels the body ``application/json`` rather than
        ``application/x-tar`` (aiodocker #960); the Engine does not look at the
        Content-Type of this endpoint, and tests/docker checks the files arrive.
        """
        async with docker_errors("copy files into container", name_or_id):
            container = self.docker.containers.container(name_or_id)
            await container.put_archive(path, data)  # type: ignore[no-untyped-call]
