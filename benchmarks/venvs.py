"""dockerspawner 14.0.0 in a virtualenv of its own, made on first use.

dockerspawner is not a dependency of aiodockerspawner, and docker-py must not
leak into the environment under test, so it gets its own virtualenv under
``.cache/bench``. 14.0.0 asks for ``jupyterhub>=4``, ``docker`` and
``escapism``; it runs unchanged on JupyterHub 6.1.1 (the REST API spawns and
stops the benchmark uses, with ``allowed_images`` and ``remove``).

The compatibility tier (tests/compat) runs dockerspawner's own test suite in
the same virtualenv, with pytest added to it (``extra``).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

DOCKERSPAWNER = "dockerspawner==14.0.0"


def ensure_dockerspawner_venv(
    cache: Path, jupyterhub_version: str, extra: Sequence[str] = ()
) -> str:
    """The python of a virtualenv with dockerspawner 14.0.0 and the given jupyterhub.

    ``extra`` requirements (e.g. ``pytest==9.2.0``) are installed into it too,
    once per distinct list.
    """
    venv = cache / f"venv-dockerspawner-14.0.0-jupyterhub-{jupyterhub_version}"
    python = venv / "bin" / "python"
    if not (venv / ".complete").exists():
        _create(venv, jupyterhub_version)
    if extra:
        key = hashlib.sha256("\n".join(sorted(extra)).encode()).hexdigest()[:12]
        stamp = venv / f".extra-{key}"
        if not stamp.exists():
            _pip_install(python, list(extra))
            stamp.write_text("\n".join(sorted(extra)) + "\n")
    return str(python)


def _create(venv: Path, jupyterhub_version: str) -> None:
    python = venv / "bin" / "python"
    print(f"bench: creating {venv} ({DOCKERSPAWNER}, jupyterhub=={jupyterhub_version})", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    _pip_install(python, [DOCKERSPAWNER, f"jupyterhub=={jupyterhub_version}"])
    (venv / ".complete").write_text("ok\n")


def _pip_install(python: Path, requirements: list[str]) -> None:
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements],
        capture_output=True,
        text=True,
    )
    if pip.returncode:
        raise RuntimeError(
            f"pip install {' '.join(requirements)} failed:\n{pip.stdout}{pip.stderr}"
        )
