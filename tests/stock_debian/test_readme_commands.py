"""The README's two commands on a stock Debian 12, as root, with the system Python.

``bash scripts/nox -s demo`` and ``bash scripts/nox -s tests`` each run in a
fresh container of the stock image (see conftest.py): python3 without pip or
venv, PEP 668's marker, no Docker CLI, no Node.js, no curl. scripts/nox has to
bootstrap nox into a virtualenv of its own (installing Debian's python3-venv),
and scripts/ensure-services has to install what each command needs.

The containers use the host's Docker daemon and network, which the test run
outside is using at the same time: the in-container runs must find the host's
services (daemon, swarm, registry, images) and change none of them.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import TEST_HUB_ID, TEST_PREFIX
from tests.deploy.conftest import Example, docker, quietly
from tests.e2e.conftest import free_port
from tests.stock_debian.conftest import StartContainer, StockContainer

pytestmark = pytest.mark.stock_debian

#: the bootstrap of a fresh container (apt, pip, the proxy) before the Hub answers
DEMO_DEADLINE = 900
#: the Hub's cleanup after Ctrl-C: it stops the users' servers
DEMO_STOP_DEADLINE = 90
TESTS_DEADLINE = 1800
#: what the tests command runs in the container (see docs/development.md for why)
TESTS_SELECTION = ["tests/e2e/test_readme.py"]


def test_the_image_is_a_stock_debian_12(stock_image: str) -> None:
    """What the commands must cope with is really missing from the image."""
    script = r"""
        . /etc/os-release; echo "debian=$VERSION_ID"
        python3 -c 'import sys; print("python=%d.%d" % sys.version_info[:2])'
        python3 -m pip --version >/dev/null 2>&1 && echo has-pip
        python3 -m venv /tmp/venv >/dev/null 2>&1 && echo has-venv
        python3 -c 'import nox' 2>/dev/null && echo has-nox
        ls /usr/lib/python3*/EXTERNALLY-MANAGED >/dev/null 2>&1 && echo pep668
        for c in docker node npm configurable-http-proxy curl; do
            command -v "$c" >/dev/null && echo "has-$c"
        done
        true
    """
    out = docker("run", "--rm", stock_image, "bash", "-c", script).split()
    assert out == ["debian=12", "python=3.11", "pep668"]


def _wait_for_hub(ex: Example, container: StockContainer) -> None:
    """Until the demo Hub answers on its port, failing early when the command ends."""
    end = time.monotonic() + DEMO_DEADLINE
    while True:
        try:
            if requests.get(f"{ex.url}/hub/api", timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        code = container.exit_code()
        if code is not None:
            pytest.fail(
                f"the demo command exited {code} before its Hub answered:\n{container.tail()}"
            )
        if time.monotonic() > end:
            pytest.fail(
                f"the demo Hub did not answer within {DEMO_DEADLINE} s:\n{container.tail()}"
            )
        time.sleep(1)


def _containers(label: str) -> list[str]:
    return docker("ps", "-aq", "--filter", f"label={label}").split()


def test_demo_command(stock_container: StartContainer, tests_command: StockContainer) -> None:
    # (tests_command: the tests command starts first and runs meanwhile)
    # The demo's Hub takes the host's ports (host network): free ones instead of
    # 8000, 8081 and 8001, given as the session's arguments to jupyterhub.
    port = free_port()
    command = [
        "bash", "scripts/nox", "-s", "demo", "--",
        f"--JupyterHub.bind_url=http://127.0.0.1:{port}",
        f"--JupyterHub.hub_port={free_port()}",
        f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{free_port()}",
    ]  # fmt: skip
    name = f"stock{secrets.token_hex(3)}"
    try:
        container = stock_container("demo", command)
        ex = Example(
            name="demo",
            workdir=Path(container.checkout),
            env={},
            port=port,
            hub_id="",
            prefix="",
            password="any password",
            logs=container.tail,
        )
        _wait_for_hub(ex, container)

        # a user logs in through the form and gets a server through the proxy
        session = ex.login(name)
        token = ex.start_server(session, name)
        ex.server_answers(name, token)
        (server,) = _containers(f"aiodockerspawner.user={name}")
        hub_id = docker(
            "inspect", "--format", '{{ index .Config.Labels "aiodockerspawner.hub-id" }}', server
        ).strip()
        assert hub_id.startswith("hub-"), hub_id

        # Ctrl-C, as in a terminal: SIGINT to every process of the command
        container.exec("bash", "-c", "kill -s INT -- -1; kill -s INT 1")
        container.wait(DEMO_STOP_DEADLINE)
        print(f"MEASURE the demo command in a stock Debian 12:\n{container.timeline()}")
        logs = container.logs()
        # the Hub finished its cleanup (JupyterHub's last line) and stopped the server
        assert "Cleaning up single-user servers" in logs, container.tail()
        assert re.search(r"JupyterHub app:\d+\] \.\.\.done$", logs, flags=re.M), container.tail()
        assert _containers(f"aiodockerspawner.hub-id={hub_id}") == []

        # what the stock system made the commands do
        assert "scripts/nox: installing Debian's python3-venv" in logs
        assert "scripts/nox: installing nox into" in logs
        assert "ensure-services: apt-get install docker.io" in logs
        # the host's daemon through its socket: no second dockerd fighting for it
        assert "docker: daemon answers after installing docker.io" in logs
        assert "starting dockerd" not in logs
        assert "proxy: from the distribution's node-configurable-http-proxy" in logs
    finally:
        for cid in _containers(f"aiodockerspawner.user={name}"):
            quietly("docker", "rm", "-fv", cid)


def _host_services_up() -> None:
    """The host's swarm and registry are up, so the run inside only finds them."""
    state = docker("info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}")
    if state.split() != ["active", "true"]:
        pytest.fail(
            f"the host's daemon is not a swarm manager ({state.strip()}); "
            "run scripts/ensure-services first (nox -s tests does)"
        )
    try:
        requests.get("http://127.0.0.1:5000/v2/", timeout=5).raise_for_status()
    except requests.RequestException as e:
        pytest.fail(f"no registry on 127.0.0.1:5000 ({e}); run scripts/ensure-services first")


#: the hub id of the test objects the tests command creates
INNER_HUB_ID = f"{TEST_HUB_ID}-stock"


@pytest.fixture(scope="module")
def tests_command(stock_container: StartContainer) -> Iterator[StockContainer]:
    """The tests command, started once: it runs while the demo test runs.

    Both spend most of their minutes waiting for apt and the package index, so
    side by side they take little longer than the tests command alone.
    """
    _host_services_up()
    env = {
        # its test objects apart from this run's (which it would otherwise remove)
        "AIODOCKERSPAWNER_TEST_HUB_ID": INNER_HUB_ID,
        "AIODOCKERSPAWNER_TEST_PREFIX": f"{TEST_PREFIX}-stk",
        # Podman cannot run in an unprivileged container
        "AIODOCKERSPAWNER_SKIP_SERVICES": "podman",
    }
    command = ["bash", "scripts/nox", "-s", "tests", "--", *TESTS_SELECTION]
    try:
        yield stock_container("tests", command, env)
    finally:
        for cid in _containers(f"aiodockerspawner.hub-id={INNER_HUB_ID}"):
            quietly("docker", "rm", "-fv", cid)


def test_tests_command(tests_command: StockContainer) -> None:
    container = tests_command
    code = container.wait(TESTS_DEADLINE)
    print(f"MEASURE the tests command in a stock Debian 12:\n{container.timeline()}")
    logs = container.logs()
    assert code == 0, container.tail(200)
    assert re.search(r"^=+ \d+ passed.* in [\d.]+s", logs, flags=re.M), container.tail()
    assert not re.search(r"^=+ .*\b(failed|error)", logs, flags=re.M), container.tail()

    assert "scripts/nox: installing Debian's python3-venv" in logs
    # installed in the container: the docker CLI, the proxy, curl, Compose
    for package in ("docker.io", "node-configurable-http-proxy", "curl", "docker-compose"):
        assert f"ensure-services: apt-get install {package}" in logs, package
    # the host's services were found, not changed
    assert "leaving out podman" in logs
    assert "starting dockerd" not in logs
    assert "swarm: this daemon is a swarm manager" in logs
    assert "registry: answers on 127.0.0.1:5000" in logs
    built = re.findall(r"^build-images: (\S+): (.*)$", logs, flags=re.M)
    assert built, logs
    assert all(what.startswith(("up to date", "verified")) for _, what in built), built
