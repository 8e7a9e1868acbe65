"""Pulls from a registry behind basic auth with the credentials of ``docker login``.

A ``docker-registry`` of the test's own (benchmarks/registry.py) runs behind
htpasswd basic auth on a free port. ``docker login`` (the CLI, with a config
folder of the test's own) writes ``config.json`` as an admin's login would;
the image is pushed with those credentials and removed locally. A spawner
with no ``registry_credentials`` and ``DOCKER_CONFIG`` pointing at that folder
must pull and start it; without the login the pull fails with the registry's
own message, and with a credential helper configured instead the message
names the helper.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aiodockerspawner.errors import ImageNotAvailable
from benchmarks.registry import Registry
from tests.conftest import TEST_PREFIX
from tests.helpers import docker_cli, http_status, make_spawner
from tests.registry import docker_login, htpasswd_line, remove_local

pytestmark = pytest.mark.docker

USER = "hubadmin"


@dataclass
class AuthRegistry:
    address: str
    password: str
    #: the folder ``docker login`` wrote its config.json into
    login_config: Path
    #: an image on the registry, absent from the daemon
    image: str


@pytest.fixture(scope="module")
async def auth_registry(
    tiny_image: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AuthRegistry]:
    root = tmp_path_factory.mktemp("auth-registry")
    password = secrets.token_urlsafe(12)
    htpasswd = root / "htpasswd"
    htpasswd.write_text(htpasswd_line(USER, password))
    registry = Registry(root, htpasswd=htpasswd)
    await registry.start()
    try:
        login = root / "docker-config"
        login.mkdir()
        await docker_login(login, registry.address, USER, password)
        image = f"{registry.address}/{TEST_PREFIX}/private:{secrets.token_hex(4)}"
        await docker_cli("tag", tiny_image, image)
        await docker_cli("--config", str(login), "push", image)
        await remove_local(image)
        yield AuthRegistry(registry.address, password, login, image)
    finally:
        await registry.stop()


@pytest.fixture
async def absent(auth_registry: AuthRegistry) -> AsyncIterator[str]:
    """The private image, not on the daemon before or after the test."""
    await remove_local(auth_registry.image)
    yield auth_registry.image
    await remove_local(auth_registry.image)


async def test_docker_login_credentials_are_used_for_the_pull(
    auth_registry: AuthRegistry, absent: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = json.loads((auth_registry.login_config / "config.json").read_text())
    assert auth_registry.address in written["auths"]  # as `docker login` writes it
    monkeypatch.setenv("DOCKER_CONFIG", str(auth_registry.login_config))
    spawner = make_spawner(image=absent, remove=True, stop_grace_period=0)
    assert spawner.registry_credentials == {}
    url = await spawner.start()
    try:
        assert await http_status(url + "/") == 200
        assert (await docker_cli("image", "inspect", absent, "--format", "{{.Id}}")).strip()
    finally:
        await spawner.stop()


async def test_without_credentials_the_registry_says_why(
    auth_registry: AuthRegistry, absent: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))  # no config.json there
    spawner = make_spawner(image=absent, remove=True)
    with pytest.raises(ImageNotAvailable) as failed:
        await spawner.start()
    # the registry's own words, passed on by the daemon
    assert "no basic auth credentials" in failed.value.message
    assert "credential helper" not in failed.value.message


async def test_a_credential_helper_is_named_when_the_pull_fails(
    auth_registry: AuthRegistry, absent: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # what `docker login` writes when Docker Desktop's helper keeps the secret
    config = {"auths": {auth_registry.address: {}}, "credsStore": "desktop"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    spawner = make_spawner(image=absent, remove=True)
    with pytest.raises(ImageNotAvailable) as failed:
        await spawner.start()
    assert "no basic auth credentials" in failed.value.message
    assert "docker-credential-desktop" in failed.value.message
    assert "registry_credentials" in failed.value.message


async def test_registry_credentials_still_win(
    auth_registry: AuthRegistry, absent: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = {"auths": {auth_registry.address: {"username": USER, "password": "wrong"}}}
    (tmp_path / "config.json").write_text(json.dumps(wrong))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    right = {auth_registry.address: {"username": USER, "password": auth_registry.password}}
    spawner = make_spawner(image=absent, remove=True, stop_grace_period=0)
    spawner.registry_credentials = right
    await spawner.start()
    await spawner.stop()
