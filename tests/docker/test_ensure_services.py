"""``nox -s demo`` brings up only what the demo Hub needs.

The demo session's arguments to scripts/ensure-services are read from the
noxfile itself and the script is run with them: the steps it reports must be
Docker, the proxy and the single-user image, and nothing that changes more of
an admin's machine (a swarm, Podman and its containers.conf, a registry).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
from pathlib import Path

import jupyterhub
import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.docker


def demo_ensure_services_args() -> list[str]:
    """The arguments ``noxfile.demo`` passes to ``_ensure_services``."""
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    demo = next(
        node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "demo"
    )
    calls = [
        node
        for node in ast.walk(demo)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "_ensure_services"
    ]
    assert len(calls) == 1, "the demo session should run ensure-services once"
    return [ast.literal_eval(arg) for arg in calls[0].args[1:]]


def test_demo_brings_up_only_docker_the_proxy_and_its_image(docker_daemon: None) -> None:
    args = demo_ensure_services_args()
    env = {**os.environ, "JUPYTERHUB_VERSION": jupyterhub.__version__}
    result = subprocess.run(
        [str(ROOT / "scripts" / "ensure-services"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout + result.stderr
    steps = set(re.findall(r"^ensure-services: (\w+): ", out, flags=re.M))
    assert steps == {"docker", "proxy"}, out
    # the single-user image, not the tiny one the tests use
    built = set(re.findall(r"^build-images: aiodockerspawner-test/(\w+):", out, flags=re.M))
    assert built == {"singleuser"}, out
