"""The contract between the spawner core and a Docker backend.

The core resolves traits and user options into an :class:`ObjectSpec`; a backend
turns that spec into Engine API calls and reports back :class:`ObservedObject`
values. Nothing in this module does I/O or knows Engine JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

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


@runtime_checkable
class ObjectBackend(Protocol):
    """The Docker operations the spawner core needs, one object per server.

    Implementations raise :class:`aiodockerspawner.errors.DockerOperationError`
    for Docker failures; "not found" is reported as ``None`` by :meth:`inspect`
    and is success for :meth:`stop` and :meth:`remove`.
    """

    #: ``"container"`` or ``"service"``; used in log and error messages
    object_type: str

    async def inspect(self, name_or_id: str) -> ObservedObject | None:
        """The object's current state, or ``None`` when it does not exist."""
        ...

    async def ensure_image(self, image: str, policy: PullPolicy) -> None:
        """Make ``image`` available according to ``policy`` (pull or check)."""
        ...

    async def create(self, spec: ObjectSpec, policy: PullPolicy) -> ObservedObject:
        """Create the object (pulling its image when ``policy`` allows).

        Raises :class:`aiodockerspawner.errors.ObjectExists` when an object
        with ``spec.name`` already exists.
        """
        ...

    async def start(self, obj: ObservedObject) -> ObservedObject:
        """Start a created or stopped object and return its state after start."""
        ...

    async def address(self, obj: ObservedObject, policy: AddressPolicy) -> Address:
        """Where a started object's server listens."""
        ...

    async def stop(self, name_or_id: str, grace: float) -> None:
        """Stop gracefully, killing after ``grace`` seconds. Gone is success."""
        ...

    async def remove(self, name_or_id: str) -> None:
        """Remove the object (and its anonymous volumes). Gone is success."""
        ...

    async def exec(self, name_or_id: str, cmd: str | list[str]) -> ExecResult:
        """Run a command inside a running object and collect its output."""
        ...
