"""The neutral data that flows between the spawner core and a Docker backend.

The core resolves traits and user options into an :class:`ObjectSpec`; a
backend turns it into Engine JSON of its own and reports back
:class:`ObservedObject` values. Nothing here does I/O or knows Engine JSON,
and nothing here imports another module of the package.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

PullPolicy = Literal["ifnotpresent", "always", "never", "skip"]


@dataclass(frozen=True)
class VolumeBind:
    """One ``volumes``/``read_only_volumes`` entry after templating.

    ``source`` is a host path (contains ``/``) or a named volume.
    """

    source: str
    target: str
    mode: str = "rw"
    propagation: str | None = None

    def to_bind_string(self) -> str:
        """The ``HostConfig.Binds`` form: ``source:target:mode[,propagation]``."""
        opts = self.mode
        if self.propagation:
            opts = f"{opts},{self.propagation}"
        return f"{self.source}:{self.target}:{opts}"


@dataclass(frozen=True)
class GpuRequest:
    """GPUs for one server, resolved from the ``gpus`` setting.

    ``count`` is the number of devices (``-1``: all of them) when no
    ``device_ids`` are named. ``mode`` says how a container gets them:
    ``device-requests`` (``HostConfig.DeviceRequests``, like ``docker run
    --gpus``) or ``environment`` (only ``NVIDIA_VISIBLE_DEVICES``, for hosts
    whose default runtime is NVIDIA's). A swarm service reserves ``count``
    generic resources of ``resource_kind``.
    """

    count: int = 0
    device_ids: tuple[str, ...] = ()
    driver: str = "nvidia"
    capabilities: tuple[str, ...] = ("gpu",)
    mode: str = "device-requests"
    resource_kind: str = "NVIDIA-GPU"


@dataclass
class ObjectSpec:
    """Everything a backend needs to create one server object.

    Values are final: templates are rendered, callables evaluated, byte sizes
    parsed. ``extra_create`` and ``extra_host_config`` may still use
    dockerspawner's docker-py snake_case vocabulary; the backend's spec
    builders translate them.
    """

    name: str
    image: str
    env: dict[str, str]
    #: full command; ``None`` means the image's own CMD (plus ``args``)
    command: list[str] | None
    args: list[str]
    port: int
    labels: dict[str, str]
    #: the network the object joins (``bridge``, ``host``, ``none`` or a user network)
    network: str = "bridge"
    #: host interface to publish ``port`` on; ``None`` publishes nothing
    host_ip: str | None = "127.0.0.1"
    binds: list[VolumeBind] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)
    mem_limit: int | None = None
    mem_guarantee: int | None = None
    cpu_limit: float | None = None
    cpu_guarantee: float | None = None
    #: remove the object when it stops (``HostConfig.AutoRemove``)
    auto_remove: bool = False
    working_dir: str | None = None
    user: str | None = None
    extra_create: dict[str, Any] = field(default_factory=dict)
    extra_host_config: dict[str, Any] = field(default_factory=dict)
    #: GPUs; ``None``: none
    gpus: GpuRequest | None = None


@dataclass(frozen=True)
class ObjectStatus:
    """The observed run state of an object."""

    running: bool
    #: Docker's status word: created, running, exited, paused, restarting, dead, removing
    status: str = ""
    exit_code: int | None = None
    error: str = ""
    finished_at: str = ""

    def describe(self) -> str:
        """A one-line human description, for logs and poll results."""
        if self.running:
            return f"{self.status or 'running'}"
        parts = [f"ExitCode={self.exit_code}"]
        if self.error:
            parts.append(f"Error={self.error!r}")
        if self.finished_at:
            parts.append(f"FinishedAt={self.finished_at}")
        return ", ".join(parts)


@dataclass(frozen=True)
class ObservedObject:
    """What a backend saw of an object when it last inspected it."""

    id: str
    name: str
    image: str
    status: ObjectStatus
    env: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    #: the Engine's inspect document, for hooks and debugging only
    raw: Mapping[str, Any] = field(default_factory=dict)
    #: what runs the object now when that is not the object itself (a swarm
    #: service's current task id); empty for containers
    instance_id: str = ""

    def __getitem__(self, key: str) -> Any:
        """``obj["Id"]`` (``"ID"``), else the inspect document's key.

        dockerspawner's ``create_object()`` returned docker-py's ``{"Id": ...}``;
        subclasses that wrap it read the id so.
        """
        if key in ("Id", "ID"):
            return self.id
        return self.raw[key]


@dataclass(frozen=True)
class Address:
    """Where the Hub and proxy reach the single-user server."""

    host: str
    port: int

    def url(self, scheme: str = "http") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"


@dataclass(frozen=True)
class AddressPolicy:
    """How to find the address of a started object."""

    #: connect to the object's IP on ``network`` instead of a published port
    use_internal_ip: bool = False
    #: connect to the object's name (needs Docker DNS on a user network)
    use_internal_hostname: bool = False
    network: str = "bridge"
    port: int = 8888
    #: host interface the port is published on; ``0.0.0.0`` means the Docker host
    host_ip: str = "127.0.0.1"


@dataclass(frozen=True)
class ExecResult:
    exit_code: int | None
    stdout: str
    stderr: str


@dataclass
class ServiceObjectSpec(ObjectSpec):
    """An :class:`ObjectSpec` plus what only a swarm service has.

    The ``extra_*`` dicts are evaluated and templated but may still use
    docker-py's snake_case keywords; :func:`service_create_body` translates
    them. ``extra_create`` (inherited) holds ``create_service`` keywords here.
    """

    extra_container_spec: dict[str, Any] = field(default_factory=dict)
    extra_resources_spec: dict[str, Any] = field(default_factory=dict)
    extra_placement_spec: dict[str, Any] = field(default_factory=dict)
    extra_task_spec: dict[str, Any] = field(default_factory=dict)
    extra_endpoint_spec: dict[str, Any] = field(default_factory=dict)
    #: volume driver of named-volume mounts (``type=volume``); empty: the default driver
    volume_driver: str = ""
    volume_driver_options: dict[str, str] = field(default_factory=dict)
    #: seconds swarm waits between SIGTERM and SIGKILL when it stops the task
    stop_grace_period: float | None = None
    #: ``ingress`` (the routing mesh) or ``host`` (the port of the node running the task)
    publish_mode: str = "ingress"
    #: files to put into the task's container, read-only (absolute path -> content):
    #: the internal SSL key, certificate and CA, sent as swarm secrets
    secret_files: dict[str, bytes] = field(default_factory=dict)


def binds_as_dockerspawner_dict(binds: Iterable[VolumeBind]) -> dict[str, dict[str, str]]:
    """dockerspawner's ``volume_binds`` shape: ``{host: {"bind", "mode"[, "propagation"]}}``.

    Later entries win for a repeated host key, as in dockerspawner.
    """
    result: dict[str, dict[str, str]] = {}
    for b in binds:
        entry = {"bind": b.target, "mode": b.mode}
        if b.propagation:
            entry["propagation"] = b.propagation
        result[b.source] = entry
    return result


@dataclass(frozen=True)
class KnownServers:
    """What the Hub's database knows about."""

    users: frozenset[str] = frozenset()
    #: (user name, server name) of every spawner row
    servers: frozenset[tuple[str, str]] = frozenset()
    #: object ids and names found in spawners' states
    objects: frozenset[str] = frozenset()
