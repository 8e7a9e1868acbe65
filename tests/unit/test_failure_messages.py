"""Docker's error texts, as real daemons write them, and what the user is told (pure)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from aiodockerspawner import DockerSpawner
from aiodockerspawner.core.failures import explain
from aiodockerspawner.errors import DockerOperationError
from aiodockerspawner.testing import FakeEngine
from aiodockerspawner.testing.pytest_plugin import fake_docker, fake_spawner

__all__ = ["fake_docker", "fake_spawner"]  # fixtures used below

IMAGE = "registry.example.com/team/notebook:1"

#: (Docker's message, the request, the kind, words the user must read)
CASES = [
    (
        "manifest for registry.example.com/team/notebook:1 not found: manifest unknown",
        "pull image",
        "image_not_found",
        f"the image {IMAGE} was not found",
    ),
    ("No such image: team/notebook:1", "create service", "image_not_found", "was not found"),
    (
        "pull access denied for team/notebook, repository does not exist or may require "
        "'docker login': denied: requested access to the resource is denied",
        "pull image",
        "image_not_found",
        "does not exist, or its registry wants credentials",
    ),
    ("unauthorized: incorrect username or password", "pull image", "registry_auth", "refused"),
    (
        'Head "http://127.0.0.1:1/v2/x/manifests/1": no basic auth credentials',
        "pull image",
        "registry_auth",
        "asks for credentials, and none were given",
    ),
    (
        'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: '
        "no such host",
        "pull image",
        "registry_unreachable",
        "could not be reached",
    ),
    (
        "driver failed programming external connectivity on endpoint jupyter-alice (1a2b): "
        "Bind for 127.0.0.1:8888 failed: port is already allocated",
        "start container",
        "port_taken",
        "(127.0.0.1:8888) is already taken",
    ),
    (
        "Error starting userland proxy: listen tcp4 127.0.0.1:40000: bind: address already in use",
        "start container",
        "port_taken",
        "(127.0.0.1:40000) is already taken",
    ),
    (
        "Could not attach to network jupyterhub: rpc error: code = NotFound desc = network "
        "jupyterhub not found",
        "start container",
        "network_not_found",
        "the Docker network jupyterhub does not exist",
    ),
    ("network jupyterhub not found", "create container", "network_not_found", "jupyterhub"),
    (
        'create data: error looking up volume plugin nfs-x: plugin "nfs-x" not found',
        "create container",
        "volume_driver_missing",
        "the volume driver nfs-x is not installed",
    ),
    (
        'invalid mount config for type "bind": bind source path does not exist: /srv/x',
        "create container",
        "invalid_mount",
        "misconfigured",
    ),
    (
        "failed to register layer: write /usr/lib/x.so: no space left on device",
        "pull image",
        "no_space",
        "run out of disk space",
    ),
    (
        "mkdir /var/lib/docker/overlay2/abc-init: no space left on device",
        "create container",
        "no_space",
        "run out of disk space",
    ),
]


@pytest.mark.parametrize(("message", "operation", "kind", "said"), CASES)
def test_common_failures_are_explained(message: str, operation: str, kind: str, said: str) -> None:
    known = explain(message, image=IMAGE, operation=operation)
    assert known is not None
    assert known.kind == kind
    assert said in known.user
    assert known.admin and "\n" not in known.user + known.admin


def test_unknown_failures_keep_dockers_words() -> None:
    assert explain("conflict: unable to remove", image=IMAGE, operation="remove") is None
    # "connection refused" is a registry problem only during a pull
    assert explain("dial unix /var/run/docker.sock: connection refused", image=IMAGE) is None


async def test_a_daemon_out_of_disk_space(
    fake_docker: FakeEngine, fake_spawner: Callable[..., DockerSpawner]
) -> None:
    """dockerd answers a create with 500 when it cannot make the container's layer."""
    fake_docker.inject(
        r"^POST /containers/create$",
        status=500,
        message="mkdir /var/lib/docker/overlay2/1f2e-init: no space left on device",
    )
    spawner = fake_spawner()
    with pytest.raises(DockerOperationError) as info:
        await spawner.start()
    message = info.value.jupyterhub_message  # type: ignore[attr-defined]
    assert message.startswith(
        "Could not start your server: the Docker host has run out of disk space (create "
    ), message
    assert "no space left on device" in message
