"""Exceptions the backends raise, independent of aiodocker's error types."""

from __future__ import annotations


class DockerOperationError(Exception):
    """A Docker request failed.

    ``status`` is the Engine's HTTP status (0 for in-band stream errors, 900 for
    a daemon that cannot be reached). ``reason`` is a one-line text suitable for
    the user; the full text goes to the admin log.
    """

    def __init__(self, operation: str, target: str, status: int, message: str) -> None:
        self.operation = operation
        self.target = target
        self.status = status
        self.message = message
        self._reason: str | None = None
        super().__init__(f"{operation} {target}: [{status}] {message}")

    @property
    def reason(self) -> str:
        if self._reason is not None:
            return self._reason
        first = self.message.strip().splitlines()[0] if self.message.strip() else ""
        return f"{self.operation} {self.target} failed: {first or f'HTTP {self.status}'}"

    @reason.setter
    def reason(self, value: str) -> None:
        # JupyterHub labels a failed spawn by setting ``reason`` on its exception
        # (``e.reason = "error"``); a read-only property turned that into an HTTP 500
        self._reason = value


class DockerUnavailable(DockerOperationError):
    """The daemon could not be reached or did not answer in time."""

    @property
    def reason(self) -> str:
        if self._reason is not None:
            return self._reason
        # aiohttp's texts ("Server disconnected", "Cannot connect to unix socket
        # ...") do not say that the daemon is the one at fault: say it first
        return f"Docker is not answering ({super().reason})"

    @reason.setter
    def reason(self, value: str) -> None:
        self._reason = value


class DockerTLSRefused(DockerUnavailable):
    """The TLS handshake with the daemon failed, or TLS was expected and not spoken.

    Retrying cannot help, and "not answering" would send the admin looking in
    the wrong place: ``problem`` says which side refused what, ``hint`` which
    setting to look at.
    """

    def __init__(
        self, operation: str, target: str, message: str, *, problem: str, hint: str
    ) -> None:
        super().__init__(operation, target, 900, message)
        self.problem = problem
        self.hint = hint

    @property
    def reason(self) -> str:
        if self._reason is not None:
            return self._reason
        failed = f"{self.operation} {self.target} failed: {self.message}"
        return f"{self.problem} ({failed}); {self.hint}"

    @reason.setter
    def reason(self, value: str) -> None:
        self._reason = value


class StartTimedOut(DockerOperationError):
    """A start gave up just before JupyterHub's ``start_timeout``.

    Its ``reason`` says what the start was still waiting for (a Docker request
    that was never answered, or a phase such as an image pull), which a bare
    timeout would not tell the user.
    """


class ObjectExists(DockerOperationError):
    """An object with the requested name already exists (HTTP 409 on create)."""


class ImageNotAvailable(DockerOperationError):
    """The image is missing and the pull policy forbids or failed to pull it."""


class InvalidSpec(ValueError):
    """Configuration could not be turned into a valid Engine request.

    The message names the trait (or key) at fault.
    """


class ObjectExited(DockerOperationError):
    """The server's object stopped during the start (its process exited, its task failed)."""
