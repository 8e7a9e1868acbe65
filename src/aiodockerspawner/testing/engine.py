"""A small fake Docker Engine on ``aiohttp.web``, for tests without Docker.

It keeps containers, images and volumes in memory and speaks enough of the
Engine API for the spawner: version, containers (create, inspect, start,
stop, kill, remove, list, attach, logs), volumes (create, inspect, list, remove; the named
volumes a container mounts are created with it, as dockerd does), exec (with
a hijacked output stream), image inspect, streamed pulls and the events
stream. Faults can be injected per request path:
answer slowly, never answer, hold a request (or its answer) until the test
releases it, answer with an error, or drop a stream.

It is the tier between aioresponses (exact request shapes) and a real daemon:
incremental streams, dropped connections, a daemon that hangs or goes away.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import struct
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aiohttp import web

API_VERSION = "1.41"


#: ``exec`` handler: command -> (exit code, stdout, stderr)
ExecHandler = Callable[[list[str]], tuple[int, bytes, bytes]]


def _json(data: Any, status: int = 200) -> web.Response:
    # aiodocker parses error messages only for a bare application/json type
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"}
    )


def _error(status: int, message: str) -> web.Response:
    return _json({"message": message}, status)


@dataclass
class FakeImage:
    name: str
    cmd: list[str] = field(default_factory=lambda: ["serve"])
    #: layer id -> size in bytes, reported during a pull
    layers: dict[str, int] = field(default_factory=lambda: {"layer1": 1000})
    id: str = field(default_factory=lambda: "sha256:" + secrets.token_hex(32))


@dataclass
class FakeVolume:
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    driver: str = "local"
    options: dict[str, str] = field(default_factory=dict)
    created_at: str = field(
        default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    )

    def inspect(self) -> dict[str, Any]:
        """What ``GET /volumes/{name}`` answers (dockerd's shape: empty maps are null)."""
        return {
            "CreatedAt": self.created_at,
            "Driver": self.driver,
            "Labels": self.labels or None,
            "Mountpoint": f"/var/lib/docker/volumes/{self.name}/_data",
            "Name": self.name,
            "Options": self.options or None,
            "Scope": "local",
        }


#: dockerd's rule for local volume names
_VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


def _volume_name_error(name: str) -> web.Response | None:
    """dockerd's answer to creating a local volume with this name, when it refuses."""
    if len(name) < 2:
        return _error(
            400,
            f"create {name}: volume name is too short, names should be at least "
            "two alphanumeric characters",
        )
    if not _VOLUME_NAME.match(name):
        return _error(
            400,
            f'create {name}: "{name}" includes invalid characters for a local volume '
            'name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to '
            "pass a host directory, use absolute path",
        )
    if len(name.encode()) > 255:
        root = f"/var/lib/docker/volumes/{name}"
        return _error(
            500,
            f"create {name}: error while creating volume root path '{root}': "
            f"mkdir {root}: file name too long",
        )
    return None


def _mounted_volumes(config: Mapping[str, Any], host_config: Mapping[str, Any]) -> list[str]:
    """The named volumes a container's create body mounts (``Binds`` and ``Mounts``)."""
    names = []
    for bind in host_config.get("Binds") or []:
        source = str(bind).split(":", 1)[0]
        if ":" in str(bind) and source and not source.startswith("/"):
            names.append(source)
    for mount in host_config.get("Mounts") or []:
        if (mount.get("Type") or "volume") == "volume" and mount.get("Source"):
            names.append(str(mount["Source"]))
    return list(dict.fromkeys(names))


@dataclass
class FakeContainer:
    id: str
    name: str
    config: dict[str, Any]
    host_config: dict[str, Any]
    status: str = "created"
    exit_code: int = 0
    started_at: str = ""
    finished_at: str = ""
    ports: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    ip: str = ""
    #: what the process wrote: (stream 1 or 2, bytes), in order
    output: list[tuple[int, bytes]] = field(default_factory=list)
    oom_killed: bool = False
    #: set and replaced whenever output is written or the container stops
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def notify(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    @property
    def running(self) -> bool:
        return self.status == "running"

    def inspect(self) -> dict[str, Any]:
        network = str(self.host_config.get("NetworkMode") or "bridge")
        networks = {} if network in ("host", "none") else {network: {"IPAddress": self.ip}}
        return {
            "Id": self.id,
            "Name": "/" + self.name,
            "Created": self.started_at or "2026-01-01T00:00:00Z",
            "State": {
                "Status": self.status,
                "Running": self.running,
                "Paused": False,
                "Restarting": False,
                "ExitCode": self.exit_code,
                "OOMKilled": self.oom_killed,
                "Error": "",
                "StartedAt": self.started_at,
                "FinishedAt": self.finished_at,
            },
            "Config": self.config,
            "HostConfig": self.host_config,
            "NetworkSettings": {"Ports": self.ports, "Networks": networks},
        }


@dataclass
class Fault:
    """What to do to requests whose ``METHOD path`` matches ``pattern``."""

    pattern: re.Pattern[str]
    #: seconds to wait before answering
    delay: float = 0.0
    #: never answer (until the engine stops)
    hang: bool = False
    #: answer with this HTTP status and message instead
    status: int | None = None
    message: str = "injected fault"
    #: for streams: close the connection after this many items
    drop_after: int | None = None
    #: how many requests it applies to (None: all)
    times: int | None = None
    #: park matching requests until :meth:`release`: ``"request"`` before the
    #: engine handles them, ``"answer"`` after (the answer, sent on release,
    #: then shows the state at arrival; for plain answers, not streams)
    hold: Literal["request", "answer"] | None = None
    #: set when a request is parked by ``hold``
    arrived: asyncio.Event = field(default_factory=asyncio.Event, compare=False, repr=False)
    _released: asyncio.Event = field(default_factory=asyncio.Event, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.hold not in (None, "request", "answer"):
            raise ValueError("hold must be 'request', 'answer' or None")

    def matches(self, key: str) -> bool:
        return self.times != 0 and bool(self.pattern.search(key))

    def release(self) -> None:
        """Let the requests parked by ``hold`` (and any later ones) through."""
        self._released.set()

    async def _park(self) -> None:
        self.arrived.set()
        await self._released.wait()


FAULT_KEY: web.RequestKey[Fault | None] = web.RequestKey("fault")
PATH_KEY: web.RequestKey[str] = web.RequestKey("path", str)


class FakeEngine:
    """An in-memory Docker Engine serving the Engine API on a unix socket."""

    def __init__(self) -> None:
        self.containers: dict[str, FakeContainer] = {}
        self.images: dict[str, FakeImage] = {}
        self.volumes: dict[str, FakeVolume] = {}
        #: images a pull can fetch, by reference
        self.registry: dict[str, FakeImage] = {}
        #: every request seen, as ``"METHOD /path"`` without the version prefix
        self.requests: list[str] = []
        self.faults: list[Fault] = []
        self.exec_handler: ExecHandler = lambda cmd: (0, b"", b"")
        #: seconds between streamed pull progress lines
        self.pull_step_delay = 0.0
        #: the host memory ``GET /info`` reports (``MemTotal``)
        self.mem_total = 8 * 1024**3
        self._events: list[dict[str, Any]] = []
        self._event_waiters: list[asyncio.Event] = []
        self._execs: dict[str, tuple[str, list[str], dict[str, Any]]] = {}
        self._ips = itertools.count(2)
        self._ports = itertools.count(40000)
        self._runner: web.AppRunner | None = None
        self._stopping = False
        self._hung: list[asyncio.Future[None]] = []
        self.socket_path: Path | None = None

    # -- setup helpers --------------------------------------------------------

    def add_image(self, name: str, **kw: Any) -> FakeImage:
        """Make ``name`` present locally."""
        image = FakeImage(name=name, **kw)
        self.images[name] = image
        return image

    def add_registry_image(self, name: str, **kw: Any) -> FakeImage:
        """Make ``name`` pullable (but not present)."""
        image = FakeImage(name=name, **kw)
        self.registry[name] = image
        return image

    def add_volume(self, name: str, **kw: Any) -> FakeVolume:
        """Make a volume exist (``labels=``, ``driver=``, ``options=``)."""
        volume = FakeVolume(name=name, **kw)
        self.volumes[name] = volume
        return volume

    def inject(self, pattern: str, **kw: Any) -> Fault:
        """Add a fault for requests matching ``pattern`` (a regex on ``METHOD /path``)."""
        fault = Fault(pattern=re.compile(pattern), **kw)
        self.faults.append(fault)
        return fault

    def count(self, pattern: str) -> int:
        """How many requests so far matched ``pattern``."""
        rx = re.compile(pattern)
        return sum(1 for r in self.requests if rx.search(r))

    def exit_container(self, name_or_id: str, exit_code: int = 0, *, oom: bool = False) -> None:
        """Make a running container exit, as if its process ended.

        ``oom``: the kernel's OOM killer ended it (an ``oom`` event first, and
        ``State.OOMKilled``), as dockerd reports it.
        """
        c = self._find(name_or_id)
        if c is None:
            raise KeyError(name_or_id)
        if oom and c.running:
            c.oom_killed = True
            self._emit(c, "oom")
        self._set_stopped(c, exit_code)

    def write_output(self, name_or_id: str, text: str | bytes, *, stream: int = 1) -> None:
        """Make a container's process write ``text`` to stdout (1) or stderr (2)."""
        c = self._find(name_or_id)
        if c is None:
            raise KeyError(name_or_id)
        c.output.append((stream, text.encode() if isinstance(text, str) else text))
        c.notify()

    # -- lifecycle ------------------------------------------------------------

    async def start(self, socket_path: str | Path) -> str:
        """Serve on ``socket_path``; returns the ``unix://`` URL for DOCKER_HOST."""
        app = web.Application(middlewares=[self._middleware])
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        self.socket_path = Path(socket_path)
        await web.UnixSite(self._runner, str(self.socket_path)).start()
        return f"unix://{self.socket_path}"

    async def stop(self) -> None:
        self._stopping = True
        for fut in self._hung:
            if not fut.done():
                fut.cancel()
        for fault in self.faults:
            fault.release()
        for waiter in self._event_waiters:
            waiter.set()
        for c in self.containers.values():
            c.notify()  # attach streams of running containers see _stopping and end
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- plumbing -------------------------------------------------------------

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        path = re.sub(r"^/v\d+\.\d+", "", request.path)
        key = f"{request.method} {path}"
        self.requests.append(key)
        request[FAULT_KEY] = None
        for fault in self.faults:
            if not fault.matches(key):
                continue
            if fault.times is not None:
                fault.times -= 1
            if fault.hang:
                fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._hung.append(fut)
                await fut
            if fault.hold == "request":
                await fault._park()
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status is not None:
                return _error(fault.status, fault.message)
            request[FAULT_KEY] = fault
            break
        request[PATH_KEY] = path
        response = await handler(request)
        applied = request[FAULT_KEY]
        if applied is not None and applied.hold == "answer":
            await applied._park()
        return response

    def _find(self, name_or_id: str) -> FakeContainer | None:
        if name_or_id in self.containers:
            return self.containers[name_or_id]
        for c in self.containers.values():
            if c.name == name_or_id.lstrip("/") or c.id.startswith(name_or_id):
                return c
        return None

    def _emit(self, c: FakeContainer, action: str) -> None:
        now = time.time_ns()
        self._events.append(
            {
                "Type": "container",
                "Action": action,
                "status": action,
                "id": c.id,
                "Actor": {
                    "ID": c.id,
                    "Attributes": {
                        "name": c.name,
                        "image": c.config.get("Image", ""),
                        "exitCode": str(c.exit_code),
                        **(c.config.get("Labels") or {}),
                    },
                },
                "time": now // 1_000_000_000,
                "timeNano": now,
            }
        )
        for waiter in self._event_waiters:
            waiter.set()

    def _emit_volume(self, name: str, action: str, driver: str = "local") -> None:
        now = time.time_ns()
        self._events.append(
            {
                "Type": "volume",
                "Action": action,
                "Actor": {"ID": name, "Attributes": {"driver": driver}},
                "scope": "local",
                "time": now // 1_000_000_000,
                "timeNano": now,
            }
        )
        for waiter in self._event_waiters:
            waiter.set()

    def _volume_users(self, name: str) -> list[str]:
        """Ids of the containers (running or not) that mount volume ``name``."""
        return [
            c.id
            for c in self.containers.values()
            if name in _mounted_volumes(c.config, c.host_config)
        ]

    def _set_stopped(self, c: FakeContainer, exit_code: int) -> None:
        if not c.running:
            return
        c.status = "exited"
        c.exit_code = exit_code
        c.finished_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        c.ports = {}
        c.notify()
        self._emit(c, "die")
        if c.host_config.get("AutoRemove"):
            del self.containers[c.id]
            self._emit(c, "destroy")

    # -- routes ---------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request[PATH_KEY]
        method = request.method
        routes: list[tuple[str, str, Callable[..., Awaitable[web.StreamResponse]]]] = [
            ("GET", r"^/(_ping)$", self._ping),
            ("GET", r"^/(version)$", self._version),
            ("GET", r"^/(info)$", self._info),
            ("POST", r"^/containers/(create)$", self._create),
            ("GET", r"^/containers/(json)$", self._list),
            ("GET", r"^/containers/([^/]+)/json$", self._inspect),
            ("POST", r"^/containers/([^/]+)/start$", self._start),
            ("POST", r"^/containers/([^/]+)/stop$", self._stop),
            ("POST", r"^/containers/([^/]+)/kill$", self._kill),
            ("DELETE", r"^/containers/([^/]+)$", self._delete),
            ("POST", r"^/containers/([^/]+)/attach$", self._attach),
            ("GET", r"^/containers/([^/]+)/logs$", self._logs),
            ("POST", r"^/containers/([^/]+)/exec$", self._exec_create),
            ("POST", r"^/exec/([^/]+)/start$", self._exec_start),
            ("GET", r"^/exec/([^/]+)/json$", self._exec_inspect),
            ("GET", r"^/images/(.+)/json$", self._image_inspect),
            ("POST", r"^/images/(create)$", self._pull),
            ("GET", r"^/(events)$", self._events_stream),
            ("POST", r"^/volumes/(create)$", self._volume_create),
            ("GET", r"^/(volumes)$", self._volume_list),
            ("GET", r"^/volumes/([^/]+)$", self._volume_inspect),
            ("DELETE", r"^/volumes/([^/]+)$", self._volume_delete),
        ]
        for route_method, rx, handler in routes:
            m = re.match(rx, path)
            if m and method == route_method:
                return await handler(request, m.group(1))
        return _error(404, f"page not found: {method} {path}")

    async def _ping(self, request: web.Request, _: str) -> web.StreamResponse:
        return web.Response(text="OK")

    async def _version(self, request: web.Request, _: str) -> web.StreamResponse:
        return _json({"ApiVersion": API_VERSION, "Version": "fake", "MinAPIVersion": "1.12"})

    async def _info(self, request: web.Request, _: str) -> web.StreamResponse:
        running = sum(1 for c in self.containers.values() if c.running)
        return _json(
            {
                "Containers": len(self.containers),
                "ContainersRunning": running,
                "MemTotal": self.mem_total,
                "ServerVersion": "fake",
                "Swarm": {"LocalNodeState": "inactive"},
            }
        )

    async def _create(self, request: web.Request, _: str) -> web.StreamResponse:
        name = request.query.get("name") or secrets.token_hex(6)
        body = await request.json()
        image = body.get("Image", "")
        if image not in self.images:
            return _error(404, f"No such image: {image}")
        if self._find(name) is not None:
            return _error(409, f'Conflict. The container name "/{name}" is already in use')
        host_config = dict(body.pop("HostConfig", None) or {})
        config = dict(body)
        if "Cmd" not in config:
            config["Cmd"] = list(self.images[image].cmd)
        for volume in _mounted_volumes(config, host_config):
            # dockerd creates a missing named volume for the container, without labels
            if volume not in self.volumes:
                refused = _volume_name_error(volume)
                if refused is not None:
                    return refused
                self.add_volume(volume)
                self._emit_volume(volume, "create")
        c = FakeContainer(
            id=secrets.token_hex(32), name=name, config=config, host_config=host_config
        )
        self.containers[c.id] = c
        self._emit(c, "create")
        return _json({"Id": c.id, "Warnings": []}, 201)

    async def _list(self, request: web.Request, _: str) -> web.StreamResponse:
        filters = json.loads(request.query.get("filters", "{}") or "{}")
        labels = filters.get("label", [])
        show_all = request.query.get("all") in ("1", "true", "True")
        out = []
        for c in self.containers.values():
            if not show_all and not c.running:
                continue
            if not all(_label_matches(c.config.get("Labels") or {}, f) for f in labels):
                continue
            out.append(
                {
                    "Id": c.id,
                    "Names": ["/" + c.name],
                    "Image": c.config.get("Image", ""),
                    "State": c.status,
                    "Status": _status_text(c),
                    "Labels": c.config.get("Labels") or {},
                }
            )
        return _json(out)

    async def _inspect(self, request: web.Request, ident: str) -> web.StreamResponse:
        c = self._find(ident)
        if c is None:
            return _error(404, f"No such container: {ident}")
        return _json(c.inspect())

    async def _start(self, request: web.Request, ident: str) -> web.StreamResponse:
        c = self._find(ident)
        if c is None:
            return _error(404, f"No such container: {ident}")
        if c.running:
            return web.Response(status=304)
        c.status = "running"
        c.started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        c.ip = f"172.30.0.{next(self._ips) % 250 + 2}"
        ports: dict[str, list[dict[str, str]]] = {}
        for port, bindings in (c.host_config.get("PortBindings") or {}).items():
            ports[port] = [
                {"HostIp": b.get("HostIp") or "0.0.0.0", "HostPort": str(next(self._ports))}
                for b in bindings
            ]
        c.ports = ports
        self._emit(c, "start")
        return web.Response(status=204)

    async def _stop(self, request: web.Request, ident: str) -> web.StreamResponse:
        c = self._find(ident)
        if c is None:
            return _error(404, f"No such container: {ident}")
        if not c.running:
            return web.Response(status=304)
        self._set_stopped(c, 143)
        return web.Response(status=204)

    async def _kill(self, request: web.Request, ident: str) -> web.StreamResponse:
        c = self._find(ident)
        if c is None:
            return _error(404, f"No such container: {ident}")
        if not c.running:
            return _error(409, f"Container {ident} is not running")
        self._set_stopped(c, 137)
        return web.Response(status=204)

    async def _delete(self, request: web.Request, ident: str) -> web.StreamResponse:
        c = self._find(ident)
        if c is None:
            return _error(404, f"No such container: {ident}")
        if c.running and request.query.get("force") not in ("1", "true", "True"):
            return _error(409, "You cannot remove a running container. Stop it first")
        if c.running:
            self._set_stopped(c, 137)
        if c.id in self.containers:
            del self.containers[c.id]
            self._emit(c, "destroy")
        return web.Response(status=204)

    async def _attach(self, request: web.Request, ident: str) -> web.StreamResponse:
        """The container's output from now on (``logs=1``: from the start), until it stops."""
        c = self._find(ident)
        if c is None:
            return _error(404, f"No such container: {ident}")
        resp = web.StreamResponse(headers={"Content-Type": "application/vnd.docker.raw-stream"})
        await resp.prepare(request)
        position = 0 if request.query.get("logs") in ("1", "true") else len(c.output)
        while not self._stopping:
            changed = c.changed
            while position < len(c.output):
                stream, data = c.output[position]
                position += 1
                try:
                    await resp.write(struct.pack(">BxxxL", stream, len(data)) + data)
                except ConnectionResetError:
                    return resp
            if c.status in ("exited", "dead") or c.id not in self.containers:
                break
            await changed.wait()
        await resp.write_eof()
        return resp

    async def _logs(self, request: web.Request, ident: str) -> web.StreamResponse:
        c = self._find(ident)
        if c is None:
            return _error(404, f"No such container: {ident}")
        wanted = {1} if request.query.get("stdout") in ("1", "true") else set()
        if request.query.get("stderr") in ("1", "true"):
            wanted.add(2)
        lines = [
            (stream, line + b"\n")
            for stream, data in c.output
            if stream in wanted
            for line in data.rstrip(b"\n").split(b"\n")
        ]
        tail = request.query.get("tail", "all")
        if tail.isdigit():
            lines = lines[-int(tail) :] if int(tail) else []
        body = b"".join(struct.pack(">BxxxL", s, len(d)) + d for s, d in lines)
        return web.Response(body=body, content_type="application/vnd.docker.raw-stream")

    async def _exec_create(self, request: web.Request, ident: str) -> web.StreamResponse:
        c = self._find(ident)
        if c is None:
            return _error(404, f"No such container: {ident}")
        if not c.running:
            return _error(409, f"Container {ident} is not running")
        body = await request.json()
        cmd = body.get("Cmd") or []
        exec_id = secrets.token_hex(16)
        self._execs[exec_id] = (c.id, list(cmd), {"Running": False, "ExitCode": None})
        return _json({"Id": exec_id}, 201)

    async def _exec_start(self, request: web.Request, exec_id: str) -> web.StreamResponse:
        if exec_id not in self._execs:
            return _error(404, f"No such exec instance: {exec_id}")
        _, cmd, info = self._execs[exec_id]
        code, out, err = self.exec_handler(cmd)
        info["ExitCode"] = code
        resp = web.StreamResponse(
            status=101,
            headers={
                "Content-Type": "application/vnd.docker.raw-stream",
                "Connection": "Upgrade",
                "Upgrade": "tcp",
            },
        )
        await resp.prepare(request)
        frames = b""
        for stream, data in ((1, out), (2, err)):
            if data:
                frames += struct.pack(">BxxxL", stream, len(data)) + data
        transport = request.transport
        if transport is not None:
            transport.write(frames)
            transport.close()
        return resp

    async def _exec_inspect(self, request: web.Request, exec_id: str) -> web.StreamResponse:
        if exec_id not in self._execs:
            return _error(404, f"No such exec instance: {exec_id}")
        cid, cmd, info = self._execs[exec_id]
        return _json(
            {
                "ID": exec_id,
                "ContainerID": cid,
                "Running": False,
                "ExitCode": info["ExitCode"],
                "ProcessConfig": {"tty": False, "entrypoint": cmd[:1], "arguments": cmd[1:]},
            }
        )

    async def _image_inspect(self, request: web.Request, name: str) -> web.StreamResponse:
        image = self.images.get(name)
        if image is None:
            return _error(404, f"No such image: {name}")
        return _json({"Id": image.id, "RepoTags": [name], "Config": {"Cmd": image.cmd}})

    async def _pull(self, request: web.Request, _: str) -> web.StreamResponse:
        ref = request.query.get("fromImage", "")
        tag = request.query.get("tag")
        if tag and not ref.endswith(f":{tag}") and "@" not in ref:
            ref = f"{ref}:{tag}"
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        image = self.registry.get(ref)
        fault = request[FAULT_KEY]
        lines: list[dict[str, Any]] = []
        if image is None:
            lines.append(
                {
                    "errorDetail": {"message": f"manifest for {ref} not found"},
                    "error": f"manifest for {ref} not found: manifest unknown",
                }
            )
        else:
            lines.append({"status": f"Pulling from {ref}", "id": ref.rsplit(":", 1)[-1]})
            for layer, size in image.layers.items():
                for current in (size // 4, size // 2, size):
                    lines.append(
                        {
                            "status": "Downloading",
                            "id": layer,
                            "progressDetail": {"current": current, "total": size},
                        }
                    )
                lines.append({"status": "Pull complete", "id": layer})
            lines.append({"status": f"Status: Downloaded newer image for {ref}"})
        for i, line in enumerate(lines):
            if fault is not None and fault.drop_after is not None and i >= fault.drop_after:
                if request.transport is not None:
                    request.transport.close()
                return resp
            await resp.write(json.dumps(line).encode() + b"\r\n")
            if self.pull_step_delay:
                await asyncio.sleep(self.pull_step_delay)
        if image is not None:
            self.images[ref] = FakeImage(
                name=ref, cmd=list(image.cmd), layers=dict(image.layers), id=image.id
            )
        await resp.write_eof()
        return resp

    async def _volume_create(self, request: web.Request, _: str) -> web.StreamResponse:
        body = await request.json() if request.can_read_body else {}
        name = str(body.get("Name") or secrets.token_hex(32))
        driver = str(body.get("Driver") or "local")
        existing = self.volumes.get(name)
        if existing is not None:
            # dockerd answers with the volume as it is: labels and options unchanged
            return _json(existing.inspect(), 201)
        if driver != "local":
            return _error(
                404,
                f"create {name}: error looking up volume plugin {driver}: "
                f'plugin "{driver}" not found',
            )
        refused = _volume_name_error(name)
        if refused is not None:
            return refused
        volume = self.add_volume(
            name,
            labels={str(k): str(v) for k, v in (body.get("Labels") or {}).items()},
            options={str(k): str(v) for k, v in (body.get("DriverOpts") or {}).items()},
        )
        self._emit_volume(name, "create")
        return _json(volume.inspect(), 201)

    async def _volume_list(self, request: web.Request, _: str) -> web.StreamResponse:
        filters = json.loads(request.query.get("filters", "{}") or "{}")
        unknown = set(filters) - {"label", "name", "dangling", "driver"}
        if unknown:
            return _error(400, f"Invalid filter '{sorted(unknown)[0]}'")
        out = []
        for volume in self.volumes.values():
            if not all(_label_matches(volume.labels, f) for f in filters.get("label", [])):
                continue
            if any(part not in volume.name for part in filters.get("name", [])):
                continue
            if any(driver != volume.driver for driver in filters.get("driver", [])):
                continue
            for dangling in filters.get("dangling", []):
                if (dangling in ("true", "1")) == bool(self._volume_users(volume.name)):
                    break
            else:
                out.append(volume.inspect())
        return _json({"Volumes": out, "Warnings": None})

    async def _volume_inspect(self, request: web.Request, name: str) -> web.StreamResponse:
        volume = self.volumes.get(name)
        if volume is None:
            return _error(404, f"get {name}: no such volume")
        return _json(volume.inspect())

    async def _volume_delete(self, request: web.Request, name: str) -> web.StreamResponse:
        volume = self.volumes.get(name)
        if volume is None:
            # ``force`` only makes a missing volume no error (not one in use)
            if request.query.get("force") in ("1", "true", "True"):
                return web.Response(status=204)
            return _error(404, f"get {name}: no such volume")
        users = self._volume_users(name)
        if users:
            return _error(409, f"remove {name}: volume is in use - [{', '.join(users)}]")
        del self.volumes[name]
        self._emit_volume(name, "destroy", volume.driver)
        return web.Response(status=204)

    async def _events_stream(self, request: web.Request, _: str) -> web.StreamResponse:
        filters = json.loads(request.query.get("filters", "{}") or "{}")
        since = request.query.get("since")
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        fault = request[FAULT_KEY]
        start = 0
        if since:
            # like dockerd: every buffered event from that instant on, inclusive
            threshold = _nanoseconds(since)
            start = next(
                (i for i, e in enumerate(self._events) if e["timeNano"] >= threshold),
                len(self._events),
            )
        else:
            start = len(self._events)
        sent = 0
        waiter = asyncio.Event()
        self._event_waiters.append(waiter)
        try:
            while not self._stopping:
                while start < len(self._events):
                    event = self._events[start]
                    start += 1
                    if not _event_matches(event, filters):
                        continue
                    if fault is not None and fault.drop_after is not None:
                        if sent >= fault.drop_after:
                            if request.transport is not None:
                                request.transport.close()
                            return resp
                    try:
                        await resp.write(json.dumps(event).encode() + b"\n")
                    except ConnectionResetError:
                        return resp  # the client closed the stream
                    sent += 1
                waiter.clear()
                await waiter.wait()
        finally:
            self._event_waiters.remove(waiter)
        return resp


def _nanoseconds(timestamp: str) -> int:
    """``seconds[.fraction]`` (the events ``since`` format) in nanoseconds, exactly."""
    seconds, _, fraction = timestamp.partition(".")
    return int(seconds) * 1_000_000_000 + int((fraction + "0" * 9)[:9])


def _status_text(c: FakeContainer) -> str:
    """The human ``Status`` column of ``docker ps``, which carries the exit code."""
    if c.running:
        return "Up 1 second"
    if c.status == "exited":
        return f"Exited ({c.exit_code}) 1 second ago"
    return c.status.capitalize()


def _label_matches(labels: Mapping[str, str], selector: str) -> bool:
    key, eq, value = selector.partition("=")
    if key not in labels:
        return False
    return not eq or labels[key] == value


def _event_matches(event: Mapping[str, Any], filters: Mapping[str, list[str]]) -> bool:
    types = filters.get("type")
    if types and event.get("Type") not in types:
        return False
    attributes = (event.get("Actor") or {}).get("Attributes") or {}
    return all(_label_matches(attributes, f) for f in filters.get("label", []))
