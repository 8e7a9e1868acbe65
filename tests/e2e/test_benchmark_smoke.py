"""The benchmark harness in smoke mode, so that it does not rot between benchmark runs.

``python -m benchmarks --smoke`` runs every scenario with N = 2 for all three
contenders at once (real Hubs, configurable-http-proxy, the counting and
throttling proxies, a local registry, dockerspawner 14.0.0 in its own
virtualenv under .cache/bench, made on first use). The timings of such a run
mean nothing; what is checked is that every figure came out, and the request
counts, which do not depend on timing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_PREFIX

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SMOKE_DEADLINE = 420  # seconds; about 120 once dockerspawner's virtualenv exists


def test_benchmark_smoke(tmp_path: Path, tiny_image: str, singleuser_image: str) -> None:
    out = tmp_path / "smoke.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--smoke",
            "--no-plot",
            "--prefix",
            f"{TEST_PREFIX}-bench",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SMOKE_DEADLINE,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-6000:]
    data = json.loads(out.read_text())
    results = data["results"]
    hubs = {"ads", "ds"}
    everyone = {"ads", "ds", "raw"}
    expected = {
        # the Hub floor (a spawner that does nothing) runs the spawn batch of scenario 5
        "spawn_tiny_n2": everyone | {"floor"},
        "stop_exiting_n2": everyone | {"floor"},
        "stop_ignoring_n2": everyone,
        "spawn_real_n2": everyone,
        "docker_requests": everyone,
        "head_of_line": everyone,
        "loop_lag": hubs | {"floor"},
        "rss_idle": hubs,
        "rss_running": hubs,
        "swarm_spawn_n2": everyone,
        "swarm_stop_n2": everyone,
        "swarm_docker_requests": everyone,
    }
    for scenario, contenders in expected.items():
        assert set(results.get(scenario, {})) == contenders, (scenario, results.get(scenario))

    # SIGTERM is ignored: nobody stops in less than the grace period
    grace = data["meta"]["plan"]["grace"]
    for key in everyone:
        assert results["stop_ignoring_n2"][key]["total"] >= grace

    # request counts are exact, whatever the timing
    requests = results["docker_requests"]
    assert requests["raw"]["plain_start_requests"] == 3, requests["raw"]
    assert requests["ads"]["plain_start_requests"] <= 4, requests["ads"]
    # dockerspawner: inspect image, inspect container, create, start, port/inspect
    assert requests["ds"]["plain_start_requests"] >= 5, requests["ds"]
    assert requests["ds"]["polls"] > 0
    assert requests["ds"]["requests_per_poll"] >= 1, requests["ds"]

    # Swarm: one shared task list per poll interval against a service inspect and a
    # task list per server and poll
    swarm = results["swarm_docker_requests"]
    assert swarm["ads"]["requests_per_interval"] <= 1, swarm["ads"]
    assert swarm["ds"]["requests_per_poll"] >= 2, swarm["ds"]
    assert swarm["raw"]["plain_start_requests"] >= 2, swarm["raw"]

    # the pull really went through the throttled registry for every contender
    for key in everyone:
        assert results["head_of_line"][key]["pull_started"], results["head_of_line"][key]

    # the printed table has a row for each scenario
    for number in range(1, 9):
        assert f"| {number}. " in proc.stdout, proc.stdout
