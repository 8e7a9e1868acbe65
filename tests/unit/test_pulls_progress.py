"""Pull helpers and spawn progress: pure parts and the progress fan-out."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest

from aiodockerspawner import progress
from aiodockerspawner.backends.docker.pulls import (
    PullTracker,
    find_credentials,
    pull_params,
    registry_auth_header,
)
from aiodockerspawner.imagerefs import split_image
from aiodockerspawner.progress import SpawnProgress, phase_percent


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("jupyter/base-notebook", ("docker.io", "jupyter/base-notebook", "")),
        ("quay.io/jupyterhub/singleuser:5", ("quay.io", "jupyterhub/singleuser", "5")),
        ("127.0.0.1:5000/x/y:1", ("127.0.0.1:5000", "x/y", "1")),
        ("localhost/img", ("localhost", "img", "")),
        ("busybox@sha256:abc", ("docker.io", "busybox", "@sha256:abc")),
        ("registry:5000/img", ("registry:5000", "img", "")),
    ],
)
def test_split_image(image: str, expected: tuple[str, str, str]) -> None:
    assert split_image(image) == expected


def test_pull_params_default_to_latest() -> None:
    assert pull_params("busybox") == {"fromImage": "busybox", "tag": "latest"}
    assert pull_params("127.0.0.1:5000/img") == {"fromImage": "127.0.0.1:5000/img", "tag": "latest"}
    assert pull_params("busybox:1") == {"fromImage": "busybox:1"}
    assert pull_params("busybox@sha256:abc") == {"fromImage": "busybox@sha256:abc"}


def test_find_credentials_most_specific_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))  # no `docker login` config here
    table = {
        "ghcr.io": {"username": "host"},
        "ghcr.io/team/nb": {"username": "repo"},
        "ghcr.io/team/nb:2": {"username": "exact"},
        "docker.io": {"username": "hub"},
    }
    assert find_credentials(table, "ghcr.io/team/nb:2") == {"username": "exact"}
    assert find_credentials(table, "ghcr.io/team/nb:1") == {"username": "repo"}
    assert find_credentials(table, "ghcr.io/other:1") == {"username": "host"}
    assert find_credentials(table, "jupyter/base") == {"username": "hub"}
    assert find_credentials(table, "quay.io/x") is None


def decode(header: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(header))
    return result


def test_registry_auth_header_shapes() -> None:
    assert decode(registry_auth_header({"username": "a", "password": "p"}, "ghcr.io/x")) == {
        "username": "a",
        "password": "p",
        "serveraddress": "ghcr.io",
    }
    assert decode(registry_auth_header({"identitytoken": "t"}, "jupyter/base")) == {
        "identitytoken": "t",
        "serveraddress": "https://index.docker.io/v1/",
    }
    legacy = base64.b64encode(b"user:pa:ss").decode()
    assert decode(registry_auth_header({"auth": legacy}, "r.example/x")) == {
        "username": "user",
        "password": "pa:ss",
        "serveraddress": "r.example",
    }


def layer(status: str, layer_id: str, current: int = 0, total: int = 0) -> dict[str, Any]:
    detail = {"current": current, "total": total} if total else {}
    return {"status": status, "id": layer_id, "progressDetail": detail}


def test_pull_tracker_aggregates_bytes() -> None:
    tracker = PullTracker("img")
    tracker.update({"status": "Pulling from library/img", "id": "1"})
    tracker.update(layer("Already exists", "base"))
    for name in ("a", "b"):
        tracker.update(layer("Pulling fs layer", name))
    assert tracker.fraction == 0.0
    assert tracker.summary() == "Pulling image img: 0% (0 of 2 layers done)"
    tracker.update(layer("Downloading", "a", 50, 100))
    assert tracker.fraction == pytest.approx(0.2)  # half of a's download, b still at 0
    tracker.update(layer("Downloading", "b", 300, 300))
    tracker.update(layer("Download complete", "a"))
    assert tracker.fraction == pytest.approx(0.8)
    tracker.update(layer("Extracting", "a", 100, 100))
    tracker.update(layer("Pull complete", "a"))
    tracker.update(layer("Pull complete", "b"))
    assert tracker.fraction == 1.0
    assert tracker.summary() == "Pulling image img: 100% (0.0 MB of 0.0 MB, 2 of 2 layers done)"


def test_phase_percent() -> None:
    assert phase_percent("pull", 0) == 2
    assert phase_percent("pull", 0.5) == 26
    assert phase_percent("pull", 2) == 50
    assert phase_percent("create") == 55
    assert phase_percent("unknown") is None


async def read(tracker: SpawnProgress) -> list[dict[str, Any]]:
    return [e async for e in tracker.follow()]


async def test_several_readers_see_every_event_and_it_never_goes_back() -> None:
    tracker = SpawnProgress(patience_after=1000, patience_every=1000)
    early = asyncio.ensure_future(read(tracker))
    await asyncio.sleep(0)
    with progress.reporting_to(tracker):
        progress.report("pull", "half", 0.5)
        middle = asyncio.ensure_future(read(tracker))
        progress.report("create", "created")
        progress.report("pull", "late pull line", 0.9)  # below create: held at 55
    progress.report("start", "outside the context: ignored")
    tracker.finish()
    late = await read(tracker)
    assert (
        await early
        == await middle
        == late
        == [
            {"message": "half", "progress": 26},
            {"message": "created", "progress": 55},
            {"message": "late pull line", "progress": 55},
        ]
    )
    assert progress.current() is None


async def test_patience_messages_while_nothing_happens() -> None:
    tracker = SpawnProgress(patience_after=0, patience_every=0.01)
    tracker.report("pull", "Pulling image x: 1%", 0.01)
    events = tracker.follow()
    assert (await anext(events))["message"] == "Pulling image x: 1%"
    patience = await anext(events)
    assert patience == {"message": "Still pulling the image (0 s so far)..."}
    tracker.finish()
    assert [e async for e in events] == []
