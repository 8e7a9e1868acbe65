"""A stock Debian 12 in a container, for running the README's two commands in it.

The image is what a fresh Debian 12 gives an admin: ``mmdebstrap --variant=minbase``
of bookworm (with its updates and security suites) plus ``python3`` and
``ca-certificates`` only. No pip, no venv module, no Docker, no Node.js, no curl,
and Debian's PEP 668 marker that refuses ``pip install`` outside a virtualenv. It
is built locally (no registry is reachable here) the way scripts/build-images
builds its base image, and rebuilt only when its recipe changes (the recipe hash
is the image's ``org.aiodockerspawner.recipe`` label).

A container gets a copy of the checkout (the files git tracks or would track, as
they are in the working tree; the live tree is never mounted, so nothing in the
container writes into it), the host's Docker socket and the host's network: the
Hub it runs listens on the host's ports, and the containers it spawns on the
host's daemon reach it at the docker0 address, as on a real machine.

This machine's network, not something a user needs: outbound TLS (PyPI, npm) is
re-signed by a local authority, so the host's CA bundle is mounted over the
image's (as scripts/build-images does for its images), the CA variables point
at it, and the proxy and package-index variables that the host sets are passed
on.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import io
import os
import re
import secrets
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.conftest import ROOT, TEST_PREFIX
from tests.deploy.conftest import docker

STOCK_IMAGE = "aiodockerspawner-test/stock-debian:12"
RECIPE_LABEL = "org.aiodockerspawner.recipe"
SUITE = "bookworm"
VARIANT = "minbase"
INCLUDE = "python3,ca-certificates"
#: as scripts/build-images (and debian:12-slim): no documentation, man pages or translations
DPKG_OPTS = (
    "path-exclude=/usr/share/doc/*",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/doc/*/copyright",
)
#: changes whenever what the image is built from changes (the mirror is left out)
RECIPE = hashlib.sha256(
    repr(("mmdebstrap", VARIANT, INCLUDE, SUITE, DPKG_OPTS, "updates+security", "v1")).encode()
).hexdigest()[:16]
LOCK = "/tmp/aiodockerspawner-stock-debian.lock"

HOST_CA = "/etc/ssl/certs/ca-certificates.crt"
#: CA variables pointing at the mounted bundle (pip and Node.js carry their own lists)
CA_ENV = (
    "PIP_CERT",
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "GIT_SSL_CAINFO",
)
#: the host's network settings, passed on when the host sets them
PASSED_ENV = (
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_TRUSTED_HOST",
    "PIP_DEFAULT_TIMEOUT",
    "NPM_CONFIG_REGISTRY",
)
#: files the checkout copy leaves out when git cannot list them
NOT_COPIED = {
    ".git",
    ".cache",
    ".nox",
    ".venv",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    "__pycache__",
    "_build",
    "build",
    "dist",
}


def _apt_sources() -> str:
    files = [*glob.glob("/etc/apt/sources.list.d/*"), "/etc/apt/sources.list"]
    text = []
    for name in files:
        try:
            text.append(Path(name).read_text())
        except OSError:
            pass
    return "\n".join(text)


def host_mirrors() -> tuple[str, str]:
    """The Debian and Debian security mirrors the host uses (as scripts/build-images)."""
    words = _apt_sources().replace("\n", " ").split()
    uris = [w.rstrip("/") for w in words if "://" in w]
    debian = next((u for u in uris if u.endswith("/debian")), "http://deb.debian.org/debian")
    security = next(
        (u for u in uris if u.endswith("/debian-security")), "http://deb.debian.org/debian-security"
    )
    return debian, security


def _image_recipe() -> str | None:
    result = subprocess.run(
        [
            "docker",
            "image",
            "inspect",
            "--format",
            f'{{{{ index .Config.Labels "{RECIPE_LABEL}" }}}}',
            STOCK_IMAGE,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def build_stock_image(workdir: Path) -> float:
    """mmdebstrap the image and import it; returns the seconds it took."""
    t0 = time.monotonic()
    if shutil.which("mmdebstrap") is None:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "mmdebstrap"],
        ):
            result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
            if result.returncode != 0:
                pytest.fail(
                    f"{' '.join(command)} failed (mmdebstrap builds the stock image):\n"
                    + result.stdout
                    + result.stderr
                )
    debian, security = host_mirrors()
    rootfs = workdir / "rootfs.tar"
    command = [
        "mmdebstrap",
        "--quiet",
        f"--variant={VARIANT}",
        f"--include={INCLUDE}",
        *(f"--dpkgopt={opt}" for opt in DPKG_OPTS),
        SUITE,
        str(rootfs),
        f"deb {debian} {SUITE} main",
        f"deb {debian} {SUITE}-updates main",
        f"deb {security} {SUITE}-security main",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=1200, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    docker(
        "import",
        "-c",
        'CMD ["/bin/bash"]',
        "-c",
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "-c",
        f"LABEL {RECIPE_LABEL}={RECIPE}",
        "-m",
        f"stock Debian 12: mmdebstrap --variant={VARIANT} --include={INCLUDE} {SUITE}",
        str(rootfs),
        STOCK_IMAGE,
    )
    rootfs.unlink()
    return time.monotonic() - t0


@pytest.fixture(scope="session")
def stock_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The stock Debian 12 image, built when missing or when its recipe changed."""
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        pytest.fail("No Docker daemon answers; run scripts/ensure-services (nox -s tests does)")
    with open(LOCK, "w") as lock:
        # one build at a time: several checkouts share this daemon
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _image_recipe() == RECIPE:
            print(f"{STOCK_IMAGE}: up to date")
        else:
            seconds = build_stock_image(tmp_path_factory.mktemp("stock-debian"))
            print(f"MEASURE {STOCK_IMAGE}: built in {seconds:.1f} s")
    return STOCK_IMAGE


def checkout_files() -> list[str]:
    """The checkout's files as git sees them (tracked and untracked, not ignored)."""
    result = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=False,
    )
    if result.returncode == 0:
        names = [n for n in result.stdout.decode().split("\0") if n]
        # a tracked file deleted in the working tree is not part of it
        return sorted(n for n in names if (ROOT / n).is_file())
    files = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if path.is_file() and not NOT_COPIED & set(rel.parts) and not rel.name.endswith(".pyc"):
            files.append(str(rel))
    return sorted(files)


def checkout_tar(top: str) -> bytes:
    """A tar of the checkout under the directory ``top``, owned by root."""

    def as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in checkout_files():
            tar.add(ROOT / name, arcname=f"{top}/{name}", recursive=False, filter=as_root)
    return buffer.getvalue()


def docker_socket() -> str:
    """The host path of the Docker socket this test run uses."""
    host = os.environ.get("DOCKER_HOST", "")
    if host and not host.startswith("unix://"):
        pytest.fail(f"DOCKER_HOST={host}: the stock Debian container needs a local socket")
    return host.removeprefix("unix://") or "/var/run/docker.sock"


def container_env(extra: dict[str, str]) -> dict[str, str]:
    env = {name: HOST_CA for name in CA_ENV}
    env.update({name: os.environ[name] for name in PASSED_ENV if os.environ.get(name)})
    env.update(extra)
    return env


#: the lines of the commands' output that the timeline shows
STEP_PREFIXES = ("nox > ", "scripts/nox: ", "ensure-services: ", "build-images: ")


def _seconds(stamp: str) -> float:
    """Seconds since the epoch of Docker's RFC 3339 UTC time (nanoseconds)."""
    stamp = stamp.strip().removesuffix("Z")
    whole, _, fraction = stamp.partition(".")
    moment = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return moment.timestamp() + float(f"0.{fraction or 0}")


@dataclass
class StockContainer:
    """A stock Debian 12 container running one of the README's commands."""

    name: str
    #: where the copy of the checkout is, in the container
    checkout: str

    def logs(self, *options: str) -> str:
        """The command's output (stdout and stderr, in order)."""
        result = subprocess.run(
            ["docker", "logs", *options, self.name],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=60,
            check=False,
        )
        return result.stdout.decode(errors="replace")

    def timeline(self) -> str:
        """The command's steps, each with the seconds since the container started."""
        started = _seconds(docker("inspect", "--format", "{{.State.StartedAt}}", self.name))
        lines = []
        for line in self.logs("--timestamps").splitlines():
            stamp, _, text = line.partition(" ")
            if text.startswith(STEP_PREFIXES) or re.match(r"=+ .* in [\d.]+s", text):
                lines.append(f"{_seconds(stamp) - started:7.1f} s  {text}")
        return "\n".join(lines)

    def tail(self, lines: int = 120) -> str:
        return "\n".join(self.logs().splitlines()[-lines:])

    def exit_code(self) -> int | None:
        """The command's exit code, ``None`` while it runs."""
        state = docker("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", self.name)
        status, code = state.split()
        return int(code) if status in ("exited", "dead") else None

    def wait(self, deadline: float) -> int:
        """Wait for the command to end; its exit code."""
        end = time.monotonic() + deadline
        while (code := self.exit_code()) is None:
            if time.monotonic() > end:
                pytest.fail(f"{self.name} still runs after {deadline:.0f} s:\n{self.tail()}")
            time.sleep(1)
        return code

    def exec(self, *command: str) -> str:
        return docker("exec", self.name, *command)


#: ``start(kind, command, env=None)``: see the ``stock_container`` fixture
StartContainer = Callable[..., StockContainer]


@pytest.fixture(scope="session")
def _removals() -> Iterator[list[subprocess.Popen[bytes]]]:
    """``docker rm`` of the module's containers, waited for at the end of the session.

    Removing a container with a few hundred MB of installed packages takes ten
    seconds or more; the tests that follow need not wait for it.
    """
    removals: list[subprocess.Popen[bytes]] = []
    yield removals
    for proc in removals:
        proc.wait(timeout=300)


@pytest.fixture(scope="module")
def stock_container(
    stock_image: str, _removals: list[subprocess.Popen[bytes]]
) -> Iterator[StartContainer]:
    """Start commands in stock Debian 12 containers; all are removed after the module.

    ``start(kind, command, env)`` runs ``command`` in a fresh container from the
    checkout's copy (its working directory), with ``env`` besides the
    network settings.
    """
    names: list[str] = []

    def start(kind: str, command: list[str], env: dict[str, str] | None = None) -> StockContainer:
        token = secrets.token_hex(4)
        name = f"{TEST_PREFIX}-stock-{kind}-{token}"
        # a path of its own: the demo Hub's derived hub id comes from its database path
        checkout = f"/root/aiodockerspawner-{token}"
        args = ["create", "--name", name, "--network", "host", "-w", checkout]
        args += ["-v", f"{docker_socket()}:/var/run/docker.sock", "-v", f"{HOST_CA}:{HOST_CA}:ro"]
        for key, value in container_env(env or {}).items():
            args += ["-e", f"{key}={value}"]
        docker(*args, stock_image, *command)
        names.append(name)
        copy = subprocess.run(
            ["docker", "cp", "-", f"{name}:/root"],
            input=checkout_tar(checkout.removeprefix("/root/")),
            capture_output=True,
            check=False,
        )
        assert copy.returncode == 0, f"docker cp of the checkout failed: {copy.stderr!r}"
        docker("start", name)
        return StockContainer(name, checkout)

    try:
        yield start
    finally:
        for name in names:
            _removals.append(
                subprocess.Popen(
                    ["docker", "rm", "-f", name],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
