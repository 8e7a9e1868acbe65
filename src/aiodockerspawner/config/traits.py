"""Trait types with dockerspawner's names and validation rules."""

from __future__ import annotations

import shlex
from typing import Any

from jupyterhub.traitlets import Command
from traitlets import Unicode

__all__ = ["ShellCommand", "UnicodeOrFalse"]


class UnicodeOrFalse(Unicode):  # type: ignore[type-arg]
    """A string, or ``False`` meaning "not set" (dockerspawner's ``post_start_cmd`` type)."""

    info_text = "a unicode string or False"

    def validate(self, obj: Any, value: Any) -> Any:
        if value is False:
            return value
        return super().validate(obj, value)


class ShellCommand(Command):  # type: ignore[misc]
    """JupyterHub's ``Command``, except that a string is split like a shell would split it.

    ``Command`` turns ``"start.sh --debug"`` into the one-word list
    ``["start.sh --debug"]``, which Docker then fails to execute. Here the
    string becomes ``["start.sh", "--debug"]``; a list is taken as it is.
    """

    def set(self, obj: Any, value: Any) -> None:
        # traitlets' List.set wraps a string in a list before validation sees it
        if isinstance(value, str):
            value = shlex.split(value)
        super().set(obj, value)

    def validate(self, obj: Any, value: Any) -> Any:
        if isinstance(value, str):
            value = shlex.split(value)
        return super().validate(obj, value)
