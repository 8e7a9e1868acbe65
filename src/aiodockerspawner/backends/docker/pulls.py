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
- When ``registry_credentials`` has no entry for an image, the Docker client
  configuration is read as docker-py reads it (``$DOCKER_CONFIG/config.json``
  or ``~/.docker/config.json``, the ``auths`` that ``docker login`` writes).
  Credential helpers (``credsStore``, ``credHelpers``) are not run; a failed
  pull names the helper that would have applied.
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
import os
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


def find_credentials(
    table: Mapping[str, Any], image: str, *, docker_config: bool = True
) -> Credentials | None:
    """Credentials for ``image`` from a config dict, else from the Docker client config.

    Keys are tried from the most to the least specific: the exact image
    reference, the repository without its tag (``registry/org/name``), then
    the registry host (``ghcr.io``; ``docker.io`` for Docker Hub images).
    When none matches (an empty table included) and ``docker_config`` is
    true, the ``auths`` of the Docker client config answer, as docker-py's
    would (:func:`docker_config_credentials`).
    """
    registry, repository, _ = split_image(image)
    full_repository = repository if registry == DOCKER_HUB else f"{registry}/{repository}"
    for key in (image, full_repository, registry):
        value = table.get(key)
        if value:
            return dict(value)
    if docker_config:
        return docker_config_credentials(image)
    return None


# -- the Docker client config (what `docker login` writes) -------------------------

#: the host names Docker Hub is known by in config files
_DOCKER_HUB_NAMES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})


@dataclass(frozen=True)
class DockerClientConfig:
    """The registry part of a Docker client ``config.json``."""

    path: str
    auths: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    creds_store: str = ""
    cred_helpers: Mapping[str, str] = field(default_factory=dict)


def registry_host(key: str) -> str:
    """A config key (``https://index.docker.io/v1/``, ``ghcr.io``) as the registry it means.

    The scheme and any path are dropped, as the Docker CLI and docker-py do,
    and Docker Hub's names all become ``docker.io``.
    """
    host = key.strip()
    for scheme in ("http://", "https://"):
        if host.startswith(scheme):
            host = host[len(scheme) :]
    host = host.split("/", 1)[0]
    return DOCKER_HUB if host in _DOCKER_HUB_NAMES else host


def parse_docker_config(data: Any, path: str) -> DockerClientConfig:
    """The registry settings of a parsed ``config.json`` (pure)."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: not a JSON object")
    auths = data.get("auths") or {}
    helpers = data.get("credHelpers") or {}
    if not isinstance(auths, Mapping) or not isinstance(helpers, Mapping):
        raise ValueError(f"{path}: 'auths' and 'credHelpers' must be objects")
    return DockerClientConfig(
        path=path,
        auths={str(k): dict(v) for k, v in auths.items() if isinstance(v, Mapping)},
        creds_store=str(data.get("credsStore") or ""),
        cred_helpers={str(k): str(v) for k, v in helpers.items()},
    )


def config_credentials(config: DockerClientConfig, image: str) -> Credentials | None:
    """The ``auths`` entry for ``image``'s registry, as ``registry_credentials`` values (pure).

    An entry matches when its key names the image's registry, whatever the
    scheme or path (``https://index.docker.io/v1/`` for Docker Hub). It may
    hold an ``identitytoken``, an ``auth`` (base64 ``user:password``) or a
    ``username`` and ``password``; an empty entry (``docker login`` with a
    credential helper writes those) is no credentials.
    """
    registry, _, _ = split_image(image)
    matches = [key for key in config.auths if registry_host(key) == registry]
    # an exact key first, as docker-py does
    matches.sort(key=lambda key: key.strip() != registry)
    for key in matches:
        entry = config.auths[key]
        if entry.get("identitytoken"):
            return {"identitytoken": str(entry["identitytoken"]), "serveraddress": key}
        if entry.get("auth"):
            decoded = base64.b64decode(str(entry["auth"])).decode()
            username, sep, password = decoded.partition(":")
            if not sep:
                raise ValueError(f"{config.path}: the 'auth' of {key!r} is not user:password")
            return {"username": username, "password": password, "serveraddress": key}
        if entry.get("username") and entry.get("password"):
            return {
                "username": str(entry["username"]),
                "password": str(entry["password"]),
                "serveraddress": key,
            }
    return None


def credential_helper(config: DockerClientConfig, image: str) -> str:
    """The credential helper (``docker-credential-<name>``) the config names for ``image``."""
    registry, _, _ = split_image(image)
    for key, name in config.cred_helpers.items():
        if registry_host(key) == registry and name:
            return f"docker-credential-{name}"
    return f"docker-credential-{config.creds_store}" if config.creds_store else ""


def docker_config_path(environ: Mapping[str, str] | None = None) -> str:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json`` (docker-py's order)."""
    environ = os.environ if environ is None else environ
    if environ.get("DOCKER_CONFIG"):
        return os.path.join(environ["DOCKER_CONFIG"], "config.json")
    return os.path.join(os.path.expanduser("~"), ".docker", "config.json")


#: path -> ((mtime_ns, size, inode), parsed config or None)
_config_cache: dict[str, tuple[tuple[int, int, int], DockerClientConfig | None]] = {}


def load_docker_config(path: str | None = None) -> DockerClientConfig | None:
    """The Docker client config, or None when there is none (or it is unreadable).

    The file is small and local; it is read again only when its ``stat``
    changes, so a pull costs one ``stat`` on the loop. A broken file is
    logged once per change and treated as absent.
    """
    path = path or docker_config_path()
    try:
        st = os.stat(path)
    except OSError:
        _config_cache.pop(path, None)
        return None
    key = (st.st_mtime_ns, st.st_size, st.st_ino)
    cached = _config_cache.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    config: DockerClientConfig | None
    try:
        with open(path, encoding="utf-8") as f:
            config = parse_docker_config(json.load(f), path)
    except (OSError, ValueError) as e:
        log.warning("Ignoring the Docker client config %s: %s", path, e)
        config = None
    _config_cache[path] = (key, config)
    return config


def docker_config_credentials(image: str, path: str | None = None) -> Credentials | None:
    """Credentials for ``image`` from the Docker client config's ``auths``, if any."""
    config = load_docker_config(path)
    if config is None:
        return None
    try:
        return config_credentials(config, image)
    except ValueError as e:
        log.warning("Ignoring the Docker client config: %s", e)
        return None


def helper_note(image: str, path: str | None = None) -> str:
    """What to add to a failed anonymous pull when a credential helper would have applied."""
    config = load_docker_config(path)
    helper = credential_helper(config, image) if config is not None else ""
    if config is None or not helper:
        return ""
    return (
        f"the Docker client config {config.path} leaves the credentials "
        f"for this registry to the credential helper {helper}, which aiodockerspawner does "
        "not run: set DockerSpawner.registry_credentials, or put the login in the config's "
        "'auths'"
    )


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
        summary = job.tracker.summary()
        if not job.last_message:
            # nothing broadcast yet: every waiter has this line, so the stream's
            # first event (no layers known) must not send it again
            job.last_message = summary
        waiter.report(progress.PULL, summary, job.tracker.fraction)
    try:
        await asyncio.shield(job.task)
    except ImageNotAvailable as e:
        note = "" if header else helper_note(image)
        if not note:
            raise
        raise ImageNotAvailable(e.operation, e.target, e.status, f"{e.message} ({note})") from e
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
