"""Developer and CI sessions: ``nox -s tests``, ``nox -s lint``, ``nox -s docs``, ``nox -s demo``.

Each session gets its own virtualenv (made with the interpreter that runs nox).
``tests`` and ``demo`` first run ``scripts/ensure-services``, which starts the
Docker daemon, installs configurable-http-proxy and builds the local test images
(the single-user image for the jupyterhub version installed in the session);
``tests`` asks it for every service (swarm, Podman, a registry, Docker Compose
too), ``demo`` only for what the demo Hub needs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
ENSURE_SERVICES = str(ROOT / "scripts" / "ensure-services")
#: where the tests session builds the sdist and wheel (tests/package installs them)
DIST = ROOT / ".cache" / "dist"

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True


def _jupyterhub_version(session: nox.Session) -> str:
    """The jupyterhub version installed in the session's virtualenv."""
    out = session.run(
        "python",
        "-c",
        "import jupyterhub; print(jupyterhub.__version__)",
        silent=True,
    )
    version = str(out).strip().splitlines()[-1]
    session.log(f"jupyterhub {version} in the session")
    return version


def _ensure_services(session: nox.Session, *args: str) -> None:
    """Run scripts/ensure-services (with ``args``) for the session's jupyterhub version."""
    version = _jupyterhub_version(session)
    session.run(
        ENSURE_SERVICES,
        *args,
        external=True,
        env={"JUPYTERHUB_VERSION": version, "PYTHON": os.path.join(session.bin, "python")},
    )


def _build_dist(session: nox.Session) -> None:
    """Build the sdist and wheel into .cache/dist and check them as PyPI would.

    ``python -m build`` fetches the build backend (hatchling) from the package
    index into an isolated environment; ``twine check --strict`` fails on
    metadata or a README that the index would not render. pytest finds the
    result through ``AIODOCKERSPAWNER_TEST_DIST`` (tests/package installs the
    wheel into a clean virtualenv, tests/deploy builds the example Hub image
    from it).
    """
    shutil.rmtree(DIST, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(DIST), str(ROOT))
    session.run("twine", "check", "--strict", *sorted(str(p) for p in DIST.iterdir()))
    session.env["AIODOCKERSPAWNER_TEST_DIST"] = str(DIST)


def _build_docs(session: nox.Session) -> None:
    """Sphinx on docs/, warnings as errors (the reference is generated from the traits)."""
    session.run(
        "sphinx-build", "-W", "--keep-going", "-q", "-b", "html", "docs", "docs/_build/html"
    )


@nox.session
def tests(session: nox.Session) -> None:
    """Lint, build the docs and the package, bring the services up, then run pytest
    (arguments go to pytest).

    Lint (ruff, mypy), the docs build and the package build with its
    ``twine check`` take about a minute and run here so that CI, which runs
    this session only, fails on them too; they run first so that pytest's
    summary stays the last thing printed.
    """
    session.install("-e", ".[test,docs,lint,release]")
    _lint(session)
    _build_docs(session)
    _build_dist(session)
    _ensure_services(session)
    session.run("pytest", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the HTML docs into docs/_build/html (warnings are errors)."""
    session.install("-e", ".[docs]")
    _build_docs(session)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format check) and mypy --strict on the package."""
    session.install("-e", ".[lint]")  # the package, ruff and mypy
    _lint(session)


def _lint(session: nox.Session) -> None:
    session.run("ruff", "check", "src", "tests", "benchmarks")
    session.run("ruff", "format", "--check", "src", "tests")
    session.run("mypy")


@nox.session
def demo(session: nox.Session) -> None:
    """A Hub on http://127.0.0.1:8000 (any user name, any password) spawning with Docker.

    It runs in .cache/demo so that its sqlite database and cookie secret stay
    out of the checkout. Stop it with Ctrl-C: the Hub then stops the users'
    servers (``cleanup_servers``), which nox waits for (by default it would
    terminate the Hub 0.3 s after Ctrl-C and kill it 0.2 s later, in the middle
    of that cleanup). Arguments go to ``jupyterhub``, e.g.
    ``-- --JupyterHub.bind_url=http://127.0.0.1:8123`` for another port.
    """
    session.install("-e", ".")
    # Docker, the proxy and the single-user image: no swarm, Podman or registry
    _ensure_services(session, "--only", "docker,proxy,images", "--images", "singleuser")
    workdir = ROOT / ".cache" / "demo"
    workdir.mkdir(parents=True, exist_ok=True)
    config = ROOT / "examples" / "demo" / "jupyterhub_config.py"
    session.chdir(workdir)
    session.run("jupyterhub", "-f", str(config), *session.posargs, interrupt_timeout=60)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against dockerspawner 14.0.0 and raw Docker (docs/performance.md).

    About a quarter of an hour on two cores. It writes the table and JSON to
    benchmarks/results/ and, with ``-- --docs``, the table and plot into
    docs/performance.md; ``-- --smoke`` is the quick run that proves the
    harness works (the test suite runs it too). dockerspawner gets a
    virtualenv of its own under .cache/bench.
    """
    session.install("-e", ".", "matplotlib")
    _ensure_services(session)
    session.run("python", "-m", "benchmarks", *session.posargs)
