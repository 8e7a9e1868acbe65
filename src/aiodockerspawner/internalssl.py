"""Internal SSL: the server's key, certificate and CA, copied into its container.

JupyterHub calls ``create_certs()`` then ``move_certs(paths)`` before
``start()``. dockerspawner stages the files in a volume shared by all of a
user's servers, through a helper container (``move_certs_image``): five extra
Docker requests, an image to pull, and one volume for every named server of a
user. Here ``move_certs`` only reads the files and returns their paths inside
the container; ``start()`` then uploads one tar archive into the created, not
yet started container (``PUT /containers/{id}/archive``), so the files are in
place before the server process starts, belong to that container alone and
disappear with it. No helper image, no volume, one request.

A swarm task may run on any node, so ``SwarmSpawner`` overrides
``move_certs``: the files go with the service as swarm secrets instead.
"""

from __future__ import annotations

import asyncio
import io
import os
import posixpath
import tarfile
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from traitlets import HasTraits, Unicode, default, observe

from aiodockerspawner.errors import InvalidSpec

__all__ = [
    "CERTS_DIR",
    "ArchiveUpload",
    "InternalSSL",
    "cert_archive",
    "container_cert_paths",
]

#: where the files appear inside the container (as in dockerspawner)
CERTS_DIR = "/certs"


@runtime_checkable
class ArchiveUpload(Protocol):
    """A backend that can put files into an object before it starts."""

    async def put_archive(self, name_or_id: str, path: str, data: bytes) -> None: ...


def container_cert_paths(paths: Mapping[str, str]) -> dict[str, str]:
    """The in-container path of each file: ``/certs/<basename>``."""
    return {key: posixpath.join(CERTS_DIR, os.path.basename(path)) for key, path in paths.items()}


def cert_archive(files: Mapping[str, tuple[bytes, float]]) -> bytes:
    """A tar archive, to extract at ``/``, holding ``certs/`` and the given files.

    ``files`` maps a base name to its content and modification time. The
    directory entry is included so the archive can be extracted at ``/`` of
    any image (the Engine refuses to extract into a missing directory). The
    files are world-readable (0644, owned by root), so a server running as any
    user can read them, as with dockerspawner.
    """
    top = CERTS_DIR.strip("/")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        directory = tarfile.TarInfo(top)
        directory.type = tarfile.DIRTYPE
        directory.mode = 0o755
        tar.addfile(directory)
        for name, (content, mtime) in sorted(files.items()):
            if "/" in name or name in ("", ".", ".."):
                raise InvalidSpec(f"internal_ssl: unexpected certificate file name {name!r}")
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(content)
            info.mode = 0o644
            info.mtime = int(mtime)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def read_cert_files(paths: Mapping[str, str]) -> dict[str, tuple[bytes, float]]:
    """Read the files JupyterHub created (a few kilobytes, on the Hub's disk); blocking."""
    files: dict[str, tuple[bytes, float]] = {}
    for path in paths.values():
        with open(path, "rb") as f:
            files[os.path.basename(path)] = (f.read(), os.fstat(f.fileno()).st_mtime)
    return files


class InternalSSL(HasTraits):
    """``move_certs`` and the internal-SSL settings, as a mixin of DockerSpawner."""

    if TYPE_CHECKING:  # provided by DockerSpawner and JupyterHub's Spawner
        object_id: Any

        def __getattr__(self, name: str) -> Any: ...

    move_certs_image = Unicode(
        "busybox:1.30.1",
        help="""
        Accepted for compatibility and not used: certificates are copied
        straight into the server's container, so no helper image is needed.
        """,
    ).tag(config=True)

    certs_volume_name = Unicode(
        "{prefix}ssl-{username}",
        help="""
        Accepted for compatibility and not used: certificates are copied into
        each server's own container rather than into a volume shared by all
        servers of a user.
        """,
    ).tag(config=True)

    @observe("move_certs_image", "certs_volume_name")
    def _unused_certs_setting(self, change: Any) -> None:
        self.log.info(
            "%s.%s is not used: certificates are copied straight into each container",
            self.__class__.__name__,
            change.name,
        )

    @default("ssl_alt_names")
    def _default_ssl_alt_names(self) -> list[str]:
        return ["DNS:" + self.internal_hostname]

    #: the archive ``move_certs`` prepared for the next start
    _cert_archive: bytes | None = None

    async def move_certs(self, paths: Mapping[str, str]) -> dict[str, str]:
        """Read the server's certificates and keep them for the next start.

        The files are read in a worker thread: plain local file I/O, not a
        Docker request, kept off the event loop so that a slow disk does not
        stall the Hub. How they travel is :meth:`_keep_certs`'s business.
        """
        files = await asyncio.to_thread(read_cert_files, dict(paths))
        in_container = container_cert_paths(paths)
        how = self._keep_certs(files, in_container)
        self.log.info("Internal SSL files for %s will be %s at %s", self._log_name, how, CERTS_DIR)
        return in_container

    def _keep_certs(
        self, files: Mapping[str, tuple[bytes, float]], in_container: Mapping[str, str]
    ) -> str:
        """Keep the files read by ``move_certs`` for the start; say how they will travel.

        A container gets them as one archive, which ``start()`` uploads into
        it before it starts (:meth:`copy_certs`).
        """
        self._cert_archive = cert_archive(files)
        return f"copied into {self.object_name}"

    async def copy_certs(self, backend: Any, name_or_id: str) -> None:
        """Upload the prepared certificates into the (not yet started) object."""
        if self._cert_archive is None:
            return
        if not isinstance(backend, ArchiveUpload):
            raise InvalidSpec(
                f"internal_ssl: the {backend.object_type} backend cannot receive files"
            )
        await backend.put_archive(name_or_id, "/", self._cert_archive)
        self.log.debug("Copied internal SSL files into %s", self.object_name)
