"""The rest of dockerspawner's surface, without a daemon: properties, base-Spawner traits, specs."""

from __future__ import annotations

import io
import tarfile
from types import SimpleNamespace
from typing import Any

import pytest
from traitlets import TraitError

from aiodockerspawner import DockerSpawner, volumenamingstrategy
from aiodockerspawner.backends.container.backend import exec_result
from aiodockerspawner.internalssl import cert_archive, container_cert_paths
from aiodockerspawner.model import ExecResult
from tests.helpers import make_spawner


def env_of(spawner: DockerSpawner) -> dict[str, str]:
    return {k: str(v) for k, v in spawner.get_env().items()}


# -- names and properties -------------------------------------------------------


def test_container_aliases_and_internal_hostname() -> None:
    spawner = make_spawner(user="grace", server_name="lab")
    spawner.object_id = "abc123"
    assert spawner.container_id == "abc123"
    assert spawner.container_name == spawner.object_name == f"{spawner.prefix}-grace--lab"
    assert spawner.internal_hostname == spawner.object_name
    assert spawner.escaped_name == "grace"


def test_ssl_defaults_follow_dockerspawner() -> None:
    spawner = make_spawner(user="grace")
    assert spawner.ssl_alt_names == [f"DNS:{spawner.object_name}"]
    assert spawner.use_internal_hostname is False
    assert make_spawner(internal_ssl=True).use_internal_hostname is True


# dockerspawner's volumes_test.py, on our properties
def test_volume_binds_and_mount_points() -> None:
    spawner = make_spawner(user="xyz")
    spawner.volumes = {"a": "b", "c": {"bind": "d", "mode": "Z", "propagation": "rprivate"}}
    spawner.read_only_volumes = {"e": "f"}
    assert spawner.volume_binds == {
        "a": {"bind": "b", "mode": "rw"},
        "c": {"bind": "d", "mode": "Z", "propagation": "rprivate"},
        "e": {"bind": "f", "mode": "ro"},
    }
    assert spawner.volume_mount_points == ["b", "d", "f"]
    spawner.volumes = {"/nfs/{username}": {"bind": "/home/{username}", "mode": "z"}}
    spawner.read_only_volumes = {}
    assert spawner.volume_binds == {"/nfs/xyz": {"bind": "/home/xyz", "mode": "z"}}
    assert spawner.volume_mount_points == ["/home/xyz"]


def test_volume_naming_strategies() -> None:
    custom = make_spawner(
        volumes={"data/{username}": "/home/{raw_username}"},
        format_volume_name=lambda template, spawner: "THIS IS A TEST",
    )
    assert custom.volume_binds == {"THIS IS A TEST": {"bind": "THIS IS A TEST", "mode": "rw"}}
    spawner = make_spawner(user="user@email.com")
    spawner.volumes = {"data/{username}": {"bind": "/home/{raw_username}"}}
    assert spawner.volume_binds == {
        "data/user-40email-2ecom": {"bind": "/home/user@email.com", "mode": "rw"}
    }
    spawner.format_volume_name = volumenamingstrategy.escaped_format_volume_name
    spawner.volumes = {"data/{username}": {"bind": "/home/{username}"}}
    assert spawner.volume_binds == {
        "data/user-40email-2ecom": {"bind": "/home/user-40email-2ecom", "mode": "rw"}
    }


def test_mount_binds_are_templated() -> None:
    spawner = make_spawner(
        user="ada",
        mounts=[{"type": "volume", "source": "home-{username}", "target": "/home/{raw_username}"}],
    )
    assert spawner.mount_binds == [{"type": "volume", "source": "home-ada", "target": "/home/ada"}]


# -- networking defaults ----------------------------------------------------------


def test_host_ip_default_reads_a_tcp_docker_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.2")
    assert DockerSpawner()._default_host_ip() == "127.0.0.2"
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/docker.sock")
    assert DockerSpawner()._default_host_ip() == "127.0.0.1"


@pytest.mark.parametrize(
    ("network", "internal_ip"), [("bridge", False), ("host", False), ("jupyterhub", True)]
)
def test_use_internal_ip_default(network: str, internal_ip: bool) -> None:
    assert make_spawner(network_name=network).use_internal_ip is internal_ip


def test_host_network_picks_a_port_per_start() -> None:
    spawner = make_spawner(network_name="host", host_ip="127.0.0.1")
    assert (spawner.ip, spawner.port) == ("127.0.0.1", 0)
    spawner._choose_host_port()
    first = spawner.port
    assert first > 0
    assert env_of(spawner)["JUPYTERHUB_SERVICE_URL"].startswith(f"http://127.0.0.1:{first}/")
    spawner.clear_state()
    assert spawner.port == 0
    # a configured port is kept
    fixed = make_spawner(network_name="host", port=9100)
    fixed._choose_host_port()
    assert fixed.port == 9100
    fixed.clear_state()
    assert fixed.port == 9100


def test_hub_connect_url_reaches_the_environment() -> None:
    spawner = make_spawner(hub_connect_url="http://hub.internal:8081")
    env = env_of(spawner)
    assert env["JUPYTERHUB_API_URL"] == "http://hub.internal:8081/hub/api"


# -- the base Spawner surface -----------------------------------------------------------


def test_env_keep_defaults_to_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIODOCKERSPAWNER_TEST_SECRET", "hub-only")
    assert "AIODOCKERSPAWNER_TEST_SECRET" not in env_of(make_spawner())
    kept = make_spawner(env_keep=["AIODOCKERSPAWNER_TEST_SECRET"])
    assert env_of(kept)["AIODOCKERSPAWNER_TEST_SECRET"] == "hub-only"


async def test_environment_callables_and_templates() -> None:
    spawner = make_spawner(
        user="Ada.L",
        environment={"GREETING": "hi", "WHO": lambda s: s.user.name.upper()},
        notebook_dir="/home/{username}/work",
        default_url="/lab/tree/{raw_username}",
        disable_user_config=True,
        debug=True,
        args=["--ServerApp.log_level=DEBUG"],
    )
    spec = await spawner.build_spec()
    assert spec.env["GREETING"] == "hi"
    assert spec.env["WHO"] == "ADA.L"
    # dockerspawner's namespace: {username} is the escaped name
    assert spec.env["JUPYTERHUB_ROOT_DIR"] == "/home/-41da-2e-4c/work"
    assert spec.env["JUPYTERHUB_DEFAULT_URL"] == "/lab/tree/Ada.L"
    assert spec.env["JUPYTERHUB_DISABLE_USER_CONFIG"] == "1"
    assert spec.env["JUPYTERHUB_DEBUG"] == "1"
    assert spec.args == ["--ServerApp.log_level=DEBUG"]


@pytest.mark.parametrize(
    ("cmd", "command"),
    [
        (None, None),
        (["start.sh", "--x=1 2"], ["start.sh", "--x=1 2"]),
        ("start.sh --debug 'a b'", ["start.sh", "--debug", "a b"]),
    ],
)
async def test_cmd_as_list_or_string(cmd: Any, command: Any) -> None:
    spawner = make_spawner(cmd=cmd, args=["--extra"])
    spec = await spawner.build_spec()
    assert spec.command == command
    assert spec.args == ["--extra"]
    if command is not None:
        assert await spawner.get_command() == [*command, "--extra"]


@pytest.mark.parametrize("value", [False, "ls /", ["sh", "-c", "echo hi"]])
def test_post_start_cmd_accepts_dockerspawner_values(value: Any) -> None:
    assert make_spawner(post_start_cmd=value).post_start_cmd == value


def test_post_start_cmd_rejects_other_values() -> None:
    with pytest.raises(TraitError):
        make_spawner(post_start_cmd=3)


def test_hooks_and_timeouts_are_the_base_spawners() -> None:
    hook = SimpleNamespace()
    spawner = make_spawner(
        pre_spawn_hook=lambda s: hook,
        post_stop_hook=lambda s: hook,
        auth_state_hook=lambda s, a: hook,
        start_timeout=5,
        http_timeout=7,
        poll_interval=11,
        consecutive_failure_limit=3,
    )
    assert spawner.pre_spawn_hook(spawner) is hook
    assert (spawner.start_timeout, spawner.http_timeout, spawner.poll_interval) == (5, 7, 11)
    assert spawner.consecutive_failure_limit == 3


# -- internal SSL and exec, pure parts ------------------------------------------------------


def test_cert_archive_holds_the_directory_and_readable_files() -> None:
    paths = {"keyfile": "/srv/ssl/u.key", "certfile": "/srv/ssl/u.crt", "cafile": "/x/ca.crt"}
    assert container_cert_paths(paths) == {
        "keyfile": "/certs/u.key",
        "certfile": "/certs/u.crt",
        "cafile": "/certs/ca.crt",
    }
    data = cert_archive({"u.key": (b"KEY", 1.5e9), "u.crt": (b"CRT", 1.5e9)})
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert set(members) == {"certs", "certs/u.key", "certs/u.crt"}
        assert members["certs"].isdir() and members["certs"].mode == 0o755
        assert members["certs/u.key"].mode == 0o644
        assert tar.extractfile("certs/u.key").read() == b"KEY"  # type: ignore[union-attr]


def test_exec_failure_reported_on_stdout_counts_as_stderr() -> None:
    message = 'OCI runtime exec failed: exec failed: "nosuchcommand": executable file not found'
    assert exec_result(126, message, "") == ExecResult(126, "", message)
    assert exec_result(0, "bin\netc\n", "") == ExecResult(0, "bin\netc\n", "")
