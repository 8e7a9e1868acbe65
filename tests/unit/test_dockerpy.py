"""docker-py method names -> Engine requests, and answers -> docker-py's return shapes.

The expected requests are the ones docker-py 7's ``APIClient`` sends for the
same arguments (docker/api/*.py); the real-daemon tests are in
tests/docker/test_dockerpy.py.
"""

from __future__ import annotations

import base64
import datetime
import json
import struct
import sys
import types
from typing import Any

import pytest

from aiodockerspawner.backends.docker import dockerpy
from aiodockerspawner.backends.docker.dockerpy import Request, build, shape


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def test_every_method_dockerspawner_subclasses_use_is_there() -> None:
    wanted = {
        "inspect_container", "inspect_image", "create_container", "start", "stop",
        "remove_container", "kill", "wait", "logs", "exec_create", "exec_start",
        "put_archive", "get_archive", "pull", "tag", "remove_image", "containers",
        "images", "volumes", "create_volume", "remove_volume", "networks",
        "inspect_service", "services", "tasks", "create_service", "remove_service",
        "info", "version", "port",
    }  # fmt: skip
    assert wanted <= dockerpy.METHODS


def test_unknown_method_names_itself() -> None:
    with pytest.raises(dockerpy.UnsupportedMethod, match=r"docker\('attach'\).*'attach'"):
        build("attach", "c")
    # docker-py's getattr failed with AttributeError: code catching that still works
    with pytest.raises(AttributeError):
        build("create_host_config")


def test_bad_arguments_fail_like_a_call_would() -> None:
    with pytest.raises(TypeError, match=r"docker\('stop'\).*tmeout"):
        build("stop", "c", tmeout=1)
    with pytest.raises(TypeError, match=r"docker\('inspect_container'\)"):
        build("inspect_container")
    with pytest.raises(dockerpy.DeprecatedMethod, match="host_config"):
        build("start", "c", port_bindings={8888: 1})
    with pytest.raises(dockerpy.NullResource):
        build("inspect_container", {"Name": "x"})


def test_create_container_body_is_docker_pys() -> None:
    request = build(
        "create_container",
        "img:1",
        "sh -c 'sleep 1'",
        name="jupyter-alice",
        environment={"A": "1", "FLAG": None},
        labels=["x"],
        ports=[8888, (53, "udp")],
        volumes="/data",
        user=1000,
        working_dir="/home/jovyan",
        host_config={"CpuPeriod": 100_000, "CpuQuota": 50_000, "Binds": ["/a:/b:rw"]},
        healthcheck={"test": "true", "interval": 1_000_000_000},
        platform="linux/amd64",
    )
    assert (request.method, request.path) == ("POST", "containers/create")
    assert request.params == {"name": "jupyter-alice", "platform": "linux/amd64"}
    assert request.body == {
        "Image": "img:1",
        "Cmd": ["sh", "-c", "sleep 1"],
        "Env": ["A=1", "FLAG"],
        "Labels": {"x": ""},
        "ExposedPorts": {"8888/tcp": {}, "53/udp": {}},
        "Volumes": {"/data": {}},
        "User": "1000",
        "WorkingDir": "/home/jovyan",
        "HostConfig": {"CpuPeriod": 100_000, "CpuQuota": 50_000, "Binds": ["/a:/b:rw"]},
        "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 1_000_000_000},
        # docker-py's defaults, None values left out
        "Tty": False,
        "OpenStdin": False,
        "StdinOnce": False,
        "AttachStdin": False,
        "AttachStdout": True,
        "AttachStderr": True,
        "NetworkDisabled": False,
    }


def test_container_requests() -> None:
    assert build("inspect_container", {"Id": "abc"}) == Request("GET", "containers/abc/json")
    stop = build("stop", "c", timeout=5)
    assert (stop.method, stop.path, stop.params, stop.result) == (
        "POST",
        "containers/c/stop",
        {"t": "5"},
        "none",
    )
    assert stop.extra_read_timeout == 5  # docker-py waits t seconds longer for the answer
    assert build("stop", "c").params == {}
    assert build("kill", "c", signal=9).params == {"signal": "9"}
    assert build("kill", "c", signal="SIGTERM").params == {"signal": "SIGTERM"}
    remove = build("remove_container", "c", v=True, force=True)
    assert (remove.method, remove.params) == ("DELETE", {"v": "1", "link": "0", "force": "1"})
    wait = build("wait", "c", condition="next-exit")
    assert (wait.path, wait.params, wait.timeout) == (
        "containers/c/wait",
        {"condition": "next-exit"},
        None,  # waiting has no read timeout, as in docker-py without timeout=
    )
    assert build("wait", "c", timeout=30).timeout == 30
    # names are quoted as docker-py quotes them (``/`` and ``:`` kept)
    assert build("inspect_container", "a b").path == "containers/a%20b/json"


def test_containers_list_params() -> None:
    request = build("containers", all=True, filters={"label": ["a=b", "c"], "exited": 0})
    assert request.params == {
        "limit": "-1",
        "all": "1",
        "size": "0",
        "trunc_cmd": "0",
        "filters": json.dumps({"label": ["a=b", "c"], "exited": ["0"]}),
    }
    assert build("containers", latest=True).params["limit"] == "1"
    assert build("containers", since="x").params["since"] == "x"


def test_logs_params() -> None:
    since = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    request = build("logs", "c", stdout=False, tail=10, since=since, timestamps=True)
    assert request.params == {
        "stderr": "1",
        "stdout": "0",
        "timestamps": "1",
        "follow": "0",
        "tail": "10",
        "since": str(int(since.timestamp())),
    }
    assert request.tty_of == "c"  # the framing depends on the container's Tty, as in docker-py
    assert build("logs", "c", tail=-3).params["tail"] == "all"
    with pytest.raises(dockerpy.InvalidArgument, match="since"):
        build("logs", "c", since=-1)
    with pytest.raises(dockerpy.InvalidArgument, match="stream"):
        build("logs", "c", stream=True)
    assert build("logs", "c", follow=True).timeout is None


def test_exec_and_archive_requests() -> None:
    create = build("exec_create", "c", "echo hi", environment={"A": "b"}, workdir="/tmp")
    assert create.path == "containers/c/exec"
    assert create.body == {
        "Container": "c",
        "User": "",
        "Privileged": False,
        "Tty": False,
        "AttachStdin": False,
        "AttachStdout": True,
        "AttachStderr": True,
        "Cmd": ["echo", "hi"],
        "Env": ["A=b"],
        "WorkingDir": "/tmp",
    }
    start = build("exec_start", {"Id": "e1"}, demux=True)
    assert (start.path, start.body, start.result) == (
        "exec/e1/start",
        {"Tty": False, "Detach": False},
        "output",
    )
    assert build("exec_start", "e1", detach=True).result == "text"
    with pytest.raises(dockerpy.InvalidArgument, match="socket"):
        build("exec_start", "e1", socket=True)

    put = build("put_archive", "c", "/home", b"tar")
    assert (put.method, put.path, put.params, put.data) == (
        "PUT",
        "containers/c/archive",
        {"path": "/home"},
        b"tar",
    )
    assert put.headers == {"Content-Type": "application/x-tar"}
    with pytest.raises(TypeError, match="bytes"):
        build("put_archive", "c", "/home", "not bytes")
    get = build("get_archive", "c", "/etc/hostname", encode_stream=True)
    assert get.headers == {"Accept-Encoding": "gzip, deflate"}


def test_image_requests() -> None:
    pull = build("pull", "127.0.0.1:5000/team/nb:2")
    assert pull.params == {"tag": "2", "fromImage": "127.0.0.1:5000/team/nb"}
    assert pull.registry_image == "127.0.0.1:5000/team/nb"  # credentials from the config
    assert build("pull", "busybox").params == {"tag": "latest", "fromImage": "busybox"}
    assert build("pull", "busybox", tag="1").params["tag"] == "1"
    assert "tag" not in build("pull", "busybox", all_tags=True).params
    digest = build("pull", "busybox@sha256:abc").params
    assert digest == {"tag": "sha256:abc", "fromImage": "busybox"}
    given = build("pull", "busybox", auth_config={"username": "u", "password": "p"})
    assert json.loads(base64.urlsafe_b64decode(given.headers["X-Registry-Auth"])) == {
        "username": "u",
        "password": "p",
    }
    assert given.registry_image == ""  # given credentials win over the config
    tag = build("tag", "img", "repo/x", "t", force=True)
    assert (tag.path, tag.params, tag.result) == (
        "images/img/tag",
        {"tag": "t", "repo": "repo/x", "force": "1"},
        "status201",
    )
    assert build("remove_image", "img").params == {"force": "0", "noprune": "0"}
    filters = {"dangling": True}
    images = build("images", name="repo", quiet=True, filters=filters)
    assert images.params == {
        "only_ids": "1",
        "all": "0",
        "filters": json.dumps({"dangling": ["true"], "reference": ["repo"]}),
    }
    assert filters == {"dangling": True}  # the caller's dict is not changed


def test_volume_network_service_daemon_requests() -> None:
    volume = build("create_volume", "v", labels={"a": "b"})
    assert volume.body == {"Name": "v", "Labels": {"a": "b"}}
    with pytest.raises(TypeError, match="labels"):
        build("create_volume", "v", labels=["a"])
    assert build("remove_volume", "v", force=True).params == {"force": "1"}
    assert build("volumes").params == {}
    assert build("networks", names=["a"]).params == {"filters": json.dumps({"name": ["a"]})}
    assert build("networks").params == {"filters": "{}"}
    service = build(
        "create_service",
        {"ContainerSpec": {"Image": "ghcr.io/x/nb:1"}},
        name="s",
        mode="global",
        networks=["net", {"Target": "other"}],
    )
    assert service.body == {
        "Name": "s",
        "TaskTemplate": {"ContainerSpec": {"Image": "ghcr.io/x/nb:1"}},
        "Mode": {"global": {}},
        "Networks": [{"Target": "net"}, {"Target": "other"}],
    }
    assert service.registry_image == "ghcr.io/x/nb:1"
    with pytest.raises(dockerpy.DockerException, match="Image"):
        build("create_service", {"ContainerSpec": {}})
    assert build("inspect_service", "s", insert_defaults=True).params == {"insertDefaults": "1"}
    assert build("remove_service", "s").result == "true"
    assert build("tasks", filters={"service": "s"}).params == {
        "filters": json.dumps({"service": ["s"]})
    }
    assert build("version", api_version=False).versioned is False
    assert build("info") == Request("GET", "info")


def test_answers_take_docker_pys_shapes() -> None:
    created = build("create_container", "img")
    assert shape(created, 201, {}, b'{"Id": "x", "Warnings": []}') == {"Id": "x", "Warnings": []}
    assert shape(build("tag", "i", "r"), 201, {}, b"") is True
    assert shape(build("put_archive", "c", "/", b""), 200, {}, b"") is True
    assert shape(build("start", "c"), 204, {}, b"") is None
    assert shape(build("remove_service", "s"), 200, {}, b"") is True
    assert shape(build("pull", "b"), 200, {}, b'{"status":"ok"}\n') == '{"status":"ok"}\n'

    listed = b'[{"Id": "0123456789abcdef", "Names": ["/a"]}]'
    assert shape(build("containers", quiet=True), 200, {}, listed) == [{"Id": "0123456789abcdef"}]
    assert shape(build("containers", trunc=True), 200, {}, listed)[0]["Id"] == "0123456789ab"
    assert shape(build("images", quiet=True), 200, {}, b'[{"Id": "sha256:1"}]') == ["sha256:1"]

    stat = {"name": "f", "size": 3}
    header = {"X-Docker-Container-Path-Stat": base64.b64encode(json.dumps(stat).encode()).decode()}
    chunks, got = shape(build("get_archive", "c", "/f", chunk_size=2), 200, header, b"abcde")
    assert (chunks, got) == ([b"ab", b"cd", b"e"], stat)

    inspect = b'{"NetworkSettings": {"Ports": {"8888/tcp": [{"HostPort": "1"}]}}}'
    assert shape(build("port", "c", 8888), 200, {}, inspect) == [{"HostPort": "1"}]
    assert shape(build("port", "c", "8888/udp"), 200, {}, inspect) is None
    assert shape(build("port", "c", 8888), 200, {}, b'{"NetworkSettings": {}}') is None


def test_output_is_demultiplexed_unless_tty() -> None:
    body = frame(1, b"out\n") + frame(2, b"err\n") + frame(1, b"more\n")
    logs = build("logs", "c")
    assert shape(logs, 200, {}, body, {"tty": False}) == b"out\nerr\nmore\n"
    assert shape(logs, 200, {}, b"raw tty bytes", {"tty": True}) == b"raw tty bytes"
    demux = build("exec_start", "e", demux=True)
    assert shape(demux, 200, {}, body) == (b"out\nmore\n", b"err\n")
    assert shape(demux, 200, {}, frame(1, b"x")) == (b"x", None)
    # a truncated frame header at the end is ignored, as docker-py does
    assert dockerpy.demultiplex(frame(1, b"a") + b"\x01\x00") == [(1, b"a")]


def test_http_errors_by_status() -> None:
    missing = dockerpy.api_error(404, "No such container: c", "/containers/c/json")
    assert type(missing) is dockerpy.NotFound
    assert missing.status_code == 404
    assert missing.explanation == "No such container: c"
    assert missing.response is not None and missing.response.json() == {
        "message": "No such container: c"
    }
    assert str(missing) == (
        '404 Client Error for /containers/c/json: Not Found ("No such container: c")'
    )
    image = dockerpy.api_error(404, "No such image: x:1", "/images/x:1/json")
    assert type(image) is dockerpy.ImageNotFound
    pull = dockerpy.api_error(404, "pull access denied, repository does not exist", "/x")
    assert isinstance(pull, dockerpy.ImageNotFound)
    conflict = dockerpy.api_error(409, "name in use", "/containers/create")
    assert type(conflict) is dockerpy.APIError
    assert conflict.is_client_error() and not conflict.is_server_error()
    assert dockerpy.api_error(500, "boom", "/x").is_server_error()


def fake_docker_errors() -> types.ModuleType:
    module = types.ModuleType("docker.errors")

    class DockerException(Exception):
        pass

    class APIError(DockerException):
        def __init__(self, message: Any, response: Any = None, explanation: Any = None) -> None:
            super().__init__(message)
            self.response = response
            self.explanation = explanation

    class NotFound(APIError):
        pass

    class ImageNotFound(NotFound):
        pass

    for cls in (DockerException, APIError, NotFound, ImageNotFound):
        setattr(module, cls.__name__, cls)
    return module


def test_errors_are_also_docker_pys_when_it_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    theirs = fake_docker_errors()
    monkeypatch.setitem(sys.modules, "docker.errors", theirs)
    error = dockerpy.api_error(404, "No such image: x", "/images/x/json")
    assert isinstance(error, theirs.ImageNotFound)
    assert isinstance(error, theirs.NotFound)
    assert isinstance(error, dockerpy.ImageNotFound)
    assert error.status_code == 404 and error.explanation == "No such image: x"
    # the same class each time (an except clause written twice catches both)
    assert type(dockerpy.api_error(404, "No such image: y", "/")) is type(error)
    other = dockerpy.api_error(500, "boom", "/")
    assert isinstance(other, theirs.APIError) and not isinstance(other, theirs.NotFound)
    with pytest.raises(theirs.DockerException):
        build("start", "c", 1)


def test_without_docker_py_the_errors_are_ours_only() -> None:
    assert "docker.errors" not in sys.modules  # this environment has no docker-py
    error = dockerpy.api_error(404, "No such container: c", "/")
    assert type(error) is dockerpy.NotFound
