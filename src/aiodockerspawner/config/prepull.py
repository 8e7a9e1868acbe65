"""Images pulled ahead of the spawns that need them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from traitlets import Float, HasTraits, Int, List, TraitError, Unicode, Union, validate


class PrepullConfig(HasTraits):
    """Which images are pre-pulled, how often, how many at a time."""

    if TYPE_CHECKING:  # the rest of DockerSpawner and JupyterHub's Spawner

        def __getattr__(self, name: str) -> Any: ...

    prepull_images = Union(
        [List(Unicode()), Unicode()],
        default_value=[],
        help="""
        Images to pull when the Hub starts and then every
        ``prepull_interval`` seconds, so that no user waits for a pull: a
        list of image references, or ``"allowed"`` for ``image``, every
        image of ``allowed_images`` and every image ``profile_list`` sets
        (callables are evaluated with the first server the Hub loads). Empty (the
        default): nothing is pre-pulled.

        Pre-pulls run in the background, ``prepull_concurrency`` at a time,
        and never hold up the Hub's start or its API; their progress is in
        the Hub log. A spawn that needs an image being pre-pulled joins that
        pull and shows its percentage. They start with the first server the
        Hub loads: at Hub start when any server is running, otherwise with
        the first spawn. On Swarm every node pulls (a one-shot global job
        per image). Credentials come from ``registry_credentials``.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    @validate("prepull_images")
    def _validate_prepull_images(self, proposal: Any) -> Any:
        value = proposal.value
        if isinstance(value, str) and value != "allowed":
            raise TraitError(f"prepull_images must be a list of images or 'allowed', not {value!r}")
        return value

    prepull_interval = Float(
        3600.0,
        help="""
        Seconds between two pre-pulls of ``prepull_images`` (a moved tag
        such as ``:latest`` is fetched again). 0 pulls only once, when the
        Hub starts.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    prepull_concurrency = Int(
        2,
        help="""
        Most images pre-pulled at the same time.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)
