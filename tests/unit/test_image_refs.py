"""Image references compare equal whether Docker or Podman reported them."""

from __future__ import annotations

import pytest

from aiodockerspawner.images import canonical_reference, same_image


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("busybox", "docker.io/library/busybox:latest", True),
        ("aiodockerspawner-test/tiny:latest", "localhost/aiodockerspawner-test/tiny:latest", True),
        ("jupyter/base:1", "docker.io/jupyter/base:1", True),
        ("registry:5000/img", "registry:5000/img:latest", True),
        ("busybox:1", "busybox:2", False),
        ("quay.io/x/y:1", "docker.io/x/y:1", False),
        ("img@sha256:abc", "img@sha256:abc", True),
    ],
)
def test_same_image(a: str, b: str, same: bool) -> None:
    assert same_image(a, b) is same


def test_canonical_keeps_other_registries() -> None:
    assert canonical_reference("127.0.0.1:5000/a/b") == "127.0.0.1:5000/a/b:latest"
