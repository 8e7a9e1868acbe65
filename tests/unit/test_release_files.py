"""The files a release and the hosted docs rely on agree with the project."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]


def test_readthedocs_builds_the_sphinx_docs_with_the_docs_extra() -> None:
    rtd = yaml.safe_load((ROOT / ".readthedocs.yaml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert rtd["version"] == 2
    assert (ROOT / rtd["sphinx"]["configuration"]).is_file()
    assert rtd["sphinx"]["fail_on_warning"] is True  # as nox -s docs (-W)
    (install,) = rtd["python"]["install"]
    assert install["method"] == "pip" and install["path"] == "."
    assert set(install["extra_requirements"]) <= set(project["optional-dependencies"])
    minimum = project["requires-python"].removeprefix(">=")
    assert tuple(map(int, rtd["build"]["tools"]["python"].split("."))) >= tuple(
        map(int, minimum.split("."))
    )
