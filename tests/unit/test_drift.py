"""Drift detection and the resume policy (pure)."""

from __future__ import annotations

import pytest

from aiodockerspawner import imagerefs
from aiodockerspawner.core import drift
from aiodockerspawner.labels import LABEL_SPEC
from aiodockerspawner.model import ObjectSpec, ObjectStatus, ObservedObject


def spec(image: str = "img:1", **env: str) -> ObjectSpec:
    s = ObjectSpec(
        name="n",
        image=image,
        env={"JUPYTERHUB_API_TOKEN": "t1", **env},
        command=None,
        args=[],
        port=8888,
        labels={},
    )
    s.labels[LABEL_SPEC] = drift.spec_digest(s)
    return s


def existing(created_from: ObjectSpec, *, labelled: bool = True) -> ObservedObject:
    labels = dict(created_from.labels) if labelled else {}
    return ObservedObject("id", "n", created_from.image, ObjectStatus(False), labels=labels)


def test_digest_ignores_what_changes_every_start() -> None:
    a, b = spec(), spec()
    b.env["JUPYTERHUB_API_TOKEN"] = "t2"
    b.port = 41234
    assert drift.spec_digest(a) == drift.spec_digest(b)
    assert drift.spec_digest(a) != drift.spec_digest(spec(X="1"))


@pytest.mark.parametrize(
    ("now", "policy", "recreate"),
    [
        (spec(), "recreate-image", False),
        (spec("img:2"), "recreate-image", True),
        (spec(X="1"), "recreate-image", False),
        (spec(X="1"), "recreate", True),
        (spec("img:2"), "keep", False),
    ],
)
def test_policy(now: ObjectSpec, policy: str, recreate: bool) -> None:
    found = drift.drift(existing(spec()), now)
    assert drift.should_recreate(found, policy) is recreate


def test_containers_without_a_digest_are_compared_on_the_image_only() -> None:
    old = existing(spec(), labelled=False)
    assert not drift.drift(old, spec(X="1")).any
    found = drift.drift(old, spec("img:2"))
    assert found.image and not found.settings
    assert found.describe() == "its image is img:1, the configured one img:2"


@pytest.mark.parametrize(
    ("configured", "reported"),
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("aiodockerspawner-test/tiny:latest", "localhost/aiodockerspawner-test/tiny:latest"),
        ("jupyter/base:5", "docker.io/jupyter/base:5"),
        ("quay.io/x/y@sha256:ab", "quay.io/x/y@sha256:ab"),
    ],
)
def test_podman_spellings_of_the_same_image_are_no_drift(configured: str, reported: str) -> None:
    assert imagerefs.normalize_image(configured) == imagerefs.normalize_image(reported)
    assert imagerefs.normalize_image("busybox:1") != imagerefs.normalize_image("busybox:2")
