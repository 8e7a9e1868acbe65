"""The built distributions are what a release would upload.

The wheel is installed into a clean virtualenv, with its dependencies from the
package index, and inspected there by that virtualenv's own interpreter: an
installed aiodockerspawner, not this checkout, answers.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

SPAWNERS = {
    "aiodocker": "aiodockerspawner:DockerSpawner",
    "aiodocker-swarm": "aiodockerspawner:SwarmSpawner",
    "aiodocker-system-user": "aiodockerspawner:SystemUserSpawner",
    "aiodocker-system-user-swarm": "aiodockerspawner:SystemUserSwarmSpawner",
}


def one(dist_dir: Path, pattern: str) -> Path:
    found = sorted(dist_dir.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {dist_dir}, found {found}"
    return found[0]


def test_sdist_has_the_license_and_no_bulk(dist_dir: Path) -> None:
    sdist = one(dist_dir, "aiodockerspawner-*.tar.gz")
    with tarfile.open(sdist) as tar:
        # drop the leading "aiodockerspawner-<version>/"
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    for wanted in ("LICENSE", "README.md", "src/aiodockerspawner/py.typed", "tests/conftest.py"):
        assert wanted in names, f"{wanted} missing from {sdist.name}"
    bulk = [
        name
        for name in names
        if name.startswith(("benchmarks/results/", ".cache/", "dist/", "docs/_build/"))
        or "/wheels/" in name
    ]
    assert bulk == [], f"{sdist.name} carries {bulk}"


def test_wheel_has_the_license_and_py_typed(dist_dir: Path) -> None:
    wheel = one(dist_dir, "aiodockerspawner-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    assert "aiodockerspawner/py.typed" in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names), names


PROBE = textwrap.dedent(
    """
    import json
    from importlib.metadata import distribution, entry_points
    from importlib.resources import files

    from jupyterhub.spawner import Spawner

    spawners = {}
    for ep in entry_points(group="jupyterhub.spawners"):
        if ep.value.startswith("aiodockerspawner"):
            cls = ep.load()
            spawners[ep.name] = [ep.value, issubclass(cls, Spawner)]
    dist = distribution("aiodockerspawner")
    print(json.dumps({
        "spawners": spawners,
        "py_typed": files("aiodockerspawner").joinpath("py.typed").is_file(),
        "location": str(files("aiodockerspawner")),
        "license": dist.metadata["License-Expression"],
        "license_files": [str(f) for f in dist.files if f.name == "LICENSE"],
        "extras": dist.metadata.get_all("Provides-Extra"),
        "urls": dist.metadata.get_all("Project-URL"),
    }))
    """
)


def test_wheel_installs_into_a_clean_venv(dist_dir: Path, tmp_path: Path) -> None:
    wheel = one(dist_dir, "aiodockerspawner-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")

    def pip_install(*args: str) -> None:
        result = subprocess.run(
            [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr

    pip_install(str(wheel))
    out = subprocess.run(
        [python, "-c", PROBE], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert found["location"].startswith(str(venv)), found["location"]
    assert found["spawners"] == {name: [value, True] for name, value in SPAWNERS.items()}
    assert found["py_typed"] is True
    assert found["license"] == "BSD-3-Clause"
    assert found["license_files"], "no LICENSE in the installed distribution"
    assert "testing" in found["extras"]
    assert any(url.startswith("Documentation, https://") for url in found["urls"])

    # the testing extra brings what aiodockerspawner.testing's pytest plugin imports
    pip_install(f"{wheel}[testing]")
    plugin = subprocess.run(
        [python, "-c", "import aiodockerspawner.testing.pytest_plugin"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert plugin.returncode == 0, plugin.stderr


@pytest.fixture(autouse=True)
def _no_pythonpath(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clean venv must not see this checkout through PYTHONPATH."""
    monkeypatch.delenv("PYTHONPATH", raising=False)
