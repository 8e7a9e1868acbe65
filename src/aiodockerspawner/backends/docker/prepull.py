"""Pre-pulling images: when the Hub starts and then periodically, in the background.

One :class:`Prepuller` per (event loop, endpoint, hub id) pulls the
configured images, at most ``concurrency`` at a time, then again every
``interval`` seconds (a tag such as ``:latest`` may have moved). It runs in
a task of its own, created in an empty context: it never delays the Hub's
start or its API, whose requests only share the event loop with a pull
stream being read.

A local pull goes through :func:`aiodockerspawner.backends.docker.pulls.pull`,
so a spawn that needs an image being pre-pulled joins that very pull (one
``POST /images/create``) and shows its percentage. Its progress goes to the
Hub log every ``log_interval`` seconds. How one image is pulled is a
strategy (``pull_one``): on Swarm every node has to pull, which
:mod:`aiodockerspawner.backends.service.prepull` does with a one-shot
global job.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiodockerspawner import progress
from aiodockerspawner.backends.docker.client import Endpoint, shared_client
from aiodockerspawner.backends.docker.periodic import Periodic
from aiodockerspawner.backends.docker.pulls import PullOptions, pull
from aiodockerspawner.errors import DockerOperationError
from aiodockerspawner.progress import format_duration

log = logging.getLogger(__name__)

#: seconds between two progress lines of one pre-pull in the Hub log
LOG_INTERVAL = 10.0

ImagesLookup = Callable[[], Awaitable[list[str]]]
PullOne = Callable[[str], Awaitable[None]]


class _LogProgress(progress.SpawnProgress):
    """Pull progress written to the Hub log instead of a spawn page (at most every few s)."""

    def __init__(self, image: str, interval: float) -> None:
        super().__init__()
        self.image = image
        self.interval = interval
        self._logged = -interval

    def report(self, phase: str, message: str, fraction: float | None = None) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._logged >= self.interval and phase == progress.PULL:
            self._logged = now
            log.info("Pre-pull: %s", message)


@dataclass
class PrepullStats:
    """What the pre-puller did, for logs and tests."""

    rounds: int = 0
    pulled: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def local_pull(endpoint: Endpoint, options: PullOptions, log_interval: float) -> PullOne:
    """Pull one image on the endpoint's daemon, shared with the spawns that need it."""

    async def pull_one(image: str) -> None:
        with progress.reporting_to(_LogProgress(image, log_interval)):
            await pull(shared_client(endpoint), image, options)

    return pull_one


class Prepuller(Periodic):
    """Pulls the Hub's images at start and every ``interval`` seconds (0: once)."""

    def __init__(
        self,
        endpoint: Endpoint,
        hub_id: str,
        images: ImagesLookup,
        pull_one: PullOne,
        *,
        interval: float = 3600.0,
        concurrency: int = 2,
    ) -> None:
        super().__init__(hub_id, interval)
        self.endpoint = endpoint
        self.images = images
        self.pull_one = pull_one
        self.concurrency = max(1, concurrency)
        self.stats = PrepullStats()
        #: set when a round has finished (for tests)
        self.round_done = asyncio.Event()

    job = "pre-pull"

    async def run_once(self) -> None:
        """One round: every image, ``concurrency`` at a time."""
        images = list(dict.fromkeys(i for i in await self.images() if i))
        if images:
            log.info(
                "Pre-pulling %d image(s) at %s, %d at a time: %s",
                len(images),
                self.endpoint.url,
                self.concurrency,
                ", ".join(images),
            )
        limit = asyncio.Semaphore(self.concurrency)

        async def one(image: str) -> None:
            async with limit:
                began = self.loop.time()
                try:
                    await self.pull_one(image)
                except DockerOperationError as e:
                    self.stats.failed[image] = e.reason
                    log.warning("Pre-pull of %s failed: %s", image, e.reason)
                    return
                self.stats.pulled[image] = self.stats.pulled.get(image, 0) + 1
                took = format_duration(self.loop.time() - began)
                log.info("Pre-pulled image %s (%s)", image, took)

        await asyncio.gather(*(one(image) for image in images))
        self.stats.rounds += 1
        self.round_done.set()


_prepullers: dict[tuple[int, Endpoint, str], Prepuller] = {}


def get_prepuller(
    endpoint: Endpoint,
    hub_id: str,
    images: ImagesLookup,
    pull_one: PullOne,
    *,
    interval: float,
    concurrency: int,
) -> Prepuller:
    """The Hub's pre-puller for ``endpoint``, started (and so pulling) on first use."""
    loop = asyncio.get_running_loop()
    key = (id(loop), endpoint, hub_id)
    prepuller = _prepullers.get(key)
    if prepuller is None or prepuller.loop is not loop:
        prepuller = Prepuller(
            endpoint, hub_id, images, pull_one, interval=interval, concurrency=concurrency
        )
        _prepullers[key] = prepuller
        prepuller.start()
    return prepuller


async def stop_prepullers() -> None:
    """Stop the pre-pullers of the running loop (tests; embedding applications)."""
    loop = asyncio.get_running_loop()
    for key, prepuller in list(_prepullers.items()):
        if prepuller.loop is loop or prepuller.loop.is_closed():
            _prepullers.pop(key, None)
            if prepuller.loop is loop:
                await prepuller.stop()
