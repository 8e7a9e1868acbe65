"""Engine API request bodies built from the neutral :class:`ObjectSpec`.

dockerspawner configurations speak docker-py: ``extra_host_config`` holds
``create_host_config`` keywords (``mem_limit``, ``device_requests``...),
``extra_create_kwargs`` holds ``create_container`` keywords, and ``mounts``
holds ``docker.types.Mount`` keywords. The functions here translate that
vocabulary to the Engine API's JSON (CamelCase) and also accept Engine JSON
directly, so either spelling works in a configuration file.

Everything here is pure: no I/O and no Docker client.
"""

from __future__ import annotations

import copy
import difflib
import shlex
from collections.abc import Callable, Mapping
from typing import Any

from aiodockerspawner.errors import InvalidSpec
from aiodockerspawner.model import ObjectSpec, binds_as_dockerspawner_dict
from aiodockerspawner.units import parse_bytes

__all__ = [
    "DEFAULT_CPU_PERIOD",
    "container_create_body",
    "deep_merge",
    "translate_create_kwargs",
    "translate_host_config",
    "translate_mount",
]

#: ``HostConfig.CpuPeriod`` used for ``cpu_limit`` unless ``cpu_period`` is configured (100 ms).
DEFAULT_CPU_PERIOD = 100_000

HOST_CONFIG_TRAIT = "DockerSpawner.extra_host_config"
CREATE_KWARGS_TRAIT = "DockerSpawner.extra_create_kwargs"
MOUNTS_TRAIT = "DockerSpawner.mounts"

# A converter turns one docker-py value into its Engine form. ``where`` names the
# offending setting in error messages, e.g. "DockerSpawner.extra_host_config['shm_size']".
_Converter = Callable[[Any, str], Any]


# ---------------------------------------------------------------------------
# generic helpers


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``extra`` over ``base`` into a new dict.

    Where both sides hold a mapping the two are merged recursively; otherwise
    ``extra``'s value wins (lists are replaced, not concatenated). Neither
    input is modified and the result shares no containers with them.
    """
    result: dict[str, Any] = {k: copy.deepcopy(v) for k, v in base.items()}
    for key, value in extra.items():
        current = result.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            result[key] = deep_merge(current, value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _is_engine_key(key: str) -> bool:
    """Engine API fields are CamelCase: an upper-case ASCII first letter, no underscore."""
    return bool(key) and key[0].isascii() and key[0].isupper() and "_" not in key


def _unknown_key(trait: str, key: object, known: Mapping[str, Any], what: str) -> InvalidSpec:
    hint = ""
    if isinstance(key, str):
        close = difflib.get_close_matches(key, list(known), n=1)
        if close:
            hint = f" (did you mean {close[0]!r}?)"
    return InvalidSpec(
        f"{trait}: unknown key {key!r}{hint}; expected a docker-py {what} keyword "
        f"(snake_case) or an Engine API field (CamelCase)"
    )


def _translate(
    value: Any,
    table: Mapping[str, tuple[str, _Converter]],
    trait: str,
    what: str,
) -> dict[str, Any]:
    """Translate one flat docker-py keyword dict through ``table``; Engine keys pass.

    ``None`` values are dropped (docker-py's "not set"). When a setting is
    given both ways the Engine spelling wins. Any other key raises
    :class:`InvalidSpec` naming it, ``trait`` and ``what`` (the docker-py type).
    """
    translated: dict[str, Any] = {}
    engine: dict[str, Any] = {}
    for key, item in _mapping(value, trait).items():
        if isinstance(key, str) and key in table:
            if item is None:
                continue
            name, convert = table[key]
            translated[name] = convert(item, f"{trait}[{key!r}]")
        elif isinstance(key, str) and _is_engine_key(key):
            engine[key] = copy.deepcopy(item)
        else:
            raise _unknown_key(trait, key, table, what)
    translated.update(engine)
    return translated


def _copy(value: Any, where: str) -> Any:
    return copy.deepcopy(value)


def _bytes(value: Any, where: str) -> int:
    return parse_bytes(value, key=where)


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidSpec(f"{where}: expected an integer, got {value!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidSpec(f"{where}: expected an integer, got {value!r}")
        return int(value)
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidSpec(f"{where}: expected true or false, got {value!r}")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidSpec(f"{where}: expected a string, got {value!r}")
    return value


def _mapping(value: Any, where: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise InvalidSpec(f"{where}: expected a dict, got {type(value).__name__}")
    return value


def _str_dict(value: Any, where: str) -> dict[str, str]:
    """A dict with keys and values made strings (sysctls, driver options...)."""
    return {str(k): str(v) for k, v in _mapping(value, where).items()}


def _copied_mapping(value: Any, where: str) -> dict[str, Any]:
    return {str(k): copy.deepcopy(v) for k, v in _mapping(value, where).items()}


def _sequence(value: Any, where: str) -> list[Any] | tuple[Any, ...]:
    if not isinstance(value, (list, tuple)):
        raise InvalidSpec(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _str_list(value: Any, where: str) -> list[str]:
    """A list of strings; a lone string is accepted as a one-item list."""
    if isinstance(value, str):
        return [value]
    return [_str(item, f"{where}[{i}]") for i, item in enumerate(_sequence(value, where))]


def _pick(item: Mapping[Any, Any], snake: str, camel: str) -> Any:
    """``item[snake]`` or else ``item[camel]`` (docker.types accept both spellings)."""
    if snake in item:
        return item[snake]
    return item.get(camel)


# ---------------------------------------------------------------------------
# host config converters


def _port_key(port: Any, where: str) -> str:
    """``8888`` or ``"8888"`` → ``"8888/tcp"``; ``"53/udp"`` unchanged."""
    if isinstance(port, bool) or not isinstance(port, (int, str)):
        raise InvalidSpec(f"{where}: invalid container port {port!r}")
    text = str(port).strip()
    if not text:
        raise InvalidSpec(f"{where}: invalid container port {port!r}")
    return text if "/" in text else f"{text}/tcp"


def _host_port(port: Any, where: str) -> str:
    if port is None:
        return ""
    if isinstance(port, bool) or not isinstance(port, (int, str)):
        raise InvalidSpec(f"{where}: invalid host port {port!r}")
    return str(port)


def _port_binding(binding: Any, where: str) -> dict[str, str]:
    """One docker-py port binding → ``{"HostIp", "HostPort"}``.

    ``port`` | ``None`` | ``(host_ip,)`` | ``(host_port,)`` | ``(host_ip, host_port)``
    | ``{"HostIp", "HostPort"}``.
    """
    host_ip: Any = ""
    host_port: Any = None
    if isinstance(binding, tuple):
        if len(binding) == 2:
            host_ip, host_port = binding
        elif len(binding) == 1 and isinstance(binding[0], str):
            host_ip = binding[0]
        elif len(binding) == 1:
            host_port = binding[0]
        else:
            raise InvalidSpec(f"{where}: invalid port binding {binding!r}")
    elif isinstance(binding, Mapping):
        if "HostPort" not in binding and "HostIp" not in binding:
            raise InvalidSpec(f"{where}: a port binding dict needs HostPort and/or HostIp")
        host_ip = binding.get("HostIp", "")
        host_port = binding.get("HostPort")
    else:
        host_port = binding
    if host_ip is None:
        host_ip = ""
    if not isinstance(host_ip, str):
        raise InvalidSpec(f"{where}: invalid host IP {host_ip!r}")
    return {"HostIp": host_ip, "HostPort": _host_port(host_port, where)}


def _port_bindings(value: Any, where: str) -> dict[str, list[dict[str, str]]]:
    result: dict[str, list[dict[str, str]]] = {}
    for port, bindings in _mapping(value, where).items():
        key = _port_key(port, where)
        sub = f"{where}[{port!r}]"
        if isinstance(bindings, list):
            result[key] = [_port_binding(b, sub) for b in bindings]
        else:
            result[key] = [_port_binding(bindings, sub)]
    return result


_PROPAGATION_MODES = frozenset({"rshared", "shared", "rslave", "slave", "rprivate", "private"})


def _binds(value: Any, where: str) -> list[str]:
    """``["src:dst:mode", ...]`` or docker-py's ``{src: {"bind", "mode"|"ro", "propagation"}}``."""
    if isinstance(value, (list, tuple)):
        return _str_list(value, where)
    result: list[str] = []
    for source, entry in _mapping(value, where).items():
        sub = f"{where}[{source!r}]"
        _str(source, sub)
        if isinstance(entry, str):
            result.append(f"{source}:{entry}:rw")
            continue
        entry = _mapping(entry, sub)
        target = _str(entry.get("bind"), f"{sub}['bind']")
        if "ro" in entry and "mode" in entry:
            raise InvalidSpec(f"{sub}: give either 'ro' or 'mode', not both")
        if "ro" in entry:
            mode = "ro" if entry["ro"] else "rw"
        else:
            mode = _str(entry.get("mode", "rw"), f"{sub}['mode']")
        propagation = entry.get("propagation")
        if propagation:
            if propagation not in _PROPAGATION_MODES:
                raise InvalidSpec(
                    f"{sub}: invalid propagation {propagation!r}; "
                    f"one of {', '.join(sorted(_PROPAGATION_MODES))}"
                )
            mode = f"{mode},{propagation}" if mode else propagation
        result.append(f"{source}:{target}:{mode}")
    return result


def _links(value: Any, where: str) -> list[str]:
    """``{name: alias}`` or ``[(name, alias)]`` or ``["name:alias"]`` → ``["name:alias"]``."""
    if isinstance(value, Mapping):
        pairs = [(str(k), v) for k, v in value.items()]
        return [f"{name}:{alias}" if alias else name for name, alias in sorted(pairs)]
    result: list[str] = []
    for i, item in enumerate(_sequence(value, where)):
        if isinstance(item, str):
            result.append(item)
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            name, alias = item
            result.append(f"{name}:{alias}" if alias else str(name))
        else:
            raise InvalidSpec(f"{where}[{i}]: expected 'name:alias' or (name, alias)")
    return result


def _volumes_from(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return value.split(",")
    return _str_list(value, where)


def _restart_policy(value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, str):
        return {"Name": value}
    policy = _mapping(value, where)
    result: dict[str, Any] = {}
    name = _pick(policy, "name", "Name")
    if name is not None:
        result["Name"] = _str(name, f"{where}['Name']")
    retries = _pick(policy, "maximum_retry_count", "MaximumRetryCount")
    if retries is not None:
        result["MaximumRetryCount"] = _int(retries, f"{where}['MaximumRetryCount']")
    return result


def _devices(value: Any, where: str) -> list[dict[str, Any]]:
    """``"/dev/host[:/dev/guest[:rwm]]"`` strings or device dicts → Engine device mappings."""
    result: list[dict[str, Any]] = []
    for i, device in enumerate(_sequence(value, where)):
        if isinstance(device, str):
            parts = device.split(":")
            result.append(
                {
                    "PathOnHost": parts[0],
                    "PathInContainer": parts[1] if len(parts) > 1 else parts[0],
                    "CgroupPermissions": parts[2] if len(parts) > 2 else "rwm",
                }
            )
        elif isinstance(device, Mapping):
            entry: dict[str, Any] = {}
            for snake, camel in (
                ("path_on_host", "PathOnHost"),
                ("path_in_container", "PathInContainer"),
                ("cgroup_permissions", "CgroupPermissions"),
            ):
                item = _pick(device, snake, camel)
                if item is not None:
                    entry[camel] = item
            result.append(entry)
        else:
            raise InvalidSpec(f"{where}[{i}]: expected a device string or dict")
    return result


def _extra_hosts(value: Any, where: str) -> list[str]:
    """``{host: ip}`` → sorted ``["host:ip"]``; a list of ``"host:ip"`` passes."""
    if isinstance(value, Mapping):
        return [f"{host}:{ip}" for host, ip in sorted((str(k), v) for k, v in value.items())]
    return _str_list(value, where)


def _ulimits(value: Any, where: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for i, item in enumerate(_sequence(value, where)):
        sub = f"{where}[{i}]"
        limit = _mapping(item, sub)
        entry: dict[str, Any] = {"Name": _str(_pick(limit, "name", "Name"), f"{sub}['name']")}
        for snake, camel in (("soft", "Soft"), ("hard", "Hard")):
            bound = _pick(limit, snake, camel)
            if bound is not None:
                entry[camel] = _int(bound, f"{sub}[{snake!r}]")
        result.append(entry)
    return result


def _log_config(value: Any, where: str) -> dict[str, Any]:
    config = _mapping(value, where)
    log_type = _pick(config, "type", "Type")
    options = _pick(config, "config", "Config")
    return {
        "Type": _str(log_type, f"{where}['type']") if log_type is not None else "",
        "Config": {str(k): v for k, v in _mapping(options or {}, f"{where}['config']").items()},
    }


def _group_add(value: Any, where: str) -> list[str]:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return [str(value)]
    return [str(group) for group in _sequence(value, where)]


def _tmpfs(value: Any, where: str) -> dict[str, str]:
    """``{path: options}`` or ``["path[:options]"]`` → ``{path: options}``."""
    if isinstance(value, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    result: dict[str, str] = {}
    for item in _str_list(value, where):
        path, _, options = item.partition(":")
        result[path] = options
    return result


def _lxc_conf(value: Any, where: str) -> Any:
    if isinstance(value, Mapping):
        return [{"Key": str(k), "Value": str(v)} for k, v in value.items()]
    return copy.deepcopy(value)


def _device_requests(value: Any, where: str) -> list[dict[str, Any]]:
    """docker-py ``DeviceRequest`` keywords (or Engine form) → Engine device requests.

    Like docker-py every field is written, with empty defaults.
    """
    result: list[dict[str, Any]] = []
    for i, item in enumerate(_sequence(value, where)):
        sub = f"{where}[{i}]"
        request = _mapping(item, sub)
        known = {
            "driver",
            "count",
            "device_ids",
            "capabilities",
            "options",
            "Driver",
            "Count",
            "DeviceIDs",
            "Capabilities",
            "Options",
        }
        for key in request:
            if key not in known:
                raise InvalidSpec(
                    f"{sub}: unknown key {key!r}; use driver, count, device_ids, "
                    f"capabilities, options"
                )
        driver = _pick(request, "driver", "Driver")
        count = _pick(request, "count", "Count")
        device_ids = _pick(request, "device_ids", "DeviceIDs")
        capabilities = _pick(request, "capabilities", "Capabilities")
        options = _pick(request, "options", "Options")
        result.append(
            {
                "Driver": "" if driver is None else _str(driver, f"{sub}['driver']"),
                "Count": 0 if count is None else _int(count, f"{sub}['count']"),
                "DeviceIDs": [str(d) for d in _sequence(device_ids or [], f"{sub}['device_ids']")],
                "Capabilities": [
                    _str_list(c, f"{sub}['capabilities']")
                    for c in _sequence(capabilities or [], f"{sub}['capabilities']")
                ],
                "Options": dict(_mapping(options or {}, f"{sub}['options']")),
            }
        )
    return result


_BLKIO_KEYS = {"path": "Path", "weight": "Weight", "rate": "Rate"}


def _blkio_list(value: Any, where: str) -> list[dict[str, Any]]:
    """Per-device throttles: ``[{"path", "weight"|"rate"}]`` (either spelling)."""
    result: list[dict[str, Any]] = []
    for i, item in enumerate(_sequence(value, where)):
        entry = _mapping(item, f"{where}[{i}]")
        result.append({_BLKIO_KEYS.get(str(k), str(k)): v for k, v in entry.items()})
    return result


def _mounts(value: Any, where: str) -> list[dict[str, Any]]:
    return [
        translate_mount(m, trait=f"{where}[{i}]") for i, m in enumerate(_sequence(value, where))
    ]


#: docker-py ``create_host_config`` keyword → (Engine HostConfig field, converter)
HOST_CONFIG_KEYS: dict[str, tuple[str, _Converter]] = {
    "auto_remove": ("AutoRemove", _bool),
    "binds": ("Binds", _binds),
    "blkio_weight": ("BlkioWeight", _int),
    "blkio_weight_device": ("BlkioWeightDevice", _blkio_list),
    "cap_add": ("CapAdd", _str_list),
    "cap_drop": ("CapDrop", _str_list),
    "cgroup_parent": ("CgroupParent", _str),
    "cgroupns": ("CgroupnsMode", _str),
    "cpu_count": ("CpuCount", _int),
    "cpu_percent": ("CpuPercent", _int),
    "cpu_period": ("CpuPeriod", _int),
    "cpu_quota": ("CpuQuota", _int),
    "cpu_rt_period": ("CPURealtimePeriod", _int),
    "cpu_rt_runtime": ("CPURealtimeRuntime", _int),
    "cpu_shares": ("CpuShares", _int),
    "cpuset_cpus": ("CpusetCpus", _str),
    "cpuset_mems": ("CpusetMems", _str),
    "device_cgroup_rules": ("DeviceCgroupRules", _str_list),
    "device_read_bps": ("BlkioDeviceReadBps", _blkio_list),
    "device_read_iops": ("BlkioDeviceReadIOps", _blkio_list),
    "device_requests": ("DeviceRequests", _device_requests),
    "device_write_bps": ("BlkioDeviceWriteBps", _blkio_list),
    "device_write_iops": ("BlkioDeviceWriteIOps", _blkio_list),
    "devices": ("Devices", _devices),
    "dns": ("Dns", _str_list),
    "dns_opt": ("DnsOptions", _str_list),
    "dns_search": ("DnsSearch", _str_list),
    "extra_hosts": ("ExtraHosts", _extra_hosts),
    "group_add": ("GroupAdd", _group_add),
    "init": ("Init", _bool),
    "init_path": ("InitPath", _str),
    "ipc_mode": ("IpcMode", _str),
    "isolation": ("Isolation", _str),
    "kernel_memory": ("KernelMemory", _bytes),
    "links": ("Links", _links),
    "log_config": ("LogConfig", _log_config),
    "lxc_conf": ("LxcConf", _lxc_conf),
    "mem_limit": ("Memory", _bytes),
    "mem_reservation": ("MemoryReservation", _bytes),
    "mem_swappiness": ("MemorySwappiness", _int),
    "memswap_limit": ("MemorySwap", _bytes),
    "mounts": ("Mounts", _mounts),
    "nano_cpus": ("NanoCpus", _int),
    "network_mode": ("NetworkMode", _str),
    "oom_kill_disable": ("OomKillDisable", _bool),
    "oom_score_adj": ("OomScoreAdj", _int),
    "pid_mode": ("PidMode", _str),
    "pids_limit": ("PidsLimit", _int),
    "port_bindings": ("PortBindings", _port_bindings),
    "privileged": ("Privileged", _bool),
    "publish_all_ports": ("PublishAllPorts", _bool),
    "read_only": ("ReadonlyRootfs", _bool),
    "restart_policy": ("RestartPolicy", _restart_policy),
    "runtime": ("Runtime", _str),
    "security_opt": ("SecurityOpt", _str_list),
    "shm_size": ("ShmSize", _bytes),
    "storage_opt": ("StorageOpt", _copy),
    "sysctls": ("Sysctls", _str_dict),
    "tmpfs": ("Tmpfs", _tmpfs),
    "ulimits": ("Ulimits", _ulimits),
    "userns_mode": ("UsernsMode", _str),
    "uts_mode": ("UTSMode", _str),
    "volume_driver": ("VolumeDriver", _str),
    "volumes_from": ("VolumesFrom", _volumes_from),
}


def translate_host_config(
    cfg: Mapping[str, Any], *, trait: str = HOST_CONFIG_TRAIT
) -> dict[str, Any]:
    """Translate an ``extra_host_config`` value to an Engine ``HostConfig`` fragment.

    Keys may be docker-py ``create_host_config`` keywords (see
    :data:`HOST_CONFIG_KEYS`), translated and validated, or Engine fields
    (CamelCase), copied as they are. A ``None`` value means "not set" and is
    dropped, as in docker-py. When one setting is given both ways, the Engine
    spelling wins. Any other key raises :class:`InvalidSpec` naming it and ``trait``.
    """
    return _translate(cfg, HOST_CONFIG_KEYS, trait, "create_host_config")


# ---------------------------------------------------------------------------
# mounts

_MOUNT_TYPES = ("bind", "volume", "tmpfs", "npipe", "cluster", "image")
_MOUNT_KEYS = frozenset(
    {
        "target",
        "source",
        "type",
        "read_only",
        "consistency",
        "propagation",
        "no_copy",
        "labels",
        "driver_config",
        "tmpfs_size",
        "tmpfs_mode",
    }
)


def _driver_config(value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, str):
        return {"Name": value}
    config = _mapping(value, where)
    result: dict[str, Any] = {"Name": _str(_pick(config, "name", "Name"), f"{where}['name']")}
    options = _pick(config, "options", "Options")
    if options is not None:
        result["Options"] = {str(k): str(v) for k, v in _mapping(options, where).items()}
    return result


def translate_mount(m: Mapping[str, Any], *, trait: str = MOUNTS_TRAIT) -> dict[str, Any]:
    """One ``mounts`` entry → an Engine ``HostConfig.Mounts`` item.

    Accepts ``docker.types.Mount`` keywords (``target``, ``source``, ``type``
    defaulting to ``volume``, ``read_only``, ``consistency``, ``propagation``,
    ``no_copy``, ``labels``, ``driver_config``, ``tmpfs_size``, ``tmpfs_mode``)
    with docker-py's checks for options that do not fit the type. A dict whose
    keys are all CamelCase is taken as Engine form and copied unchanged.
    """
    mount = _mapping(m, trait)
    if mount and all(isinstance(k, str) and _is_engine_key(k) for k in mount):
        return {str(k): copy.deepcopy(v) for k, v in mount.items()}
    for key in mount:
        if key not in _MOUNT_KEYS:
            raise _unknown_key(trait, key, dict.fromkeys(_MOUNT_KEYS), "Mount")

    mount_type = _str(mount.get("type", "volume"), f"{trait}['type']")
    if mount_type not in _MOUNT_TYPES:
        raise InvalidSpec(
            f"{trait}: unsupported mount type {mount_type!r}; one of {', '.join(_MOUNT_TYPES)}"
        )
    result: dict[str, Any] = {"Target": _str(mount.get("target"), f"{trait}['target']")}
    source = mount.get("source")
    if source is not None:
        result["Source"] = _str(source, f"{trait}['source']")
    result["Type"] = mount_type
    result["ReadOnly"] = bool(mount.get("read_only", False))
    if mount.get("consistency"):
        result["Consistency"] = _str(mount["consistency"], f"{trait}['consistency']")

    def reject(*names: str) -> None:
        given = [n for n in names if mount.get(n)]
        if given:
            raise InvalidSpec(
                f"{trait}: option(s) {', '.join(given)} do not apply to a {mount_type} mount"
            )

    if mount_type == "bind":
        reject("no_copy", "labels", "driver_config", "tmpfs_size", "tmpfs_mode")
        if mount.get("propagation") is not None:
            result["BindOptions"] = {
                "Propagation": _str(mount["propagation"], f"{trait}['propagation']")
            }
    elif mount_type == "volume":
        reject("propagation", "tmpfs_size", "tmpfs_mode")
        options: dict[str, Any] = {}
        if mount.get("no_copy"):
            options["NoCopy"] = True
        if mount.get("labels"):
            labels = _mapping(mount["labels"], f"{trait}['labels']")
            options["Labels"] = {str(k): str(v) for k, v in labels.items()}
        if mount.get("driver_config"):
            options["DriverConfig"] = _driver_config(
                mount["driver_config"], f"{trait}['driver_config']"
            )
        if options:
            result["VolumeOptions"] = options
    elif mount_type == "tmpfs":
        reject("propagation", "no_copy", "labels", "driver_config")
        tmpfs: dict[str, Any] = {}
        if mount.get("tmpfs_size"):
            tmpfs["SizeBytes"] = parse_bytes(mount["tmpfs_size"], key=f"{trait}['tmpfs_size']")
        if mount.get("tmpfs_mode"):
            tmpfs["Mode"] = _int(mount["tmpfs_mode"], f"{trait}['tmpfs_mode']")
        if tmpfs:
            result["TmpfsOptions"] = tmpfs
    else:
        reject("propagation", "no_copy", "labels", "driver_config", "tmpfs_size", "tmpfs_mode")
    return result


# ---------------------------------------------------------------------------
# create_container keywords


def _command(value: Any, where: str) -> list[str]:
    """A str is split like a shell would (docker-py uses ``shlex.split``)."""
    if isinstance(value, str):
        return shlex.split(value)
    return _str_list(value, where)


def _environment(value: Any, where: str) -> list[str]:
    """``{K: V}`` → ``["K=V"]`` (``None`` → bare ``"K"``); a list passes."""
    if isinstance(value, Mapping):
        return [str(k) if v is None else f"{k}={v}" for k, v in value.items()]
    return _str_list(value, where)


def _labels(value: Any, where: str) -> dict[str, str]:
    """A dict, or a list of label names (each with an empty value)."""
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    return dict.fromkeys(_str_list(value, where), "")


def _exposed_ports(value: Any, where: str) -> dict[str, dict[str, Any]]:
    """``[8888, "53/udp", (53, "udp")]`` or ``{port: ...}`` → ``{"8888/tcp": {}}``."""
    if isinstance(value, Mapping):
        return {_port_key(k, where): {} for k in value}
    result: dict[str, dict[str, Any]] = {}
    for item in _sequence(value, where):
        if isinstance(item, tuple) and len(item) == 2:
            port, proto = item
            result[f"{port}/{proto}"] = {}
        else:
            result[_port_key(item, where)] = {}
    return result


def _volumes(value: Any, where: str) -> dict[str, dict[str, Any]]:
    if isinstance(value, Mapping):
        return {str(k): {} for k in value}
    return {path: {} for path in _str_list(value, where)}


def _healthcheck(value: Any, where: str) -> dict[str, Any]:
    """docker-py ``Healthcheck`` keywords (durations in ns) → Engine ``Healthcheck``."""
    check = _mapping(value, where)
    result: dict[str, Any] = {}
    test = _pick(check, "test", "Test")
    if test is not None:
        result["Test"] = ["CMD-SHELL", test] if isinstance(test, str) else _str_list(test, where)
    for snake, camel in (
        ("interval", "Interval"),
        ("timeout", "Timeout"),
        ("retries", "Retries"),
        ("start_period", "StartPeriod"),
        ("start_interval", "StartInterval"),
    ):
        item = _pick(check, snake, camel)
        if item is not None:
            result[camel] = _int(item, f"{where}[{snake!r}]")
    return result


def _user(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidSpec(f"{where}: expected a user name or uid, got {value!r}")
    return str(value)


#: docker-py ``create_container`` keyword → (Engine container Config field, converter)
CREATE_KWARGS_KEYS: dict[str, tuple[str, _Converter]] = {
    "command": ("Cmd", _command),
    "domainname": ("Domainname", _str),
    "entrypoint": ("Entrypoint", _command),
    "environment": ("Env", _environment),
    "healthcheck": ("Healthcheck", _healthcheck),
    "hostname": ("Hostname", _str),
    "image": ("Image", _str),
    "labels": ("Labels", _labels),
    "mac_address": ("MacAddress", _str),
    "network_disabled": ("NetworkDisabled", _bool),
    "networking_config": ("NetworkingConfig", _copied_mapping),
    "ports": ("ExposedPorts", _exposed_ports),
    "stdin_open": ("OpenStdin", _bool),
    "stop_signal": ("StopSignal", _str),
    "stop_timeout": ("StopTimeout", _int),
    "tty": ("Tty", _bool),
    "user": ("User", _user),
    "volumes": ("Volumes", _volumes),
    "working_dir": ("WorkingDir", _str),
}
# create_container keywords that do not become Config fields
_CREATE_SPECIAL = frozenset(
    {"host_config", "runtime", "name", "detach", "use_config_proxy", "platform"}
)


def translate_create_kwargs(
    kw: Mapping[str, Any], *, trait: str = CREATE_KWARGS_TRAIT
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Translate ``extra_create_kwargs`` to ``(config fields, host-config fragment)``.

    docker-py ``create_container`` keywords (see :data:`CREATE_KWARGS_KEYS`)
    are translated; CamelCase Engine fields are copied. ``host_config`` (or
    ``HostConfig``) goes through :func:`translate_host_config` into the second
    dict, as does ``runtime`` (Engine ``HostConfig.Runtime``). ``detach`` and
    ``use_config_proxy`` are accepted and ignored. ``name`` is rejected (the
    spawner owns the object name) and so is ``platform`` (a query parameter of
    the create call, not part of its body). ``None`` values are dropped.
    """
    config: dict[str, Any] = {}
    engine: dict[str, Any] = {}
    host: dict[str, Any] = {}
    for key, value in _mapping(kw, trait).items():
        where = f"{trait}[{key!r}]"
        if key in ("name", "Name"):
            raise InvalidSpec(
                f"{where}: the container name is set by the spawner; use name_template instead"
            )
        if key == "platform":
            raise InvalidSpec(f"{where}: selecting an image platform is not supported")
        if value is None or key in ("detach", "use_config_proxy"):
            continue
        if key in ("host_config", "HostConfig"):
            host = deep_merge(host, translate_host_config(_mapping(value, where), trait=where))
        elif key == "runtime":
            host["Runtime"] = _str(value, where)
        elif isinstance(key, str) and key in CREATE_KWARGS_KEYS:
            field, convert = CREATE_KWARGS_KEYS[key]
            config[field] = convert(value, where)
        elif isinstance(key, str) and _is_engine_key(key):
            engine[key] = copy.deepcopy(value)
        else:
            raise _unknown_key(
                trait,
                key,
                {**CREATE_KWARGS_KEYS, **dict.fromkeys(_CREATE_SPECIAL)},
                "create_container",
            )
    config.update(engine)
    return config, host


# ---------------------------------------------------------------------------
# the create body


def _env_items(entries: list[str]) -> dict[str, str | None]:
    """``["K=V", "K2"]`` → ``{"K": "V", "K2": None}``."""
    result: dict[str, str | None] = {}
    for entry in entries:
        name, sep, val = entry.partition("=")
        result[name] = val if sep else None
    return result


def _env_list(env: Mapping[str, str | None]) -> list[str]:
    """``{"K": "V", "K2": None}`` → sorted ``["K=V", "K2"]``."""
    return sorted(k if v is None else f"{k}={v}" for k, v in env.items())


def _is_publishable(network_mode: str) -> bool:
    """Whether ports can be published: not in the host's or another container's stack."""
    return network_mode not in ("host", "none") and not network_mode.startswith("container:")


def container_create_body(
    spec: ObjectSpec, *, image_cmd: list[str] | None = None
) -> dict[str, Any]:
    """The JSON body of ``POST /containers/create`` for ``spec``.

    Follows dockerspawner's choices, with these rules:

    * ``Cmd`` is ``command + args`` when ``spec.command`` is set; otherwise, when
      there are ``args``, the image's CMD (``image_cmd``, which the caller reads
      from the image) followed by ``args``; otherwise it is omitted and the
      image's CMD applies.
    * ``cpu_limit`` becomes ``CpuPeriod`` (the configured ``cpu_period``, else
      :data:`DEFAULT_CPU_PERIOD`) and ``CpuQuota = int(cpu_limit * period)``.
      ``mem_limit`` becomes ``Memory``, ``mem_guarantee`` ``MemoryReservation``
      (a soft limit) and ``cpu_guarantee`` ``CpuShares = int(cpu_guarantee *
      1024)``, at least 2: a best-effort relative weight, not a reservation.
      (dockerspawner ignores both guarantees for containers.)
    * ``NetworkMode`` is ``spec.network`` unless the extra host config sets
      ``network_mode``. The port is published on ``spec.host_ip`` with a random
      host port, except when ``host_ip`` is ``None`` or the network mode is
      ``host``, ``none`` or ``container:...``, where publishing is impossible
      (dockerspawner failed there, #462). ``ExposedPorts`` is omitted only in
      ``container:`` mode, where Docker rejects it.
    * ``extra_create`` (translated) is deep-merged over the body and
      ``extra_host_config`` over ``HostConfig``, extra winning (its
      ``host_config`` first, then ``extra_host_config``). The environment is
      merged per variable, extra winning, whatever its form; labels merge per key.
      ``binds`` and ``links`` given as dicts in ``extra_host_config`` merge with
      the spawner's own per host path / name, as in dockerspawner; list forms
      replace them.
    """
    extra_config, create_host = translate_create_kwargs(spec.extra_create)

    raw_host = dict(spec.extra_host_config)
    if isinstance(raw_host.get("binds"), Mapping):
        raw_host["binds"] = deep_merge(binds_as_dockerspawner_dict(spec.binds), raw_host["binds"])
    if isinstance(raw_host.get("links"), Mapping):
        raw_host["links"] = {**spec.links, **raw_host["links"]}
    extra_host = deep_merge(create_host, translate_host_config(raw_host))

    network_mode = extra_host.get("NetworkMode") or spec.network

    host: dict[str, Any] = {
        "AutoRemove": spec.auto_remove,
        "NetworkMode": spec.network,
    }
    if spec.binds:
        host["Binds"] = [b.to_bind_string() for b in spec.binds]
    if spec.mounts:
        host["Mounts"] = _mounts(spec.mounts, MOUNTS_TRAIT)
    if spec.links:
        host["Links"] = _links(spec.links, "DockerSpawner.links")
    if spec.mem_limit:
        host["Memory"] = spec.mem_limit
    if spec.mem_guarantee:
        host["MemoryReservation"] = spec.mem_guarantee
    if spec.cpu_limit:
        period = _int(extra_host.get("CpuPeriod", DEFAULT_CPU_PERIOD), "cpu_period")
        host["CpuPeriod"] = period
        host["CpuQuota"] = int(spec.cpu_limit * period)
    if spec.cpu_guarantee:
        host["CpuShares"] = max(2, int(spec.cpu_guarantee * 1024))
    port_key = f"{spec.port}/tcp"
    if spec.host_ip is not None and _is_publishable(network_mode):
        host["PortBindings"] = {port_key: [{"HostIp": spec.host_ip, "HostPort": ""}]}

    env: dict[str, str | None] = dict(spec.env)
    extra_env = extra_config.pop("Env", None)
    if extra_env is not None:
        env.update(_env_items(_str_list(extra_env, f"{CREATE_KWARGS_TRAIT}['environment']")))

    body: dict[str, Any] = {"Image": spec.image}
    if spec.command is not None:
        body["Cmd"] = [*spec.command, *spec.args]
    elif spec.args:
        body["Cmd"] = [*(image_cmd or []), *spec.args]
    if spec.working_dir:
        body["WorkingDir"] = spec.working_dir
    if spec.user:
        body["User"] = spec.user
    body["Labels"] = dict(spec.labels)
    if not network_mode.startswith("container:"):
        body["ExposedPorts"] = {port_key: {}}

    body = deep_merge(body, extra_config)
    body["Env"] = _env_list(env)
    body["HostConfig"] = deep_merge(host, extra_host)
    return body
