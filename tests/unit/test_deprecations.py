"""dockerspawner's deprecated names: warned about exactly like dockerspawner, and forwarded."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from traitlets.config import Config

from aiodockerspawner import DockerSpawner
from aiodockerspawner.backends.docker.client import resolve_endpoint
from aiodockerspawner.compat.deprecations import RENAMED, legacy_tls_config
from tests.helpers import make_spawner


def warnings_of(caplog: pytest.LogCaptureFixture, logger: str = "testlog") -> list[Any]:
    return [r for r in caplog.record_tuples if r[0] == logger]


def configured(caplog: pytest.LogCaptureFixture, cls: type = DockerSpawner, **values: Any) -> Any:
    cfg = Config()
    for name, value in values.items():
        setattr(cfg[cls.__name__], name, value)
    with caplog.at_level(logging.INFO, logger="testlog"):
        return cls(config=cfg, log=logging.getLogger("testlog"))


def test_image_whitelist_exactly_as_dockerspawner(caplog: pytest.LogCaptureFixture) -> None:
    # dockerspawner's own test_deprecated_config, record for record
    spawner = configured(caplog, image_whitelist={"1.0": "jupyterhub/singleuser:1.0"})
    assert warnings_of(caplog) == [
        (
            "testlog",
            logging.WARNING,
            "DockerSpawner.image_whitelist is deprecated in DockerSpawner 12.0, "
            "use DockerSpawner.allowed_images instead",
        )
    ]
    assert spawner.allowed_images == {"1.0": "jupyterhub/singleuser:1.0"}


@pytest.mark.parametrize(
    ("old", "value", "expected"),
    [
        ("container_ip", "10.0.0.5", "10.0.0.5"),
        ("container_port", 9999, 9999),
        ("container_image", "example/image:2", "example/image:2"),
        ("container_prefix", "lab", "lab"),
        ("container_name_template", "{prefix}-x-{username}", "{prefix}-x-{username}"),
        ("remove_containers", True, True),
        ("image_whitelist", ["a:1", "b:2"], {"a:1": "a:1", "b:2": "b:2"}),
    ],
)
def test_renamed_traits_warn_and_forward(
    caplog: pytest.LogCaptureFixture, old: str, value: Any, expected: Any
) -> None:
    spawner = configured(caplog, **{old: value})
    new = RENAMED[old].new
    assert getattr(spawner, new) == expected
    version = RENAMED[old].version
    assert warnings_of(caplog) == [
        (
            "testlog",
            logging.WARNING,
            f"DockerSpawner.{old} is deprecated in DockerSpawner {version}, "
            f"use DockerSpawner.{new} instead",
        )
    ]


def test_message_names_the_instance_class(caplog: pytest.LogCaptureFixture) -> None:
    class MySpawner(DockerSpawner):
        pass

    spawner = configured(caplog, MySpawner, remove_containers=True)
    assert spawner.remove is True
    assert warnings_of(caplog)[0][2] == (
        "MySpawner.remove_containers is deprecated in DockerSpawner 0.10.0, "
        "use MySpawner.remove instead"
    )


def test_same_value_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    # a configuration that sets old and new names alike gets no warning
    spawner = configured(caplog, container_prefix="jupyter", container_port=8888)
    assert spawner.prefix == "jupyter"
    assert warnings_of(caplog) == []


def test_alias_set_at_runtime_forwards(caplog: pytest.LogCaptureFixture) -> None:
    # dockerspawner's tests set `spawner.remove_containers = True` on a live spawner
    spawner = make_spawner(remove=False)
    spawner.remove_containers = True
    assert spawner.remove is True
    assert spawner.will_resume is False


def test_container_name_template_renames_the_container(caplog: pytest.LogCaptureFixture) -> None:
    spawner = make_spawner(user="ada", container_name_template="{prefix}-box-{username}")
    assert spawner.object_name == f"{spawner.prefix}-box-ada"


@pytest.mark.parametrize(
    "name", ["tls", "tls_verify", "tls_ca", "tls_cert", "tls_key", "tls_assert_hostname"]
)
def test_legacy_tls_settings_warn(caplog: pytest.LogCaptureFixture, name: str) -> None:
    configured(caplog, **{name: "x"})
    assert warnings_of(caplog) == [
        (
            "testlog",
            logging.WARNING,
            f"DockerSpawner.{name} is deprecated in DockerSpawner 0.8, "
            "use DockerSpawner.tls_config instead",
        )
    ]


def test_legacy_tls_settings_are_independent(caplog: pytest.LogCaptureFixture) -> None:
    # dockerspawner declared the six names as one shared trait, so they aliased each other
    spawner = configured(caplog, tls_cert="/c.pem", tls_key="/k.pem")
    assert (spawner.tls_cert, spawner.tls_key, spawner.tls_ca) == ("/c.pem", "/k.pem", None)
    assert spawner.tls_client == ("/c.pem", "/k.pem")


def test_legacy_tls_translation() -> None:
    assert legacy_tls_config({}) == {}
    assert legacy_tls_config({"tls": True}) == {"verify": True}
    assert legacy_tls_config({"tls_verify": False}) == {"verify": False}
    assert legacy_tls_config(
        {
            "tls_ca": "/ca.pem",
            "tls_cert": "/c.pem",
            "tls_key": "/k.pem",
            "tls_assert_hostname": False,
        }
    ) == {
        "ca_cert": "/ca.pem",
        "verify": True,
        "client_cert": ("/c.pem", "/k.pem"),
        "assert_hostname": False,
    }
    # a certificate without its key cannot be used: it is not half-applied
    assert legacy_tls_config({"tls_cert": "/c.pem"}) == {}


def test_legacy_tls_reaches_the_endpoint(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://docker.example:2376")
    spawner = configured(caplog, tls_verify=True, tls_ca="/ca.pem", tls_config={"verify": False})
    effective = spawner.effective_tls_config()
    assert effective == {"verify": False, "ca_cert": "/ca.pem"}  # tls_config wins
    endpoint = resolve_endpoint(
        tls_config=effective, client_kwargs={}, environ={"DOCKER_HOST": "tcp://d:2376"}
    )
    assert endpoint.tls is not None and endpoint.tls.ca_cert == "/ca.pem"
    assert spawner.endpoint.url == "https://docker.example:2376"


def test_use_docker_client_env_does_not_crash(caplog: pytest.LogCaptureFixture) -> None:
    # dockerspawner's observer takes no `change` argument and raises TypeError here
    configured(caplog, use_docker_client_env=False)
    records = warnings_of(caplog)
    assert len(records) == 1 and records[0][1] == logging.WARNING
    assert "use_docker_client_env is deprecated and ignored" in records[0][2]


def test_hub_ip_connect_warns_and_is_honoured(caplog: pytest.LogCaptureFixture) -> None:
    spawner = configured(caplog, hub_ip_connect="10.1.2.3")
    assert warnings_of(caplog) == [
        (
            "testlog",
            logging.WARNING,
            "DockerSpawner.hub_ip_connect is deprecated in DockerSpawner 0.9, "
            "use JupyterHub.hub_connect_ip instead",
        )
    ]
    live = make_spawner(hub_ip_connect="10.1.2.3")
    env = live.get_env()
    assert env["JUPYTERHUB_API_URL"] == "http://10.1.2.3:8081/hub/api"
    assert env["JUPYTERHUB_ACTIVITY_URL"].startswith("http://10.1.2.3:8081/hub/api/users/")
    # an explicit hub_connect_url wins
    explicit = make_spawner(hub_ip_connect="10.1.2.3", hub_connect_url="http://hub:8081")
    assert explicit.get_env()["JUPYTERHUB_API_URL"] == "http://hub:8081/hub/api"
    assert spawner.hub_ip_connect == "10.1.2.3"


async def test_check_image_whitelist_is_a_deprecated_check_allowed() -> None:
    spawner = make_spawner(allowed_images={"1.0": "example/one:1.0"})
    assert await spawner.check_allowed("1.0") == "example/one:1.0"
    with pytest.deprecated_call(match="check_image_whitelist is deprecated in DockerSpawner 12.0"):
        assert await spawner.check_image_whitelist("1.0") == "example/one:1.0"
