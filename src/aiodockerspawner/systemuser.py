"""Run each server as the user's own system account, in their home directory.

:class:`SystemUserMixin` works on top of either spawner:

* :class:`SystemUserSpawner` = ``SystemUserMixin`` + ``DockerSpawner`` (containers);
* :class:`SystemUserSwarmSpawner` = ``SystemUserMixin`` + ``SwarmSpawner`` (services),
  which dockerspawner does not have.

The user's uid, gid and home directory come from the system account database
(NSS: ``/etc/passwd``, LDAP, sssd...). The lookup runs ``getent passwd`` as a
subprocess, so a slow directory never blocks the Hub's event loop and no
thread is involved; results are cached for the life of the Hub. When the Hub
has no local accounts (it runs in a container, say), ``user_id`` and
``group_id`` can come from the spawner state or be set by a hook
(``pre_spawn_hook``, ``auth_state_hook``), and ``host_homedir_format_string``
must then name the home directory.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from traitlets import Bool, HasTraits, Int, TraitError, Unicode, validate

from aiodockerspawner.errors import InvalidSpec
from aiodockerspawner.model import ObjectSpec, VolumeBind
from aiodockerspawner.spawner import DockerSpawner
from aiodockerspawner.swarm import SwarmSpawner

#: seconds a ``getent passwd`` lookup may take
LOOKUP_TIMEOUT = 10.0

#: the bind propagations Docker accepts; "" sends none (Docker's rprivate)
_PROPAGATIONS = ("rprivate", "private", "rshared", "shared", "rslave", "slave", "")


@dataclass(frozen=True)
class Account:
    """The part of a passwd entry the spawner needs."""

    name: str
    uid: int
    gid: int
    home: str


_accounts: dict[str, Account] = {}


def parse_passwd_line(line: str) -> Account | None:
    """``name:x:uid:gid:gecos:home:shell`` → :class:`Account` (``None`` if malformed)."""
    parts = line.rstrip("\n").split(":")
    if len(parts) < 7:
        return None
    try:
        return Account(name=parts[0], uid=int(parts[2]), gid=int(parts[3]), home=parts[5])
    except ValueError:
        return None


#: run by the Hub's own interpreter: ``pwd.getpwnam`` in a subprocess, printed as a passwd line
_GETPWNAM = """
import pwd, sys
try:
    e = pwd.getpwnam(sys.argv[1])
except KeyError:
    sys.exit(2)
line = ":".join(map(str, e))
sys.stdout.buffer.write(line.encode("utf-8", "surrogateescape") + b"\\n")
"""


async def _lookup(argv: list[str], name: str) -> Account | None:
    """Run a lookup command printing passwd lines (exit status 2: no such account)."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        stdin=asyncio.subprocess.DEVNULL,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), LOOKUP_TIMEOUT)
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    if proc.returncode == 2:  # getent: key not found; _GETPWNAM: KeyError
        return None
    if proc.returncode != 0:
        raise OSError(f"{argv[0]} looking up {name!r} exited with status {proc.returncode}")
    for line in out.decode("utf-8", "replace").splitlines():
        account = parse_passwd_line(line)
        if account is not None and account.name == name:
            return account
    return None


async def lookup_account(name: str) -> Account | None:
    """The system account called ``name``, or ``None`` when there is none.

    ``getent passwd`` (a subprocess: nothing blocks the event loop) answers
    through NSS like ``pwd`` would. Where there is no ``getent`` (musl-based
    systems) and for all-digit names (which ``getent`` takes for uids), the
    Hub's own interpreter runs :func:`pwd.getpwnam` in a subprocess instead,
    so a slow directory service never stalls the Hub either way. Found
    accounts are cached; misses are not (the account may be created later).
    """
    cached = _accounts.get(name)
    if cached is not None:
        return cached
    getent = shutil.which("getent")
    if getent is None or name.isdigit():
        if not sys.executable:
            raise OSError(f"no Python interpreter to look up the account {name!r} with")
        argv = [sys.executable, "-I", "-S", "-c", _GETPWNAM, name]
    else:
        argv = [getent, "passwd", "--", name]
    account = await _lookup(argv, name)
    if account is not None:
        _accounts[name] = account
    return account


def forget_accounts() -> None:
    """Empty the account cache (after accounts changed, or in tests)."""
    _accounts.clear()


if TYPE_CHECKING:
    _MixinBase = DockerSpawner
else:
    _MixinBase = HasTraits


class SystemUserMixin(_MixinBase):
    """Run the server as the Hub user's system account, in their home directory.

    Mix it in front of :class:`~aiodockerspawner.DockerSpawner` or
    :class:`~aiodockerspawner.SwarmSpawner`. The home directory is
    bind-mounted, the container runs as ``uid:gid`` (unless ``run_as_root``)
    with the home as working directory, and ``NB_USER``, ``NB_UID``,
    ``NB_GID`` and ``HOME`` are set (plus the deprecated ``USER`` and
    ``USER_ID``).
    """

    host_homedir_format_string = Unicode(
        "/home/{username}",
        allow_none=True,
        help="""
        Where the user's home directory is on the host, with ``{username}``
        standing for the (unescaped) user name. Empty (or None) means the
        home directory of the user's system account.
        """,
    ).tag(config=True)

    image_homedir_format_string = Unicode(
        "/home/{username}",
        help="""
        Where the home directory is mounted inside the container, with
        ``{username}`` standing for the (unescaped) user name. It is also the
        working directory and ``HOME``.
        """,
    ).tag(config=True)

    homedir_bind_propagation = Unicode(
        "rprivate",
        help="""
        Mount propagation of the home directory bind mount: ``rprivate``,
        ``private``, ``rshared``, ``shared``, ``rslave`` or ``slave`` (any
        case). Docker's own default is ``rprivate``; ``rslave`` or ``rshared``
        let mounts made on the host under the home directory appear in a
        running container. ``""`` (dockerspawner 14's default) sends no
        propagation option, which Docker reads as ``rprivate``.

        .. versionchanged:: 0.1
           A value Docker would refuse at create is refused when it is set.
        """,
    ).tag(config=True)

    @validate("homedir_bind_propagation")
    def _valid_propagation(self, proposal: Any) -> str:
        value = str(proposal.value).lower()
        if value not in _PROPAGATIONS:
            raise TraitError(
                f"homedir_bind_propagation: {proposal.value!r} is not one of "
                f"{', '.join(repr(p) for p in _PROPAGATIONS)}"
            )
        return value

    run_as_root = Bool(
        False,
        help="""
        Start the container as root (user ``0``) instead of the user's uid.
        The image's entrypoint must then switch to ``NB_UID``/``NB_GID`` itself,
        as the docker-stacks ``start.sh`` does.
        """,
    ).tag(config=True)

    user_id = Int(
        -1,
        help="""
        The uid the server runs as. Negative (the default) means "look up the
        system account". A hook can set it (with ``group_id``) when the Hub
        has no local accounts; it is kept in the spawner state.
        """,
    )

    group_id = Int(
        -1,
        help="The gid the server runs as; like ``user_id``. Negative: from the system account.",
    )

    _account: Account | None = None

    # -- paths -----------------------------------------------------------------

    @property
    def homedir(self) -> str:
        """The home directory inside the container."""
        template = self.image_homedir_format_string
        return self._checked_path(
            template,
            str(template.format(username=self.user.name)),
            "SystemUserSpawner.image_homedir_format_string",
        )

    @property
    def host_homedir(self) -> str:
        """The home directory on the host (from the account when the format is empty)."""
        template = self.host_homedir_format_string
        if template:
            try:
                rendered = str(template.format(username=self.user.name))
            except (KeyError, IndexError, ValueError) as e:
                raise InvalidSpec(
                    f"SystemUserSpawner.host_homedir_format_string: cannot render {template!r} "
                    f"(only {{username}} is available): {e}"
                ) from e
            return self._checked_path(
                template, rendered, "SystemUserSpawner.host_homedir_format_string"
            )
        if self._account is None:
            raise InvalidSpec(
                f"SystemUserSpawner.host_homedir_format_string is empty and user "
                f"{self.user.name!r} has no system account to take the home directory from"
            )
        return self._account.home

    def _home_bind(self) -> VolumeBind:
        return VolumeBind(
            source=self.host_homedir,
            target=self.homedir,
            mode="rw",
            propagation=self.homedir_bind_propagation or None,
        )

    @property
    def volume_binds(self) -> dict[str, dict[str, str]]:
        """dockerspawner's shape of the binds, the home directory included.

        The home is left out while it cannot be known yet (an empty
        ``host_homedir_format_string`` before the account was looked up).
        """
        binds: dict[str, dict[str, str]] = dict(super().volume_binds)
        try:
            home = self._home_bind()
        except InvalidSpec:
            return binds
        binds[home.source] = {"bind": home.target, "mode": home.mode}
        if home.propagation:
            binds[home.source]["propagation"] = home.propagation
        return binds

    @property
    def volume_mount_points(self) -> list[str]:
        """The container paths of the binds, the home directory last (as dockerspawner)."""
        return [*super().volume_mount_points, self.homedir]

    # -- the account -----------------------------------------------------------

    async def resolve_account(self) -> None:
        """Fill ``user_id``/``group_id`` (and the home directory) from the system account.

        Nothing is looked up when the state or a hook already gave the ids and
        the host home directory does not depend on the account.
        """
        need_home = not self.host_homedir_format_string
        if self.user_id >= 0 and self.group_id >= 0 and not need_home:
            return
        account = await lookup_account(self.user.name)
        self._account = account
        if account is None:
            if self.user_id < 0:
                raise InvalidSpec(
                    f"No system account named {self.user.name!r}, and no user_id was set "
                    f"for it (by a hook or the spawner state)"
                )
            return
        if self.user_id < 0:
            self.user_id = account.uid
        if self.group_id < 0 and account.uid == self.user_id:
            self.group_id = account.gid

    def _container_user(self) -> str | None:
        if self.run_as_root:
            return "0"
        if self.user_id >= 0:
            if self.group_id >= 0:
                return f"{self.user_id}:{self.group_id}"
            return str(self.user_id)
        return None

    # -- spawner hooks ---------------------------------------------------------

    def get_env(self) -> dict[str, str]:
        env = super().get_env()
        env.update(
            NB_USER=self.user.name,
            USER=self.user.name,  # deprecated, kept for images that read it
            HOME=self.homedir,
        )
        if self.user_id >= 0:
            env["NB_UID"] = str(self.user_id)
            env["USER_ID"] = str(self.user_id)  # deprecated
        if self.group_id >= 0:
            env["NB_GID"] = str(self.group_id)
        return env

    async def build_spec(self) -> Any:
        await self.resolve_account()
        spec: ObjectSpec = await super().build_spec()
        spec.binds.append(self._home_bind())
        spec.working_dir = self.homedir
        spec.user = self._container_user()
        return spec

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        if isinstance(state.get("user_id"), int):
            self.user_id = state["user_id"]
        if isinstance(state.get("group_id"), int):
            self.group_id = state["group_id"]

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        if self.user_id >= 0:
            state["user_id"] = self.user_id
        if self.group_id >= 0:
            state["group_id"] = self.group_id
        return state


class SystemUserSpawner(SystemUserMixin, DockerSpawner):
    """A container per server, running as the user's system account in their home."""


class SystemUserSwarmSpawner(SystemUserMixin, SwarmSpawner):
    """A swarm service per server, running as the user's system account in their home.

    The home directory must exist at the same path on every node the task
    may run on (a shared file system), or placement must pin the task.

    .. versionadded:: 0.1
    """
