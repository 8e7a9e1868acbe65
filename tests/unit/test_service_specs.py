"""Unit tests for aiodockerspawner.backends.service.body: the swarm service body, pure."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiodockerspawner.backends.service.body import (
    CONTAINER_SPEC_KEYS,
    CREATE_SERVICE_KEYS,
    ENDPOINT_SPEC_KEYS,
    PLACEMENT_KEYS,
    RESOURCES_KEYS,
    TASK_TEMPLATE_KEYS,
    container_spec,
    endpoint_spec,
    resources_spec,
    service_create_body,
    service_mounts,
    task_template,
    translate_container_spec,
    translate_create_service_kwargs,
    translate_endpoint_spec,
    translate_placement,
    translate_resources,
    translate_task_template,
)
from aiodockerspawner.core.naming import escape_dns, escape_legacy, is_service_name, service_name
from aiodockerspawner.errors import InvalidSpec
from aiodockerspawner.model import ServiceObjectSpec, VolumeBind

GiB = 1024**3
MiB = 1024**2


def make_spec(**kw: Any) -> ServiceObjectSpec:
    base: dict[str, Any] = {
        "name": "jupyter-alice",
        "image": "quay.io/jupyterhub/singleuser:5",
        "env": {"JUPYTERHUB_API_TOKEN": "secret", "B": "2"},
        "command": None,
        "args": [],
        "port": 8888,
        "labels": {"aiodockerspawner.hub-id": "hub"},
        "network": "",
        "host_ip": None,
    }
    base.update(kw)
    return ServiceObjectSpec(**base)


# --- names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["jupyter-alice", "jupyter-alice--lab1", "a", "0", "a" * 63, "jupyter-bob-2d-2dx"],
)
def test_valid_names_are_kept(name: str) -> None:
    assert is_service_name(name)
    assert service_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "-a",
        "a-",
        "Jupyter-Alice",
        "jupyter-al.ice",
        "jupyter_alice",
        "a" * 64,
        "jupyter-" + "x" * 80,
        "ü",
        "...",
    ],
)
def test_invalid_names_become_valid(name: str) -> None:
    assert not is_service_name(name)
    fixed = service_name(name)
    assert is_service_name(fixed), fixed
    assert len(fixed) <= 63
    assert service_name(name) == fixed  # stable
    assert "." not in fixed


def test_invalid_names_keep_a_readable_stem() -> None:
    assert service_name("Jupyter-Alice").startswith("jupyter-alice-")
    long = service_name("jupyter-" + "x" * 80)
    assert long.startswith("jupyter-xxxx") and len(long) == 63


def test_names_differing_only_in_case_stay_distinct() -> None:
    assert len({service_name("ALICE"), service_name("Alice"), service_name("alice")}) == 3


def _spawner_name(prefix: str, user: str, server: str, escape: Any) -> str:
    """What SwarmSpawner does: the default template, then service_name()."""
    escaped_user = escape(user)
    if server:
        raw = f"{prefix}-{escaped_user}--{escape(server.lower())}"
    else:
        raw = f"{prefix}-{escaped_user}"
    return service_name(raw)


names = st.text(min_size=1, max_size=80)
servers = st.one_of(st.just(""), st.text(min_size=1, max_size=40))


@settings(max_examples=400, deadline=None)
@given(user=names, server=servers, escape=st.sampled_from([escape_dns, escape_legacy]))
def test_any_user_and_server_name_gives_a_dns_label(user: str, server: str, escape: Any) -> None:
    name = _spawner_name("jupyter", user, server, escape)
    assert is_service_name(name), name
    assert len(name) <= 63 and "." not in name


@settings(max_examples=400, deadline=None)
@given(a=st.tuples(names, servers), b=st.tuples(names, servers))
def test_different_users_and_servers_get_different_names(
    a: tuple[str, str], b: tuple[str, str]
) -> None:
    # server names are lower-cased before escaping, as dockerspawner does
    key_a = (a[0], a[1].lower())
    key_b = (b[0], b[1].lower())
    if key_a == key_b:
        return
    assert _spawner_name("jupyter", *a, escape_dns) != _spawner_name("jupyter", *b, escape_dns)


@settings(max_examples=200, deadline=None)
@given(prefix=st.text(min_size=1, max_size=30), user=names)
def test_any_prefix_gives_a_dns_label(prefix: str, user: str) -> None:
    assert is_service_name(_spawner_name(prefix, user, "", escape_dns))


# --- mounts ---------------------------------------------------------------------------


def test_mounts_from_volumes() -> None:
    spec = make_spec(
        binds=[
            VolumeBind("/srv/data", "/data"),
            VolumeBind("/srv/ro", "/ro", mode="ro"),
            VolumeBind("/srv/shared", "/shared", propagation="rslave"),
            VolumeBind("jupyter-alice", "/home/jovyan/work"),
            VolumeBind("cache", "/cache", mode="ro,nocopy"),
        ],
        mounts=[{"type": "tmpfs", "target": "/scratch", "tmpfs_size": "64m"}],
    )
    assert service_mounts(spec) == [
        {"Target": "/data", "Source": "/srv/data", "ReadOnly": False, "Type": "bind"},
        {"Target": "/ro", "Source": "/srv/ro", "ReadOnly": True, "Type": "bind"},
        {
            "Target": "/shared",
            "Source": "/srv/shared",
            "ReadOnly": False,
            "Type": "bind",
            "BindOptions": {"Propagation": "rslave"},
        },
        {
            "Target": "/home/jovyan/work",
            "Source": "jupyter-alice",
            "ReadOnly": False,
            "Type": "volume",
        },
        {
            "Target": "/cache",
            "Source": "cache",
            "ReadOnly": True,
            "Type": "volume",
            "VolumeOptions": {"NoCopy": True},
        },
        {
            "Target": "/scratch",
            "Type": "tmpfs",
            "ReadOnly": False,
            "TmpfsOptions": {"SizeBytes": 64 * MiB},
        },
    ]


def test_volume_driver_applies_to_named_volumes_only() -> None:
    spec = make_spec(
        binds=[VolumeBind("jupyter-alice", "/home/jovyan"), VolumeBind("/srv/x", "/x")],
        volume_driver="nfs",
        volume_driver_options={"share": "srv:/export"},
    )
    named, host = service_mounts(spec)
    assert named["Type"] == "volume"
    assert named["VolumeOptions"] == {
        "DriverConfig": {"Name": "nfs", "Options": {"share": "srv:/export"}}
    }
    # dockerspawner put the driver on a bind mount, which Docker rejects
    assert host == {"Target": "/x", "Source": "/srv/x", "ReadOnly": False, "Type": "bind"}


def test_volume_driver_without_options() -> None:
    spec = make_spec(binds=[VolumeBind("v", "/v")], volume_driver="local")
    assert service_mounts(spec)[0]["VolumeOptions"] == {"DriverConfig": {"Name": "local"}}


@pytest.mark.parametrize(
    ("bind", "match"),
    [
        (VolumeBind("/srv", "/srv", mode="rw,z"), "SELinux"),
        (VolumeBind("vol", "/v", propagation="rshared"), "propagation"),
    ],
)
def test_mounts_reject_what_services_cannot_do(bind: VolumeBind, match: str) -> None:
    with pytest.raises(InvalidSpec, match=match):
        service_mounts(make_spec(binds=[bind]))


# --- container spec ---------------------------------------------------------------------


def test_container_spec_defaults() -> None:
    assert container_spec(make_spec()) == {
        "Image": "quay.io/jupyterhub/singleuser:5",
        "Env": ["B=2", "JUPYTERHUB_API_TOKEN=secret"],
    }


@pytest.mark.parametrize(
    ("command", "args", "image_cmd", "expected"),
    [
        (None, [], ["ignored"], None),
        (["jupyterhub-singleuser"], [], None, ["jupyterhub-singleuser"]),
        (["start.sh", "x"], ["--debug"], None, ["start.sh", "x", "--debug"]),
        (None, ["--debug"], ["jupyterhub-singleuser"], ["jupyterhub-singleuser", "--debug"]),
    ],
)
def test_container_spec_args_keep_the_entrypoint(
    command: list[str] | None, args: list[str], image_cmd: list[str] | None, expected: Any
) -> None:
    body = container_spec(make_spec(command=command, args=args), image_cmd=image_cmd)
    assert body.get("Args") == expected
    assert "Command" not in body  # Command would replace the image's ENTRYPOINT


def test_container_spec_user_dir_grace_and_mounts() -> None:
    body = container_spec(
        make_spec(
            user="1000:100",
            working_dir="/home/alice",
            stop_grace_period=2.5,
            binds=[VolumeBind("/home/alice", "/home/alice")],
        )
    )
    assert body["User"] == "1000:100"
    assert body["Dir"] == "/home/alice"
    assert body["StopGracePeriod"] == 2_500_000_000
    assert body["Mounts"][0]["Source"] == "/home/alice"


def test_extra_container_spec_merges_env_per_variable_and_wins() -> None:
    spec = make_spec(
        user="1000",
        extra_container_spec={
            "env": {"B": "3", "C": "4"},
            "user": "root",
            "hostname": "{username}",
            "Labels": {"team": "x"},
        },
    )
    body = container_spec(spec)
    assert body["Env"] == ["B=3", "C=4", "JUPYTERHUB_API_TOKEN=secret"]
    assert body["User"] == "root"
    assert body["Hostname"] == "{username}"  # templating is the spawner's job
    assert body["Labels"] == {"team": "x"}


def test_extra_container_spec_mounts_replace_as_in_dockerspawner() -> None:
    spec = make_spec(
        binds=[VolumeBind("/srv/a", "/a")],
        extra_container_spec={"mounts": ["/srv/b:/b:ro", "vol:/v"]},
    )
    assert container_spec(spec)["Mounts"] == [
        {"Target": "/b", "Source": "/srv/b", "Type": "bind", "ReadOnly": True},
        {"Target": "/v", "Source": "vol", "Type": "volume", "ReadOnly": False},
    ]


CONTAINER_CASES: list[tuple[str, Any, dict[str, Any]]] = [
    ("image", "img:1", {"Image": "img:1"}),
    ("command", "start.sh --x 'a b'", {"Command": ["start.sh", "--x", "a b"]}),
    ("args", ["--debug"], {"Args": ["--debug"]}),
    ("hostname", "nb", {"Hostname": "nb"}),
    ("env", {"A": "1", "B": None}, {"Env": ["A=1", "B"]}),
    ("workdir", "/work", {"Dir": "/work"}),
    ("user", 1000, {"User": "1000"}),
    ("labels", {"a": "b"}, {"Labels": {"a": "b"}}),
    (
        "mounts",
        [{"target": "/t", "source": "s", "read_only": True}],
        {"Mounts": [{"Target": "/t", "Source": "s", "Type": "volume", "ReadOnly": True}]},
    ),
    ("stop_grace_period", 5_000_000_000, {"StopGracePeriod": 5_000_000_000}),
    (
        "secrets",
        [{"SecretID": "x", "SecretName": "s"}],
        {"Secrets": [{"SecretID": "x", "SecretName": "s"}]},
    ),
    ("tty", True, {"TTY": True}),
    ("groups", ["users", "100"], {"Groups": ["users", "100"]}),
    ("open_stdin", True, {"OpenStdin": True}),
    ("read_only", True, {"ReadOnly": True}),
    ("stop_signal", "SIGINT", {"StopSignal": "SIGINT"}),
    (
        "healthcheck",
        {"test": "true", "interval": 10**9},
        {"Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 10**9}},
    ),
    ("hosts", {"db": "10.0.0.2"}, {"Hosts": ["10.0.0.2 db"]}),
    ("hosts", ["10.0.0.2 db"], {"Hosts": ["10.0.0.2 db"]}),
    (
        "dns_config",
        {"nameservers": ["10.0.0.1"], "search": "lab", "options": ["ndots:2"]},
        {"DNSConfig": {"Nameservers": ["10.0.0.1"], "Search": ["lab"], "Options": ["ndots:2"]}},
    ),
    ("configs", [{"ConfigID": "c"}], {"Configs": [{"ConfigID": "c"}]}),
    (
        "privileges",
        {"SELinuxContext": {"Disable": True}},
        {"Privileges": {"SELinuxContext": {"Disable": True}}},
    ),
    ("isolation", "default", {"Isolation": "default"}),
    ("init", True, {"Init": True}),
    ("cap_add", ["SYS_ADMIN"], {"CapabilityAdd": ["SYS_ADMIN"]}),
    ("cap_drop", "NET_RAW", {"CapabilityDrop": ["NET_RAW"]}),
    ("sysctls", {"net.core.somaxconn": 1024}, {"Sysctls": {"net.core.somaxconn": "1024"}}),
    (
        "ulimits",
        [{"name": "nofile", "soft": 1, "hard": 2}],
        {"Ulimits": [{"Name": "nofile", "Soft": 1, "Hard": 2}]},
    ),
]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    CONTAINER_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CONTAINER_CASES)],
)
def test_translate_container_spec_key(key: str, value: Any, expected: dict[str, Any]) -> None:
    snapshot = copy.deepcopy(value)
    assert translate_container_spec({key: value}) == expected
    assert value == snapshot


def test_every_container_spec_key_is_tested() -> None:
    assert {c[0] for c in CONTAINER_CASES} == set(CONTAINER_SPEC_KEYS)


def test_container_spec_engine_keys_pass_and_unknown_keys_fail() -> None:
    assert translate_container_spec({"Dir": "/x", "workdir": "/y"}) == {"Dir": "/x"}
    assert translate_container_spec({"tty": None}) == {}
    with pytest.raises(InvalidSpec, match=r"extra_container_spec.*'working_dir'.*'workdir'"):
        translate_container_spec({"working_dir": "/x"})


# --- resources, placement ---------------------------------------------------------------


def test_resources_from_limits_and_guarantees() -> None:
    spec = make_spec(mem_limit=2 * GiB, cpu_limit=1.5, mem_guarantee=GiB, cpu_guarantee=0.25)
    assert resources_spec(spec) == {
        "Limits": {"NanoCPUs": 1_500_000_000, "MemoryBytes": 2 * GiB},
        "Reservations": {"NanoCPUs": 250_000_000, "MemoryBytes": GiB},
    }
    assert resources_spec(make_spec()) == {}


def test_extra_resources_spec_merges() -> None:
    spec = make_spec(
        mem_limit=2 * GiB,
        extra_resources_spec={"generic_resources": {"gpu": 1}, "Limits": {"Pids": 100}},
    )
    assert resources_spec(spec) == {
        "Limits": {"MemoryBytes": 2 * GiB, "Pids": 100},
        "Reservations": {
            "GenericResources": [{"DiscreteResourceSpec": {"Kind": "gpu", "Value": 1}}]
        },
    }


RESOURCES_CASES: list[tuple[str, Any, dict[str, Any]]] = [
    ("cpu_limit", 2e9, {"Limits": {"NanoCPUs": 2_000_000_000}}),
    ("mem_limit", "1G", {"Limits": {"MemoryBytes": GiB}}),
    ("cpu_reservation", 10**8, {"Reservations": {"NanoCPUs": 10**8}}),
    ("mem_reservation", 512 * MiB, {"Reservations": {"MemoryBytes": 512 * MiB}}),
    (
        "generic_resources",
        {"gpu": 2, "fpga": "a"},
        {
            "Reservations": {
                "GenericResources": [
                    {"DiscreteResourceSpec": {"Kind": "gpu", "Value": 2}},
                    {"NamedResourceSpec": {"Kind": "fpga", "Value": "a"}},
                ]
            }
        },
    ),
]


@pytest.mark.parametrize(("key", "value", "expected"), RESOURCES_CASES)
def test_translate_resources_key(key: str, value: Any, expected: dict[str, Any]) -> None:
    assert translate_resources({key: value}) == expected


def test_every_resources_key_is_tested() -> None:
    assert {c[0] for c in RESOURCES_CASES} == set(RESOURCES_KEYS)


def test_resources_invalid() -> None:
    with pytest.raises(InvalidSpec, match="generic_resources"):
        translate_resources({"generic_resources": {"gpu": 1.5}})
    with pytest.raises(InvalidSpec, match="unknown key 'memory'"):
        translate_resources({"memory": 1})


PLACEMENT_CASES: list[tuple[str, Any, dict[str, Any]]] = [
    ("constraints", ["node.role==worker"], {"Constraints": ["node.role==worker"]}),
    (
        "preferences",
        [("spread", "node.labels.zone"), {"Spread": {"SpreadDescriptor": "x"}}],
        {
            "Preferences": [
                {"Spread": {"SpreadDescriptor": "node.labels.zone"}},
                {"Spread": {"SpreadDescriptor": "x"}},
            ]
        },
    ),
    ("platforms", [("amd64", "linux")], {"Platforms": [{"Architecture": "amd64", "OS": "linux"}]}),
    ("maxreplicas", 1, {"MaxReplicas": 1}),
]


@pytest.mark.parametrize(("key", "value", "expected"), PLACEMENT_CASES)
def test_translate_placement_key(key: str, value: Any, expected: dict[str, Any]) -> None:
    assert translate_placement({key: value}) == expected


def test_every_placement_key_is_tested() -> None:
    assert {c[0] for c in PLACEMENT_CASES} == set(PLACEMENT_KEYS)


def test_placement_list_means_constraints_and_bad_strategy_fails() -> None:
    assert translate_placement(["node.hostname==a"]) == {"Constraints": ["node.hostname==a"]}
    with pytest.raises(InvalidSpec, match="strategy"):
        translate_placement({"preferences": [("pack", "x")]})


# --- task template ----------------------------------------------------------------------


def test_task_template_defaults() -> None:
    body = task_template(make_spec(network="jhub", mem_limit=GiB))
    assert body["RestartPolicy"] == {"Condition": "none"}
    assert body["Networks"] == [{"Target": "jhub"}]
    assert body["Resources"] == {"Limits": {"MemoryBytes": GiB}}
    assert "Placement" not in body
    assert "Networks" not in task_template(make_spec(network=""))


def test_task_template_placement_and_extra() -> None:
    spec = make_spec(
        extra_placement_spec={"constraints": ["node.role==worker"]},
        extra_task_spec={
            "restart_policy": {"condition": "on-failure", "max_attempts": 2},
            "log_driver": {"name": "json-file", "options": {"max-size": "1m"}},
            "ContainerSpec": {"env": {"X": "1"}},
        },
    )
    body = task_template(spec)
    assert body["Placement"] == {"Constraints": ["node.role==worker"]}
    assert body["RestartPolicy"] == {"Condition": "on-failure", "MaxAttempts": 2}
    assert body["LogDriver"] == {"Name": "json-file", "Options": {"max-size": "1m"}}
    # the ContainerSpec given in Engine spelling still has docker-py keys translated,
    # and its environment merges with the spawner's
    assert body["ContainerSpec"]["Env"] == ["B=2", "JUPYTERHUB_API_TOKEN=secret", "X=1"]
    assert body["ContainerSpec"]["Image"] == "quay.io/jupyterhub/singleuser:5"


TASK_CASES: list[tuple[str, Any, dict[str, Any]]] = [
    ("container_spec", {"workdir": "/w"}, {"ContainerSpec": {"Dir": "/w"}}),
    ("resources", {"mem_limit": "1g"}, {"Resources": {"Limits": {"MemoryBytes": GiB}}}),
    (
        "restart_policy",
        {"condition": "any", "delay": 10**9, "max_attempts": 3, "window": 10**10},
        {"RestartPolicy": {"Condition": "any", "Delay": 10**9, "MaxAttempts": 3, "Window": 10**10}},
    ),
    ("placement", ["node.role==manager"], {"Placement": {"Constraints": ["node.role==manager"]}}),
    ("log_driver", "journald", {"LogDriver": {"Name": "journald"}}),
    (
        "networks",
        ["a", {"target": "b", "aliases": ["nb"], "options": {"k": 1}}],
        {
            "Networks": [
                {"Target": "a"},
                {"Target": "b", "Aliases": ["nb"], "DriverOpts": {"k": "1"}},
            ]
        },
    ),
    ("force_update", 3, {"ForceUpdate": 3}),
]


@pytest.mark.parametrize(("key", "value", "expected"), TASK_CASES)
def test_translate_task_template_key(key: str, value: Any, expected: dict[str, Any]) -> None:
    assert translate_task_template({key: value}) == expected


def test_every_task_key_is_tested() -> None:
    assert {c[0] for c in TASK_CASES} == set(TASK_TEMPLATE_KEYS)


def test_task_template_invalid_restart_condition() -> None:
    with pytest.raises(InvalidSpec, match="restart condition 'always'"):
        translate_task_template({"restart_policy": {"condition": "always"}})


# --- endpoint -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"host_ip": None}, {}),
        ({"host_ip": "127.0.0.1", "network": "host"}, {}),
        (
            {"host_ip": "127.0.0.1"},
            {"Ports": [{"Protocol": "tcp", "TargetPort": 8888, "PublishMode": "ingress"}]},
        ),
        (
            {"host_ip": "127.0.0.1", "publish_mode": "host", "port": 9000},
            {"Ports": [{"Protocol": "tcp", "TargetPort": 9000, "PublishMode": "host"}]},
        ),
    ],
)
def test_endpoint_spec(kw: dict[str, Any], expected: dict[str, Any]) -> None:
    assert endpoint_spec(make_spec(**kw)) == expected


ENDPOINT_CASES: list[tuple[str, Any, dict[str, Any]]] = [
    ("mode", "dnsrr", {"Mode": "dnsrr"}),
    (
        "ports",
        {8080: 8888, None: (9000, "udp"), 30001: (8001, None, "host")},
        {
            "Ports": [
                {"Protocol": "tcp", "PublishedPort": 8080, "TargetPort": 8888},
                {"Protocol": "udp", "TargetPort": 9000},
                {
                    "Protocol": "tcp",
                    "PublishedPort": 30001,
                    "TargetPort": 8001,
                    "PublishMode": "host",
                },
            ]
        },
    ),
    (
        "ports",
        [{"target_port": 1, "published_port": 2, "protocol": "tcp", "publish_mode": "host"}],
        {
            "Ports": [
                {"TargetPort": 1, "PublishedPort": 2, "Protocol": "tcp", "PublishMode": "host"}
            ]
        },
    ),
]


@pytest.mark.parametrize(("key", "value", "expected"), ENDPOINT_CASES)
def test_translate_endpoint_key(key: str, value: Any, expected: dict[str, Any]) -> None:
    assert translate_endpoint_spec({key: value}) == expected


def test_every_endpoint_key_is_tested() -> None:
    assert {c[0] for c in ENDPOINT_CASES} == set(ENDPOINT_SPEC_KEYS)


def test_endpoint_invalid() -> None:
    with pytest.raises(InvalidSpec, match="publish mode 'mesh'"):
        translate_endpoint_spec({"ports": {1: (2, "tcp", "mesh")}})
    with pytest.raises(InvalidSpec, match="endpoint mode"):
        translate_endpoint_spec({"mode": "round-robin"})


# --- the whole body --------------------------------------------------------------------------


def test_create_body() -> None:
    spec = make_spec(host_ip="127.0.0.1", publish_mode="host", network="jhub")
    body = service_create_body(spec)
    assert body == {
        "Name": "jupyter-alice",
        "Labels": {"aiodockerspawner.hub-id": "hub"},
        "TaskTemplate": {
            "ContainerSpec": {
                "Image": "quay.io/jupyterhub/singleuser:5",
                "Env": ["B=2", "JUPYTERHUB_API_TOKEN=secret"],
            },
            "RestartPolicy": {"Condition": "none"},
            "Networks": [{"Target": "jhub"}],
        },
        "Mode": {"Replicated": {"Replicas": 1}},
        "EndpointSpec": {"Ports": [{"Protocol": "tcp", "TargetPort": 8888, "PublishMode": "host"}]},
    }


def test_create_body_does_not_modify_the_spec() -> None:
    spec = make_spec(
        extra_container_spec={"env": {"X": "1"}},
        extra_create={"labels": {"a": "b"}},
        binds=[VolumeBind("/a", "/a")],
    )
    snapshot = copy.deepcopy(spec)
    service_create_body(spec)
    assert spec == snapshot


def test_extra_create_kwargs_on_swarm() -> None:
    spec = make_spec(
        extra_create={
            "labels": {"team": "a"},
            "mode": "global",
            "networks": ["jhub"],
            "user": "root",
            "working_dir": "/w",
            "environment": ["Y=2"],
            "update_config": {"parallelism": 1, "order": "stop-first"},
            "endpoint_spec": {"mode": "dnsrr"},
        }
    )
    body = service_create_body(spec)
    assert body["Labels"] == {"aiodockerspawner.hub-id": "hub", "team": "a"}
    assert body["Mode"] == {"Global": {}}
    assert body["TaskTemplate"]["Networks"] == [{"Target": "jhub"}]
    assert "Networks" not in body  # the deprecated top-level field is never sent
    container = body["TaskTemplate"]["ContainerSpec"]
    assert container["User"] == "root"
    assert container["Dir"] == "/w"
    assert "Y=2" in container["Env"] and "B=2" in container["Env"]
    assert body["UpdateConfig"] == {"Parallelism": 1, "Order": "stop-first"}
    assert body["EndpointSpec"] == {"Mode": "dnsrr"}


def test_extra_create_task_template_merges_deeply() -> None:
    spec = make_spec(
        mem_limit=GiB,
        extra_create={"task_template": {"resources": {"cpu_limit": 10**9}}},
    )
    resources = service_create_body(spec)["TaskTemplate"]["Resources"]
    assert resources == {"Limits": {"MemoryBytes": GiB, "NanoCPUs": 10**9}}


CREATE_CASES: list[tuple[str, Any, dict[str, Any]]] = [
    ("task_template", {"force_update": 1}, {"TaskTemplate": {"ForceUpdate": 1}}),
    ("labels", {"a": "b"}, {"Labels": {"a": "b"}}),
    ("mode", {"replicated": {"Replicas": 2}}, {"Mode": {"Replicated": {"Replicas": 2}}}),
    ("update_config", {"delay": 5, "monitor": 6}, {"UpdateConfig": {"Delay": 5, "Monitor": 6}}),
    (
        "rollback_config",
        {"failure_action": "pause"},
        {"RollbackConfig": {"FailureAction": "pause"}},
    ),
    ("networks", ["n"], {"TaskTemplate": {"Networks": [{"Target": "n"}]}}),
    ("endpoint_spec", {"mode": "vip"}, {"EndpointSpec": {"Mode": "vip"}}),
]


@pytest.mark.parametrize(("key", "value", "expected"), CREATE_CASES)
def test_translate_create_service_key(key: str, value: Any, expected: dict[str, Any]) -> None:
    assert translate_create_service_kwargs({key: value}) == (expected, {})


def test_every_create_service_key_is_tested() -> None:
    assert {c[0] for c in CREATE_CASES} == set(CREATE_SERVICE_KEYS)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"name": "x"}, "service name is set by the spawner"),
        ({"Name": "x"}, "service name is set by the spawner"),
        ({"shm_size": "1g"}, "extra_container_spec"),
        ({"host_config": {}}, "extra_container_spec"),
    ],
)
def test_extra_create_kwargs_refused(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidSpec, match=match):
        service_create_body(make_spec(extra_create=kw))


def test_prepull_job_runs_once_on_every_node() -> None:
    from aiodockerspawner.backends.service.body import prepull_job_body

    body = prepull_job_body("example.org/nb:1", name="job", labels={"a": "b"})
    assert body["Mode"] == {"GlobalJob": {}}
    assert body["TaskTemplate"]["RestartPolicy"] == {"Condition": "none"}
    container = body["TaskTemplate"]["ContainerSpec"]
    assert container == {"Image": "example.org/nb:1", "Command": ["true"]}
    assert body["Labels"] == {"a": "b"} and body["Name"] == "job"
