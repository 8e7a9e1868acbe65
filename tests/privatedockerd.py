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

With ``tls=DaemonTLS(...)`` it also listens on a TCP port of the loopback
with ``--tlsverify`` (a remote daemon as production runs one: only clients
with a certificate of its CA get in); its own socket stays the way the tests
drive it (``cli``). ``bridge_prefix`` widens its bridge beyond a /24 for
scale tests, ``storage_driver`` picks another driver than ``vfs``. ``args``
adds dockerd arguments, ``path`` puts directories first on its PATH (e.g. a
stand-in NVIDIA hook, :func:`stand_in_nvidia_hook`).

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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class DaemonTLS:
    """``--tlsverify`` on ``tcp://127.0.0.1:port``: the CA clients need, the daemon's pair."""

    port: int
    ca: Path
    cert: Path
    key: Path


class PrivateDockerd:
    """``async with PrivateDockerd() as d:`` then ``d.url``, ``d.cli(...)``, ``d.kill()``."""

    def __init__(
        self,
        *,
        tls: DaemonTLS | None = None,
        bridge_prefix: int = 24,
        storage_driver: str = "vfs",
        args: tuple[str, ...] = (),
        path: tuple[str, ...] = (),
    ) -> None:
        self.tls = tls
        self.storage_driver = storage_driver
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
        if bridge_prefix == 24:
            self.bridge_cidr = f"10.254.{secrets.randbelow(250) + 2}.1/24"
        else:  # 10.252.0.0/16 is left to the wider bridges (a /21 holds 2,000 containers)
            blocks = 1 << (bridge_prefix - 16)
            third = secrets.randbelow(blocks) << (24 - bridge_prefix)
            self.bridge_cidr = f"10.252.{third}.1/{bridge_prefix}"
        self._bridge_made = False

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def tcp_url(self) -> str:
        """``tcp://127.0.0.1:<port>`` of the TLS listener (DOCKER_HOST's form)."""
        assert self.tls is not None, "started without tls="
        return f"tcp://127.0.0.1:{self.tls.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

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
        tls_args: list[str] = []
        if self.tls is not None:
            tls_args = [
                f"--host=tcp://127.0.0.1:{self.tls.port}",
                "--tlsverify",
                f"--tlscacert={self.tls.ca}",
                f"--tlscert={self.tls.cert}",
                f"--tlskey={self.tls.key}",
            ]
        log = self.log_path.open("ab")
        # dockerd reads DOCKER_CERT_PATH/DOCKER_TLS_VERIFY as defaults for its own flags
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env["PATH"] = os.pathsep.join([*self.path, os.environ.get("PATH", "")])
        self._proc = await asyncio.create_subprocess_exec(
            "dockerd",
            f"--host={self.url}",
            *tls_args,
            f"--data-root={self.root / 'data'}",
            f"--exec-root={self.root / 'exec'}",
            f"--pidfile={self.pidfile}",
            f"--bridge={self.bridge}",
            "--iptables=false",
            "--ip-masq=false",
            "--ip-forward=false",
            "--live-restore",
            f"--storage-driver={self.storage_driver}",
            *self.args,
            stdin=asyncio.subprocess.DEVNULL,
            env=env,
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
        await self._clean_up()

    async def discard(self) -> None:
        """SIGKILL the daemon and everything it ran, and delete it all, without asking it.

        For a daemon with a thousand containers: removing them through the
        daemon took minutes, and once (Docker 20.10, 344 of them still
        running) never finished.
        """
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
            await self._proc.wait()
        self._proc = None
        await self._clean_up()

    async def _clean_up(self) -> None:
        await self._kill_leftovers()
        # dockerd bind-mounts its data root onto itself; overlay2 mounts one per container
        targets = [
            mount.split()[1]
            for mount in reversed((await _run("cat", "/proc/mounts")).splitlines())
            if mount.split()[1].startswith(str(self.root))
        ]
        for i in range(0, len(targets), 200):
            await _run("umount", "-l", *targets[i : i + 200], check=False)
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
