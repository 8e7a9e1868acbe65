"""ServiceBackend: one Docker Swarm service (one replica) per server, via aiodocker.

A service is not a container: swarm schedules a *task* for it on some node,
and the task runs the container. So:

* ``create`` creates the service (one request) and ``start`` waits, with
  backoff and a deadline, for its task to reach ``running``. A task that is
  rejected or fails (missing image, no node satisfies the placement, the
  server exits) ends the wait with the task's own error text.
* ``inspect`` reads the service and its current task; the task state is the
  object's status, so ``poll`` needs no container on the Hub's node.
* ``stop`` removes the service and returns once its task (and, on this node,
  its container) is gone. Services are never kept: there is nothing to
  resume, as in dockerspawner.
* ``exec`` runs in the task's container through the node-local containers
  API, so it works only when the task runs on the node the Hub talks to (on a
  single-node swarm, always); otherwise it raises a clear error.

Addresses: a port published in ``host`` mode is read from the task (the
node that runs it publishes it) and reached at that node's address; an
``ingress`` port is read from the service and reached at ``host_ip``; with
``use_internal_ip`` the task's IP on ``network_name`` is used, and with
``use_internal_hostname`` the service name.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiodocker

from aiodockerspawner import progress
from aiodockerspawner.backends.base import ObjectEvents
from aiodockerspawner.backends.container.backend import ContainerBackend, internal_address
from aiodockerspawner.backends.container.images import inspect_image
from aiodockerspawner.backends.docker.client import docker_errors
from aiodockerspawner.backends.docker.engine import engine_json
from aiodockerspawner.backends.docker.pulls import PullOptions, registry_auth_header
from aiodockerspawner.backends.service.body import (
    forced_update_spec,
    secret_create_body,
    secret_name,
    secret_reference,
    service_create_body,
)
from aiodockerspawner.backends.service.snapshot import TaskSnapshot
from aiodockerspawner.backends.service.startup import ServiceStartupWatch
from aiodockerspawner.errors import (
    DockerOperationError,
    ImageNotAvailable,
    ObjectExists,
    ObjectExited,
)
from aiodockerspawner.exits import LogLimits
from aiodockerspawner.labels import LABEL_HUB, LABEL_ROLE, LABEL_SECRET_OF, hub_filter
from aiodockerspawner.model import (
    Address,
    AddressPolicy,
    ExecResult,
    ObjectSpec,
    ObjectStatus,
    ObservedObject,
    PullPolicy,
    ServiceObjectSpec,
)

log = logging.getLogger(__name__)

#: task states on the way to ``running``
TASK_PENDING_STATES = frozenset(
    {"new", "allocated", "pending", "assigned", "accepted", "preparing", "ready", "starting"}
)
#: task states it never leaves
TASK_FINAL_STATES = frozenset({"complete", "shutdown", "failed", "rejected", "orphaned", "remove"})
#: desired states in which swarm still wants a task to run (``ready``: a
#: replacement waiting for its restart delay)
TASK_WANTED_STATES = TASK_PENDING_STATES | {"running"}
#: task states a task reaches by itself: its process ended, or it never started
TASK_ENDED_STATES = frozenset({"complete", "failed", "rejected"})
#: :attr:`ObjectStatus.status` of a task swarm took away from its node
LOST = "lost"
#: :attr:`ObjectStatus.status` of a task whose service is being removed
REMOVED = "removed"
#: how long ``start`` waits for the task to run unless told otherwise
DEFAULT_START_DEADLINE = 60.0
#: first and largest pause between two looks at a task
FIRST_DELAY = 0.05
MAX_DELAY = 1.0


@dataclass(frozen=True)
class ObservedService(ObservedObject):
    """An observed service; ``task`` is its current task (empty when it has none)."""

    task: Mapping[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------
# pure helpers over the Engine's service and task documents


def _created(task: Mapping[str, Any]) -> tuple[str, int]:
    return (str(task.get("CreatedAt") or ""), int((task.get("Version") or {}).get("Index") or 0))


def current_task(tasks: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The task that stands for the service now.

    The newest task swarm still wants running (or ready to run), else the
    newest task at all (a server that exited or was rejected keeps its last
    task, with restart condition ``none``).
    """
    if not tasks:
        return None
    wanted = [t for t in tasks if t.get("DesiredState") in TASK_WANTED_STATES]
    return max(wanted or tasks, key=_created)


def task_state(task: Mapping[str, Any]) -> str:
    return str((task.get("Status") or {}).get("State") or "")


def task_error(task: Mapping[str, Any]) -> str:
    """What swarm says went wrong with a task (``Err``, else its status message)."""
    status = task.get("Status") or {}
    return str(status.get("Err") or status.get("Message") or "")


def task_lost(task: Mapping[str, Any]) -> bool:
    """Whether swarm took the task away rather than its server ending by itself.

    Swarm stops wanting a task to run (its desired state goes past
    ``running``) when its node is drained, goes down or leaves, when the
    service is updated, and also once the task's process ended (a service
    being removed sets ``remove``: not a loss either).
    Only in the last case did the task reach an end state by itself: in the
    others its state is still the last one its node reported (``running``
    for a node that died), or ``shutdown`` once the node stopped it.
    """
    desired = str(task.get("DesiredState") or "running")
    if desired == "remove":  # the service is being removed: that is not a loss
        return False
    return desired not in TASK_WANTED_STATES and task_state(task) not in TASK_ENDED_STATES


def task_status(task: Mapping[str, Any]) -> ObjectStatus:
    """A task's state as an :class:`ObjectStatus` (``status`` is the task state).

    A task swarm took away (:func:`task_lost`) is not running whatever its
    node last reported; its status is :data:`LOST`.
    """
    if not task:
        return ObjectStatus(running=False, status="missing", error="the service has no task")
    status = task.get("Status") or {}
    if task.get("DesiredState") == "remove" and task_state(task) not in TASK_ENDED_STATES:
        return ObjectStatus(running=False, status=REMOVED, error="the service is being removed")
    if task_lost(task):
        node = str(task.get("NodeID") or "?")
        return ObjectStatus(
            running=False,
            status=LOST,
            error=f"swarm took the task off node {node} (drained, down or gone from the swarm)",
        )
    state = task_state(task)
    exit_code = (status.get("ContainerStatus") or {}).get("ExitCode")
    if state in ("failed", "rejected", "orphaned") and not exit_code:
        exit_code = 1
    return ObjectStatus(
        running=state == "running",
        status=state,
        exit_code=None if state == "running" else exit_code,
        error=str(status.get("Err") or ""),
        finished_at="" if state == "running" else str(status.get("Timestamp") or ""),
    )


def _env_dict(env: Sequence[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in env or []:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def observed_from_service(
    service: Mapping[str, Any], task: Mapping[str, Any] | None
) -> ObservedService:
    """Reduce a service inspect document and its current task to what the core needs."""
    spec = service.get("Spec") or {}
    container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
    return ObservedService(
        id=str(service.get("ID", "")),
        name=str(spec.get("Name", "")),
        image=str(container.get("Image", "")),
        status=task_status(task or {}),
        env=_env_dict(container.get("Env")),
        labels=dict(spec.get("Labels") or {}),
        raw=service,
        instance_id=str((task or {}).get("ID") or ""),
        task=task or {},
    )


def observed_from_tasks(
    service_id: str, tasks: Sequence[Mapping[str, Any]], *, hub_id: str
) -> ObservedService:
    """What a task list tells of one service of the Hub ``hub_id`` (pure).

    The list does not carry the service's own document: ``name`` and ``raw``
    are empty, and ``labels`` holds only the hub id the list was filtered on.
    """
    task = current_task(tasks) or {}
    container = (task.get("Spec") or {}).get("ContainerSpec") or {}
    return ObservedService(
        id=service_id,
        name="",
        image=str(container.get("Image", "")),
        status=task_status(task),
        env=_env_dict(container.get("Env")),
        labels={LABEL_HUB: hub_id},
        instance_id=str(task.get("ID") or ""),
        task=task,
    )


def published_port(ports: Sequence[Mapping[str, Any]] | None, target: int) -> int | None:
    """The published port for ``target`` (tcp) in an Engine port list."""
    for port in ports or []:
        if port.get("TargetPort") == target and (port.get("Protocol") or "tcp") == "tcp":
            published = port.get("PublishedPort")
            if published:
                return int(published)
    return None


def publish_mode(service: Mapping[str, Any], target: int) -> str | None:
    """How ``target`` is published by the service: ``host``, ``ingress`` or ``None``."""
    ports = ((service.get("Spec") or {}).get("EndpointSpec") or {}).get("Ports") or []
    for port in ports:
        if port.get("TargetPort") == target and (port.get("Protocol") or "tcp") == "tcp":
            return str(port.get("PublishMode") or "ingress")
    return None


def task_ip(task: Mapping[str, Any], network: str) -> str | None:
    """The task's address on ``network`` (by name or ID), without the prefix length."""
    for attachment in task.get("NetworksAttachments") or []:
        net = attachment.get("Network") or {}
        if network not in (net.get("ID"), (net.get("Spec") or {}).get("Name")):
            continue
        for address in attachment.get("Addresses") or []:
            if address:
                return str(address).split("/", 1)[0]
    return None


def task_networks(task: Mapping[str, Any]) -> list[str]:
    return sorted(
        str(((a.get("Network") or {}).get("Spec") or {}).get("Name") or "")
        for a in task.get("NetworksAttachments") or []
    )


def node_address(node: Mapping[str, Any]) -> str | None:
    """Where a node is reached: its status address, else its manager address."""
    addr = str((node.get("Status") or {}).get("Addr") or "")
    if addr and addr not in ("0.0.0.0", "::"):
        return addr
    manager = str((node.get("ManagerStatus") or {}).get("Addr") or "")
    host = manager.rsplit(":", 1)[0].strip("[]") if manager else ""
    if host and host not in ("0.0.0.0", "::"):
        return host
    return None


def _container_id(task: Mapping[str, Any]) -> str:
    return str(((task.get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID") or "")


def _restarts(service: Mapping[str, Any]) -> bool:
    """Whether swarm replaces a failed task (a restart condition other than ``none``)."""
    template = (service.get("Spec") or {}).get("TaskTemplate") or {}
    condition = (template.get("RestartPolicy") or {}).get("Condition") or "any"
    return bool(condition != "none")


def _task_message(task: Mapping[str, Any]) -> str:
    if task and task_lost(task):
        return f"task {LOST}: {task_status(task).error}"
    state = task_state(task) or "not created"
    error = task_error(task)
    return f"task {state}: {error}" if error and error != state else f"task {state}"


# ---------------------------------------------------------------------------


class ServiceBackend:
    """Docker Swarm services through a shared aiodocker client.

    ``start_deadline`` bounds how long :meth:`start` waits for the task to run
    (the spawner passes a little less than ``start_timeout``, so the user sees
    what swarm reported instead of a bare timeout).
    """

    object_type = "service"

    def __init__(
        self,
        docker: aiodocker.Docker,
        *,
        docker_host: str = "127.0.0.1",
        start_deadline: float = DEFAULT_START_DEADLINE,
        pulls: PullOptions | None = None,
    ) -> None:
        self.docker = docker
        self.docker_host = docker_host
        self.start_deadline = start_deadline
        #: credentials (``registry_credentials``) for the service's image, and pulls
        #: on the manager when ``pull_policy`` asks for them
        self.pulls = pulls
        #: the node-local containers of tasks (exec, stop, addresses on node networks)
        self.containers = ContainerBackend(docker, docker_host=docker_host, pulls=pulls)

    # -- reading -----------------------------------------------------------------

    async def _service(self, name_or_id: str) -> Mapping[str, Any] | None:
        try:
            async with docker_errors("inspect service", name_or_id):
                service: Mapping[str, Any] = await self.docker.services.inspect(name_or_id)
        except DockerOperationError as e:
            if e.status == 404:
                return None
            raise
        return service

    async def _tasks(self, service_id: str) -> list[Mapping[str, Any]]:
        """The service's tasks; ``[]`` once the service is gone."""
        try:
            async with docker_errors("list tasks of service", service_id):
                tasks: list[Mapping[str, Any]] = await self.docker.tasks.list(
                    filters={"service": service_id}
                )
        except DockerOperationError as e:
            if e.status == 404:
                return []
            raise
        return tasks

    async def inspect(self, name_or_id: str) -> ObservedService | None:
        service = await self._service(name_or_id)
        if service is None:
            return None
        tasks = await self._tasks(str(service["ID"]))
        return observed_from_service(service, current_task(tasks))

    async def inspect_shared(
        self, service_id: str, snapshot: TaskSnapshot, *, max_age: float
    ) -> ObservedService | None:
        """The service's state from the Hub's shared task list (no request of its own
        while the list is young enough); one inspect when the list does not have it."""
        tasks = await snapshot.tasks_of(service_id, max_age=max_age)
        if tasks is None:
            return await self.inspect(service_id)
        return observed_from_tasks(service_id, tasks, hub_id=snapshot.hub_id)

    # -- images ------------------------------------------------------------------

    async def ensure_image(self, image: str, policy: PullPolicy) -> None:
        """Apply the pull policy on the daemon the Hub talks to (a manager).

        Swarm pulls the image on whichever node runs the task anyway; checking
        or pulling on the manager first gives an early, clear error on a
        single node and warms the manager's cache. ``skip``, SwarmSpawner's
        default, leaves it all to swarm.
        """
        await self.containers.ensure_image(image, policy)

    async def image_command(self, image: str) -> list[str] | None:
        """The image's own CMD as the manager has it, or None when it does not have it."""
        return await self.containers.image_command(image)

    async def _image_cmd(self, image: str, policy: PullPolicy) -> list[str]:
        info = await inspect_image(self.docker, image)
        if info is None and policy not in ("never", "skip"):
            await self.ensure_image(image, policy)
            info = await inspect_image(self.docker, image)
        if info is None:
            raise ImageNotAvailable(
                "create service",
                image,
                404,
                f"image {image} is not on the manager, and its CMD is needed to append "
                f"args; set cmd, or a pull_policy that may pull it",
            )
        cmd = (info.get("Config") or {}).get("Cmd") or []
        return [str(c) for c in cmd]

    # -- lifecycle ---------------------------------------------------------------

    async def create(self, spec: ObjectSpec, policy: PullPolicy) -> ObservedObject:
        service_spec = spec if isinstance(spec, ServiceObjectSpec) else _as_service_spec(spec)
        if policy != "skip":
            await self.ensure_image(spec.image, policy)
        image_cmd = None
        if spec.command is None and spec.args:
            image_cmd = await self._image_cmd(spec.image, policy)
        secrets = await self._create_secrets(service_spec)
        body = service_create_body(
            service_spec, image_cmd=image_cmd, secrets=[ref for _, ref in secrets]
        )
        # as `docker service create --with-registry-auth`: swarm hands these
        # credentials to the node that runs the task, which pulls with them
        headers = await self._auth_headers(spec.image)
        try:
            async with docker_errors("create service", spec.name):
                created = await engine_json(
                    self.docker, "services/create", "POST", body=body, headers=headers
                )
        except BaseException as e:
            # no service uses them: they can go (shielded from a cancellation)
            if secrets:
                await asyncio.shield(self._delete_secrets([sid for sid, _ in secrets]))
            if isinstance(e, DockerOperationError) and e.status == 409:
                raise ObjectExists("create service", spec.name, 409, e.message) from e
            raise
        return ObservedService(
            id=str(created["ID"]),
            name=spec.name,
            image=spec.image,
            status=ObjectStatus(running=False, status="new"),
            env=dict(spec.env),
            labels=dict(spec.labels),
        )

    # -- files for the task (internal SSL): swarm secrets ---------------------------

    async def _create_secrets(self, spec: ServiceObjectSpec) -> list[tuple[str, dict[str, Any]]]:
        """One secret per file of ``spec.secret_files``: (id, ``ContainerSpec.Secrets`` entry).

        Secrets travel with the task to whichever node runs it (swarm keeps
        them encrypted and mounts them on a tmpfs), which files copied into a
        container on the manager could not. A secret of that name already
        there (a retried start with the same files) is used as it is.
        """
        made: list[tuple[str, dict[str, Any]]] = []
        labels = {**spec.labels, LABEL_SECRET_OF: spec.name}
        try:
            for path, content in sorted(spec.secret_files.items()):
                name = secret_name(spec.name, path, content)
                try:
                    async with docker_errors("create secret", name):
                        answer = await engine_json(
                            self.docker,
                            "secrets/create",
                            "POST",
                            body=secret_create_body(name, content, labels),
                        )
                    secret_id = str(answer["ID"])
                except DockerOperationError as e:
                    if e.status != 409:
                        raise
                    async with docker_errors("inspect secret", name):
                        existing = await self.docker.secrets.inspect(name)
                    secret_id = str(existing["ID"])
                made.append((secret_id, secret_reference(secret_id, name, path)))
        except BaseException:
            await asyncio.shield(self._delete_secrets([sid for sid, _ in made]))
            raise
        return made

    async def _delete_secrets(self, secret_ids: Sequence[str]) -> None:
        for secret_id in secret_ids:
            try:
                async with docker_errors("remove secret", secret_id):
                    await self.docker.secrets.delete(secret_id)
            except DockerOperationError as e:
                # gone already; or still used by a service (removed later with it)
                log.debug("Secret %s not removed: %s", secret_id, e)

    async def remove_secrets(self, service_name: str, hub_id: str) -> None:
        """Remove the secrets made for ``service_name`` (once the service is gone)."""
        filters = {"label": [f"{LABEL_SECRET_OF}={service_name}", f"{LABEL_HUB}={hub_id}"]}
        async with docker_errors("list secrets of", service_name):
            found = await self.docker.secrets.list(filters=filters)
        await self._delete_secrets([str(s["ID"]) for s in found or []])

    async def _auth_headers(self, image: str) -> dict[str, str]:
        """``X-Registry-Auth`` for ``image`` from ``registry_credentials``, if any."""
        lookup = self.pulls.credentials if self.pulls is not None else None
        credentials = await lookup(image) if lookup is not None else None
        if not credentials:
            return {}
        return {"X-Registry-Auth": registry_auth_header(credentials, image)}

    async def _registry_says(self, image: str) -> str:
        """What the image's registry answers the manager (with the credentials), if an error.

        A node that cannot pull the task's image reports only "No such
        image"; the registry's own reason (no credentials, wrong ones, no
        such repository) is in that node's daemon log. The manager asks the
        registry the same question (``GET /distribution/{image}/json``).
        """
        try:
            async with docker_errors("ask the registry about", image):
                headers = await self._auth_headers(image)
                await engine_json(self.docker, f"distribution/{image}/json", headers=headers)
        except DockerOperationError as e:
            return e.message
        return ""

    async def start(self, obj: ObservedObject) -> ObservedObject:
        """Wait until the service's task runs; the task's error ends the wait early."""
        target = obj.id or obj.name
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_deadline
        delay = FIRST_DELAY
        service: Mapping[str, Any] | None = obj.raw or None
        task: Mapping[str, Any] | None = None
        reported = ""
        while True:
            if service is None:
                service = await self._service(target)
                if service is None:
                    raise DockerOperationError(
                        "start service", obj.name, 404, "the service vanished while starting"
                    )
            task = current_task(await self._tasks(str(service.get("ID") or target)))
            state = task_state(task) if task else ""
            said = _task_message(task) if task else ""
            if said != reported:
                # the spawn page shows what swarm is doing (a node pulling, no node fitting)
                progress.report(progress.START, f"Service {obj.name}: {said}")
                reported = said
            if state == "running" and task is not None:
                log.debug("Task of service %s is running", obj.name)
                return observed_from_service(service, task)
            ended = state in TASK_FINAL_STATES or (task is not None and task_lost(task))
            if task is not None and ended and not _restarts(service):
                message = _task_message(task)
                if "No such image" in task_error(task):
                    said_by_registry = await self._registry_says(obj.image)
                    if said_by_registry:
                        message = f"{message} (the registry says: {said_by_registry})"
                raise ObjectExited("start service", obj.name, 0, message)
            if loop.time() >= deadline:
                what = _task_message(task) if task else "no task was scheduled"
                raise DockerOperationError(
                    "start service",
                    obj.name,
                    0,
                    f"not running after {self.start_deadline:.0f}s ({what})",
                )
            await asyncio.sleep(min(delay, max(0.0, deadline - loop.time())))
            delay = min(delay * 1.5, MAX_DELAY)

    async def watch_startup(
        self, obj: ObservedObject, *, logs: LogLimits, events: ObjectEvents | None
    ) -> ServiceStartupWatch:
        """Watch the service's task once it runs (task states make no events to follow)."""
        return ServiceStartupWatch(self.docker, obj.id, obj.name, logs=logs)

    async def _node_address(self, task: Mapping[str, Any]) -> str:
        node_id = str(task.get("NodeID") or "")
        if node_id:
            try:
                async with docker_errors("inspect node", node_id):
                    node = await self.docker.nodes.inspect(node_id=node_id)
            except DockerOperationError as e:
                log.warning("Cannot find the address of node %s: %s", node_id, e)
            else:
                address = node_address(node)
                if address:
                    return address
        return self.docker_host

    async def address(self, obj: ObservedObject, policy: AddressPolicy) -> Address:
        if policy.use_internal_hostname:
            return Address(obj.name, policy.port)
        observed = obj if isinstance(obj, ObservedService) and obj.task else None
        if observed is None:
            fresh = await self.inspect(obj.id or obj.name)
            if fresh is None:
                raise DockerOperationError("find address of", obj.name, 404, "service is gone")
            observed = fresh
        task = observed.task
        if not task or task_state(task) != "running":
            raise DockerOperationError(
                "find address of",
                obj.name,
                0,
                f"the service is not running ({_task_message(task)})",
            )
        if policy.network == "host":
            return Address(await self._node_address(task), policy.port)
        if policy.use_internal_ip:
            if not policy.network:
                # no network to take an IP on: the service name, as dockerspawner does
                return Address(obj.name, policy.port)
            ip = task_ip(task, policy.network)
            if ip:
                return Address(ip, policy.port)
            if any(n == policy.network for n in task_networks(task)):
                # a node-local network (bridge): swarm lists no address, the container has it
                data = await self.containers.inspect(_container_id(task))
                found = internal_address(data.raw, policy) if data is not None else None
                if found is not None:
                    return found
            raise DockerOperationError(
                "find address of",
                obj.name,
                404,
                f"the task has no address on network {policy.network!r} (it is on "
                f"{task_networks(task)}); is it an attachable swarm network?",
            )
        mode = publish_mode(observed.raw, policy.port)
        if mode == "host":
            status = task.get("Status") or {}
            port = published_port((status.get("PortStatus") or {}).get("Ports"), policy.port)
            if port is None:
                raise DockerOperationError(
                    "find address of", obj.name, 0, f"the task publishes no port {policy.port}"
                )
            return Address(await self._node_address(task), port)
        port = published_port((observed.raw.get("Endpoint") or {}).get("Ports"), policy.port)
        if port is None:
            raise DockerOperationError(
                "find address of", obj.name, 0, f"the service publishes no port {policy.port}"
            )
        host = policy.host_ip if policy.host_ip not in ("", "0.0.0.0") else self.docker_host
        return Address(host, port)

    async def _kill_local(self, container_ids: Sequence[str]) -> None:
        for container_id in container_ids:
            try:
                async with docker_errors("kill container", container_id):
                    await self.docker.containers.container(container_id).kill()
            except DockerOperationError as e:
                # 404: on another node or gone; 409: not running any more
                if e.status not in (404, 409):
                    raise

    async def _node_down(self, node_id: str) -> bool:
        """Whether swarm has marked the node down (a node it cannot ask any more)."""
        try:
            async with docker_errors("inspect node", node_id):
                node = await self.docker.nodes.inspect(node_id=node_id)
        except DockerOperationError as e:
            return e.status == 404
        return str((node.get("Status") or {}).get("State") or "") == "down"

    async def _gone(self, task_ids: Sequence[str], container_ids: Sequence[str]) -> bool:
        for task_id in task_ids:
            try:
                async with docker_errors("inspect task", task_id):
                    task = await self.docker.tasks.inspect(task_id)
            except DockerOperationError as e:
                if e.status != 404:
                    raise
                continue
            # a task on a node that is down stays until the node comes back (and
            # then removes its container): nothing runs to wait for
            node_id = str(task.get("NodeID") or "")
            if not node_id or not await self._node_down(node_id):
                return False
        for container_id in container_ids:
            if await self.containers.inspect(container_id) is not None:
                return False
        return True

    async def stop(self, name_or_id: str, grace: float) -> None:
        """Remove the service and wait until its tasks and local containers are gone.

        Swarm stops the task with the service's stop grace period; if it is
        still there after ``grace`` seconds (``stop(now=True)`` passes 0), the
        container is killed when it runs on this node.
        """
        service = await self._service(name_or_id)
        if service is None:
            return
        tasks = await self._tasks(str(service["ID"]))
        task_ids = [str(t["ID"]) for t in tasks if t.get("ID")]
        container_ids = [c for c in (_container_id(t) for t in tasks) if c]
        await self.remove(str(service["ID"]))
        loop = asyncio.get_running_loop()
        kill_at = loop.time() + max(0.0, grace)
        killed = False
        delay = FIRST_DELAY
        while not await self._gone(task_ids, container_ids):
            if not killed and loop.time() >= kill_at:
                await self._kill_local(container_ids)
                killed = True
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, MAX_DELAY)

    async def reschedule(self, name_or_id: str) -> None:
        """Have swarm replace the service's task (a forced update, as ``--force`` does).

        The new task is placed like any other: on a node that is available
        now, so a task lost with its node (drained, down) runs elsewhere. The
        registry credentials given at create time are kept by the Engine.
        """
        service = await self._service(name_or_id)
        if service is None:
            raise DockerOperationError("reschedule service", name_or_id, 404, "no such service")
        spec = forced_update_spec(service)
        version = int((service.get("Version") or {}).get("Index") or 0)
        async with docker_errors("reschedule service", str(spec.get("Name") or name_or_id)):
            await engine_json(
                self.docker,
                f"services/{service['ID']}/update",
                "POST",
                params={"version": version},
                body=spec,
            )

    async def remove(self, name_or_id: str) -> None:
        try:
            async with docker_errors("remove service", name_or_id):
                await self.docker.services.delete(name_or_id)
        except DockerOperationError as e:
            if e.status == 404:
                return
            raise

    async def rename(self, name_or_id: str, new_name: str) -> None:
        """Services are removed when they stop, so there is never one to rename."""
        raise DockerOperationError(
            "rename service", name_or_id, 501, "swarm services are not renamed"
        )

    async def servers(self, hub_id: str) -> list[ObservedObject]:
        """This Hub's services (a service exists only while its server runs or starts)."""
        async with docker_errors("list services", f"of hub {hub_id}"):
            services: list[Mapping[str, Any]] = await self.docker.services.list(
                filters={"label": hub_filter(hub_id)}
            )
        return [
            observed_from_service(s, {"Status": {"State": "running"}})
            for s in services
            if ((s.get("Spec") or {}).get("Labels") or {}).get(LABEL_ROLE) is None
        ]

    async def total_memory(self) -> int | None:
        """The memory of the swarm's ready and active nodes."""
        async with docker_errors("list nodes", "of the swarm"):
            nodes: list[Mapping[str, Any]] = await self.docker.nodes.list()
        total = sum(
            int(((n.get("Description") or {}).get("Resources") or {}).get("MemoryBytes") or 0)
            for n in nodes
            if (n.get("Status") or {}).get("State") == "ready"
            and (n.get("Spec") or {}).get("Availability", "active") == "active"
        )
        return total or None

    async def volume_labels(self, name: str) -> dict[str, str] | None:
        """The labels of named volume ``name`` on the manager, or ``None``."""
        return await self.containers.volume_labels(name)

    async def remove_volume(self, name: str) -> bool:
        """Remove named volume ``name`` on the manager; ``False`` when it did not exist."""
        return await self.containers.remove_volume(name)

    async def exec(self, name_or_id: str, cmd: str | list[str]) -> ExecResult:
        """Run ``cmd`` in the task's container (it must run on the node the Hub talks to)."""
        observed = await self.inspect(name_or_id)
        if observed is None:
            raise DockerOperationError("exec in service", name_or_id, 404, "no such service")
        task = observed.task
        container_id = _container_id(task)
        if task_state(task) != "running" or not container_id:
            raise DockerOperationError(
                "exec in service", observed.name, 0, f"no running task ({_task_message(task)})"
            )
        if await self.containers.inspect(container_id) is None:
            raise DockerOperationError(
                "exec in service",
                observed.name,
                404,
                f"the task's container runs on another node ({task.get('NodeID')}); "
                f"commands can only run in tasks on the node the Hub talks to",
            )
        return await self.containers.exec(container_id, cmd)


def _as_service_spec(spec: ObjectSpec) -> ServiceObjectSpec:
    """A plain :class:`ObjectSpec` (e.g. from a custom core) with service defaults."""
    from dataclasses import fields

    return ServiceObjectSpec(**{f.name: getattr(spec, f.name) for f in fields(ObjectSpec)})
