"""dockerspawner 14.0.0's own test suite, run against dockerspawner and against us.

The pieces of the compatibility tier (tests/compat/test_dockerspawner_suite.py):

- :func:`fetch_sdist`: the sdist from the package index, pinned by version
  and sha256, cached under ``.cache/compat``; a missing or wrong file is an
  error with the reason, never a skip.
- :func:`prepare_suite`: its ``tests/`` and ``pyproject.toml`` (the suite's
  pytest settings) in a folder of their own, with ``suite_conftest.py`` as
  ``tests/conftest.py`` (the sdist ships no conftest). Not the sdist's
  ``dockerspawner/`` package: nothing but the installed spawner (or the
  shim) may answer ``import dockerspawner``.
- :func:`run_suite`: one pytest subprocess on that folder; returns every
  test's outcome.
- :func:`compare` (pure): what aiodockerspawner fails that dockerspawner
  passes, against the list in ``tests/data/dockerspawner-suite-exceptions.tsv``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CACHE = ROOT / ".cache" / "compat"
RESULTS = CACHE / "results"
SHIM = HERE / "shim"
EXCEPTIONS_FILE = ROOT / "tests" / "data" / "dockerspawner-suite-exceptions.tsv"

VERSION = "14.0.0"
SDIST = f"dockerspawner-{VERSION}.tar.gz"
#: the file's address on the package index (immutable: it names the file's hash)
SDIST_URL = (
    "https://files.pythonhosted.org/packages/59/fa/"
    "e54bea0c778e29600482841de5ef1a1627a7b5ccec30bb369c21e99574a0/" + SDIST
)
SDIST_SHA256 = "5641d4763ecc78c1b1c3c7621bfe88c055596893e43be7f66ee0dccac06c1d2a"

#: outcomes that count as passing
PASSING = frozenset({"passed", "xfailed"})


class SuiteUnavailable(RuntimeError):
    """The suite could not be fetched or run; the message says why."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_sdist(cache: Path = CACHE, url: str | None = None, timeout: float = 60) -> Path:
    """The verified sdist, downloaded on first use.

    ``AIODOCKERSPAWNER_COMPAT_SDIST_URL`` points at a mirror; the hash is
    checked whatever the source.
    """
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / SDIST
    if path.exists() and _sha256(path) == SDIST_SHA256:
        return path
    url = url or os.environ.get("AIODOCKERSPAWNER_COMPAT_SDIST_URL") or SDIST_URL
    partial = path.with_suffix(f".part-{os.getpid()}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, partial.open("wb") as f:
            shutil.copyfileobj(response, f)
    except (urllib.error.URLError, OSError) as e:
        partial.unlink(missing_ok=True)
        raise SuiteUnavailable(
            f"cannot download dockerspawner {VERSION}'s sdist from {url}: {e}. Put the file "
            f"(sha256 {SDIST_SHA256}) at {path}, or set AIODOCKERSPAWNER_COMPAT_SDIST_URL"
        ) from e
    digest = _sha256(partial)
    if digest != SDIST_SHA256:
        partial.unlink()
        raise SuiteUnavailable(
            f"{url} is not dockerspawner {VERSION}'s sdist: sha256 {digest}, "
            f"expected {SDIST_SHA256}"
        )
    partial.replace(path)
    return path


def prepare_suite(sdist: Path, dest: Path) -> Path:
    """A folder with the suite's ``tests/``, its pytest settings and our conftest."""
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "tests").mkdir(parents=True)
    top = f"dockerspawner-{VERSION}/"
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            name = member.name
            wanted = name == top + "pyproject.toml" or (
                name.startswith(top + "tests/") and name.endswith(".py") and name.count("/") == 2
            )
            if not wanted or not member.isfile():
                continue
            source = tar.extractfile(member)
            assert source is not None
            (dest / name[len(top) :]).write_bytes(source.read())
    if not any((dest / "tests").glob("test_*.py")):
        raise SuiteUnavailable(f"{sdist} holds no tests/test_*.py")
    shutil.copy(HERE / "suite_conftest.py", dest / "tests" / "conftest.py")
    return dest


def image_aliases(singleuser: str, tiny: str, jupyterhub_version: str) -> dict[str, str]:
    """The image names the suite uses, mapped to the local test images.

    The default image (``quay.io/jupyterhub/singleuser:<X.Y>``) and the
    ``allowed_images`` choices ``:4.0`` and ``:4`` run the real single-user
    image; ``busybox:1.29.1`` (post_start, pull policy) the tiny busybox one.
    """
    major_minor = ".".join(jupyterhub_version.split(".")[:2])
    aliases = {
        f"quay.io/jupyterhub/singleuser:{tag}": singleuser for tag in (major_minor, "4.0", "4")
    }
    aliases["busybox:1.29.1"] = tiny
    return aliases


@dataclass
class SuiteRun:
    """One run of the suite: who ran it, each test's outcome, how long it took."""

    target: str
    outcomes: dict[str, dict[str, str]]
    seconds: float
    returncode: int
    output_tail: str = ""

    @property
    def passed(self) -> set[str]:
        return {t for t, o in self.outcomes.items() if o["outcome"] in PASSING}


def run_suite(
    *,
    target: str,
    python: str,
    suite: Path,
    workdir: Path,
    env: Mapping[str, str],
    timeout: float = 900,
) -> SuiteRun:
    """Run the suite in a pytest subprocess; ``env`` is its whole environment."""
    workdir.mkdir(parents=True, exist_ok=True)
    report = workdir / "outcomes.json"
    report.unlink(missing_ok=True)
    log = workdir / "pytest.log"
    command = [
        python,
        "-m",
        "pytest",
        str(suite / "tests"),
        "--rootdir",
        str(suite),
        # the suite's own addopts stop at the first failure (--maxfail=1)
        "-o",
        "addopts=",
        # JupyterHub's module-scoped Hub lives on the module's loop (see suite_conftest)
        "-o",
        "asyncio_default_test_loop_scope=module",
        "-p",
        "no:cacheprovider",
        "--basetemp",
        str(workdir / "tmp"),
        "-v",
        "-rfE",
        "--durations=8",
    ]
    began = time.monotonic()
    with log.open("w") as out:
        try:
            proc = subprocess.run(
                command,
                cwd=workdir,  # the Hub writes its cookie secret and proxy pid file here
                env={**env, "COMPAT_REPORT": str(report)},
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
            )
            returncode = proc.returncode
        except subprocess.TimeoutExpired:
            returncode = -1
    seconds = time.monotonic() - began
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
    if returncode == -1:
        raise SuiteUnavailable(f"{target}: the suite did not finish in {timeout:g}s:\n{tail}")
    if not report.exists():
        raise SuiteUnavailable(
            f"{target}: the suite wrote no outcomes (exit {returncode}):\n{tail}"
        )
    outcomes: dict[str, dict[str, str]] = json.loads(report.read_text())
    if not outcomes:
        raise SuiteUnavailable(f"{target}: the suite ran no test (exit {returncode}):\n{tail}")
    return SuiteRun(target, outcomes, seconds, returncode, tail)


# -- the exceptions list and the comparison (pure) ------------------------------------

#: kinds of entries in the exceptions file
ENVIRONMENT = "environment"  # fails for dockerspawner too, on this machine
DIFFERS = "differs"  # passes for dockerspawner, fails for aiodockerspawner


@dataclass(frozen=True)
class ListedTest:
    test: str
    kind: str
    status: str
    reason: str


def load_exceptions(path: Path = EXCEPTIONS_FILE) -> dict[str, ListedTest]:
    """The exceptions file: one test per row (``test kind status reason``)."""
    rows: dict[str, ListedTest] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader((line for line in f if not line.startswith("#")), delimiter="\t"):
            entry = ListedTest(row["test"], row["kind"], row["status"], row["reason"])
            if entry.kind not in (ENVIRONMENT, DIFFERS):
                raise ValueError(f"{path}: unknown kind {entry.kind!r} for {entry.test}")
            if not entry.reason.strip():
                raise ValueError(f"{path}: {entry.test} has no reason")
            if entry.test in rows:
                raise ValueError(f"{path}: {entry.test} is listed twice")
            rows[entry.test] = entry
    return rows


@dataclass
class Comparison:
    """dockerspawner's run against aiodockerspawner's, through the exceptions list."""

    tests: list[str]
    ds_passed: set[str]
    ads_passed: set[str]
    #: dockerspawner passes, aiodockerspawner does not, and it is not listed
    regressions: list[str] = field(default_factory=list)
    #: dockerspawner fails and the list does not say it may (a broken environment?)
    unexplained_ds_failures: list[str] = field(default_factory=list)
    #: listed as differing, but aiodockerspawner passes now: remove from the list
    fixed_exceptions: list[str] = field(default_factory=list)
    #: listed as an environment failure, but dockerspawner passes here
    environment_passing: list[str] = field(default_factory=list)
    #: listed, but the suite has no such test
    unknown_listed: list[str] = field(default_factory=list)
    #: not run by one of the two
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.regressions or self.unexplained_ds_failures or self.missing)


def compare(
    ds: Mapping[str, Mapping[str, str]],
    ads: Mapping[str, Mapping[str, str]],
    listed: Mapping[str, ListedTest],
) -> Comparison:
    """Every test dockerspawner passes must pass for aiodockerspawner unless listed."""
    tests = sorted(set(ds) | set(ads))
    ds_passed = {t for t in ds if ds[t]["outcome"] in PASSING}
    ads_passed = {t for t in ads if ads[t]["outcome"] in PASSING}
    result = Comparison(tests, ds_passed, ads_passed)
    for test in tests:
        entry = listed.get(test)
        if test not in ds or test not in ads:
            result.missing.append(test)
            continue
        if test not in ds_passed:
            if entry is None or entry.kind != ENVIRONMENT:
                result.unexplained_ds_failures.append(test)
            continue
        if entry is not None and entry.kind == ENVIRONMENT:
            result.environment_passing.append(test)
        if test in ads_passed:
            if entry is not None and entry.kind == DIFFERS:
                result.fixed_exceptions.append(test)
        elif entry is None or entry.kind != DIFFERS:
            result.regressions.append(test)
    result.unknown_listed = sorted(set(listed) - set(tests))
    return result


def summary(cmp: Comparison, ds: SuiteRun, ads: SuiteRun, listed: Mapping[str, ListedTest]) -> str:
    """The tier's report: both pass counts, what differs and why."""
    total = len(cmp.tests)
    environment = [t for t in cmp.tests if t not in cmp.ds_passed]
    differs = sorted(t for t in cmp.ds_passed - cmp.ads_passed if t not in cmp.regressions)
    lines = [
        f"dockerspawner {VERSION}'s test suite ({total} tests, JupyterHub's MockHub, this daemon):",
        f"  dockerspawner {VERSION}: {len(cmp.ds_passed)}/{total} passed in {ds.seconds:.0f}s",
        f"  aiodockerspawner:     {len(cmp.ads_passed)}/{total} passed in {ads.seconds:.0f}s",
        f"  fail for dockerspawner too (environment, not counted): {len(environment)}",
    ]
    for test in environment:
        entry = listed.get(test)
        lines.append(f"    {test}: {entry.reason if entry else 'NOT LISTED'}")
    lines.append(f"  listed differences (dockerspawner passes, we fail): {len(differs)}")
    for test in differs:
        entry = listed[test]
        lines.append(f"    {test} [{entry.status}]: {entry.reason}")
    sections = [
        ("REGRESSIONS (dockerspawner passes, we fail, not listed)", cmp.regressions, ads),
        ("dockerspawner fails, not listed as environment", cmp.unexplained_ds_failures, ds),
        ("not run by both", cmp.missing, ads),
        ("listed differences that pass now (remove them from the list)", cmp.fixed_exceptions, ads),
        ("listed environment failures that pass for dockerspawner", cmp.environment_passing, ds),
        ("listed tests the suite does not have", cmp.unknown_listed, ds),
    ]
    for title, items, run in sections:
        if items:
            lines.append(f"  {title}: {len(items)}")
            for test in items:
                message = (run.outcomes.get(test) or {}).get("message", "")
                lines.append(f"    {test}: {message}" if message else f"    {test}")
    return "\n".join(lines)
