"""SwarmSpawner and the ServiceBackend's pure helpers, without Docker."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import traitlets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiodockerspawner import SwarmSpawner, dockerpy
from aiodockerspawner.backends.service.backend import (
    ServiceBackend,
    current_task,
    node_address,
    observed_from_service,
    publish_mode,
    published_port,
    task_ip,
    task_lost,
    task_status,
)
from aiodockerspawner.backends.service.body import service_create_body
from aiodockerspawner.core.naming import is_service_name
from aiodockerspawner.errors import InvalidSpec
from aiodockerspawner.model import ServiceObjectSpec
from tests.conftest import TEST_PREFIX
from tests.helpers import make_spawner

GiB = 1024**3


def task(
    state: str,
    *,
    desired: str = "running",
    created: str = "2024-01-01T00:00:00Z",
    **status: Any,
) -> dict[str, Any]:
    return {
        "ID": f"t-{state}-{created}",
        "CreatedAt": created,
        "DesiredState": desired,
        "Status": {"State": state, **status},
    }


# --- pure helpers -------------------------------------------------------------------------


def test_current_task_prefers_the_newest_wanted_one() -> None:
    old = task("failed", desired="shutdown", created="2024-01-01T00:00:00Z")
    new = task("running", created="2024-01-01T00:00:05Z")
    newer_dead = task("rejected", desired="shutdown", created="2024-01-01T00:00:09Z")
    assert current_task([old, new, newer_dead]) is new
    assert current_task([old, newer_dead]) is newer_dead
    assert current_task([]) is None


def test_current_task_follows_a_replacement_waiting_to_run() -> None:
    # a drained node's task is shut down; swarm's replacement waits as "ready"
    drained = task("running", desired="shutdown", created="2024-01-01T00:00:00Z")
    replacement = task("pending", desired="ready", created="2024-01-01T00:00:05Z")
    assert current_task([drained, replacement]) is replacement


def test_a_task_swarm_took_away_is_lost_whatever_its_node_last_said() -> None:
    # the node died: its last report ("running") stays, swarm no longer wants it
    dead_node = {**task("running", desired="shutdown"), "NodeID": "n1"}
    # the node was drained and stopped it
    drained = task("shutdown", desired="shutdown")
    for lost in (dead_node, drained):
        assert task_lost(lost)
        status = task_status(lost)
        assert not status.running and status.status == "lost"
    assert "node n1" in task_status(dead_node).error
    # a server that ended by itself is not lost: its exit is what poll reports
    for ended in ("complete", "failed", "rejected"):
        assert not task_lost(task(ended, desired="shutdown"))
    assert not task_lost(task("running"))
    # a service being removed is not a loss
    removed = task("running", desired="remove")
    assert not task_lost(removed) and task_status(removed).status == "removed"
    assert not task_lost(task("pending", desired="ready"))


def test_task_status() -> None:
    running = task_status(task("running", ContainerStatus={"ExitCode": 0}))
    assert running.running and running.exit_code is None
    failed = task_status(
        task("failed", Err="task: non-zero exit (3)", ContainerStatus={"ExitCode": 3})
    )
    assert not failed.running and failed.exit_code == 3 and "non-zero" in failed.error
    rejected = task_status(task("rejected", Err="No such image: x"))
    assert rejected.exit_code == 1 and rejected.status == "rejected"
    assert task_status({}).status == "missing"


def test_observed_from_service() -> None:
    service = {
        "ID": "svc1",
        "Spec": {
            "Name": "jupyter-alice",
            "Labels": {"a": "b"},
            "TaskTemplate": {"ContainerSpec": {"Image": "img", "Env": ["T=1", "E=a=b"]}},
        },
    }
    obs = observed_from_service(service, task("running"))
    assert (obs.id, obs.name, obs.image) == ("svc1", "jupyter-alice", "img")
    assert obs.env == {"T": "1", "E": "a=b"}
    assert obs.labels == {"a": "b"}
    assert obs.status.running and obs.task["Status"]["State"] == "running"


def test_ports_and_modes() -> None:
    ports = [
        {"Protocol": "udp", "TargetPort": 8888, "PublishedPort": 1},
        {"Protocol": "tcp", "TargetPort": 8888, "PublishedPort": 30001},
    ]
    assert published_port(ports, 8888) == 30001
    assert published_port(ports, 9999) is None
    assert published_port([{"TargetPort": 8888, "PublishMode": "host"}], 8888) is None
    service = {"Spec": {"EndpointSpec": {"Ports": [{"TargetPort": 8888, "PublishMode": "host"}]}}}
    assert publish_mode(service, 8888) == "host"
    assert publish_mode({"Spec": {"EndpointSpec": {"Ports": [{"TargetPort": 8888}]}}}, 8888) == (
        "ingress"
    )
    assert publish_mode({"Spec": {}}, 8888) is None


def test_task_ip() -> None:
    t = {
        "NetworksAttachments": [
            {"Network": {"ID": "i1", "Spec": {"Name": "ingress"}}, "Addresses": ["10.0.0.5/24"]},
            {"Network": {"ID": "n2", "Spec": {"Name": "jhub"}}, "Addresses": ["10.0.1.7/24"]},
            {"Network": {"ID": "n3", "Spec": {"Name": "bridge"}}},
        ]
    }
    assert task_ip(t, "jhub") == "10.0.1.7"
    assert task_ip(t, "n2") == "10.0.1.7"
    assert task_ip(t, "bridge") is None
    assert task_ip(t, "other") is None


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"Status": {"Addr": "10.1.2.3"}}, "10.1.2.3"),
        ({"Status": {"Addr": "0.0.0.0"}, "ManagerStatus": {"Addr": "10.1.2.4:2377"}}, "10.1.2.4"),
        ({"Status": {"Addr": "0.0.0.0"}, "ManagerStatus": {"Addr": "[fd00::1]:2377"}}, "fd00::1"),
        ({"Status": {}}, None),
    ],
)
def test_node_address(node: dict[str, Any], expected: str | None) -> None:
    assert node_address(node) == expected


# --- the spawner's traits -------------------------------------------------------------------


async def test_defaults_follow_dockerspawner() -> None:
    spawner = make_spawner(SwarmSpawner)
    assert spawner.object_type == "service"
    assert spawner.network_name == ""
    assert spawner.use_internal_ip is True
    assert spawner.pull_policy == "skip"
    assert spawner.remove is True
    assert spawner.will_resume is False
    assert spawner.publish_mode == "ingress"
    assert spawner.service_name == spawner.object_name
    assert isinstance(spawner.backend, ServiceBackend)


def test_remove_cannot_be_turned_off(caplog: pytest.LogCaptureFixture) -> None:
    spawner = make_spawner(SwarmSpawner)
    with caplog.at_level(logging.WARNING):
        spawner.remove = False
    assert spawner.remove is True
    assert "always removes services" in caplog.text


async def test_start_deadline_is_inside_start_timeout() -> None:
    spawner = make_spawner(SwarmSpawner, start_timeout=30)
    backend = spawner.backend
    assert isinstance(backend, ServiceBackend)
    assert 0 < backend.start_deadline < 30


def test_long_names_become_service_names() -> None:
    spawner = make_spawner(SwarmSpawner, user="a" * 70, server_name="lab")
    assert is_service_name(spawner.object_name)
    assert spawner.object_name.startswith(f"{TEST_PREFIX}-aaaa")


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    users=st.lists(st.text(min_size=1, max_size=70), min_size=2, max_size=2, unique=True),
    servers=st.lists(st.text(max_size=40), min_size=2, max_size=2),
    legacy=st.booleans(),
)
def test_any_user_and_server_name_gives_a_unique_dns_label(
    users: list[str], servers: list[str], legacy: bool
) -> None:
    """Through the real spawner: valid DNS labels, and distinct users never collide."""
    traits: dict[str, Any] = {"escape": "legacy"} if legacy else {}
    names = []
    for user, server in zip(users, servers, strict=True):
        spawner = make_spawner(SwarmSpawner, user=user, server_name=server, **traits)
        name = spawner.object_name
        assert is_service_name(name), (user, server, name)
        assert len(name) <= 63 and "." not in name
        names.append(name)
    assert names[0] != names[1]


# --- the spec the spawner builds ---------------------------------------------------------


async def test_build_spec_with_callables_and_templates() -> None:
    async def placement(spawner: SwarmSpawner) -> dict[str, Any]:
        return {"constraints": [f"node.labels.user=={spawner.user.name}"]}

    spawner = make_spawner(
        SwarmSpawner,
        user="alice",
        image="img:1",
        mem_limit="1G",
        cpu_guarantee=lambda s: 0.5,
        extra_container_spec={"hostname": "nb-{username}"},
        extra_placement_spec=placement,
        extra_resources_spec=lambda s: {"Limits": {"Pids": 50}},
        extra_task_spec={"log_driver": "json-file"},
        extra_endpoint_spec={},
        extra_create_kwargs=lambda s: {"labels": {"owner": s.user.name}},
        volumes={"nb-{username}": "/home/jovyan"},
        volume_driver="local",
        stop_grace_period=3,
    )
    spec = await spawner.build_spec()
    assert isinstance(spec, ServiceObjectSpec)
    body = service_create_body(spec)
    template = body["TaskTemplate"]
    assert body["Name"] == spawner.object_name
    assert body["Labels"]["owner"] == "alice"
    assert body["Labels"]["aiodockerspawner.user"] == "alice"
    assert template["ContainerSpec"]["Hostname"] == "nb-alice"
    assert template["ContainerSpec"]["StopGracePeriod"] == 3_000_000_000
    assert template["ContainerSpec"]["Mounts"] == [
        {
            "Target": "/home/jovyan",
            "Source": "nb-alice",
            "ReadOnly": False,
            "Type": "volume",
            "VolumeOptions": {"DriverConfig": {"Name": "local"}},
        }
    ]
    assert template["Placement"] == {"Constraints": ["node.labels.user==alice"]}
    assert template["Resources"] == {
        "Limits": {"MemoryBytes": GiB, "Pids": 50},
        "Reservations": {"NanoCPUs": 500_000_000},
    }
    assert template["LogDriver"] == {"Name": "json-file"}
    assert "EndpointSpec" not in body  # use_internal_ip: nothing published


async def test_published_when_not_internal() -> None:
    spawner = make_spawner(SwarmSpawner, use_internal_ip=False, publish_mode="host")
    body = service_create_body(await spawner.build_spec())
    assert body["EndpointSpec"]["Ports"] == [
        {"Protocol": "tcp", "TargetPort": 8888, "PublishMode": "host"}
    ]


async def test_host_config_is_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    spawner = make_spawner(SwarmSpawner, extra_host_config={"shm_size": "1g"})
    with caplog.at_level(logging.WARNING):
        body = service_create_body(await spawner.build_spec())
    assert "extra_host_config and links do nothing" in caplog.text
    assert "ShmSize" not in str(body)


async def test_bad_extra_spec_names_the_trait() -> None:
    spawner = make_spawner(SwarmSpawner, extra_container_spec={"shm_size": 1})
    with pytest.raises(InvalidSpec, match=r"SwarmSpawner.extra_container_spec.*shm_size"):
        service_create_body(await spawner.build_spec())
    spawner = make_spawner(SwarmSpawner, extra_task_spec=lambda s: ["not", "a", "dict"])
    with pytest.raises(InvalidSpec, match="extra_task_spec: expected a dict"):
        await spawner.build_spec()


# --- poll: servers that ended, servers whose node was lost ------------------------------------


class StubServices(ServiceBackend):
    """A ServiceBackend answering ``inspect`` from a script, recording what is asked of it."""

    def __init__(self, *answers: Any) -> None:
        super().__init__(None)  # type: ignore[arg-type]
        self.answers = list(answers)
        self.calls: list[tuple[str, str]] = []

    async def inspect(self, name_or_id: str) -> Any:
        self.calls.append(("inspect", name_or_id))
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    async def inspect_shared(self, service_id: str, snapshot: Any, *, max_age: float) -> Any:
        return await self.inspect(service_id)

    async def remove(self, name_or_id: str) -> None:
        self.calls.append(("remove", name_or_id))

    async def reschedule(self, name_or_id: str) -> None:
        self.calls.append(("reschedule", name_or_id))

    async def address(self, obj: Any, policy: Any) -> Any:
        from aiodockerspawner.model import Address

        node = obj.task.get("NodeID")
        assert obj.raw, "an address needs the service document"
        return Address(f"10.0.0.{node[-1]}", 30000 + int(node[-1]))


def service(t: dict[str, Any] | None) -> Any:
    from tests.conftest import TEST_HUB_ID

    doc = {
        "ID": "svc1",
        "Spec": {"Name": "svc", "Labels": {"aiodockerspawner.hub-id": TEST_HUB_ID}},
    }
    return observed_from_service(doc, t)


def on_node(t: dict[str, Any], node: str) -> dict[str, Any]:
    return {**t, "ID": f"task-on-{node}", "NodeID": node}


def stub_spawner(backend: StubServices, **traits: Any) -> Any:
    class Stubbed(SwarmSpawner):
        @property
        def backend(self) -> Any:
            return backend

    spawner = make_spawner(Stubbed, **traits)
    spawner.object_id = "svc1"
    spawner._task_id = "task-on-n1"
    return spawner


async def test_poll_removes_the_service_of_a_server_that_exited() -> None:
    backend = StubServices(service(on_node(task("complete", desired="shutdown"), "n1")))
    spawner = stub_spawner(backend)
    assert await spawner.poll() == 0
    assert ("remove", "svc1") in backend.calls


async def test_a_lost_server_is_reported_stopped_and_removed_by_default() -> None:
    backend = StubServices(service(on_node(task("running", desired="shutdown"), "n1")))
    spawner = stub_spawner(backend)
    assert spawner.on_node_loss == "stop"
    assert await spawner.poll() == 0
    assert ("remove", "svc1") in backend.calls
    assert not [c for c in backend.calls if c[0] == "reschedule"]


async def test_a_lost_server_is_rescheduled_and_followed_to_its_new_node() -> None:
    lost = service(on_node(task("running", desired="shutdown"), "n1"))
    pending = service(on_node(task("preparing"), "n2"))
    moved = service(on_node(task("running"), "n2"))
    backend = StubServices(lost, lost, pending, moved)
    spawner = stub_spawner(backend, on_node_loss="reschedule")
    routes: list[Any] = []

    async def move_route(address: Any) -> None:
        routes.append(address)

    spawner._move_route = move_route
    assert await spawner.poll() is None  # still counts as running while it moves
    assert ("reschedule", "svc1") in backend.calls
    assert spawner._moving is not None
    await spawner._moving
    assert [(a.host, a.port) for a in routes] == [("10.0.0.2", 30002)]
    assert spawner._task_id == "task-on-n2"
    assert spawner.get_state()["task_id"] == "task-on-n2"
    assert await spawner.poll() is None
    assert not [c for c in backend.calls if c[0] == "remove"]


async def test_a_rescheduled_server_that_does_not_come_back_is_reported_stopped() -> None:
    lost = service(on_node(task("running", desired="shutdown"), "n1"))
    rejected = service(on_node(task("rejected", Err="no such image"), "n2"))
    backend = StubServices(lost, rejected)
    spawner = stub_spawner(backend, on_node_loss="reschedule")
    assert await spawner.poll() is None
    await spawner._moving
    assert "new task ended" in spawner._move_failed
    assert await spawner.poll() == 1
    assert ("remove", "svc1") in backend.calls


def test_a_task_list_tells_each_service_its_current_task() -> None:
    from aiodockerspawner.backends.service.backend import observed_from_tasks
    from aiodockerspawner.backends.service.snapshot import group_by_service

    old = {**task("failed", desired="shutdown", created="2024-01-01T00:00:00Z"), "ServiceID": "a"}
    new = {
        **task("running", created="2024-01-01T00:00:05Z"),
        "ServiceID": "a",
        "Spec": {"ContainerSpec": {"Image": "img", "Env": ["X=1"]}},
    }
    other = {**task("preparing"), "ServiceID": "b"}
    grouped = group_by_service([old, new, other, {"ID": "orphan"}])
    assert sorted(grouped) == ["a", "b"] and len(grouped["a"]) == 2
    obs = observed_from_tasks("a", grouped["a"], hub_id="h")
    assert obs.status.running and obs.instance_id == new["ID"]
    assert (obs.id, obs.image, dict(obs.env), dict(obs.labels)) == (
        "a",
        "img",
        {"X": "1"},
        {"aiodockerspawner.hub-id": "h"},
    )
    assert not obs.raw  # the service document is not in a task list


def test_secret_bodies_and_references() -> None:
    import base64

    from aiodockerspawner.backends.service.body import (
        secret_create_body,
        secret_name,
        secret_reference,
    )

    long = "adst-" + "x" * 58
    names = {
        secret_name(long, "/certs/a.key", b"1"),
        secret_name(long, "/certs/a.key", b"2"),  # new files at every start: a new secret
        secret_name(long, "/certs/a.crt", b"1"),
        secret_name("adst-bob", "/certs/a.key", b"1"),
    }
    assert len(names) == 4 and all(len(n) <= 64 for n in names)
    assert secret_name("s", "/p", b"c") == secret_name("s", "/p", b"c")
    body = secret_create_body("n", b"\x00key", {"a": "b"})
    assert base64.b64decode(body["Data"]) == b"\x00key" and body["Labels"] == {"a": "b"}
    ref = secret_reference("id1", "n", "/certs/a.key")
    assert ref["File"] == {"Name": "/certs/a.key", "UID": "0", "GID": "0", "Mode": 0o444}


async def test_secrets_join_those_of_extra_container_spec() -> None:
    from aiodockerspawner.backends.service.body import secret_reference

    spawner = make_spawner(
        SwarmSpawner,
        extra_container_spec={"secrets": [{"SecretID": "mine", "SecretName": "mine"}]},
    )
    spec = await spawner.build_spec()
    body = service_create_body(spec, secrets=[secret_reference("id1", "n", "/certs/a")])
    ids = [s["SecretID"] for s in body["TaskTemplate"]["ContainerSpec"]["Secrets"]]
    assert ids == ["mine", "id1"]


def test_forced_update_spec_only_raises_force_update() -> None:
    from aiodockerspawner.backends.service.body import forced_update_spec

    service = {
        "ID": "s1",
        "Version": {"Index": 7},
        "Spec": {"Name": "adst-alice", "TaskTemplate": {"ContainerSpec": {"Image": "i"}}},
    }
    first = forced_update_spec(service)
    assert first == {
        "Name": "adst-alice",
        "TaskTemplate": {"ContainerSpec": {"Image": "i"}, "ForceUpdate": 1},
    }
    assert "ForceUpdate" not in service["Spec"]["TaskTemplate"]  # the input is left as it was
    again = forced_update_spec({"Spec": first})
    assert again["TaskTemplate"]["ForceUpdate"] == 2
    assert forced_update_spec({})["TaskTemplate"] == {"ForceUpdate": 1}


# --- dockerspawner's SwarmSpawner API: get_task(), mount_driver_config -------------------


def _tasks_answering(spawner: SwarmSpawner, answers: list[Any]) -> list[dict[str, Any]]:
    """Replace ``docker()`` (as dockerspawner's tests do): each call takes the next answer."""
    calls: list[dict[str, Any]] = []

    async def docker(method: str, *args: Any, **kwargs: Any) -> Any:
        calls.append({"method": method, **kwargs})
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def get_object() -> dict[str, Any]:
        return {"ID": "svc"}

    spawner.docker = docker  # type: ignore[method-assign]
    spawner.get_object = get_object  # type: ignore[method-assign]
    return calls


async def test_get_task_returns_the_running_task_as_dockerspawner() -> None:
    spawner = make_spawner(SwarmSpawner)
    running = task("running")
    calls = _tasks_answering(spawner, [[running]])
    assert await spawner.get_task() == running
    assert calls == [
        {
            "method": "tasks",
            "filters": {"service": spawner.service_name, "desired-state": "running"},
        }
    ]


async def test_get_task_falls_back_to_any_task_then_none() -> None:
    spawner = make_spawner(SwarmSpawner)
    old = task("failed", desired="shutdown", created="2024-01-01T00:00:00Z")
    new = task("rejected", desired="shutdown", created="2024-01-01T00:00:09Z")
    calls = _tasks_answering(spawner, [[], [old, new]])
    assert await spawner.get_task() == new
    assert calls[1]["filters"] == {"service": spawner.service_name}
    _tasks_answering(spawner, [[], []])
    assert await spawner.get_task() is None


async def test_get_task_without_a_service_or_on_404_is_none() -> None:
    spawner = make_spawner(SwarmSpawner)
    _tasks_answering(spawner, [dockerpy.api_error(404, "service not found", "/tasks")])
    assert await spawner.get_task() is None

    async def no_service() -> None:
        return None

    spawner.get_object = no_service  # type: ignore[method-assign]
    assert await spawner.get_task() is None


async def test_get_task_refuses_two_running_tasks() -> None:
    spawner = make_spawner(SwarmSpawner)
    _tasks_answering(spawner, [[task("running"), task("running", created="x")]])
    with pytest.raises(RuntimeError, match="more than one running"):
        await spawner.get_task()


def test_mount_driver_config_reads_as_dockerspawners() -> None:
    """docker-py's DriverConfig is a dict: {"Name": ..., "Options": ...} (Options when given)."""
    assert make_spawner(SwarmSpawner).mount_driver_config is None
    spawner = make_spawner(SwarmSpawner, volume_driver="nfs")
    assert spawner.mount_driver_config == {"Name": "nfs"}
    spawner.volume_driver_options = {"addr": "10.0.0.1"}
    assert spawner.mount_driver_config == {"Name": "nfs", "Options": {"addr": "10.0.0.1"}}
    spawner.volume_driver = ""
    assert spawner.mount_driver_config is None


async def test_mount_driver_config_is_configurable_and_applied() -> None:
    spawner = make_spawner(
        SwarmSpawner,
        user="alice",
        volumes={"nb-{username}": "/home/jovyan", "/srv/data": "/data"},
        volume_driver="local",
        mount_driver_config={"Name": "nfs", "Options": {"addr": "10.0.0.1"}},
    )
    assert spawner.mount_driver_config == {"Name": "nfs", "Options": {"addr": "10.0.0.1"}}
    spawner.volume_driver = "other"  # a configured value is not replaced
    assert spawner.mount_driver_config["Name"] == "nfs"
    mounts = service_create_body(await spawner.build_spec())["TaskTemplate"]["ContainerSpec"][
        "Mounts"
    ]
    by_target = {m["Target"]: m for m in mounts}
    assert by_target["/home/jovyan"]["VolumeOptions"] == {
        "DriverConfig": {"Name": "nfs", "Options": {"addr": "10.0.0.1"}}
    }
    assert "VolumeOptions" not in by_target["/data"]  # a host path stays a bind mount


def test_mount_driver_config_takes_docker_py_keywords_and_refuses_nonsense() -> None:
    spawner = make_spawner(SwarmSpawner, mount_driver_config={"name": "nfs", "options": {"a": 1}})
    assert spawner.mount_driver_config == {"Name": "nfs", "Options": {"a": "1"}}
    with pytest.raises(traitlets.TraitError, match="mount_driver_config"):
        make_spawner(SwarmSpawner, mount_driver_config={"Options": {}})
