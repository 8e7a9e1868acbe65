"""Unit tests for the container create body: docker-py vocabulary to Engine API JSON."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from aiodockerspawner.backends.container.body import (
    CREATE_KWARGS_KEYS,
    HOST_CONFIG_KEYS,
    container_create_body,
    deep_merge,
    translate_create_kwargs,
    translate_host_config,
    translate_mount,
)
from aiodockerspawner.errors import InvalidSpec
from aiodockerspawner.imagerefs import image_reference
from aiodockerspawner.model import ObjectSpec, VolumeBind
from aiodockerspawner.units import parse_bytes

GiB = 1024**3
MiB = 1024**2


def make_spec(**kw: Any) -> ObjectSpec:
    base: dict[str, Any] = {
        "name": "jupyter-alice",
        "image": "quay.io/jupyterhub/singleuser:5",
        "env": {"JUPYTERHUB_API_TOKEN": "secret", "B": "2"},
        "command": None,
        "args": ["--port=8888"],
        "port": 8888,
        "labels": {"hub.jupyter.org/managed-by": "aiodockerspawner"},
    }
    base.update(kw)
    return ObjectSpec(**base)


# --- deep_merge -----------------------------------------------------------------------


def test_deep_merge() -> None:
    base = {"a": {"x": 1, "y": {"z": 1}}, "l": [1, 2], "k": 1}
    extra = {"a": {"y": {"w": 2}, "n": None}, "l": [3], "new": {"q": 1}}
    snapshot = copy.deepcopy((base, extra))
    merged = deep_merge(base, extra)
    assert merged == {
        "a": {"x": 1, "y": {"z": 1, "w": 2}, "n": None},
        "l": [3],
        "k": 1,
        "new": {"q": 1},
    }
    assert (base, extra) == snapshot
    merged["a"]["y"]["z"] = 99
    merged["new"]["q"] = 99
    assert (base, extra) == snapshot


def test_deep_merge_extra_non_dict_replaces_dict() -> None:
    assert deep_merge({"a": {"x": 1}}, {"a": "s"}) == {"a": "s"}
    assert deep_merge({"a": "s"}, {"a": {"x": 1}}) == {"a": {"x": 1}}


# --- parse_bytes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (123, 123),
        (-1, -1),
        (1.9, 1),
        ("1024", 1024),
        ("1024b", 1024),
        ("100k", 100 * 1024),
        ("100K", 100 * 1024),
        ("512m", 512 * MiB),
        ("512M", 512 * MiB),
        ("1g", GiB),
        ("1G", GiB),
        ("1gb", GiB),
        ("2GiB", 2 * GiB),
        ("1.5G", int(1.5 * GiB)),
        ("1T", 1024 * GiB),
        (" 64m ", 64 * MiB),
        ("-1", -1),
    ],
)
def test_parse_bytes(value: Any, expected: int) -> None:
    assert parse_bytes(value, key="mem_limit") == expected


@pytest.mark.parametrize("value", ["", "abc", "12x", "1.2.3g", "g", True, None, [1], float("inf")])
def test_parse_bytes_invalid(value: Any) -> None:
    with pytest.raises(InvalidSpec, match=r"^DockerSpawner\.mem_limit: "):
        parse_bytes(value, key="DockerSpawner.mem_limit")


# --- translate_host_config ----------------------------------------------------------------

HOST_CASES: list[tuple[str, Any, dict[str, Any]]] = [
    ("auto_remove", True, {"AutoRemove": True}),
    ("binds", ["/a:/b:ro", "vol:/c:rw"], {"Binds": ["/a:/b:ro", "vol:/c:rw"]}),
    (
        "binds",
        {
            "/a": {"bind": "/b", "mode": "ro"},
            "/c": "/d",
            "/e": {"bind": "/f", "ro": True},
            "/g": {"bind": "/h", "propagation": "rslave"},
        },
        {"Binds": ["/a:/b:ro", "/c:/d:rw", "/e:/f:ro", "/g:/h:rw,rslave"]},
    ),
    ("blkio_weight", 300, {"BlkioWeight": 300}),
    (
        "blkio_weight_device",
        [{"path": "/dev/sda", "weight": 200}],
        {"BlkioWeightDevice": [{"Path": "/dev/sda", "Weight": 200}]},
    ),
    ("cap_add", ["SYS_ADMIN"], {"CapAdd": ["SYS_ADMIN"]}),
    ("cap_drop", ["ALL"], {"CapDrop": ["ALL"]}),
    ("cgroup_parent", "/jupyter", {"CgroupParent": "/jupyter"}),
    ("cgroupns", "private", {"CgroupnsMode": "private"}),
    ("cpu_count", 2, {"CpuCount": 2}),
    ("cpu_percent", 50, {"CpuPercent": 50}),
    ("cpu_period", 50000, {"CpuPeriod": 50000}),
    ("cpu_quota", 25000, {"CpuQuota": 25000}),
    ("cpu_rt_period", 1000000, {"CPURealtimePeriod": 1000000}),
    ("cpu_rt_runtime", 950000, {"CPURealtimeRuntime": 950000}),
    ("cpu_shares", 512, {"CpuShares": 512}),
    ("cpuset_cpus", "0-3", {"CpusetCpus": "0-3"}),
    ("cpuset_mems", "0", {"CpusetMems": "0"}),
    ("device_cgroup_rules", ["c 1:3 mr"], {"DeviceCgroupRules": ["c 1:3 mr"]}),
    (
        "device_read_bps",
        [{"path": "/dev/sda", "rate": 1024}],
        {"BlkioDeviceReadBps": [{"Path": "/dev/sda", "Rate": 1024}]},
    ),
    (
        "device_read_iops",
        [{"Path": "/dev/sda", "Rate": 10}],
        {"BlkioDeviceReadIOps": [{"Path": "/dev/sda", "Rate": 10}]},
    ),
    (
        "device_write_bps",
        [{"path": "/dev/sda", "rate": 1024}],
        {"BlkioDeviceWriteBps": [{"Path": "/dev/sda", "Rate": 1024}]},
    ),
    (
        "device_write_iops",
        [{"path": "/dev/sda", "rate": 10}],
        {"BlkioDeviceWriteIOps": [{"Path": "/dev/sda", "Rate": 10}]},
    ),
    (
        "device_requests",
        [{"count": -1, "capabilities": [["gpu"]]}],
        {
            "DeviceRequests": [
                {
                    "Driver": "",
                    "Count": -1,
                    "DeviceIDs": [],
                    "Capabilities": [["gpu"]],
                    "Options": {},
                }
            ]
        },
    ),
    (
        "device_requests",
        [
            {
                "driver": "nvidia",
                "device_ids": ["0", "GPU-abc"],
                "capabilities": [["gpu", "utility"]],
                "options": {"a": "b"},
            },
            # Engine form (what docker.types.DeviceRequest holds)
            {"Driver": "nvidia", "Count": 1, "Capabilities": [["gpu"]]},
        ],
        {
            "DeviceRequests": [
                {
                    "Driver": "nvidia",
                    "Count": 0,
                    "DeviceIDs": ["0", "GPU-abc"],
                    "Capabilities": [["gpu", "utility"]],
                    "Options": {"a": "b"},
                },
                {
                    "Driver": "nvidia",
                    "Count": 1,
                    "DeviceIDs": [],
                    "Capabilities": [["gpu"]],
                    "Options": {},
                },
            ]
        },
    ),
    (
        "devices",
        ["/dev/fuse", "/dev/sda:/dev/xvda:r", {"path_on_host": "/dev/x"}],
        {
            "Devices": [
                {
                    "PathOnHost": "/dev/fuse",
                    "PathInContainer": "/dev/fuse",
                    "CgroupPermissions": "rwm",
                },
                {
                    "PathOnHost": "/dev/sda",
                    "PathInContainer": "/dev/xvda",
                    "CgroupPermissions": "r",
                },
                {"PathOnHost": "/dev/x"},
            ]
        },
    ),
    ("dns", ["8.8.8.8"], {"Dns": ["8.8.8.8"]}),
    ("dns_opt", ["ndots:2"], {"DnsOptions": ["ndots:2"]}),
    ("dns_search", ["example.org"], {"DnsSearch": ["example.org"]}),
    (
        "extra_hosts",
        {"b.example": "10.0.0.2", "a.example": "10.0.0.1"},
        {"ExtraHosts": ["a.example:10.0.0.1", "b.example:10.0.0.2"]},
    ),
    ("extra_hosts", ["h:1.2.3.4"], {"ExtraHosts": ["h:1.2.3.4"]}),
    ("group_add", [100, "users"], {"GroupAdd": ["100", "users"]}),
    ("init", True, {"Init": True}),
    ("init_path", "/tini", {"InitPath": "/tini"}),
    ("ipc_mode", "host", {"IpcMode": "host"}),
    ("isolation", "default", {"Isolation": "default"}),
    ("kernel_memory", "64m", {"KernelMemory": 64 * MiB}),
    ("links", {"db": "database", "cache": None}, {"Links": ["cache", "db:database"]}),
    ("links", [("db", "database")], {"Links": ["db:database"]}),
    (
        "log_config",
        {"type": "json-file", "config": {"max-size": "10m"}},
        {"LogConfig": {"Type": "json-file", "Config": {"max-size": "10m"}}},
    ),
    (
        "log_config",
        {"Type": "journald", "Config": {}},
        {"LogConfig": {"Type": "journald", "Config": {}}},
    ),
    ("lxc_conf", {"lxc.x": 1}, {"LxcConf": [{"Key": "lxc.x", "Value": "1"}]}),
    ("mem_limit", "1G", {"Memory": GiB}),
    ("mem_limit", 1000000, {"Memory": 1000000}),
    ("mem_reservation", "512m", {"MemoryReservation": 512 * MiB}),
    ("mem_swappiness", 0, {"MemorySwappiness": 0}),
    ("memswap_limit", "2g", {"MemorySwap": 2 * GiB}),
    ("memswap_limit", -1, {"MemorySwap": -1}),
    (
        "mounts",
        [{"target": "/data", "source": "vol", "read_only": True}],
        {"Mounts": [{"Target": "/data", "Source": "vol", "Type": "volume", "ReadOnly": True}]},
    ),
    ("nano_cpus", 1500000000, {"NanoCpus": 1500000000}),
    ("network_mode", "host", {"NetworkMode": "host"}),
    ("oom_kill_disable", True, {"OomKillDisable": True}),
    ("oom_score_adj", 500, {"OomScoreAdj": 500}),
    ("pid_mode", "host", {"PidMode": "host"}),
    ("pids_limit", 1000, {"PidsLimit": 1000}),
    (
        "port_bindings",
        {
            8888: ("127.0.0.1",),
            "9000": ("0.0.0.0", 9000),
            "53/udp": 5353,
            7000: None,
            7001: [("127.0.0.1", 7001), 7002],
            7003: (8003,),
            7004: {"HostIp": "::1", "HostPort": "7004"},
        },
        {
            "PortBindings": {
                "8888/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}],
                "9000/tcp": [{"HostIp": "0.0.0.0", "HostPort": "9000"}],
                "53/udp": [{"HostIp": "", "HostPort": "5353"}],
                "7000/tcp": [{"HostIp": "", "HostPort": ""}],
                "7001/tcp": [
                    {"HostIp": "127.0.0.1", "HostPort": "7001"},
                    {"HostIp": "", "HostPort": "7002"},
                ],
                "7003/tcp": [{"HostIp": "", "HostPort": "8003"}],
                "7004/tcp": [{"HostIp": "::1", "HostPort": "7004"}],
            }
        },
    ),
    ("privileged", True, {"Privileged": True}),
    ("publish_all_ports", True, {"PublishAllPorts": True}),
    ("read_only", True, {"ReadonlyRootfs": True}),
    (
        "restart_policy",
        {"Name": "on-failure", "MaximumRetryCount": 3},
        {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}},
    ),
    (
        "restart_policy",
        {"name": "on-failure", "maximum_retry_count": 3},
        {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}},
    ),
    ("runtime", "nvidia", {"Runtime": "nvidia"}),
    ("security_opt", ["no-new-privileges"], {"SecurityOpt": ["no-new-privileges"]}),
    ("shm_size", "1g", {"ShmSize": GiB}),
    ("shm_size", 67108864, {"ShmSize": 67108864}),
    ("storage_opt", {"size": "10G"}, {"StorageOpt": {"size": "10G"}}),
    ("sysctls", {"net.core.somaxconn": 1024}, {"Sysctls": {"net.core.somaxconn": "1024"}}),
    (
        "tmpfs",
        ["/run:size=64m", "/tmp"],
        {"Tmpfs": {"/run": "size=64m", "/tmp": ""}},
    ),
    ("tmpfs", {"/run": "rw,noexec"}, {"Tmpfs": {"/run": "rw,noexec"}}),
    (
        "ulimits",
        [{"name": "nofile", "soft": 1024, "hard": 2048}, {"Name": "nproc", "Soft": 512}],
        {
            "Ulimits": [
                {"Name": "nofile", "Soft": 1024, "Hard": 2048},
                {"Name": "nproc", "Soft": 512},
            ]
        },
    ),
    ("userns_mode", "host", {"UsernsMode": "host"}),
    ("uts_mode", "host", {"UTSMode": "host"}),
    ("volume_driver", "local", {"VolumeDriver": "local"}),
    ("volumes_from", "a,b", {"VolumesFrom": ["a", "b"]}),
    ("volumes_from", ["a:ro"], {"VolumesFrom": ["a:ro"]}),
]


@pytest.mark.parametrize(
    ("key", "value", "expected"), HOST_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(HOST_CASES)]
)
def test_translate_host_config_key(key: str, value: Any, expected: dict[str, Any]) -> None:
    snapshot = copy.deepcopy(value)
    assert translate_host_config({key: value}) == expected
    assert value == snapshot


def test_every_host_config_key_is_tested() -> None:
    assert {c[0] for c in HOST_CASES} == set(HOST_CONFIG_KEYS)


def test_host_config_engine_keys_pass_through_and_win() -> None:
    cfg = {
        "Memory": 123,
        "DeviceRequests": [{"Count": -1}],
        "mem_limit": "1G",
        "shm_size": None,
    }
    assert translate_host_config(cfg) == {"Memory": 123, "DeviceRequests": [{"Count": -1}]}


@pytest.mark.parametrize("key", ["mem_limt", "foo", "network", "cpuShares", "_x", "cpu-shares"])
def test_host_config_unknown_key(key: str) -> None:
    with pytest.raises(InvalidSpec) as info:
        translate_host_config({key: 1})
    message = str(info.value)
    assert message.startswith("DockerSpawner.extra_host_config: ")
    assert repr(key) in message


def test_host_config_unknown_key_hint_and_trait() -> None:
    with pytest.raises(InvalidSpec, match=r"^SwarmSpawner\.extra_host_config: .*'mem_limt'.*"):
        translate_host_config({"mem_limt": 1}, trait="SwarmSpawner.extra_host_config")
    with pytest.raises(InvalidSpec, match=r"did you mean 'mem_limit'"):
        translate_host_config({"mem_limt": 1})


@pytest.mark.parametrize(
    ("cfg", "match"),
    [
        ({"mem_limit": "lots"}, r"extra_host_config\['mem_limit'\]: invalid byte size"),
        ({"cpu_quota": 1.5}, r"\['cpu_quota'\]: expected an integer"),
        ({"privileged": "yes"}, r"\['privileged'\]: expected true or false"),
        ({"binds": {"/a": {"mode": "ro"}}}, r"\['binds'\]\['/a'\]\['bind'\]"),
        ({"binds": {"/a": {"bind": "/b", "ro": True, "mode": "ro"}}}, r"either 'ro' or 'mode'"),
        ({"binds": {"/a": {"bind": "/b", "propagation": "weird"}}}, r"invalid propagation"),
        ({"port_bindings": {8888: {"x": 1}}}, r"HostPort"),
        ({"port_bindings": {8888: (1, 2, 3)}}, r"invalid port binding"),
        ({"ulimits": [{"soft": 1}]}, r"\['ulimits'\]\[0\]\['name'\]"),
        ({"device_requests": [{"gpus": 1}]}, r"unknown key 'gpus'"),
        ({"device_requests": {"count": 1}}, r"expected a list"),
        ({"sysctls": ["a=b"]}, r"expected a dict"),
        ({"restart_policy": {"Name": "always", "MaximumRetryCount": "x"}}, r"integer"),
    ],
)
def test_host_config_invalid_values(cfg: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidSpec, match=match):
        translate_host_config(cfg)


# --- translate_mount ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mount", "expected"),
    [
        (
            {"target": "/home/jovyan", "source": "jupyter-alice"},
            {
                "Target": "/home/jovyan",
                "Source": "jupyter-alice",
                "Type": "volume",
                "ReadOnly": False,
            },
        ),
        (
            {
                "target": "/data",
                "source": "/srv/data",
                "type": "bind",
                "read_only": True,
                "propagation": "rslave",
                "consistency": "cached",
            },
            {
                "Target": "/data",
                "Source": "/srv/data",
                "Type": "bind",
                "ReadOnly": True,
                "Consistency": "cached",
                "BindOptions": {"Propagation": "rslave"},
            },
        ),
        (
            {
                "target": "/work",
                "source": "nfs-alice",
                "no_copy": True,
                "labels": {"owner": "alice"},
                "driver_config": {"name": "local", "options": {"type": "nfs", "o": "addr=1.2.3.4"}},
            },
            {
                "Target": "/work",
                "Source": "nfs-alice",
                "Type": "volume",
                "ReadOnly": False,
                "VolumeOptions": {
                    "NoCopy": True,
                    "Labels": {"owner": "alice"},
                    "DriverConfig": {
                        "Name": "local",
                        "Options": {"type": "nfs", "o": "addr=1.2.3.4"},
                    },
                },
            },
        ),
        (
            {"target": "/v", "source": "v", "driver_config": {"Name": "local"}},
            {
                "Target": "/v",
                "Source": "v",
                "Type": "volume",
                "ReadOnly": False,
                "VolumeOptions": {"DriverConfig": {"Name": "local"}},
            },
        ),
        (
            {
                "target": "/scratch",
                "source": None,
                "type": "tmpfs",
                "tmpfs_size": "1g",
                "tmpfs_mode": 0o1777,
            },
            {
                "Target": "/scratch",
                "Type": "tmpfs",
                "ReadOnly": False,
                "TmpfsOptions": {"SizeBytes": GiB, "Mode": 0o1777},
            },
        ),
        # Engine form (what docker.types.Mount holds) passes unchanged
        (
            {"Target": "/x", "Source": "y", "Type": "volume", "ReadOnly": False},
            {"Target": "/x", "Source": "y", "Type": "volume", "ReadOnly": False},
        ),
    ],
)
def test_translate_mount(mount: dict[str, Any], expected: dict[str, Any]) -> None:
    assert translate_mount(mount) == expected


@pytest.mark.parametrize(
    ("mount", "match"),
    [
        ({"target": "/x", "source": "y", "type": "nfs"}, r"unsupported mount type 'nfs'"),
        ({"source": "y"}, r"\['target'\]: expected a string"),
        ({"target": "/x", "source": "/y", "type": "bind", "labels": {"a": "b"}}, r"labels"),
        ({"target": "/x", "source": "y", "propagation": "rshared"}, r"propagation"),
        ({"target": "/x", "type": "tmpfs", "no_copy": True}, r"no_copy"),
        ({"target": "/x", "source": "y", "readonly": True}, r"unknown key 'readonly'"),
    ],
)
def test_translate_mount_invalid(mount: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidSpec, match=r"^DockerSpawner\.mounts"):
        translate_mount(mount)
    with pytest.raises(InvalidSpec, match=match):
        translate_mount(mount)


# --- translate_create_kwargs ---------------------------------------------------------------

CREATE_CASES: list[tuple[str, Any, dict[str, Any]]] = [
    (
        "command",
        "jupyterhub-singleuser --debug 'a b'",
        {"Cmd": ["jupyterhub-singleuser", "--debug", "a b"]},
    ),
    ("command", ["start.sh", "x"], {"Cmd": ["start.sh", "x"]}),
    ("domainname", "example.org", {"Domainname": "example.org"}),
    ("entrypoint", "tini -g --", {"Entrypoint": ["tini", "-g", "--"]}),
    ("environment", {"A": "1", "B": None}, {"Env": ["A=1", "B"]}),
    ("environment", ["A=1"], {"Env": ["A=1"]}),
    (
        "healthcheck",
        {"test": "curl -f localhost", "interval": 10**9, "retries": 3, "start_period": 5 * 10**9},
        {
            "Healthcheck": {
                "Test": ["CMD-SHELL", "curl -f localhost"],
                "Interval": 10**9,
                "Retries": 3,
                "StartPeriod": 5 * 10**9,
            }
        },
    ),
    ("hostname", "nb", {"Hostname": "nb"}),
    ("image", "busybox", {"Image": "busybox"}),
    ("labels", {"a": "b"}, {"Labels": {"a": "b"}}),
    ("labels", ["flag"], {"Labels": {"flag": ""}}),
    ("mac_address", "02:42:ac:11:00:02", {"MacAddress": "02:42:ac:11:00:02"}),
    ("network_disabled", True, {"NetworkDisabled": True}),
    (
        "networking_config",
        {"EndpointsConfig": {"jhub": {"Aliases": ["nb"]}}},
        {"NetworkingConfig": {"EndpointsConfig": {"jhub": {"Aliases": ["nb"]}}}},
    ),
    (
        "ports",
        [8000, "53/udp", (9000, "udp")],
        {"ExposedPorts": {"8000/tcp": {}, "53/udp": {}, "9000/udp": {}}},
    ),
    ("ports", {"8888/tcp": None, 9999: None}, {"ExposedPorts": {"8888/tcp": {}, "9999/tcp": {}}}),
    ("stdin_open", True, {"OpenStdin": True}),
    ("stop_signal", "SIGINT", {"StopSignal": "SIGINT"}),
    ("stop_timeout", 30, {"StopTimeout": 30}),
    ("tty", True, {"Tty": True}),
    ("user", 1000, {"User": "1000"}),
    ("user", "root", {"User": "root"}),
    ("volumes", ["/data"], {"Volumes": {"/data": {}}}),
    ("volumes", "/data", {"Volumes": {"/data": {}}}),
    ("working_dir", "/home/jovyan/work", {"WorkingDir": "/home/jovyan/work"}),
]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    CREATE_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CREATE_CASES)],
)
def test_translate_create_kwargs_key(key: str, value: Any, expected: dict[str, Any]) -> None:
    assert translate_create_kwargs({key: value}) == (expected, {})


def test_every_create_key_is_tested() -> None:
    assert {c[0] for c in CREATE_CASES} == set(CREATE_KWARGS_KEYS)


def test_translate_create_kwargs_host_parts() -> None:
    config, host = translate_create_kwargs(
        {
            "host_config": {"shm_size": "1g", "CapAdd": ["SYS_PTRACE"]},
            "runtime": "nvidia",
            "detach": True,
            "use_config_proxy": False,
            "Healthcheck": {"Test": ["NONE"]},
        }
    )
    assert config == {"Healthcheck": {"Test": ["NONE"]}}
    assert host == {"ShmSize": GiB, "CapAdd": ["SYS_PTRACE"], "Runtime": "nvidia"}


def test_translate_create_kwargs_rejects() -> None:
    with pytest.raises(InvalidSpec, match=r"^DockerSpawner\.extra_create_kwargs\['name'\]"):
        translate_create_kwargs({"name": "x"})
    with pytest.raises(InvalidSpec, match=r"'platform'"):
        translate_create_kwargs({"platform": "linux/arm64"})
    with pytest.raises(
        InvalidSpec, match=r"^DockerSpawner\.extra_create_kwargs: unknown key 'workdir'"
    ):
        translate_create_kwargs({"workdir": "/x"})
    with pytest.raises(
        InvalidSpec, match=r"extra_create_kwargs\['host_config'\]: unknown key 'bad_key'"
    ):
        translate_create_kwargs({"host_config": {"bad_key": 1}})


# --- container_create_body -----------------------------------------------------------------


def test_create_body_bridge_defaults() -> None:
    spec = make_spec(
        binds=[VolumeBind("jupyterhub-user-alice", "/home/jovyan/work")],
        mounts=[{"target": "/shared", "source": "shared", "read_only": True}],
        links={"db": "database"},
        mem_limit=GiB,
        auto_remove=True,
    )
    body = container_create_body(spec)
    assert body == {
        "Image": "quay.io/jupyterhub/singleuser:5",
        "Env": ["B=2", "JUPYTERHUB_API_TOKEN=secret"],
        "Labels": {"hub.jupyter.org/managed-by": "aiodockerspawner"},
        "ExposedPorts": {"8888/tcp": {}},
        "Cmd": ["--port=8888"],
        "HostConfig": {
            "AutoRemove": True,
            "NetworkMode": "bridge",
            "Binds": ["jupyterhub-user-alice:/home/jovyan/work:rw"],
            "Mounts": [
                {"Target": "/shared", "Source": "shared", "Type": "volume", "ReadOnly": True}
            ],
            "Links": ["db:database"],
            "Memory": GiB,
            "PortBindings": {"8888/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]},
        },
    }


def test_create_body_user_network_without_host_ip() -> None:
    body = container_create_body(make_spec(network="jhub-net", host_ip=None))
    assert body["HostConfig"]["NetworkMode"] == "jhub-net"
    assert "PortBindings" not in body["HostConfig"]
    assert "NetworkingConfig" not in body
    assert body["ExposedPorts"] == {"8888/tcp": {}}


def test_create_body_user_network_with_host_ip_publishes() -> None:
    body = container_create_body(make_spec(network="jhub-net", host_ip="0.0.0.0"))
    assert body["HostConfig"]["PortBindings"] == {
        "8888/tcp": [{"HostIp": "0.0.0.0", "HostPort": ""}]
    }


@pytest.mark.parametrize(
    ("spec_kw", "extra_host"),
    [
        ({"network": "host"}, {}),
        ({}, {"network_mode": "host"}),
        ({}, {"NetworkMode": "host"}),
        ({"network": "none"}, {}),
    ],
)
def test_create_body_host_mode_publishes_nothing(
    spec_kw: dict[str, Any], extra_host: dict[str, Any]
) -> None:
    body = container_create_body(make_spec(extra_host_config=extra_host, **spec_kw))
    assert "PortBindings" not in body["HostConfig"]
    assert body["HostConfig"]["NetworkMode"] in ("host", "none")
    assert body["ExposedPorts"] == {"8888/tcp": {}}


def test_create_body_container_network_mode() -> None:
    body = container_create_body(make_spec(network="container:other"))
    assert "PortBindings" not in body["HostConfig"]
    assert "ExposedPorts" not in body


def test_create_body_extra_network_mode_wins() -> None:
    body = container_create_body(
        make_spec(network="bridge", extra_host_config={"network_mode": "mynet"})
    )
    assert body["HostConfig"]["NetworkMode"] == "mynet"
    assert "PortBindings" in body["HostConfig"]


@pytest.mark.parametrize(
    ("command", "args", "image_cmd", "expected"),
    [
        (None, [], ["start-notebook.py"], None),
        (None, [], None, None),
        (None, ["--debug"], ["start-notebook.py"], ["start-notebook.py", "--debug"]),
        (None, ["--debug"], None, ["--debug"]),
        (["jupyterhub-singleuser"], ["--debug"], ["ignored"], ["jupyterhub-singleuser", "--debug"]),
        (["start.sh"], [], None, ["start.sh"]),
        ([], [], None, []),
    ],
)
def test_create_body_cmd(
    command: list[str] | None,
    args: list[str],
    image_cmd: list[str] | None,
    expected: list[str] | None,
) -> None:
    body = container_create_body(make_spec(command=command, args=args), image_cmd=image_cmd)
    if expected is None:
        assert "Cmd" not in body
    else:
        assert body["Cmd"] == expected


def test_create_body_cpu_limit() -> None:
    host = container_create_body(make_spec(cpu_limit=1.5))["HostConfig"]
    assert host["CpuPeriod"] == 100000
    assert host["CpuQuota"] == 150000
    host = container_create_body(make_spec(cpu_limit=None))["HostConfig"]
    assert "CpuPeriod" not in host
    assert "CpuQuota" not in host


@pytest.mark.parametrize("extra", [{"cpu_period": 50000}, {"CpuPeriod": 50000}])
def test_create_body_cpu_period_override(extra: dict[str, Any]) -> None:
    host = container_create_body(make_spec(cpu_limit=2, extra_host_config=extra))["HostConfig"]
    assert host["CpuPeriod"] == 50000
    assert host["CpuQuota"] == 100000


def test_create_body_guarantees() -> None:
    host = container_create_body(make_spec(mem_guarantee=512 * MiB, cpu_guarantee=0.5))[
        "HostConfig"
    ]
    assert host["MemoryReservation"] == 512 * MiB
    assert host["CpuShares"] == 512
    host = container_create_body(make_spec(cpu_guarantee=0.0001))["HostConfig"]
    assert host["CpuShares"] == 2
    host = container_create_body(make_spec())["HostConfig"]
    assert "MemoryReservation" not in host
    assert "CpuShares" not in host
    assert "Memory" not in host


def test_create_body_working_dir_user() -> None:
    body = container_create_body(make_spec(working_dir="/home/alice", user="1000:100"))
    assert body["WorkingDir"] == "/home/alice"
    assert body["User"] == "1000:100"
    body = container_create_body(make_spec())
    assert "WorkingDir" not in body
    assert "User" not in body


@pytest.mark.parametrize(
    "extra_env",
    [{"B": "override", "C": "3"}, ["B=override", "C=3"]],
)
def test_create_body_env_merge(extra_env: Any) -> None:
    body = container_create_body(make_spec(extra_create={"environment": extra_env}))
    assert body["Env"] == ["B=override", "C=3", "JUPYTERHUB_API_TOKEN=secret"]


def test_create_body_labels_and_extra_merge() -> None:
    spec = make_spec(
        extra_create={
            "labels": {"team": "data"},
            "working_dir": "/srv",
            "hostname": "nb",
            "host_config": {"shm_size": "256m", "auto_remove": False},
        },
        extra_host_config={
            "device_requests": [{"count": -1, "capabilities": [["gpu"]]}],
            "port_bindings": {8888: ("0.0.0.0", 9999)},
            "Memory": 42,
        },
        working_dir="/home/x",
        mem_limit=GiB,
        auto_remove=True,
    )
    spec_before = copy.deepcopy(spec)
    body = container_create_body(spec)
    assert spec == spec_before
    assert body["Labels"] == {"hub.jupyter.org/managed-by": "aiodockerspawner", "team": "data"}
    assert body["WorkingDir"] == "/srv"
    assert body["Hostname"] == "nb"
    host = body["HostConfig"]
    assert host["ShmSize"] == 256 * MiB
    assert host["AutoRemove"] is False
    assert host["Memory"] == 42
    assert host["DeviceRequests"][0]["Count"] == -1
    assert host["PortBindings"] == {"8888/tcp": [{"HostIp": "0.0.0.0", "HostPort": "9999"}]}


def test_create_body_extra_host_config_beats_create_host_config() -> None:
    spec = make_spec(
        extra_create={"host_config": {"shm_size": "256m"}},
        extra_host_config={"shm_size": "1g"},
    )
    assert container_create_body(spec)["HostConfig"]["ShmSize"] == GiB


def test_create_body_binds_dict_merges_like_dockerspawner() -> None:
    spec = make_spec(
        binds=[VolumeBind("vol-a", "/a"), VolumeBind("/srv/b", "/b", "ro")],
        extra_host_config={"binds": {"/srv/b": {"bind": "/bb"}, "/srv/c": "/c"}},
        links={"db": "database"},
    )
    host = container_create_body(spec)["HostConfig"]
    assert host["Binds"] == ["vol-a:/a:rw", "/srv/b:/bb:ro", "/srv/c:/c:rw"]
    spec.extra_host_config = {"binds": ["/only:/only:ro"], "links": {"cache": "c"}}
    host = container_create_body(spec)["HostConfig"]
    assert host["Binds"] == ["/only:/only:ro"]
    assert host["Links"] == ["cache:c", "db:database"]


def test_create_body_networking_config_from_extra_create() -> None:
    net = {"EndpointsConfig": {"jhub": {"Aliases": ["alice"]}}}
    body = container_create_body(
        make_spec(network="jhub", host_ip=None, extra_create={"networking_config": net})
    )
    assert body["NetworkingConfig"] == net
    assert "NetworkingConfig" not in body["HostConfig"]


def test_create_body_invalid_extra_raises() -> None:
    with pytest.raises(InvalidSpec, match=r"extra_host_config: unknown key 'gpus'"):
        container_create_body(make_spec(extra_host_config={"gpus": "all"}))
    with pytest.raises(InvalidSpec, match=r"extra_create_kwargs\['name'\]"):
        container_create_body(make_spec(extra_create={"name": "other"}))


# --- image_reference -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("busybox", ("busybox", "latest")),
        ("busybox:1.36", ("busybox", "1.36")),
        ("quay.io/jupyterhub/singleuser:5", ("quay.io/jupyterhub/singleuser", "5")),
        ("registry:5000/foo", ("registry:5000/foo", "latest")),
        ("registry:5000/foo:bar", ("registry:5000/foo", "bar")),
        ("foo@sha256:abc123", ("foo", "sha256:abc123")),
        ("registry:5000/foo:1@sha256:abc123", ("registry:5000/foo", "sha256:abc123")),
    ],
)
def test_image_reference(image: str, expected: tuple[str, str]) -> None:
    assert image_reference(image) == expected
