"""What a failed Docker request means for the user, and what the admin can do (pure).

Docker's error texts are precise but written for Docker experts (``driver
failed programming external connectivity on endpoint ...``). :func:`explain`
recognises the common failures of a start by their text and says, in one
line, what went wrong for the user and, for the Hub log, where an admin
looks. Docker's own text is kept after it: it names the port, path or
network at fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Explained", "explain"]


@dataclass(frozen=True)
class Explained:
    """A recognised failure."""

    #: a short label (``image_not_found``, ``port_taken``, ...), for metrics and tests
    kind: str
    #: what went wrong, for the user (no trailing period)
    user: str
    #: where an admin looks, for the Hub log
    admin: str


def _first(pattern: str, text: str) -> str:
    match = re.search(pattern, text, re.IGNORECASE)
    return match.group(1).strip("'\"") if match else ""


def explain(message: str, *, image: str, operation: str = "") -> Explained | None:
    """The meaning of Docker's ``message`` (a failed request of a start), if known.

    ``image`` is the image the start uses; ``operation`` the request that
    failed (``pull image``, ``create container``, ...).
    """
    text = message.lower()
    pulling = operation.startswith("pull") or "manifest" in text or "registry" in text
    if "no space left on device" in text:
        return Explained(
            "no_space",
            "the Docker host has run out of disk space",
            "free disk space where Docker keeps its data (unused images and stopped "
            "containers: docker system prune) or give it a larger disk",
        )
    if "pull access denied" in text:
        # Docker Hub answers this for a repository that does not exist and for a private one
        return Explained(
            "image_not_found",
            f"the image {image} does not exist, or its registry wants credentials",
            "check the image name in image/allowed_images; for a private repository "
            "set registry_credentials",
        )
    if "no basic auth credentials" in text:
        return Explained(
            "registry_auth",
            f"the registry of image {image} asks for credentials, and none were given",
            "set registry_credentials for this image's registry",
        )
    if any(
        s in text
        for s in (
            "unauthorized",
            "authentication required",
            "incorrect username or password",
            "requested access to the resource is denied",
        )
    ):
        return Explained(
            "registry_auth",
            f"the registry refused the credentials for image {image}",
            "check registry_credentials for this image's registry (user, password or "
            "token, and that they may pull this repository)",
        )
    if any(
        s in text
        for s in (
            "manifest unknown",
            "not found: manifest",
            "no such image",
            "name unknown",
            "repository does not exist",
        )
    ) or re.search(r"manifest for \S+ not found", text):
        return Explained(
            "image_not_found",
            f"the image {image} was not found",
            "check the image name and tag in image/allowed_images, and that it was pushed",
        )
    if pulling and any(
        s in text
        for s in (
            "no such host",
            "connection refused",
            "i/o timeout",
            "tls:",
            "x509",
            "http response to https client",
            "dial tcp",
        )
    ):
        return Explained(
            "registry_unreachable",
            f"the registry of image {image} could not be reached",
            "check the Docker host's network, DNS and proxy settings, and the registry's "
            "address (a plain-HTTP registry must be in dockerd's insecure-registries)",
        )
    if "port is already allocated" in text or "address already in use" in text:
        port = _first(r"(\d+\.\d+\.\d+\.\d+:\d+|\[[0-9a-f:]+\]:\d+)", message)
        where = f" ({port})" if port else ""
        return Explained(
            "port_taken",
            f"the port your server would publish on the Docker host{where} is already taken",
            "another container or process holds it: check port, host_ip and any "
            "port_bindings in extra_host_config",
        )
    network = _first(r"network (\S+) not found", message)
    if network:
        return Explained(
            "network_not_found",
            f"the Docker network {network} does not exist",
            f"create it (docker network create {network}) or fix network_name",
        )
    if "error looking up volume plugin" in text or re.search(r'plugin "[^"]*" not found', text):
        driver = _first(r'plugin "([^"]*)" not found', message) or _first(
            r"volume plugin (\S+?):", message
        )
        return Explained(
            "volume_driver_missing",
            f"the volume driver {driver or '(unknown)'} is not installed on the Docker host",
            "install the volume plugin on every Docker host, or fix volume_driver, "
            "mounts or extra_host_config",
        )
    if any(
        s in text
        for s in (
            "invalid mount config",
            "invalid volume specification",
            "bind source path does not exist",
            "mount path must be absolute",
            "invalid mount",
        )
    ):
        return Explained(
            "invalid_mount",
            "a volume or mount of your server is misconfigured",
            "check volumes, read_only_volumes and mounts (host paths must exist on the "
            "Docker host, container paths must be absolute)",
        )
    return None
