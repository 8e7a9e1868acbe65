"""JupyterHub 6's server lifetime hooks: ``rename()`` and ``delete_forever()``.

Both act only on what is this server's: an object or volume of another Hub,
or an object made for another user or server, is left alone. The policy
(which sources are named after the server, which volumes may go) is in
:mod:`aiodockerspawner.core.lifetime`; the Docker requests go through the
server's backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from tornado import web
from traitlets import HasTraits

from aiodockerspawner.core import lifetime
from aiodockerspawner.errors import DockerOperationError


class ServerLifetime(HasTraits):
    """``rename()`` and ``delete_forever()``, as a mixin of DockerSpawner."""

    if TYPE_CHECKING:  # the rest of DockerSpawner and JupyterHub's Spawner
        object_id: str | None
        object_name: str

        def __getattr__(self, name: str) -> Any: ...

    def per_server_sources(self) -> list[lifetime.PerServerSource]:
        """Sources in ``volumes``, ``read_only_volumes`` and ``mounts`` named after the server.

        They are rendered by :meth:`volume_source_name`, as at creation, so a
        shortened volume name is looked up under the name it was created with.
        """
        return lifetime.per_server_sources(
            self.volumes, self.read_only_volumes, self.mounts, render=self.volume_source_name
        )

    async def rename(self, old_name: str, new_name: str) -> None:
        """Rename a stopped server, unless data named after it would be left behind.

        A volume or host directory whose template uses the server name would
        be looked up under the new name, so the rename is refused while one
        exists. A kept container (``remove = False``) is renamed to the name
        the new server name renders to, so that the old name is free for a
        new server; its environment still says the old server name, so the
        renamed server's next start recreates it (see :meth:`_adopt_existing`).
        """
        blockers = await lifetime.rename_blockers(
            self.backend, self.per_server_sources(), local_daemon=self.endpoint.is_unix
        )
        if blockers:
            message = (
                f"Cannot rename server {old_name!r} to {new_name!r}: "
                f"{' and '.join(blockers)} named after it would be left behind under the "
                "old name. Move the data and remove it first, or keep the name."
            )
            self._refuse_rename(message)
        if not self.remove:
            await self._rename_kept_object(old_name, new_name)

    def _refuse_rename(self, message: str) -> NoReturn:
        self.log.warning("Refused to rename %s: %s", self._log_name, message)
        error = web.HTTPError(409, message.replace("%", "%%"))
        error.jupyterhub_message = message  # type: ignore[attr-defined]
        raise error

    async def _rename_kept_object(self, old_name: str, new_name: str) -> None:
        """Give the stopped object of this server the name ``new_name`` renders to."""
        target = self.object_id or self.object_name
        if not target:
            return
        backend = self.backend
        existing = await backend.inspect(target)
        if existing is None:
            return
        owner = self._owner_elsewhere(existing)
        if owner is not None:
            self.log.info(
                "Renaming %s to %r: %s %s is not its own (it belongs to %s); left alone",
                self._log_name,
                new_name,
                backend.object_type,
                existing.name,
                owner,
            )
            return
        new_object_name = self.object_name_for(new_name, image=existing.image or None)
        if new_object_name != existing.name:
            try:
                await backend.rename(existing.id, new_object_name)
            except DockerOperationError as e:
                self._refuse_rename(
                    f"Cannot rename server {old_name!r} to {new_name!r}: its stopped "
                    f"{backend.object_type} {existing.name} could not be renamed to "
                    f"{new_object_name} ({e.reason})"
                )
            self.log.info(
                "Renamed %s %s of %s to %s for server %r; its next start recreates it "
                "(it was made for server %r)",
                backend.object_type,
                existing.name,
                self._log_name,
                new_object_name,
                new_name,
                old_name,
            )
        self.object_id = existing.id
        self.object_name = new_object_name
        if self.orm_spawner is not None:
            # JupyterHub keeps the state across the rename and commits it with the new name
            self.orm_spawner.state = self.get_state()

    async def delete_forever(self) -> None:
        """The server is deleted for good: remove its container and per-server volumes.

        Only what is this server's goes: an object carrying another Hub's id,
        or made for another user or server (and not the one in this server's
        state), is left alone, and so is a volume labelled with another Hub's
        id. Volumes whose name does not include the server name (shared by a
        user's servers) and host directories are kept.
        """
        backend = self.backend
        target = self.object_id or self.object_name
        existing = await backend.inspect(target) if target else None
        if existing is not None:
            owner = self._owner_elsewhere(existing)
            if owner is not None:
                self.log.warning(
                    "Deleting %s: leaving %s %s alone, it belongs to %s",
                    self._log_name,
                    self.object_type,
                    existing.name,
                    owner,
                )
            else:
                self.log.info(
                    "Removing %s %s of deleted server %s",
                    self.object_type,
                    existing.name,
                    self._log_name,
                )
                await self._remove_settled(backend, existing.id)
                self.object_id = ""
        if not self.name:
            return  # the default server's volumes belong to the user
        names = [s.name for s in self.per_server_sources() if s.is_volume]
        removed, kept, failed = await lifetime.remove_volumes(
            self.backend, names, hub_id=self.hub_id
        )
        for name in removed:
            self.log.info("Removed volume %s of deleted server %s", name, self._log_name)
        for name, hub in kept:
            self.log.warning(
                "Deleting %s: leaving volume %s alone, it belongs to Hub %r",
                self._log_name,
                name,
                hub,
            )
        for error in failed:
            self.log.warning("Could not remove a volume of %s: %s", self._log_name, error)
