"""The local registry (scripts/ensure-services) and images that must come from it.

An image "that must be pulled" is built from a local image plus layers of
random bytes unique to the run, pushed to 127.0.0.1:5000, and then removed
locally, so that no layer of it can already be on the daemon except its base.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import tempfile
import urllib.request
import warnings
from pathlib import Path

import pytest

REGISTRY = "127.0.0.1:5000"


def require_registry() -> str:
    """The registry's address; fails (never skips) when it does not answer."""
    try:
        with urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=5) as resp:
            if resp.status == 200:
                return REGISTRY
    except OSError as e:
        pytest.fail(f"No registry answers on {REGISTRY} ({e}); run scripts/ensure-services")
    pytest.fail(f"The registry on {REGISTRY} does not answer /v2/ with 200")


async def _docker(*args: str, env: dict[str, str] | None = None) -> str:
    proc = await asyncio.create_subprocess_exec(
        "docker",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {err.decode()[-2000:]}")
    return out.decode()


async def push_layered_image(
    base: str, name: str, *, layers: int = 3, layer_mb: int = 16, cmd: str | None = None
) -> str:
    """Build ``base`` + ``layers`` random layers, push it as ``REGISTRY/name``, drop it locally.

    Returns the pushed reference (with a unique tag).
    """
    ref = f"{REGISTRY}/{name}:{secrets.token_hex(4)}"
    with tempfile.TemporaryDirectory(prefix="adst-layers-") as tmp:
        context = Path(tmp)
        lines = [f"FROM {base}"]
        for i in range(layers):
            (context / f"blob{i}").write_bytes(os.urandom(layer_mb * 1024 * 1024))
            lines.append(f"COPY blob{i} /opt/blob{i}")
        if cmd:
            lines.append(f"CMD {cmd}")
        (context / "Dockerfile").write_text("\n".join(lines) + "\n")
        await _docker("build", "-q", "-t", ref, str(context), env={"DOCKER_BUILDKIT": "0"})
    await _docker("push", ref)
    await _docker("rmi", ref)
    return ref


async def remove_local(ref: str) -> None:
    """Remove a pulled copy (and so its layers) again; absent is fine."""
    proc = await asyncio.create_subprocess_exec(
        "docker",
        "rmi",
        "-f",
        ref,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await proc.wait()


def htpasswd_line(user: str, password: str) -> str:
    """An htpasswd entry with a bcrypt hash, the only kind Distribution accepts.

    The ``bcrypt`` package when installed, else the C library's bcrypt
    through the standard ``crypt`` module (libxcrypt on Debian; Python <
    3.13), else ``htpasswd -B`` (apache2-utils).
    """
    hashed = ""
    try:
        import bcrypt

        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()
    except ImportError:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                import crypt

            hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH)) or ""
        except (ImportError, AttributeError):
            out = subprocess.run(
                ["htpasswd", "-nbB", user, password], capture_output=True, text=True
            )
            hashed = out.stdout.strip().partition(":")[2] if out.returncode == 0 else ""
    if not hashed.startswith("$2"):
        pytest.fail(
            "cannot make a bcrypt htpasswd entry: install bcrypt (pip) or apache2-utils (apt)"
        )
    return f"{user}:{hashed}\n"


async def docker_login(config_dir: Path, registry: str, user: str, password: str) -> None:
    """``docker login`` with the CLI, writing its config.json into ``config_dir``."""
    proc = await asyncio.create_subprocess_exec(
        "docker",
        "--config",
        str(config_dir),
        "login",
        registry,
        "--username",
        user,
        "--password-stdin",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate(password.encode())
    if proc.returncode != 0:
        raise AssertionError(f"docker login {registry} failed: {err.decode()}")
