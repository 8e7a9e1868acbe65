"""Which image a server runs, who may choose another, and how it is pulled."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from traitlets import Any as AnyTrait
from traitlets import Callable as CallableTrait
from traitlets import (
    CaselessStrEnum,
    Dict,
    Float,
    HasTraits,
    List,
    Unicode,
    Union,
    default,
    validate,
)

from aiodockerspawner.core import options


class ImageConfig(HasTraits):
    """Which image a server runs, who may choose another, and how it is pulled."""

    if TYPE_CHECKING:  # the rest of DockerSpawner and JupyterHub's Spawner

        def __getattr__(self, name: str) -> Any: ...

    # -- image selection --------------------------------------------------

    image = Unicode(
        help="""
        The image each server runs, e.g. ``quay.io/jupyterhub/singleuser:5``.

        Users can only pick a different one through ``allowed_images``. The
        image is exported to the server as ``JUPYTER_IMAGE_SPEC``.
        """,
    ).tag(config=True)

    @default("image")
    def _default_image(self) -> str:
        import jupyterhub

        major_minor = ".".join(jupyterhub.__version__.split(".")[:2])
        return f"quay.io/jupyterhub/singleuser:{major_minor}"

    allowed_images = Union(
        [AnyTrait(), Dict(), List()],
        default_value={},
        help="""
        Images users may choose between, through the spawn form or the
        ``image`` user option.

        A dict maps what the user picks (the key, shown in the form) to the
        image that runs (the value); a list allows exactly those image names;
        ``"*"`` allows any image at all; a callable ``f(spawner)`` (which may
        be async) returns any of these and is evaluated at each spawn.

        When unset, users cannot choose: a request that names an image, even
        the default one, is refused with HTTP 400.
        """,
    ).tag(config=True)

    @validate("allowed_images")
    def _validate_allowed_images(self, proposal: Any) -> Any:
        value = proposal.value
        if callable(value):
            return value
        return options.normalize_allowed_images(value) or {}

    pull_policy = CaselessStrEnum(
        ["ifnotpresent", "always", "never", "skip"],
        default_value="ifnotpresent",
        help="""
        When to pull the image: ``ifnotpresent`` (only when missing),
        ``always`` (before every start), ``never`` (fail when missing) or
        ``skip`` (do not look; let the create fail if it is missing).
        """,
    ).tag(config=True)

    # -- pulls and progress ------------------------------------------------------

    pull_timeout = Float(
        600.0,
        help="""
        Seconds an image pull may take before the start fails with a message
        saying so. Concurrent starts that need the same image share one
        pull, and so its deadline.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    registry_credentials = Union(
        [CallableTrait(), Dict()],
        help="""
        Credentials for pulling from private registries, sent to Docker as
        ``X-Registry-Auth``.

        A dict maps an image reference, a repository
        (``registry.example.com/team/notebook``) or a registry host
        (``registry.example.com``; ``docker.io`` for Docker Hub) to
        ``{"username": ..., "password": ...}``, ``{"identitytoken": ...}``
        or ``{"auth": "<base64 user:password>"}``; the most specific key
        wins. A callable ``f(spawner, image)`` (possibly async) returns such
        a dict, or None for an anonymous pull.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    @default("registry_credentials")
    def _default_registry_credentials(self) -> dict[str, Any]:
        return {}

    pull_progress_interval = Float(
        0.5,
        help="""
        Seconds between two pull progress messages on the spawn page.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)
