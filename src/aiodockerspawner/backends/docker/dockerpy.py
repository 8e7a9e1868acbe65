"""docker-py's low-level API, by method name, over the shared aiodocker client.

dockerspawner gives subclasses and hooks ``self.docker(method, *args,
**kwargs)``: the name of a docker-py ``APIClient`` method, run in a thread,
answered through a future. This module provides the same call without
docker-py and without threads: :func:`build` turns a method name and
docker-py's arguments into one Engine request (a pure :class:`Request`),
:func:`call` sends it on the Hub's aiodocker client and shapes the answer the
way docker-py returns it (``create_container`` -> ``{"Id", "Warnings"}``,
``wait`` -> ``{"StatusCode", ...}``, ``logs`` -> ``bytes``, ``tag`` and
``put_archive`` -> ``bool``, ``get_archive`` -> ``(chunks, stat)``, ...).

Errors are docker-py's, by status code: :class:`APIError` (with
``status_code``, ``response`` and ``explanation``), :class:`NotFound` and
:class:`ImageNotFound` for 404s. When docker-py itself has been imported
(``docker.errors`` is loaded: code that catches ``docker.errors.NotFound``
has imported it), the errors raised are also instances of docker-py's own
classes, so ``except docker.errors.NotFound`` keeps working. docker-py is
never imported here.

What docker-py does and this does not: streaming results (``stream=True``
of ``logs``, ``pull``, ``exec_start``; ``socket=True``), the proxy
environment ``create_container`` injects from the client config
(``use_config_proxy``), and credential helpers. ``get_archive`` returns the
archive as a list of byte chunks (iterate it or ``b"".join`` it, as with
docker-py's stream), read in full.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import http
import inspect
import json
import shlex
import struct
import sys
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiodocker
import aiohttp
from aiodocker.exceptions import DockerError

from aiodockerspawner.backends.docker import pulls
from aiodockerspawner.backends.docker.engine import engine_request

__all__ = [
    "METHODS",
    "APIError",
    "DeprecatedMethod",
    "DockerException",
    "ImageNotFound",
    "InvalidArgument",
    "NotFound",
    "NullResource",
    "Request",
    "UnsupportedMethod",
    "build",
    "call",
    "demultiplex",
    "shape",
]

# -- errors, named and shaped like docker.errors ------------------------------------


class DockerException(Exception):
    """Base of every error a ``docker()`` call raises (docker-py's name)."""


class APIError(DockerException):
    """The Engine answered with an HTTP error.

    ``status_code`` is the HTTP status; ``response`` has ``status_code``,
    ``reason``, ``url``, ``text`` and ``json()``; ``explanation`` is the
    Engine's message.
    """

    def __init__(
        self, message: Any, response: ErrorResponse | None = None, explanation: str | None = None
    ) -> None:
        super().__init__(message)
        self.response = response
        self.explanation = explanation

    def __str__(self) -> str:
        message = str(self.args[0]) if self.args else ""
        if self.response is not None and self.is_error():
            kind = "Client" if self.is_client_error() else "Server"
            message = (
                f"{self.response.status_code} {kind} Error for {self.response.url}: "
                f"{self.response.reason}"
            )
        if self.explanation:
            message = f'{message} ("{self.explanation}")'
        return message

    @property
    def status_code(self) -> int | None:
        return self.response.status_code if self.response is not None else None

    def is_error(self) -> bool:
        return self.is_client_error() or self.is_server_error()

    def is_client_error(self) -> bool:
        return self.status_code is not None and 400 <= self.status_code < 500

    def is_server_error(self) -> bool:
        return self.status_code is not None and 500 <= self.status_code < 600


class NotFound(APIError):
    """HTTP 404."""


class ImageNotFound(NotFound):
    """HTTP 404 about an image."""


class InvalidArgument(DockerException):
    """An argument docker-py would refuse too."""


class DeprecatedMethod(DockerException):
    """A call form docker-py no longer accepts (``start()`` with configuration)."""


class NullResource(DockerException, ValueError):
    """A resource given as a dict without an ``Id``."""


class UnsupportedMethod(AttributeError):
    """``docker()`` was asked for a method this module does not provide."""


@dataclass(frozen=True)
class ErrorResponse:
    """The parts of a ``requests.Response`` that error handlers read."""

    status_code: int
    url: str
    text: str

    @property
    def reason(self) -> str:
        try:
            return http.HTTPStatus(self.status_code).phrase
        except ValueError:
            return ""

    @property
    def content(self) -> bytes:
        return self.text.encode()

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    def json(self) -> Any:
        return json.loads(self.text)


#: docker-py's rule: a 404 whose message says one of these is about an image
_IMAGE_NOT_FOUND = (
    "no such image",
    "not found: does not exist or no pull access",
    "repository does not exist",
    "was found but does not match the specified platform",
)

_dual_classes: dict[tuple[type[Exception], int], type[Exception]] = {}
E = TypeVar("E", bound=DockerException)


def _as_docker_py(cls: type[E]) -> type[E]:
    """``cls``, also a subclass of docker-py's class of that name if docker-py is loaded.

    When docker-py has no class of that name, its class for the nearest of
    ``cls``'s bases that it has (at least ``DockerException``) is used.
    """
    module = sys.modules.get("docker.errors")
    if module is None:
        return cls
    theirs = None
    for base in cls.__mro__:
        candidate = getattr(module, base.__name__, None)
        if isinstance(candidate, type) and issubclass(candidate, Exception):
            theirs = candidate
            break
    if theirs is None:
        return cls
    key = (cls, id(theirs))
    dual = _dual_classes.get(key)
    if dual is None:
        dual = type(cls.__name__, (cls, theirs), {"__module__": __name__})
        _dual_classes[key] = dual
    return dual  # type: ignore[return-value]  # a subclass of cls


def api_error(status: int, explanation: str, url: str) -> APIError:
    """The error docker-py raises for an HTTP ``status`` (pure, but for the class lookup)."""
    cls: type[APIError] = APIError
    if status == 404:
        lowered = explanation.lower()
        cls = ImageNotFound if any(f in lowered for f in _IMAGE_NOT_FOUND) else NotFound
    response = ErrorResponse(status, url, json.dumps({"message": explanation}))
    return _as_docker_py(cls)(
        f"{status} {response.reason}", response=response, explanation=explanation
    )


def _error(cls: type[DockerException], message: str) -> DockerException:
    return _as_docker_py(cls)(message)


# -- requests (pure) ------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One Engine request and how its answer becomes docker-py's return value."""

    method: str
    #: path below the API version, without a leading slash
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    #: a JSON body
    body: Any = None
    #: a raw body (an archive), sent instead of ``body``
    data: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    versioned: bool = True
    #: how the answer is shaped: a key of :data:`SHAPES`
    result: str = "json"
    #: ``"client"`` (the client's own), None (no read timeout: waits and pulls),
    #: or seconds of the whole request
    timeout: float | str | None = "client"
    #: seconds to add to the client's read timeout (``stop`` waits ``t``)
    extra_read_timeout: float = 0.0
    #: the image whose registry credentials (Docker client config) go along
    registry_image: str = ""
    #: the container whose ``Config.Tty`` decides how output is framed (``logs``)
    tty_of: str = ""
    #: shaping options (``quiet``, ``trunc``, ``chunk_size``, ``tty``, ``demux``)
    options: Mapping[str, Any] = field(default_factory=dict)


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="/:")


def _flag(value: Any) -> str:
    return "1" if value else "0"


def _resource(value: Any, what: str) -> str:
    """docker-py's ``check_resource``: an id or name, or a dict with ``Id``."""
    if isinstance(value, Mapping):
        value = value.get("Id") or value.get("ID")
    if not value:
        raise _error(NullResource, f"Resource ID was not provided ({what})")
    if not isinstance(value, str):
        raise ValueError(f"Expected a string but found {value!r} ({type(value)}) instead")
    return value


def _params(**values: Any) -> dict[str, str]:
    """Query parameters: None is left out, bools become 1/0, the rest ``str``."""
    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            continue
        out[key] = _flag(value) if isinstance(value, bool) else str(value)
    return out


def _drop_none(body: Mapping[str, Any]) -> dict[str, Any]:
    """docker-py leaves out the top-level keys whose value is None."""
    return {k: v for k, v in body.items() if v is not None}


def convert_filters(filters: Mapping[str, Any]) -> str:
    """docker-py's ``convert_filters``: every value a list of strings, as JSON."""
    result: dict[str, list[str]] = {}
    for key, value in filters.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not isinstance(value, list):
            value = [value]
        result[key] = [item if isinstance(item, str) else str(item) for item in value]
    return json.dumps(result)


def format_environment(environment: Mapping[str, Any]) -> list[str]:
    """``{"K": "v", "FLAG": None}`` -> ``["K=v", "FLAG"]`` (docker-py)."""
    out = []
    for key, value in environment.items():
        if value is None:
            out.append(str(key))
            continue
        if isinstance(value, bytes):
            value = value.decode()
        out.append(f"{key}={value}")
    return out


def _timestamp(value: Any, what: str) -> int | float:
    if isinstance(value, datetime.datetime):
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        delta = value.astimezone(datetime.timezone.utc) - epoch
        return delta.seconds + delta.days * 24 * 3600
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return value
    raise _error(
        InvalidArgument,
        f"{what} value should be datetime or positive int/float, not {type(value)}",
    )


_HEALTHCHECK_KEYS = {
    "test": "Test",
    "interval": "Interval",
    "timeout": "Timeout",
    "retries": "Retries",
    "start_period": "StartPeriod",
    "start_interval": "StartInterval",
}


def _healthcheck(value: Mapping[str, Any]) -> dict[str, Any]:
    out = {_HEALTHCHECK_KEYS.get(k, k): v for k, v in value.items()}
    if isinstance(out.get("Test"), str):
        out["Test"] = ["CMD-SHELL", out["Test"]]
    return out


_SERVICE_MODES = {
    "replicated": "replicated",
    "global": "global",
    "replicated-job": "ReplicatedJob",
    "global-job": "GlobalJob",
}


def _unsupported(method: str, argument: str) -> DockerException:
    return _error(
        InvalidArgument,
        f"docker({method!r}, {argument}=True) is not supported: aiodockerspawner returns "
        "whole results, not streams",
    )


_BUILDERS: dict[str, Callable[..., Request]] = {}


def _method(name: str) -> Callable[[Callable[..., Request]], Callable[..., Request]]:
    def register(fn: Callable[..., Request]) -> Callable[..., Request]:
        _BUILDERS[name] = fn
        return fn

    return register


# containers


@_method("containers")
def _containers(
    quiet: bool = False,
    all: bool = False,
    trunc: bool = False,
    latest: bool = False,
    since: str | None = None,
    before: str | None = None,
    limit: int = -1,
    size: bool = False,
    filters: Mapping[str, Any] | None = None,
) -> Request:
    params = _params(
        limit=1 if latest else limit,
        all=all,
        size=size,
        trunc_cmd=trunc,
        since=since,
        before=before,
    )
    if filters:
        params["filters"] = convert_filters(filters)
    return Request(
        "GET",
        "containers/json",
        params,
        result="containers",
        options={"quiet": quiet, "trunc": trunc},
    )


@_method("inspect_container")
def _inspect_container(container: Any) -> Request:
    return Request("GET", f"containers/{_quote(_resource(container, 'container'))}/json")


@_method("port")
def _port(container: Any, private_port: int | str) -> Request:
    return Request(
        "GET",
        f"containers/{_quote(_resource(container, 'container'))}/json",
        result="port",
        options={"private_port": str(private_port)},
    )


@_method("create_container")
def _create_container(
    image: str,
    command: str | list[str] | None = None,
    hostname: str | None = None,
    user: str | int | None = None,
    detach: bool = False,
    stdin_open: bool = False,
    tty: bool = False,
    ports: list[Any] | None = None,
    environment: Mapping[str, Any] | list[str] | None = None,
    volumes: str | list[str] | None = None,
    network_disabled: bool = False,
    name: str | None = None,
    entrypoint: str | list[str] | None = None,
    working_dir: str | None = None,
    domainname: str | None = None,
    host_config: Mapping[str, Any] | None = None,
    mac_address: str | None = None,
    labels: Mapping[str, str] | list[str] | None = None,
    stop_signal: str | None = None,
    networking_config: Mapping[str, Any] | None = None,
    healthcheck: Mapping[str, Any] | None = None,
    stop_timeout: int | None = None,
    runtime: str | None = None,
    use_config_proxy: bool = True,
    platform: str | None = None,
) -> Request:
    if isinstance(command, str):
        command = shlex.split(command)
    if isinstance(entrypoint, str):
        entrypoint = shlex.split(entrypoint)
    if isinstance(environment, Mapping):
        environment = format_environment(environment)
    if isinstance(labels, list):
        labels = {label: "" for label in labels}
    exposed: dict[str, dict[str, Any]] | None = None
    if isinstance(ports, list):
        exposed = {}
        for definition in ports:
            port, proto = definition, "tcp"
            if isinstance(definition, tuple):
                port = definition[0]
                if len(definition) == 2:
                    proto = definition[1]
            exposed[f"{port}/{proto}"] = {}
    if isinstance(volumes, str):
        volumes = [volumes]
    volume_map: Any = {v: {} for v in volumes} if isinstance(volumes, list) else volumes
    body = {
        "Hostname": hostname,
        "Domainname": domainname,
        "ExposedPorts": exposed,
        "User": str(user) if user is not None else None,
        "Tty": tty,
        "OpenStdin": stdin_open,
        "StdinOnce": stdin_open and not detach,
        "AttachStdin": stdin_open and not detach,
        "AttachStdout": not detach,
        "AttachStderr": not detach,
        "Env": environment,
        "Cmd": command,
        "Image": image,
        "Volumes": volume_map,
        "NetworkDisabled": network_disabled,
        "Entrypoint": entrypoint,
        "WorkingDir": working_dir,
        "HostConfig": dict(host_config) if host_config is not None else None,
        "NetworkingConfig": networking_config,
        "MacAddress": mac_address,
        "Labels": labels,
        "StopSignal": stop_signal,
        "Healthcheck": _healthcheck(healthcheck) if healthcheck else None,
        "StopTimeout": stop_timeout,
        "Runtime": runtime,
    }
    return Request(
        "POST", "containers/create", _params(name=name, platform=platform), body=_drop_none(body)
    )


@_method("start")
def _start(container: Any, *args: Any, **kwargs: Any) -> Request:
    if args or kwargs:
        raise _error(
            DeprecatedMethod,
            "Providing configuration in the start() method is no longer supported. "
            "Use the host_config param in create_container instead.",
        )
    return Request(
        "POST", f"containers/{_quote(_resource(container, 'container'))}/start", result="none"
    )


@_method("stop")
def _stop(container: Any, timeout: int | None = None) -> Request:
    return Request(
        "POST",
        f"containers/{_quote(_resource(container, 'container'))}/stop",
        _params(t=timeout),
        result="none",
        extra_read_timeout=float(10 if timeout is None else timeout),
    )


@_method("kill")
def _kill(container: Any, signal: str | int | None = None) -> Request:
    if signal is not None and not isinstance(signal, str):
        signal = int(signal)
    return Request(
        "POST",
        f"containers/{_quote(_resource(container, 'container'))}/kill",
        _params(signal=signal),
        result="none",
    )


@_method("remove_container")
def _remove_container(
    container: Any, v: bool = False, link: bool = False, force: bool = False
) -> Request:
    return Request(
        "DELETE",
        f"containers/{_quote(_resource(container, 'container'))}",
        _params(v=bool(v), link=bool(link), force=bool(force)),
        result="none",
    )


@_method("wait")
def _wait(container: Any, timeout: float | None = None, condition: str | None = None) -> Request:
    return Request(
        "POST",
        f"containers/{_quote(_resource(container, 'container'))}/wait",
        _params(condition=condition),
        timeout=timeout,
    )


@_method("logs")
def _logs(
    container: Any,
    stdout: bool = True,
    stderr: bool = True,
    stream: bool = False,
    timestamps: bool = False,
    tail: str | int = "all",
    since: Any = None,
    follow: bool | None = None,
    until: Any = None,
) -> Request:
    if stream:
        raise _unsupported("logs", "stream")
    name = _resource(container, "container")
    if tail != "all" and (not isinstance(tail, int) or tail < 0):
        tail = "all"
    params = _params(
        stderr=bool(stderr),
        stdout=bool(stdout),
        timestamps=bool(timestamps),
        follow=bool(follow),
        tail=tail,
    )
    if since is not None:
        params["since"] = str(_timestamp(since, "since"))
    if until is not None:
        params["until"] = str(_timestamp(until, "until"))
    return Request(
        "GET",
        f"containers/{_quote(name)}/logs",
        params,
        result="output",
        timeout=None if follow else "client",
        tty_of=name,
    )


@_method("put_archive")
def _put_archive(container: Any, path: str, data: bytes | bytearray | memoryview) -> Request:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(
            f"put_archive(): data must be the tar archive as bytes, not {type(data).__name__}"
        )
    return Request(
        "PUT",
        f"containers/{_quote(_resource(container, 'container'))}/archive",
        {"path": path},
        data=bytes(data),
        headers={"Content-Type": "application/x-tar"},
        result="status200",
    )


@_method("get_archive")
def _get_archive(
    container: Any, path: str, chunk_size: int = 2 * 1024 * 1024, encode_stream: bool = False
) -> Request:
    return Request(
        "GET",
        f"containers/{_quote(_resource(container, 'container'))}/archive",
        {"path": path},
        headers={"Accept-Encoding": "gzip, deflate" if encode_stream else "identity"},
        result="archive",
        timeout=None,
        options={"chunk_size": chunk_size},
    )


# exec


@_method("exec_create")
def _exec_create(
    container: Any,
    cmd: str | list[str],
    stdout: bool = True,
    stderr: bool = True,
    stdin: bool = False,
    tty: bool = False,
    privileged: bool = False,
    user: str = "",
    environment: Mapping[str, Any] | list[str] | None = None,
    workdir: str | None = None,
    detach_keys: str | None = None,
) -> Request:
    name = _resource(container, "container")
    if isinstance(cmd, str):
        cmd = shlex.split(cmd)
    if isinstance(environment, Mapping):
        environment = format_environment(environment)
    body = {
        "Container": name,
        "User": user,
        "Privileged": privileged,
        "Tty": tty,
        "AttachStdin": stdin,
        "AttachStdout": stdout,
        "AttachStderr": stderr,
        "Cmd": cmd,
        "Env": environment,
        "WorkingDir": workdir,
        "detachKeys": detach_keys or None,
    }
    return Request("POST", f"containers/{_quote(name)}/exec", body=_drop_none(body))


@_method("exec_start")
def _exec_start(
    exec_id: Any,
    detach: bool = False,
    tty: bool = False,
    stream: bool = False,
    socket: bool = False,
    demux: bool = False,
) -> Request:
    if stream:
        raise _unsupported("exec_start", "stream")
    if socket:
        raise _unsupported("exec_start", "socket")
    return Request(
        "POST",
        f"exec/{_quote(_resource(exec_id, 'exec'))}/start",
        body={"Tty": tty, "Detach": detach},
        result="text" if detach else "output",
        timeout="client" if detach else None,
        options={"tty": tty, "demux": demux},
    )


@_method("exec_inspect")
def _exec_inspect(exec_id: Any) -> Request:
    return Request("GET", f"exec/{_quote(_resource(exec_id, 'exec'))}/json")


# images


def _split_tag(reference: str) -> tuple[str, str | None]:
    """docker-py's ``parse_repository_tag``."""
    repository, at, digest = reference.rpartition("@")
    if at:
        return repository, digest
    repository, colon, tag = reference.rpartition(":")
    if colon and "/" not in tag:
        return repository, tag
    return reference, None


@_method("images")
def _images(
    name: str | None = None,
    quiet: bool = False,
    all: bool = False,
    filters: Mapping[str, Any] | None = None,
) -> Request:
    wanted = dict(filters or {})
    if name:
        wanted["reference"] = name
    params = _params(only_ids=quiet, all=all)
    if wanted:
        params["filters"] = convert_filters(wanted)
    return Request("GET", "images/json", params, result="images", options={"quiet": quiet})


@_method("inspect_image")
def _inspect_image(image: str) -> Request:
    return Request("GET", f"images/{_quote(_resource(image, 'image'))}/json")


def encode_auth(auth_config: Mapping[str, Any]) -> str:
    """docker-py's ``encode_header``: the auth config as URL-safe base64 JSON."""
    return base64.urlsafe_b64encode(json.dumps(dict(auth_config)).encode()).decode()


@_method("pull")
def _pull(
    repository: str,
    tag: str | None = None,
    stream: bool = False,
    auth_config: Mapping[str, Any] | None = None,
    decode: bool = False,
    platform: str | None = None,
    all_tags: bool = False,
) -> Request:
    if stream:
        raise _unsupported("pull", "stream")
    repository, image_tag = _split_tag(repository)
    wanted = None if all_tags else (tag or image_tag or "latest")
    headers = {"X-Registry-Auth": encode_auth(auth_config)} if auth_config is not None else {}
    return Request(
        "POST",
        "images/create",
        _params(tag=wanted, fromImage=repository, platform=platform),
        headers=headers,
        result="text",
        timeout=None,
        registry_image="" if auth_config is not None else repository,
    )


@_method("tag")
def _tag(image: str, repository: str, tag: str | None = None, force: bool = False) -> Request:
    return Request(
        "POST",
        f"images/{_quote(_resource(image, 'image'))}/tag",
        _params(tag=tag, repo=repository, force=bool(force)),
        result="status201",
    )


@_method("remove_image")
def _remove_image(image: str, force: bool = False, noprune: bool = False) -> Request:
    return Request(
        "DELETE",
        f"images/{_quote(_resource(image, 'image'))}",
        _params(force=bool(force), noprune=bool(noprune)),
    )


# volumes and networks


@_method("volumes")
def _volumes(filters: Mapping[str, Any] | None = None) -> Request:
    params = {"filters": convert_filters(filters)} if filters else {}
    return Request("GET", "volumes", params)


@_method("inspect_volume")
def _inspect_volume(name: str) -> Request:
    return Request("GET", f"volumes/{_quote(name)}")


@_method("create_volume")
def _create_volume(
    name: str | None = None,
    driver: str | None = None,
    driver_opts: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> Request:
    if driver_opts is not None and not isinstance(driver_opts, Mapping):
        raise TypeError("driver_opts must be a dictionary")
    if labels is not None and not isinstance(labels, Mapping):
        raise TypeError("labels must be a dictionary")
    body = {"Name": name, "Driver": driver, "DriverOpts": driver_opts, "Labels": labels}
    return Request("POST", "volumes/create", body=_drop_none(body))


@_method("remove_volume")
def _remove_volume(name: str, force: bool = False) -> Request:
    params = {"force": "1"} if force else {}
    return Request("DELETE", f"volumes/{_quote(name)}", params, result="none")


@_method("networks")
def _networks(
    names: list[str] | None = None,
    ids: list[str] | None = None,
    filters: Mapping[str, Any] | None = None,
) -> Request:
    wanted = dict(filters or {})
    if names:
        wanted["name"] = names
    if ids:
        wanted["id"] = ids
    return Request("GET", "networks", {"filters": convert_filters(wanted)})


@_method("inspect_network")
def _inspect_network(net_id: str, verbose: bool | None = None, scope: str | None = None) -> Request:
    return Request("GET", f"networks/{_quote(net_id)}", _params(verbose=verbose, scope=scope))


# swarm services


@_method("services")
def _services(filters: Mapping[str, Any] | None = None, status: bool | None = None) -> Request:
    params = _params(status=status)
    if filters:
        params["filters"] = convert_filters(filters)
    return Request("GET", "services", params)


@_method("inspect_service")
def _inspect_service(service: str, insert_defaults: bool | None = None) -> Request:
    return Request(
        "GET",
        f"services/{_quote(_resource(service, 'service'))}",
        _params(insertDefaults=insert_defaults),
    )


@_method("tasks")
def _tasks(filters: Mapping[str, Any] | None = None) -> Request:
    params = {"filters": convert_filters(filters)} if filters else {}
    return Request("GET", "tasks", params)


@_method("create_service")
def _create_service(
    task_template: Mapping[str, Any],
    name: str | None = None,
    labels: Mapping[str, str] | None = None,
    mode: str | Mapping[str, Any] | None = None,
    update_config: Mapping[str, Any] | None = None,
    networks: list[Any] | None = None,
    endpoint_config: Any = None,
    endpoint_spec: Mapping[str, Any] | None = None,
    rollback_config: Mapping[str, Any] | None = None,
) -> Request:
    image = (task_template.get("ContainerSpec") or {}).get("Image")
    if image is None:
        raise _error(DockerException, "Missing mandatory Image key in ContainerSpec")
    if isinstance(mode, str):
        if mode not in _SERVICE_MODES:
            raise _error(
                InvalidArgument,
                'mode must be either "replicated", "global", "replicated-job" or "global-job"',
            )
        mode = {_SERVICE_MODES[mode]: {}}
    attached = (
        [{"Target": n} if isinstance(n, str) else n for n in networks] if networks else networks
    )
    body = {
        "Name": name,
        "Labels": labels,
        "TaskTemplate": task_template,
        "Mode": mode,
        "Networks": attached,
        "EndpointSpec": endpoint_spec,
        "UpdateConfig": update_config,
        "RollbackConfig": rollback_config,
    }
    return Request("POST", "services/create", body=_drop_none(body), registry_image=str(image))


@_method("remove_service")
def _remove_service(service: str) -> Request:
    return Request("DELETE", f"services/{_quote(_resource(service, 'service'))}", result="true")


# the daemon


@_method("info")
def _info() -> Request:
    return Request("GET", "info")


@_method("version")
def _version(api_version: bool = True) -> Request:
    return Request("GET", "version", versioned=bool(api_version))


#: the docker-py ``APIClient`` method names :func:`build` knows
METHODS: frozenset[str] = frozenset(_BUILDERS)


def build(method: str, *args: Any, **kwargs: Any) -> Request:
    """The Engine request docker-py's ``APIClient.<method>(*args, **kwargs)`` makes (pure).

    Arguments are checked against docker-py's signature (``TypeError`` as
    docker-py would); an unknown method raises :class:`UnsupportedMethod`.
    """
    builder = _BUILDERS.get(method)
    if builder is None:
        raise UnsupportedMethod(
            f"docker({method!r}): aiodockerspawner does not provide the docker-py method "
            f"{method!r}; it provides {', '.join(sorted(METHODS))}"
        )
    try:
        inspect.signature(builder).bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(f"docker({method!r}): {e}") from None
    return builder(*args, **kwargs)


# -- answers (pure) ---------------------------------------------------------------------


def demultiplex(buffer: bytes) -> list[tuple[int, bytes]]:
    """The ``(stream, payload)`` frames of a multiplexed log or exec output.

    Each frame is an 8-byte header (stream 1 stdout or 2 stderr, three zero
    bytes, a big-endian length) then the payload.
    """
    frames: list[tuple[int, bytes]] = []
    offset = 0
    while len(buffer) - offset >= 8:
        kind, length = struct.unpack_from(">BxxxL", buffer, offset)
        start = offset + 8
        frames.append((kind, buffer[start : start + length]))
        offset = start + length
    return frames


def _output(body: bytes, options: Mapping[str, Any]) -> Any:
    if options.get("tty"):
        return (body, None) if options.get("demux") else body
    frames = demultiplex(body)
    if not options.get("demux"):
        return b"".join(payload for _, payload in frames)
    out: list[bytes | None] = [None, None]
    for kind, payload in frames:
        index = 1 if kind == 2 else 0
        current = out[index]
        out[index] = payload if current is None else current + payload
    return tuple(out)


def _archive(headers: Mapping[str, str], body: bytes, options: Mapping[str, Any]) -> Any:
    encoded = headers.get("X-Docker-Container-Path-Stat")
    stat = json.loads(base64.b64decode(encoded).decode()) if encoded else None
    size = max(int(options.get("chunk_size") or len(body) or 1), 1)
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    return chunks, stat


def _containers_result(body: bytes, options: Mapping[str, Any]) -> Any:
    items = json.loads(body)
    if options.get("quiet"):
        return [{"Id": item["Id"]} for item in items]
    if options.get("trunc"):
        for item in items:
            item["Id"] = item["Id"][:12]
    return items


def _port_result(body: bytes, options: Mapping[str, Any]) -> Any:
    """docker-py's ``port()``: the host bindings of one container port, or None."""
    ports = (json.loads(body).get("NetworkSettings") or {}).get("Ports")
    if ports is None:
        return None  # the host network
    private = str(options["private_port"])
    if "/" in private:
        return ports.get(private)
    for protocol in ("tcp", "udp", "sctp"):
        bindings = ports.get(f"{private}/{protocol}")
        if bindings:
            return bindings
    return None


def _images_result(body: bytes, options: Mapping[str, Any]) -> Any:
    items = json.loads(body)
    return [item["Id"] for item in items] if options.get("quiet") else items


SHAPES: dict[str, Callable[[int, Mapping[str, str], bytes, Mapping[str, Any]], Any]] = {
    "json": lambda status, headers, body, options: json.loads(body),
    "none": lambda status, headers, body, options: None,
    "true": lambda status, headers, body, options: True,
    "text": lambda status, headers, body, options: body.decode(errors="replace"),
    "status200": lambda status, headers, body, options: status == 200,
    "status201": lambda status, headers, body, options: status == 201,
    "output": lambda status, headers, body, options: _output(body, options),
    "archive": lambda status, headers, body, options: _archive(headers, body, options),
    "containers": lambda status, headers, body, options: _containers_result(body, options),
    "images": lambda status, headers, body, options: _images_result(body, options),
    "port": lambda status, headers, body, options: _port_result(body, options),
}


def shape(
    request: Request,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    options: Mapping[str, Any] | None = None,
) -> Any:
    """docker-py's return value for a successful answer to ``request`` (pure)."""
    return SHAPES[request.result](status, headers, body, {**request.options, **(options or {})})


# -- sending (the thin async part) ---------------------------------------------------------


def _timeout(client: aiodocker.Docker, request: Request) -> aiohttp.ClientTimeout | None:
    base: aiohttp.ClientTimeout | None = client.session.timeout  # the client's timeout
    if request.timeout is None:
        return aiohttp.ClientTimeout(total=None, sock_read=None, connect=None, sock_connect=30)
    if isinstance(request.timeout, int | float):
        return aiohttp.ClientTimeout(total=float(request.timeout), sock_connect=30)
    if request.extra_read_timeout and base is not None and base.sock_read is not None:
        return aiohttp.ClientTimeout(
            total=base.total,
            connect=base.connect,
            sock_connect=base.sock_connect,
            sock_read=base.sock_read + request.extra_read_timeout,
        )
    return None  # the client's own


async def send(client: aiodocker.Docker, request: Request, *, name: str = "") -> Any:
    """Send ``request`` and shape its answer; errors as docker-py raises them."""
    name = name or request.path
    headers = dict(request.headers)
    if request.registry_image and "X-Registry-Auth" not in headers:
        credentials = pulls.docker_config_credentials(request.registry_image)
        if credentials:
            headers["X-Registry-Auth"] = pulls.registry_auth_header(
                credentials, request.registry_image
            )
    options: dict[str, Any] = {}
    if request.tty_of:
        info = await send(client, _inspect_container(request.tty_of), name="inspect_container")
        options["tty"] = bool((info.get("Config") or {}).get("Tty"))
    payload: Any = request.data
    if payload is None and request.body is not None:
        payload = json.dumps(request.body)
    url = f"/{request.path}"
    extra: dict[str, Any] = {}
    timeout = _timeout(client, request)
    if timeout is not None:
        extra["timeout"] = timeout
    try:
        response = await engine_request(
            client,
            request.path,
            request.method,
            params=dict(request.params) or None,
            data=payload,
            headers=headers or None,
            versioned=request.versioned,
            **extra,
        )
        try:
            body = await response.read()
            status = response.status
            response_headers = dict(response.headers.items())
        finally:
            response.release()
    except DockerError as e:
        if e.status == 900:
            raise _error(DockerException, f"docker({name!r}): {e.message}") from e
        raise api_error(e.status, str(e.message), url) from e
    except (aiohttp.ClientError, asyncio.TimeoutError) as e:
        detail = str(e) or type(e).__name__
        raise _error(DockerException, f"docker({name!r}): Docker did not answer: {detail}") from e
    return shape(request, status, response_headers, body, options)


async def call(client: aiodocker.Docker, method: str, *args: Any, **kwargs: Any) -> Any:
    """``APIClient.<method>(*args, **kwargs)`` of docker-py, on ``client``."""
    return await send(client, build(method, *args, **kwargs), name=method)
