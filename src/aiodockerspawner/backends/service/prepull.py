"""Pre-pulling on every node of a swarm: a one-shot global job per image.

Only the node that runs a task pulls its image, and the manager the Hub
talks to cannot pull for the others. A service in ``GlobalJob`` mode runs one
task on every node and is done when each has ended: each node pulls the
image to run its task. Swarm shows no pull percentage, so the Hub log gets
each node's outcome; the job service is removed afterwards (a leftover of a
Hub that died meanwhile is replaced by the next round: the name is fixed per
Hub and image).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping
from typing import Any

import aiodocker

from aiodockerspawner.backends.docker.client import docker_errors
from aiodockerspawner.backends.docker.engine import engine_json
from aiodockerspawner.backends.docker.prepull import PullOne
from aiodockerspawner.backends.docker.pulls import PullOptions, registry_auth_header
from aiodockerspawner.backends.service.body import prepull_job_body
from aiodockerspawner.errors import DockerOperationError
from aiodockerspawner.labels import LABEL_HUB, LABEL_MANAGED_BY, LABEL_ROLE, MANAGED_BY

log = logging.getLogger(__name__)

#: task states a job's task ends in
_ENDED = frozenset({"complete", "failed", "rejected", "shutdown", "orphaned", "remove"})
FIRST_DELAY = 0.2
MAX_DELAY = 2.0


def job_name(hub_id: str, image: str) -> str:
    digest = hashlib.sha256(f"{hub_id}\0{image}".encode()).hexdigest()[:16]
    return f"aiodockerspawner-prepull-{digest}"


def node_outcome(task: Mapping[str, Any]) -> tuple[bool, str]:
    """Whether the task's node has the image, and what the task says."""
    status = task.get("Status") or {}
    state = str(status.get("State") or "")
    error = str(status.get("Err") or "")
    if state == "complete":
        return True, "pulled"
    # a task that got as far as starting its container had the image
    if state == "failed" and (status.get("ContainerStatus") or {}).get("ContainerID"):
        return True, "pulled"
    return False, f"{state}: {error}" if error else state


def swarm_pull(
    docker: aiodocker.Docker, hub_id: str, options: PullOptions, timeout: float
) -> PullOne:
    """Pull one image on every node with a global job; raise when no node got it."""

    async def pull_one(image: str) -> None:
        credentials = await options.credentials(image) if options.credentials else None
        headers = (
            {"X-Registry-Auth": registry_auth_header(credentials, image)} if credentials else {}
        )
        name = job_name(hub_id, image)
        labels = {LABEL_MANAGED_BY: MANAGED_BY, LABEL_HUB: hub_id, LABEL_ROLE: "prepull"}
        body = prepull_job_body(image, name=name, labels=labels)
        await _remove(docker, name)  # a leftover of an earlier round
        async with docker_errors("create pre-pull job for", image):
            created = await engine_json(
                docker, "services/create", "POST", body=body, headers=headers
            )
        service_id = str(created["ID"])
        try:
            tasks = await asyncio.wait_for(_until_ended(docker, service_id), timeout)
        except TimeoutError:
            raise DockerOperationError(
                "pre-pull image", image, 0, f"not done on every node within {timeout:g} s"
            ) from None
        finally:
            await _remove(docker, service_id)
        outcomes = [(str(t.get("NodeID") or "?"), *node_outcome(t)) for t in tasks]
        for node, ok, said in outcomes:
            (log.info if ok else log.warning)("Pre-pull of %s on node %s: %s", image, node, said)
        if not any(ok for _, ok, _ in outcomes):
            said = "; ".join(f"{node}: {what}" for node, _, what in outcomes) or "no node ran it"
            raise DockerOperationError("pre-pull image", image, 0, said)

    return pull_one


async def _nodes(docker: aiodocker.Docker) -> int:
    async with docker_errors("list nodes", "of the swarm"):
        nodes: list[Mapping[str, Any]] = await docker.nodes.list()
    return sum(
        1
        for n in nodes
        if (n.get("Status") or {}).get("State") == "ready"
        and (n.get("Spec") or {}).get("Availability", "active") == "active"
    )


async def _until_ended(docker: aiodocker.Docker, service_id: str) -> list[Mapping[str, Any]]:
    """The job's tasks, once there is one per available node and all have ended."""
    wanted = await _nodes(docker)
    delay = FIRST_DELAY
    while True:
        async with docker_errors("list tasks of pre-pull job", service_id):
            tasks: list[Mapping[str, Any]] = await docker.tasks.list(
                filters={"service": service_id}
            )
        states = [str((t.get("Status") or {}).get("State") or "") for t in tasks]
        if len(tasks) >= wanted and all(s in _ENDED for s in states):
            return tasks
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, MAX_DELAY)


async def _remove(docker: aiodocker.Docker, name_or_id: str) -> None:
    try:
        async with docker_errors("remove pre-pull job", name_or_id):
            await docker.services.delete(name_or_id)
    except DockerOperationError as e:
        if e.status != 404:
            log.warning("Cannot remove pre-pull job %s: %s", name_or_id, e)
