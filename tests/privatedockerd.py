"""A private, throw-away Docker daemon for tests that stop or kill the daemon.

The machine's shared dockerd must never be restarted (other test runs use
it), so daemon-restart tests start their own: a second ``dockerd`` with its
own socket, data root, exec root and pidfile under a temporary directory, no
iptables rules, the ``vfs`` storage driver (no overlay mounts left behind) and
``--live-restore`` (the containers outlive the daemon, as on a production
host).

Containers may use ``--network none`` or the daemon's own bridge. Without
iptables rules a published port still works through Docker's userland proxy
(``docker-proxy``): ``-p 127.0.0.1::8888`` answers on 127.0.0.1, and after a
restart the daemon binds the same port again for a container it restored
(tests/faults/test_dockerd_restart.py relies on both).

Never start it with ``--bridge=none``: dockerd then *deletes* the host's
``docker0`` interface (Moby's ``removeDefaultBridgeInterface``), which breaks
the shared daemon's networking. It gets a bridge interface of its own instead,
created here and deleted afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import tempfile
from pathlib import Path
from types import TracebackType

START_TIMEOUT = 30.0


async def _run(*args: str, stdin: bytes | None = None, check: bool = True) -> str:
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(stdin)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}): {err.decode()}")
    return out.decode()


def _pids_mentioning(text: str) -> list[int]:
    """Processes whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


class PrivateDockerd:
    """``async with PrivateDockerd() as d:`` then ``d.url``, ``d.cli(...)``, ``d.kill()``."""

    def __init__(self, *, args: tuple[str, ...] = (), path: tuple[str, ...] = ()) -> None:
        #: extra dockerd arguments, and directories put first on its PATH
        self.args = args
        self.path = path
        self.root = Path(tempfile.mkdtemp(prefix="adst-dockerd-", dir="/tmp"))
        self.socket = self.root / "docker.sock"
        self.pidfile = self.root / "docker.pid"
        self.log_path = self.root / "dockerd.log"
        self._proc: asyncio.subprocess.Process | None = None
        # an interface name of at most 15 characters, and a /24 no one else uses
        self.bridge = f"adst{secrets.token_hex(4)}"
        self.bridge_cidr = f"10.254.{secrets.randbelow(250) + 2}.1/24"
        self._bridge_made = False

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    async def cli(self, *args: str, check: bool = True, stdin: bytes | None = None) -> str:
        return await _run("docker", "-H", self.url, *args, check=check, stdin=stdin)

    async def _answers(self) -> bool:
        try:
            await asyncio.wait_for(self.cli("version", "--format", "{{.Server.Version}}"), 5)
        except (AssertionError, TimeoutError):
            return False
        return True

    async def start(self) -> float:
        """Start the daemon; returns the seconds until it answered."""
        if shutil.which("dockerd") is None:
            raise AssertionError("dockerd is not installed; run scripts/ensure-services")
        self.pidfile.unlink(missing_ok=True)
        if not self._bridge_made:
            await _run("ip", "link", "add", self.bridge, "type", "bridge")
            self._bridge_made = True
            await _run("ip", "addr", "add", self.bridge_cidr, "dev", self.bridge)
            await _run("ip", "link", "set", self.bridge, "up")
        log = self.log_path.open("ab")
        self._proc = await asyncio.create_subprocess_exec(
            "dockerd",
            f"--host={self.url}",
            f"--data-root={self.root / 'data'}",
            f"--exec-root={self.root / 'exec'}",
            f"--pidfile={self.pidfile}",
            f"--bridge={self.bridge}",
            "--iptables=false",
            "--ip-masq=false",
            "--ip-forward=false",
            "--live-restore",
            "--storage-driver=vfs",
            *self.args,
            stdin=asyncio.subprocess.DEVNULL,
            env={**os.environ, "PATH": os.pathsep.join([*self.path, os.environ.get("PATH", "")])},
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        while not await self._answers():
            if self._proc.returncode is not None or loop.time() - t0 > START_TIMEOUT:
                tail = self.log_path.read_text(errors="replace")[-3000:]
                raise AssertionError(f"private dockerd did not start:\n{tail}")
            await asyncio.sleep(0.1)
        return loop.time() - t0

    async def kill(self) -> None:
        """SIGKILL the daemon, as a crash would (its containers keep running)."""
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError):
            self._proc.send_signal(signal.SIGKILL)
        await self._proc.wait()
        self._proc = None
        # Its managed containerd died with it but may linger as a zombie (nothing
        # reaps orphans in this container): a restarted dockerd that finds the old
        # pid "alive" waits for a socket no one serves. Forget it, as a reboot would.
        (self.root / "exec" / "containerd" / "containerd.pid").unlink(missing_ok=True)

    async def load_image(self, image: str) -> None:
        saved = await asyncio.create_subprocess_exec(
            "docker", "save", image, stdout=asyncio.subprocess.PIPE
        )
        data, _ = await saved.communicate()
        assert saved.returncode == 0, f"docker save {image} failed"
        await self.cli("load", stdin=data)

    async def stop(self) -> None:
        """Remove every container, stop the daemon and delete its directories."""
        if self._proc is None and (self.root / "data").exists():
            # killed by the test and not restarted: bring it back to remove its containers
            with contextlib.suppress(AssertionError):
                await self.start()
        if self._proc is not None and self._proc.returncode is None:
            ids = (await self.cli("ps", "-aq", check=False)).split()
            if ids:
                await self.cli("rm", "-f", *ids, check=False)
            self._proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self._proc.wait(), 30)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        await self._kill_leftovers()
        # dockerd bind-mounts its data root onto itself
        for mount in reversed((await _run("cat", "/proc/mounts")).splitlines()):
            target = mount.split()[1]
            if target.startswith(str(self.root)):
                await _run("umount", "-l", target, check=False)
        shutil.rmtree(self.root, ignore_errors=True)
        if self._bridge_made:
            await _run("ip", "link", "del", self.bridge, check=False)
            self._bridge_made = False

    async def _kill_leftovers(self) -> None:
        """Kill (by pid) shims of this daemon that outlived it, and their containers."""
        for pid in _pids_mentioning(str(self.root)):
            children = await _run("pgrep", "-P", str(pid), check=False)
            for child in [*map(int, children.split()), pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)

    async def __aenter__(self) -> PrivateDockerd:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


#: the name dockerd looks for on its PATH when it starts: with it, the daemon
#: registers its "nvidia" device driver and accepts GPU DeviceRequests
NVIDIA_HOOK = "nvidia-container-runtime-hook"


def stand_in_nvidia_hook(directory: Path) -> Path:
    """Write a stand-in NVIDIA prestart hook into ``directory``; returns ``directory``.

    dockerd (20.10 here) only registers its ``nvidia`` device driver when
    ``nvidia-container-runtime-hook`` is on its PATH at start; without it every
    ``DeviceRequests`` entry fails the container start ("could not select
    device driver"). With the driver registered, the daemon adds the hook to
    the container's OCI spec and sets ``NVIDIA_VISIBLE_DEVICES`` to the
    requested ids. This stand-in does nothing and succeeds, so containers with
    real DeviceRequests start on a machine without GPUs: start a
    :class:`PrivateDockerd` with ``path=(str(directory),)``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    hook = directory / NVIDIA_HOOK
    hook.write_text(
        "#!/bin/sh\n"
        "# stand-in for NVIDIA's prestart hook: accept, change nothing\n"
        "cat >/dev/null\n"
        "exit 0\n"
    )
    hook.chmod(0o755)
    return directory
