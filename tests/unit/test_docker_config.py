"""Credentials from the Docker client config (what ``docker login`` writes), read as docker-py does.

The real pull with such credentials, against a registry behind basic auth,
is in tests/docker/test_registry_auth.py.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path

import pytest

from aiodockerspawner.backends.docker import pulls
from aiodockerspawner.backends.docker.pulls import (
    DockerClientConfig,
    config_credentials,
    credential_helper,
    find_credentials,
    load_docker_config,
    registry_host,
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("key", "host"),
    [
        ("https://index.docker.io/v1/", "docker.io"),
        ("index.docker.io", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("docker.io", "docker.io"),
        ("http://127.0.0.1:5000", "127.0.0.1:5000"),
        ("ghcr.io/some/path", "ghcr.io"),
        ("  quay.io ", "quay.io"),
    ],
)
def test_registry_host_as_the_docker_cli_reads_keys(key: str, host: str) -> None:
    assert registry_host(key) == host


def config(**auths: dict[str, str]) -> DockerClientConfig:
    return DockerClientConfig(path="/c/config.json", auths=auths)


def test_docker_hub_images_match_the_index_url_key() -> None:
    cfg = DockerClientConfig(
        path="x", auths={"https://index.docker.io/v1/": {"auth": b64("ann:pw:with:colons")}}
    )
    expected = {
        "username": "ann",
        "password": "pw:with:colons",
        "serveraddress": "https://index.docker.io/v1/",
    }
    assert config_credentials(cfg, "jupyter/base-notebook:latest") == expected
    assert config_credentials(cfg, "docker.io/library/busybox") == expected
    assert config_credentials(cfg, "quay.io/jupyter/base-notebook") is None


def test_entry_forms() -> None:
    cfg = DockerClientConfig(
        path="x",
        auths={
            "ghcr.io": {"identitytoken": "tok", "auth": b64("a:b")},
            "127.0.0.1:5000": {"username": "u", "password": "p"},
            "quay.io": {},  # written by `docker login` when a helper keeps the secret
        },
    )
    assert config_credentials(cfg, "ghcr.io/x/y:1") == {
        "identitytoken": "tok",
        "serveraddress": "ghcr.io",
    }
    assert config_credentials(cfg, "127.0.0.1:5000/x") == {
        "username": "u",
        "password": "p",
        "serveraddress": "127.0.0.1:5000",
    }
    assert config_credentials(cfg, "quay.io/x") is None


def test_an_exact_key_wins_over_a_url_key() -> None:
    cfg = DockerClientConfig(
        path="x",
        auths={"https://ghcr.io/v2/": {"auth": b64("url:1")}, "ghcr.io": {"auth": b64("exact:2")}},
    )
    assert (config_credentials(cfg, "ghcr.io/x") or {})["username"] == "exact"


def test_a_malformed_auth_names_the_file_and_key() -> None:
    cfg = DockerClientConfig(path="/c/config.json", auths={"ghcr.io": {"auth": b64("nocolon")}})
    with pytest.raises(ValueError, match=r"/c/config.json.*'ghcr.io'"):
        config_credentials(cfg, "ghcr.io/x")


def test_credential_helpers_per_registry_then_the_store() -> None:
    cfg = DockerClientConfig(
        path="x", creds_store="desktop", cred_helpers={"gcr.io": "gcloud", "ecr.aws": ""}
    )
    assert credential_helper(cfg, "gcr.io/p/img") == "docker-credential-gcloud"
    assert credential_helper(cfg, "busybox") == "docker-credential-desktop"
    assert credential_helper(DockerClientConfig(path="x"), "busybox") == ""


def write(folder: Path, data: object) -> Path:
    path = folder / "config.json"
    path.write_text(json.dumps(data))
    return path


def test_config_path_follows_docker_config_then_home() -> None:
    assert pulls.docker_config_path({"DOCKER_CONFIG": "/etc/dc"}) == "/etc/dc/config.json"
    home = os.path.expanduser("~")
    assert pulls.docker_config_path({}) == os.path.join(home, ".docker", "config.json")


def test_the_file_is_read_again_only_when_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, {"auths": {"ghcr.io": {"auth": b64("a:1")}}})
    reads: list[str] = []
    real_open = open

    def counting_open(file: str, *args: object, **kw: object) -> object:
        if str(file) == str(path):
            reads.append(str(file))
        return real_open(file, *args, **kw)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", counting_open)
    first = load_docker_config(str(path))
    assert load_docker_config(str(path)) is first
    assert reads == [str(path)]
    write(tmp_path, {"auths": {"ghcr.io": {"auth": b64("b:22")}}})  # another size
    changed = load_docker_config(str(path))
    assert changed is not None and len(reads) == 2
    assert (config_credentials(changed, "ghcr.io/x") or {})["username"] == "b"
    path.unlink()
    assert load_docker_config(str(path)) is None


def test_a_broken_file_is_logged_and_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with caplog.at_level(logging.WARNING, "aiodockerspawner.backends.docker.pulls"):
        assert load_docker_config(str(path)) is None
    assert str(path) in caplog.text


def test_find_credentials_falls_back_to_the_docker_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, {"auths": {"ghcr.io": {"auth": b64("from-login:pw")}}})
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    # registry_credentials unset: docker login's credentials
    assert (find_credentials({}, "ghcr.io/x:1") or {})["username"] == "from-login"
    # an entry in registry_credentials wins
    table = {"ghcr.io": {"username": "configured"}}
    assert find_credentials(table, "ghcr.io/x:1") == {"username": "configured"}
    # for another registry the table has no entry: the login answers
    assert find_credentials({"quay.io": {"username": "q"}}, "ghcr.io/x") is not None
    assert find_credentials({}, "quay.io/x") is None
    assert find_credentials({}, "ghcr.io/x", docker_config=False) is None


def test_helper_note_only_when_a_helper_applies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert pulls.helper_note("ghcr.io/x") == ""  # no config at all
    write(tmp_path, {"auths": {}, "credHelpers": {"ghcr.io": "ghcr-login"}})
    note = pulls.helper_note("ghcr.io/x")
    assert "docker-credential-ghcr-login" in note and "registry_credentials" in note
    assert str(tmp_path / "config.json") in note
    assert pulls.helper_note("quay.io/x") == ""
