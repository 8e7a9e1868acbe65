"""A local image registry and a large image that has to come from it.

The benchmark runs a ``docker-registry`` of its own (Debian's package,
Distribution 2.8, which ``scripts/ensure-services`` installs) on a free port,
storing under ``.cache/bench`` and removed with it, so that the random layers
each run pushes do not pile up in the shared registry on ``127.0.0.1:5000``.
``AIODOCKERSPAWNER_BENCH_REGISTRY=host:port`` points it at another registry.

The large image is the tiny image plus one layer of random bytes, unique to
the run, so no layer of it can already be on the machine: after the push the
local copy is removed, and every contender has to pull it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from .hub import free_port


def _answers(address: str, *, auth: bool = False) -> bool:
    """Whether a registry answers on ``address`` (with 401 when it wants credentials)."""
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=2) as r:
            return bool(r.status == 200) and not auth
    except urllib.error.HTTPError as e:
        return auth and e.code == 401
    except OSError:
        return False


async def _install_registry() -> str:
    """apt-get install docker-registry (as root, like scripts/ensure-services does)."""
    if os.geteuid() != 0:
        raise RuntimeError(
            "no registry answers on 127.0.0.1:5000 and docker-registry is not installed "
            "(apt-get install docker-registry, or run scripts/ensure-services)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "docker-registry"],
    ):
        proc = await asyncio.create_subprocess_exec(
            *cmd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, _ = await proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.decode(errors='replace')}")
    binary = shutil.which("docker-registry")
    if binary is None:
        raise RuntimeError("docker-registry is not on PATH after apt-get install")
    return binary


class Registry:
    """A ``docker-registry`` of its own; with ``htpasswd``, behind basic auth.

    ``htpasswd`` is the path of an htpasswd file (bcrypt entries, as
    Distribution requires); the tests use it for pulls with credentials.
    """

    def __init__(self, cache: Path, htpasswd: Path | None = None) -> None:
        self.cache = cache
        self.htpasswd = htpasswd
        self.address = ""
        self.root: Path | None = None
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        wanted = os.environ.get("AIODOCKERSPAWNER_BENCH_REGISTRY")
        if wanted and self.htpasswd is None:
            if not _answers(wanted):
                raise RuntimeError(f"no registry answers at {wanted}")
            self.address = wanted
            return
        binary = shutil.which("docker-registry") or await _install_registry()
        port = free_port()
        # a registry of the run's own, whose storage goes with it: every run
        # pushes fresh random layers, which would pile up in a shared registry
        root = self.cache / f"registry-{os.getpid()}-{port}"
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        cfg = root / "config.yml"
        cfg.write_text(
            "version: 0.1\n"
            "log:\n  level: error\n"
            "storage:\n"
            f"  filesystem:\n    rootdirectory: {root / 'data'}\n"
            "  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{port}\n"
        )
        if self.htpasswd is not None:
            with cfg.open("a") as f:
                f.write(f"auth:\n  htpasswd:\n    realm: test\n    path: {self.htpasswd}\n")
        with (root / "registry.log").open("wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                binary, "serve", str(cfg), stdout=log, stderr=asyncio.subprocess.STDOUT
            )
        self.address = f"127.0.0.1:{port}"
        for _ in range(100):
            if _answers(self.address, auth=self.htpasswd is not None):
                return
            if self.proc.returncode is not None:
                break
            await asyncio.sleep(0.1)
        raise RuntimeError(f"docker-registry did not start; see {root / 'registry.log'}")

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)


async def docker(*args: str, check: bool = True) -> str:
    proc = await asyncio.create_subprocess_exec(
        "docker", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if check and proc.returncode:
        raise RuntimeError(f"docker {' '.join(args)}: {err.decode().strip()}")
    return out.decode()


async def push_large_image(base: str, registry: str, repo: str, tag: str, size: int) -> None:
    """Build ``base`` + ``size`` random bytes, push it as ``registry/repo:tag``, drop it locally."""
    ref = f"{registry}/{repo}:{tag}"
    with tempfile.TemporaryDirectory(prefix="adsb-image-") as tmp:
        ctx = Path(tmp)
        with (ctx / "blob").open("wb") as f:
            left = size
            while left > 0:
                n = min(left, 1 << 20)
                f.write(os.urandom(n))
                left -= n
        (ctx / "Dockerfile").write_text(f"FROM {base}\nCOPY blob /blob\n")
        await docker("build", "-q", "--label", f"aiodockerspawner-bench={repo}", "-t", ref, tmp)
    await docker("push", ref)
    await docker("image", "rm", ref)


async def remove_image(ref: str) -> None:
    await docker("image", "rm", "-f", ref, check=False)
