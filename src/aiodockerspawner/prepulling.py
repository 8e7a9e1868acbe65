"""Starting the Hub-wide pre-puller from the first spawner the Hub loads.

JupyterHub has no start-up hook for spawners, and no spawner exists until
the Hub loads one: at start, ``init_spawners`` creates (``load_state``) and
polls every running server; without running servers, the first spawn
creates the first spawner. So, like the orphan sweep, the pre-puller is
started by the first ``load_state``, ``poll`` or ``start`` of any spawner,
once per Hub process (and Docker endpoint), in a task of its own.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from traitlets import HasTraits

from aiodockerspawner.backends import (
    Prepuller,
    PullOne,
    get_prepuller,
    local_pull,
)
from aiodockerspawner.core import options, profiles

PACKAGE_LOGGER = "aiodockerspawner"


def share_hub_log(hub_log: logging.Logger | logging.LoggerAdapter[Any]) -> None:
    """Let the package's module loggers write where the Hub's log goes.

    JupyterHub logs through its own logger and leaves the root logger
    without handlers, so the package's module loggers (the events cache,
    pulls, pre-pulls, the sweep) would reach nobody below WARNING and lose
    their formatting. When nothing else collects them (no root handlers:
    not under pytest or an application that configured logging), they get
    the Hub logger's handlers and level. Done once.
    """
    package = logging.getLogger(PACKAGE_LOGGER)
    logger = hub_log.logger if isinstance(hub_log, logging.LoggerAdapter) else hub_log
    if package.handlers or logging.getLogger().handlers or not logger.handlers:
        return
    for handler in logger.handlers:
        package.addHandler(handler)
    package.setLevel(logger.getEffectiveLevel())
    package.propagate = False


class Prepulling(HasTraits):
    """``prepull_images`` at work (a mixin of DockerSpawner)."""

    if TYPE_CHECKING:  # the rest of DockerSpawner and JupyterHub's Spawner

        def __getattr__(self, name: str) -> Any: ...

    async def images_to_prepull(self) -> list[str]:
        """The images the Hub pre-pulls: ``prepull_images`` resolved.

        With ``"allowed"``: ``image``, the images of ``allowed_images`` and
        those the profiles of ``profile_list`` (and their listed choices) set.
        The hook for more sources: a subclass extends the list, e.g.
        ``return [*await super().images_to_prepull(), *more]``. It is called
        once per pre-pull round, on the spawner that started the pre-puller.
        """
        if self.prepull_images != "allowed":
            return [str(i) for i in self.prepull_images]
        allowed = await options.resolve_allowed_images(self.allowed_images, self)
        extra = list(allowed.values()) if isinstance(allowed, dict) else []
        if self.profile_list:
            extra += profiles.profile_images(await self._profiles())
        return list(dict.fromkeys([str(self.image), *extra]))

    def prepull_strategy(self) -> PullOne:
        """How one image is pre-pulled: on the daemon, shared with spawns (Swarm: every node)."""
        return local_pull(self.endpoint, self.pull_options(), log_interval=10.0)

    def _start_prepuller(self) -> Prepuller | None:
        """Start the Hub's pre-puller (once per Hub and endpoint), if images are configured."""
        share_hub_log(self.log)
        if not self.prepull_images:
            return None
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # outside the Hub's loop (a spawner built in a test)
            return None
        return get_prepuller(
            self.endpoint,
            self.hub_id,
            self.images_to_prepull,
            self.prepull_strategy(),
            interval=self.prepull_interval,
            concurrency=self.prepull_concurrency,
        )
