"""Image availability: pull policy and streamed pulls."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import aiodocker

from .client import docker_errors
from .errors import DockerOperationError, ImageNotAvailable

log = logging.getLogger(__name__)

PullProgress = Callable[[dict[str, Any]], None]


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
    docker: aiodocker.Docker, image: str, *, on_progress: PullProgress | None = None
) -> None:
    """Pull ``image``, consuming the progress stream to its end.

    A failure the registry reports in the stream (missing image, denied) is
    raised as :class:`ImageNotAvailable` carrying the registry's message.
    """
    log.info("Pulling image %s", image)
    async with docker_errors("pull image", image, error_class=ImageNotAvailable):
        async for event in docker.images.pull(image, stream=True):
            if on_progress is not None:
                on_progress(event)
    log.info("Pulled image %s", image)
