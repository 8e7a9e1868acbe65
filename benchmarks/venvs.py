"""dockerspawner 14.0.0 in a virtualenv of its own, made on first use.

dockerspawner is not a dependency of aiodockerspawner, and docker-py must not
leak into the environment under test, so it gets its own virtualenv under
``.cache/bench``. 14.0.0 asks for ``jupyterhub>=4``, ``docker`` and
``escapism``; it runs unchanged on JupyterHub 6.1.1 (the REST API spawns and
stops the benchmark uses, with ``allowed_images`` and ``remove``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DOCKERSPAWNER = "dockerspawner==14.0.0"


def ensure_dockerspawner_venv(cache: Path, jupyterhub_version: str) -> str:
    """The python of a virtualenv with dockerspawner 14.0.0 and the given jupyterhub."""
    venv = cache / f"venv-dockerspawner-14.0.0-jupyterhub-{jupyterhub_version}"
    python = venv / "bin" / "python"
    stamp = venv / ".complete"
    if stamp.exists():
        return str(python)
    print(f"bench: creating {venv} ({DOCKERSPAWNER}, jupyterhub=={jupyterhub_version})", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            DOCKERSPAWNER,
            f"jupyterhub=={jupyterhub_version}",
        ],
        capture_output=True,
        text=True,
    )
    if pip.returncode:
        raise RuntimeError(f"pip install {DOCKERSPAWNER} failed:\n{pip.stdout}{pip.stderr}")
    stamp.write_text("ok\n")
    return str(python)
