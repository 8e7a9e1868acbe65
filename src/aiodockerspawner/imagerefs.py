"""Image references: registry, repository and tag, spelled one way."""

from __future__ import annotations

DOCKER_HUB = "docker.io"
#: the server address Docker expects in credentials for Docker Hub
DOCKER_HUB_AUTH_SERVER = "https://index.docker.io/v1/"


def split_image(image: str) -> tuple[str, str, str]:
    """``(registry, repository, tag-or-digest)`` of an image reference.

    The registry is the first path component when it looks like a host
    (contains ``.`` or ``:``, or is ``localhost``), else Docker Hub.
    """
    first, slash, rest = image.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, remainder = first, rest
    else:
        registry, remainder = DOCKER_HUB, image
    if "@" in remainder:
        repository, _, digest = remainder.partition("@")
        return registry, repository, "@" + digest
    last = remainder.rsplit("/", 1)[-1]
    if ":" in last:
        repository, _, tag = remainder.rpartition(":")
        return registry, repository, tag
    return registry, remainder, ""


def normalize_image(image: str) -> str:
    """One spelling per image reference: Podman reports ``docker.io/library/x:latest``
    or ``localhost/x:latest`` for what was configured as ``x``."""
    registry, repository, tag = split_image(image)
    if registry in (DOCKER_HUB, "localhost", "index.docker.io"):
        registry = ""
        repository = repository.removeprefix("library/")
    if not tag:
        tag = "latest"
    separator = "" if tag.startswith("@") else ":"
    return f"{registry + '/' if registry else ''}{repository}{separator}{tag}"


def image_reference(image: str) -> tuple[str, str]:
    """Split an image reference into (repository, tag or digest) for a pull.

    ``"jupyter/base-notebook:2024"`` → ``("jupyter/base-notebook", "2024")``;
    ``"registry:5000/foo"`` → ``("registry:5000/foo", "latest")`` (a colon
    before the last ``/`` is a registry port, as in dockerspawner);
    ``"foo@sha256:abc"`` → ``("foo", "sha256:abc")`` (a digest pins the image and
    a tag in front of it is dropped, like the docker CLI does).
    """
    if "@" in image:
        repo, digest = image.split("@", 1)
        if ":" in repo.rsplit("/", 1)[-1]:
            repo = repo.rsplit(":", 1)[0]
        return repo, digest
    if ":" in image.rsplit("/", 1)[-1]:
        repo, tag = image.rsplit(":", 1)
        return repo, tag
    return image, "latest"
