"""Image pulls: streamed, shared between concurrent starts, bounded, authenticated.

- One pull in flight per (client, image, credentials): a second start that
  needs the same image waits for the pull already running instead of starting
  its own, and gets its progress too. The pull runs in its own task, so a start
  that is cancelled stops waiting without cancelling the pull the others need.
- ``PullOptions.timeout`` bounds a pull; when it runs out the pull is stopped
  and every waiter gets an :class:`~aiodockerspawner.errors.ImageNotAvailable`
  that says so.
- A failure the registry reports inside the stream (missing image, denied) is
  raised as :class:`~aiodockerspawner.errors.ImageNotAvailable` carrying the
  registry's own message.
- Credentials are sent as ``X-Registry-Auth`` (URL-safe base64 of a JSON
  object with ``username``/``password`` or ``identitytoken`` and
  ``serveraddress``).
- The stream's per-layer byte counts are turned into one percentage
  (:class:`PullTracker`) and reported to every waiting start, at most every
  ``progress_interval`` seconds.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import functools
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiodocker
import aiohttp

from aiodockerspawner import progress
from aiodockerspawner.backends.docker.client import docker_errors
from aiodockerspawner.backends.docker.engine import engine_request
from aiodockerspawner.errors import ImageNotAvailable
from aiodockerspawner.imagerefs import DOCKER_HUB, DOCKER_HUB_AUTH_SERVER, split_image

log = logging.getLogger(__name__)

Credentials = Mapping[str, str]
CredentialsLookup = Callable[[str], Awaitable[Credentials | None]]


@dataclass(frozen=True)
class PullOptions:
    """How a backend pulls: resolved by the spawner, read by the backend."""

    #: seconds a pull may take in all
    timeout: float = 600.0
    #: seconds between two progress reports of one pull
    progress_interval: float = 0.5
    #: ``f(image) -> credentials or None`` (async)
    credentials: CredentialsLookup | None = None


# -- pure helpers ---------------------------------------------------------------


def pull_params(image: str) -> dict[str, str]:
    """Query parameters of ``POST /images/create``; no tag means ``latest``."""
    _, _, tag = split_image(image)
    if tag:
        return {"fromImage": image}
    return {"fromImage": image, "tag": "latest"}


def find_credentials(table: Mapping[str, Any], image: str) -> Credentials | None:
    """Credentials for ``image`` from a config dict.

    Keys are tried from the most to the least specific: the exact image
    reference, the repository without its tag (``registry/org/name``), then
    the registry host (``ghcr.io``; ``docker.io`` for Docker Hub images).
    """
    registry, repository, _ = split_image(image)
    full_repository = repository if registry == DOCKER_HUB else f"{registry}/{repository}"
    for key in (image, full_repository, registry):
        value = table.get(key)
        if value:
            return dict(value)
    return None


def registry_auth_header(credentials: Credentials, image: str) -> str:
    """The ``X-Registry-Auth`` value for pulling ``image`` with ``credentials``.

    Accepts ``username``/``password`` (plus ``email``), an ``identitytoken``,
    or an ``auth`` field holding base64 ``user:password`` as in
    ``~/.docker/config.json``.
    """
    registry, _, _ = split_image(image)
    payload: dict[str, str] = {}
    if credentials.get("identitytoken"):
        payload["identitytoken"] = str(credentials["identitytoken"])
    elif credentials.get("auth"):
        decoded = base64.b64decode(str(credentials["auth"])).decode()
        username, _, password = decoded.partition(":")
        payload.update(username=username, password=password)
    else:
        for key in ("username", "password", "email"):
            if credentials.get(key):
                payload[key] = str(credentials[key])
    server = credentials.get("serveraddress") or (
        DOCKER_HUB_AUTH_SERVER if registry == DOCKER_HUB else registry
    )
    payload["serveraddress"] = str(server)
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


@dataclass
class _Layer:
    downloaded: int = 0
    download_total: int = 0
    extracted: int = 0
    extract_total: int = 0
    done: bool = False

    def fraction(self) -> float:
        if self.done:
            return 1.0
        down = self.downloaded / self.download_total if self.download_total else 0.0
        ext = self.extracted / self.extract_total if self.extract_total else 0.0
        return 0.8 * min(down, 1.0) + 0.2 * min(ext, 1.0)


@dataclass
class PullTracker:
    """Aggregates a pull stream's per-layer events into one fraction (pure)."""

    image: str
    #: the layers this pull has to fetch (not those already on the daemon)
    layers: dict[str, _Layer] = field(default_factory=dict)
    existing: set[str] = field(default_factory=set)

    def update(self, event: Mapping[str, Any]) -> None:
        layer_id = event.get("id")
        status = str(event.get("status") or "")
        if not layer_id or status.startswith(("Pulling from", "Digest", "Status")):
            return  # not a layer line (the tag, the digest, the final status)
        if status == "Already exists":
            # no work for this pull: counting it as done would start the bar high
            self.existing.add(str(layer_id))
            self.layers.pop(str(layer_id), None)
            return
        layer = self.layers.setdefault(str(layer_id), _Layer())
        detail = event.get("progressDetail") or {}
        current, total = int(detail.get("current") or 0), int(detail.get("total") or 0)
        if status == "Downloading":
            layer.downloaded, layer.download_total = current, total or layer.download_total
        elif status in ("Verifying Checksum", "Download complete"):
            layer.downloaded = layer.download_total
        elif status == "Extracting":
            layer.downloaded = layer.download_total
            layer.extracted, layer.extract_total = current, total or layer.extract_total
        elif status == "Pull complete":
            layer.done = True

    @property
    def fraction(self) -> float:
        """Layers weighted by their size (unknown sizes count as the average)."""
        if not self.layers:
            return 0.0
        known = [la.download_total for la in self.layers.values() if la.download_total]
        default = sum(known) / len(known) if known else 1.0
        weights = {k: (la.download_total or default) for k, la in self.layers.items()}
        total = sum(weights.values())
        return sum(weights[k] * la.fraction() for k, la in self.layers.items()) / total

    def summary(self) -> str:
        if not self.layers:
            return f"Pulling image {self.image}"
        percent = int(self.fraction * 100)
        done = sum(1 for la in self.layers.values() if la.done)
        size = sum(la.download_total for la in self.layers.values())
        got = sum(min(la.downloaded, la.download_total) for la in self.layers.values())
        parts = [f"{_mb(got)} of {_mb(size)}"] if size else []
        parts.append(f"{done} of {len(self.layers)} layers done")
        return f"Pulling image {self.image}: {percent}% ({', '.join(parts)})"


# -- shared pulls -----------------------------------------------------------------


@dataclass
class _Pull:
    image: str
    tracker: PullTracker
    options: PullOptions
    waiters: list[progress.SpawnProgress] = field(default_factory=list)
    last_report: float = 0.0
    task: asyncio.Task[None] | None = None

    last_message: str = ""

    def broadcast(self, message: str, fraction: float) -> None:
        if message == self.last_message:
            return
        self.last_message = message
        for waiter in list(self.waiters):
            waiter.report(progress.PULL, message, fraction)


_inflight: dict[tuple[int, int, str, str], _Pull] = {}
#: counters for tests and benchmarks: pulls actually started, by image
pulls_started: dict[str, int] = {}


async def _stream(docker: aiodocker.Docker, job: _Pull, header: str | None) -> None:
    headers = {"X-Registry-Auth": header} if header else {}
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None, connect=30, sock_connect=30)
    loop = asyncio.get_running_loop()
    async with docker_errors("pull image", job.image, error_class=ImageNotAvailable):
        response = await engine_request(
            docker,
            "images/create",
            "POST",
            params=pull_params(job.image),
            headers=headers,
            timeout=timeout,
        )
        try:
            while True:
                line = await response.content.readline()
                if not line:
                    break
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("error") or event.get("errorDetail"):
                    detail = event.get("errorDetail") or {}
                    message = str(detail.get("message") or event.get("error") or "unknown error")
                    raise ImageNotAvailable("pull image", job.image, 0, message)
                job.tracker.update(event)
                now = loop.time()
                if now - job.last_report >= job.options.progress_interval:
                    job.last_report = now
                    job.broadcast(job.tracker.summary(), job.tracker.fraction)
        finally:
            response.close()


async def _run_pull(docker: aiodocker.Docker, job: _Pull, header: str | None) -> None:
    log.info("Pulling image %s", job.image)
    try:
        await asyncio.wait_for(_stream(docker, job, header), job.options.timeout)
    except TimeoutError:
        raise ImageNotAvailable(
            "pull image",
            job.image,
            0,
            f"the pull did not finish within {job.options.timeout:g} s (pull_timeout)",
        ) from None
    job.broadcast(f"Pulled image {job.image}", 1.0)
    log.info("Pulled image %s", job.image)


async def pull(docker: aiodocker.Docker, image: str, options: PullOptions | None = None) -> None:
    """Pull ``image``, joining a pull of it that is already running.

    Progress goes to the start running in the caller's context. Cancelling
    the caller stops its wait, not the pull.
    """
    options = options or PullOptions()
    credentials = await options.credentials(image) if options.credentials else None
    header = registry_auth_header(credentials, image) if credentials else None
    digest = hashlib.sha256((header or "").encode()).hexdigest()[:16]
    loop = asyncio.get_running_loop()
    key = (id(loop), id(docker), image, digest)
    job = _inflight.get(key)
    if job is None or job.task is None or job.task.done():
        job = _Pull(image, PullTracker(image), options)
        pulls_started[image] = pulls_started.get(image, 0) + 1
        # an empty context: the pull belongs to no single start
        job.task = contextvars.Context().run(
            loop.create_task, _run_pull(docker, job, header), name=f"pull {image}"
        )
        _inflight[key] = job
        job.task.add_done_callback(functools.partial(_forget, key, job))
    else:
        log.info("Waiting for the pull of %s already in progress", image)
    waiter = progress.current()
    if waiter is not None:
        job.waiters.append(waiter)
        waiter.report(progress.PULL, job.tracker.summary(), job.tracker.fraction)
    try:
        await asyncio.shield(job.task)
    finally:
        if waiter is not None and waiter in job.waiters:
            job.waiters.remove(waiter)


def _forget(key: tuple[int, int, str, str], job: _Pull, _task: object = None) -> None:
    if _inflight.get(key) is job:
        del _inflight[key]
    task = job.task
    if task is not None and not task.cancelled() and task.exception() is not None:
        # every waiter saw it; do not log "exception never retrieved"
        log.debug("Pull of %s failed: %s", job.image, task.exception())
