"""The compatibility tier: dockerspawner 14.0.0's own tests, against it and against us.

One session fixture runs the suite twice (see tests/compat/suite.py), one
after the other (three to five minutes on two busy cores):

- with dockerspawner 14.0.0 in its virtualenv (benchmarks/venvs.py, shared
  with the benchmarks, plus this session's pytest and pytest-asyncio);
- with this session's interpreter, aiodockerspawner and JupyterHub, the
  ``dockerspawner`` shim (tests/compat/shim) first on ``sys.path`` and
  docker-py (the suite imports it: ``docker.errors``) from dockerspawner's
  virtualenv, linked into a folder of its own so that nothing else of that
  virtualenv leaks in.

Both runs use the same local images, tagged under the names the suite uses,
the same daemon and JupyterHub version. The outcomes go to
``.cache/compat/results/`` (JSON, with each run's pytest output beside it) and
the summary to the end of pytest's output.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import jupyterhub
import pytest

from benchmarks.venvs import ensure_dockerspawner_venv
from tests.compat import suite
from tests.conftest import TEST_HUB_ID, TEST_PREFIX

_summaries: list[str] = []


@dataclass
class SuiteResults:
    ds: suite.SuiteRun
    ads: suite.SuiteRun
    listed: dict[str, suite.ListedTest]
    comparison: suite.Comparison
    summary: str
    results_file: Path


def _docker_py_folder(ds_python: str) -> Path:
    """A folder holding only docker-py, linked from dockerspawner's virtualenv."""
    site = subprocess.run(
        [ds_python, "-c", "import docker, os; print(os.path.dirname(docker.__file__))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    folder = suite.CACHE / "docker-py"
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "docker"
    if not link.is_symlink() or os.readlink(link) != site:
        link.unlink(missing_ok=True)
        link.symlink_to(site)
    return folder


def _tag(aliases: dict[str, str]) -> None:
    for alias, image in aliases.items():
        tagged = subprocess.run(["docker", "tag", image, alias], capture_output=True, text=True)
        if tagged.returncode:
            pytest.fail(f"docker tag {image} {alias}: {tagged.stderr.strip()}")


@pytest.fixture(scope="session")
def dockerspawner_python() -> str:
    """dockerspawner 14.0.0's virtualenv, with this session's pytest and pytest-asyncio."""
    tools = [f"{name}=={importlib.metadata.version(name)}" for name in ("pytest", "pytest-asyncio")]
    return ensure_dockerspawner_venv(
        suite.ROOT / ".cache" / "bench", jupyterhub.__version__, extra=tools
    )


@pytest.fixture(scope="session")
def suite_results(
    dockerspawner_python: str,
    singleuser_image: str,
    tiny_image: str,
    hub_connect_ip: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SuiteResults]:
    try:
        sdist = suite.fetch_sdist()
    except suite.SuiteUnavailable as e:
        pytest.fail(str(e))
    work = tmp_path_factory.mktemp("compat")
    tests = suite.prepare_suite(sdist, work / "suite")
    ds_python = dockerspawner_python
    aliases = suite.image_aliases(singleuser_image, tiny_image, jupyterhub.__version__)
    _tag(aliases)
    base = {
        k: v
        for k, v in os.environ.items()
        if k != "PYTHONPATH" and not k.startswith(("PYTEST_", "COMPAT_"))
    }
    base.update(HUB_CONNECT_IP=hub_connect_ip, COMPAT_IMAGE_ALIASES=json.dumps(aliases))
    ds_env = {**base, "COMPAT_PREFIX": f"{TEST_PREFIX}-dsc-ds"}
    path = [str(suite.SHIM), str(_docker_py_folder(ds_python))]
    if os.environ.get("PYTHONPATH"):
        path.append(os.environ["PYTHONPATH"])  # e.g. a worktree's src/
    ads_env = {
        **base,
        "PYTHONPATH": os.pathsep.join(path),
        "COMPAT_PREFIX": f"{TEST_PREFIX}-dsc-ads",
        "COMPAT_HUB_ID": f"{TEST_HUB_ID}-compat",
    }
    try:
        ds = suite.run_suite(
            target="dockerspawner",
            python=ds_python,
            suite=tests,
            workdir=work / "dockerspawner",
            env=ds_env,
        )
        ads = suite.run_suite(
            target="aiodockerspawner",
            python=sys.executable,
            suite=tests,
            workdir=work / "aiodockerspawner",
            env=ads_env,
        )
    except suite.SuiteUnavailable as e:
        pytest.fail(str(e))
    listed = suite.load_exceptions()
    comparison = suite.compare(ds.outcomes, ads.outcomes, listed)
    text = suite.summary(comparison, ds, ads, listed)
    suite.RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    results_file = suite.RESULTS / f"dockerspawner-suite-{stamp}.json"
    record = {
        "dockerspawner": suite.VERSION,
        "jupyterhub": jupyterhub.__version__,
        "sdist_sha256": suite.SDIST_SHA256,
        "tests": len(comparison.tests),
        "passed": {run.target: len(run.passed) for run in (ds, ads)},
        "runs": {r.target: {"seconds": r.seconds, "outcomes": r.outcomes} for r in (ds, ads)},
        "comparison": {
            key: sorted(value) if isinstance(value, set | list) else value
            for key, value in asdict(comparison).items()
        },
        "summary": text,
    }
    results_file.write_text(json.dumps(record, indent=1, sort_keys=True))
    for run in (ds, ads):  # the full pytest output of each run, next to the outcomes
        log = results_file.with_suffix(f".{run.target}.log")
        shutil.copy(work / run.target / "pytest.log", log)
    (suite.RESULTS / "latest.json").write_text(results_file.read_text())
    _summaries.append(f"{text}\n  outcomes: {results_file}")
    yield SuiteResults(ds, ads, listed, comparison, text, results_file)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for text in _summaries:
        terminalreporter.section("compatibility tier: dockerspawner's own tests")
        terminalreporter.write_line(text)
