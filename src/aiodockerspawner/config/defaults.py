"""JupyterHub Spawner settings whose defaults differ when the server runs in a container."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from traitlets import (
    HasTraits,
    default,
)

from aiodockerspawner.config.traits import ShellCommand
from aiodockerspawner.core import options
from aiodockerspawner.core.networking import HOST_NETWORK


class ContainerDefaults(HasTraits):
    """JupyterHub Spawner settings whose defaults differ when the server runs in a container."""

    if TYPE_CHECKING:  # the rest of DockerSpawner and JupyterHub's Spawner

        def __getattr__(self, name: str) -> Any: ...

    # -- base Spawner defaults that differ for containers --------------------

    cmd = ShellCommand(
        None,
        allow_none=True,
        minlen=0,
        help="""
        Command the container runs; None (the default) keeps the image's own
        CMD. ``args`` are appended either way. A string is split like a shell
        would split it.
        """,
    ).tag(config=True)

    @default("ip")
    def _default_ip(self) -> str:
        # on the host network the server listens where the Hub connects to it
        return self.host_ip if self.network_name == HOST_NETWORK else "0.0.0.0"

    @default("port")
    def _default_port(self) -> int:
        # on the host network, 0 means: a free port chosen at each start
        return 0 if self.network_name == HOST_NETWORK else 8888

    @default("env_keep")
    def _default_env_keep(self) -> list[str]:
        return []

    @default("options_form")
    def _default_options_form(self) -> Any:
        if callable(self.allowed_images):

            async def render(spawner: Any) -> str:
                allowed = await options.resolve_allowed_images(spawner.allowed_images, spawner)
                return options.render_options_form(allowed, spawner.image)

            return render
        return options.render_options_form(self.allowed_images or None, self.image)

    @default("options_from_form")
    def _default_options_from_form(self) -> Callable[[Mapping[str, list[str]]], dict[str, str]]:
        return options.options_from_form
