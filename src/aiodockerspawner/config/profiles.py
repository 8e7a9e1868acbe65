"""Server profiles: a list of what a user may launch, chosen on the spawn form."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from traitlets import Callable as CallableTrait
from traitlets import HasTraits, List, Unicode, Union


class ProfileConfig(HasTraits):
    """Server profiles: a list of what a user may launch, chosen on the spawn form."""

    if TYPE_CHECKING:  # the rest of DockerSpawner and JupyterHub's Spawner

        def __getattr__(self, name: str) -> Any: ...

    profile_list = Union(
        [CallableTrait(), List()],
        default_value=[],
        help="""
        Server profiles users choose from on the spawn form (or with the
        ``profile`` user option), in KubeSpawner's format: a list of dicts
        with ``display_name``, ``slug`` (default: made from the display
        name), ``description``, ``default``, ``spawner_override`` (settings
        of this spawner the profile sets; ``kubespawner_override`` is read
        too), ``profile_options`` (named choices, each with its own
        ``spawner_override``, and ``unlisted_choice`` for free text that must
        match ``validation_regex``, put where ``{value}`` stands in its
        override) and ``allowed_groups`` / ``allowed_users`` (only those
        users see and may request it).

        A callable ``f(spawner)`` (possibly async) returning such a list is
        evaluated for every form and every start. Empty: no profiles.

        User options: ``{"profile": slug, "<option>": choice,
        "<option>--unlisted-choice": text}``. Without ``profile`` the
        default profile of the user applies. An unknown slug, a profile
        outside the user's groups, a choice not offered or free text that
        does not match is refused with HTTP 400 before anything is created.
        See the profiles page of the documentation.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    profile_form_template = Unicode(
        "",
        help="""
        A Jinja2 template (the text, not a path) that renders the spawn form
        when ``profile_list`` is set, instead of the packaged one
        (``aiodockerspawner/templates/profiles.html``, a good start for your
        own). It gets ``profiles`` (those the user may launch), ``selected``
        (the slug pre-selected), ``chosen`` (previous choices, by slug and
        option), ``field(slug, option, unlisted=False)`` (the form field
        names the spawner reads), ``unlisted_value`` and ``image_choices``.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)
