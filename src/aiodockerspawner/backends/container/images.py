"""Image availability: pull policy and streamed pulls."""

from __future__ import annotations

import logging
from typing import Any

import aiodocker

from aiodockerspawner.backends.docker.client import docker_errors
from aiodockerspawner.backends.docker.pulls import PullOptions, pull
from aiodockerspawner.errors import DockerOperationError

log = logging.getLogger(__name__)


async def inspect_image(docker: aiodocker.Docker, image: str) -> dict[str, Any] | None:
    """The image's inspect document, or ``None`` when it is not present locally."""
    try:
        async with docker_errors("inspect image", image):
            result: dict[str, Any] = await docker.images.inspect(image)
            return result
    except DockerOperationError as e:
        if e.status == 404:
            return None
        raise


async def pull_image(
    docker: aiodocker.Docker, image: str, *, options: PullOptions | None = None
) -> None:
    """Pull ``image`` (sharing a pull already in flight), consuming its stream.

    A failure the registry reports in the stream (missing image, denied) is
    raised as :class:`~aiodockerspawner.errors.ImageNotAvailable` carrying
    the registry's message; see :mod:`aiodockerspawner.backends.docker.pulls`.
    """
    await pull(docker, image, options)
