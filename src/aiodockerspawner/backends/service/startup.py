"""Watching a swarm service from its start until the Hub has seen it answer.

A task's state changes produce no Docker events the manager could stream
(container events are node-local), so :class:`ServiceStartupWatch` looks at
the service's task, with the same backoff as ``ServiceBackend.start`` (0.05 s
growing to 1 s), from the moment the task runs until the watch is closed:
usually a few looks, since the Hub's HTTP check ends the window within
seconds. A task that fails or completes ends it with a report of the task's
``Err``, its exit code, whether its container was OOM-killed (when the
container is on the node the Hub talks to, which can inspect it) and the last
lines of the service's log (``GET /services/{id}/logs``, which the manager
gathers from any node when the log driver keeps logs: ``json-file``,
``local`` or ``journald``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

import aiodocker

from aiodockerspawner.backends.docker.client import docker_errors
from aiodockerspawner.backends.docker.engine import engine_request
from aiodockerspawner.backends.docker.streams import StreamDecoder
from aiodockerspawner.errors import DockerOperationError
from aiodockerspawner.exits import ExitReport, LogLimits, LogTail
from aiodockerspawner.model import ObservedObject

log = logging.getLogger(__name__)

#: first and largest pause between two looks at the task
FIRST_DELAY = 0.05
MAX_DELAY = 1.0
#: seconds the log request may take
LOG_DEADLINE = 5.0
#: task states of a server that ran and ended (a rejected task never ran: its
#: error, such as a missing image, is the start's own)
_DEAD_STATES = frozenset({"complete", "failed"})


class ServiceStartupWatch:
    """One service's start-up, seen through its task."""

    kind = "service"

    def __init__(
        self,
        docker: aiodocker.Docker,
        service_id: str,
        name: str,
        *,
        logs: LogLimits,
    ) -> None:
        self.docker = docker
        self.service_id = service_id
        self.name = name
        self.limits = logs
        self.died: asyncio.Future[ExitReport] = asyncio.get_running_loop().create_future()
        self._task: asyncio.Task[None] | None = None

    def started(self, obj: ObservedObject) -> None:
        """The task runs: look at it until the watch is closed."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._look_until_dead())

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if not self.died.done():
            self.died.cancel()

    async def explain(self, timeout: float) -> ExitReport | None:
        """After the start failed: the task's report when it is dead (one look)."""
        if self.died.done():
            return None if self.died.cancelled() else self.died.result()
        try:
            report = await asyncio.wait_for(self._look(), timeout)
        except (TimeoutError, DockerOperationError) as e:
            log.debug("Cannot tell why service %s stopped: %s", self.name, e)
            return None
        if report is not None and not self.died.done():
            self.died.set_result(report)
        return report

    async def _look_until_dead(self) -> None:
        delay = FIRST_DELAY
        while True:
            try:
                report = await self._look()
            except DockerOperationError as e:
                log.debug("Cannot look at the task of service %s: %s", self.name, e)
                report = None
            if report is not None:
                if not self.died.done():
                    self.died.set_result(report)
                return
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, MAX_DELAY)

    async def _look(self) -> ExitReport | None:
        """A report when the service's current task is dead, else None."""
        try:
            async with docker_errors("list tasks of service", self.name):
                tasks: list[Mapping[str, Any]] = await self.docker.tasks.list(
                    filters={"service": self.service_id}
                )
        except DockerOperationError as e:
            if e.status == 404:
                return ExitReport(self.kind, self.name, None, error="the service is gone")
            raise
        if not tasks:
            return None
        task = max(tasks, key=lambda t: str(t.get("CreatedAt") or ""))
        status = task.get("Status") or {}
        state = str(status.get("State") or "")
        if state not in _DEAD_STATES:
            return None
        container = status.get("ContainerStatus") or {}
        if not container.get("ContainerID"):
            return None
        exit_code = container.get("ExitCode")
        oom = await self._oom_killed(str(container.get("ContainerID") or ""))
        lines, note = await self._log_tail()
        error = str(status.get("Err") or "")
        return ExitReport(
            kind=self.kind,
            name=self.name,
            exit_code=int(exit_code) if isinstance(exit_code, int) else None,
            oom_killed=oom,
            log=tuple(lines),
            log_note=note,
            error=f"task {state}: {error}" if error else "",
        )

    async def _oom_killed(self, container_id: str) -> bool:
        """State.OOMKilled of the task's container, when it is on this node."""
        if not container_id:
            return False
        try:
            async with docker_errors("inspect container", container_id):
                data = await self.docker.containers.container(container_id).show()
        except DockerOperationError:
            return False  # on another node, or already gone
        return bool((data.get("State") or {}).get("OOMKilled"))

    async def _log_tail(self) -> tuple[list[str], str]:
        if not self.limits.enabled:
            return [], ""
        tail = LogTail(self.limits)
        try:
            async with docker_errors("read the log of service", self.name):
                response = await asyncio.wait_for(
                    engine_request(
                        self.docker,
                        f"services/{self.service_id}/logs",
                        "GET",
                        params={"stdout": "1", "stderr": "1", "tail": str(self.limits.lines)},
                    ),
                    LOG_DEADLINE,
                )
                try:
                    data = await asyncio.wait_for(response.read(), LOG_DEADLINE)
                finally:
                    response.close()
        except (DockerOperationError, TimeoutError) as e:
            reason = e.reason if isinstance(e, DockerOperationError) else "no answer"
            return [], f"Its log could not be read ({reason})."
        decoder = StreamDecoder()
        tail.feed(decoder.feed(data))
        tail.feed(decoder.close())
        return tail.lines(), ""
