"""JupyterHub 6's server lifetime hooks: ``rename()`` and ``delete_forever()``.

Names derived from the server name are the risk in both:

- the container's name is carried in the spawner's state (``object_name``,
  ``object_id``), which JupyterHub keeps across a rename; ``rename()`` gives a
  kept container the name the new server name renders to, so a new server
  under the old name never finds it. Its environment (service prefix, OAuth
  callback) still names the old server, so the renamed server's next start
  recreates it;
- a volume (or host directory) whose template uses ``{servername}`` or
  ``{raw_servername}`` would be looked up under the new name after a rename,
  orphaning the data: ``rename()`` refuses while such a volume or directory
  exists, saying which one and why;
- ``delete_forever()`` (a named server or its user deleted for good) removes
  the server's stopped container and its per-server named volumes: those
  whose template uses the server name. Volumes shared by a user's servers
  (no server name in the template) are kept, as are host directories, and
  so is anything of another Hub's (a volume labelled with another hub id, a
  container made for another Hub, user or server).

Volume names are made by the spawner's ``volume_source_name``, the function
that names them at creation, so a name shortened there (over 255 bytes) is
looked up under the same name here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiodockerspawner.errors import DockerOperationError
from aiodockerspawner.labels import LABEL_HUB

log = logging.getLogger(__name__)

SERVER_FIELDS = ("{servername}", "{raw_servername}")


@dataclass(frozen=True)
class PerServerSource:
    """A volume source whose template includes the server name, and what it renders to."""

    template: str
    name: str

    @property
    def is_volume(self) -> bool:
        """A named volume (as opposed to a host path)."""
        return "/" not in self.name


def _mount_source(mount: Mapping[str, Any]) -> Any:
    kind = mount.get("type", mount.get("Type", "volume"))
    if kind not in ("volume", "bind"):
        return None
    return mount.get("source", mount.get("Source"))


def per_server_sources(
    volumes: Mapping[str, Any],
    read_only_volumes: Mapping[str, Any],
    mounts: Iterable[Mapping[str, Any]],
    render: Callable[[str], str],
) -> list[PerServerSource]:
    """Sources whose template includes the server name, rendered with ``render`` (pure)."""
    templates = [*volumes, *read_only_volumes]
    templates += [s for s in map(_mount_source, mounts) if isinstance(s, str)]
    found = []
    for template in dict.fromkeys(templates):
        if any(field in template for field in SERVER_FIELDS):
            found.append(PerServerSource(template, render(template)))
    return found


#: seconds a host path check may take; a slower one counts as "exists"
PATH_CHECK_TIMEOUT = 5.0


async def path_exists(path: str) -> bool:
    """Whether ``path`` exists on the Hub's machine, without blocking the event loop.

    ``test -e`` runs as a subprocess: a stat that hangs (an unresponsive NFS
    home) hangs that process, never the Hub, and no thread is tied up. A
    check that cannot run or does not answer within :data:`PATH_CHECK_TIMEOUT`
    counts as "exists", so the rename is refused rather than risking data.
    """
    try:
        proc = await asyncio.create_subprocess_exec(
            "test",
            "-e",
            path,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError as e:
        log.warning("Cannot check whether %s exists (%s); treating it as existing", path, e)
        return True
    try:
        return await asyncio.wait_for(proc.wait(), PATH_CHECK_TIMEOUT) == 0
    except asyncio.TimeoutError:
        log.warning(
            "Checking whether %s exists took longer than %g s (a hung file system?); "
            "treating it as existing",
            path,
            PATH_CHECK_TIMEOUT,
        )
        return True
    finally:
        if proc.returncode is None:
            proc.kill()  # takes effect once a hung stat returns; not waited for


class Volumes(Protocol):
    """What the lifetime hooks need of a backend: named volumes, by name."""

    async def volume_labels(self, name: str) -> Mapping[str, str] | None: ...

    async def remove_volume(self, name: str) -> bool: ...


async def rename_blockers(
    volumes: Volumes, sources: Iterable[PerServerSource], *, local_daemon: bool
) -> list[str]:
    """The existing per-server volumes or directories a rename would orphan."""
    blockers = []
    for source in sources:
        if source.is_volume:
            if await volumes.volume_labels(source.name) is not None:
                blockers.append(f"volume {source.name}")
        elif not local_daemon or await path_exists(source.name):
            # a remote daemon's host paths cannot be checked from here
            blockers.append(f"directory {source.name}")
    return blockers


async def remove_volumes(
    volumes: Volumes, names: Iterable[str], *, hub_id: str
) -> tuple[list[str], list[tuple[str, str]], list[DockerOperationError]]:
    """Remove the named volumes of this Hub: (removed, kept, failures).

    Each volume is inspected first: one labelled with another Hub's id is
    kept, as ``(name, its hub id)``; ours and unlabelled ones (dockerspawner
    made no labels) are removed. Absent ones are in none of the lists.
    """
    removed: list[str] = []
    kept: list[tuple[str, str]] = []
    failed: list[DockerOperationError] = []
    for name in names:
        try:
            labels = await volumes.volume_labels(name)
            if labels is None:
                continue
            owner = labels.get(LABEL_HUB)
            if owner is not None and owner != hub_id:
                kept.append((name, str(owner)))
                continue
            if await volumes.remove_volume(name):
                removed.append(name)
        except DockerOperationError as e:
            failed.append(e)
    return removed, kept, failed
