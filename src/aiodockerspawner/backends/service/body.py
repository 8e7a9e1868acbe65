"""Engine API bodies for swarm services, built from the neutral spec.

SwarmSpawner configurations speak docker-py's ``docker.types`` vocabulary:
``extra_container_spec`` holds ``ContainerSpec`` keywords, ``extra_resources_spec``
``Resources`` keywords, and so on, and ``extra_create_kwargs`` holds
``create_service`` keywords. The functions here translate that vocabulary to
the Engine API's service ``Spec`` JSON and also accept Engine (CamelCase) keys
directly, so either spelling works in a configuration file.

Everything here is pure: no I/O and no Docker client.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from aiodockerspawner.backends.container.body import (
    _bool,
    _bytes,
    _command,
    _copy,
    _env_items,
    _env_list,
    _environment,
    _healthcheck,
    _int,
    _is_engine_key,
    _labels,
    _mapping,
    _sequence,
    _str,
    _str_dict,
    _str_list,
    _translate,
    _ulimits,
    _unknown_key,
    _user,
    deep_merge,
    translate_mount,
)
from aiodockerspawner.errors import InvalidSpec
from aiodockerspawner.model import GpuRequest, ServiceObjectSpec, VolumeBind

__all__ = [
    "CONTAINER_SPEC_KEYS",
    "CREATE_SERVICE_KEYS",
    "ENDPOINT_SPEC_KEYS",
    "PLACEMENT_KEYS",
    "RESOURCES_KEYS",
    "TASK_TEMPLATE_KEYS",
    "container_spec",
    "endpoint_spec",
    "forced_update_spec",
    "gpu_generic_resources",
    "placement_spec",
    "resources_spec",
    "secret_create_body",
    "secret_name",
    "secret_reference",
    "service_create_body",
    "service_mounts",
    "task_template",
    "translate_container_spec",
    "translate_create_service_kwargs",
    "translate_endpoint_spec",
    "translate_placement",
    "translate_resources",
    "translate_task_template",
]

_Converter = Callable[[Any, str], Any]

CONTAINER_TRAIT = "SwarmSpawner.extra_container_spec"
RESOURCES_TRAIT = "SwarmSpawner.extra_resources_spec"
PLACEMENT_TRAIT = "SwarmSpawner.extra_placement_spec"
TASK_TRAIT = "SwarmSpawner.extra_task_spec"
ENDPOINT_TRAIT = "SwarmSpawner.extra_endpoint_spec"
CREATE_TRAIT = "SwarmSpawner.extra_create_kwargs"

#: publish modes of a service port
PUBLISH_MODES = ("ingress", "host")


# ---------------------------------------------------------------------------
# small converters


def _nanoseconds(value: Any, where: str) -> int:
    """A duration in nanoseconds (docker-py's unit for swarm durations)."""
    return _int(value, where)


def _hosts(value: Any, where: str) -> list[str]:
    """``{host: ip}`` → ``["ip host"]`` (the form a task's /etc/hosts takes); a list passes."""
    if isinstance(value, Mapping):
        return [f"{ip} {host}" for host, ip in sorted((str(k), v) for k, v in value.items())]
    return _str_list(value, where)


def _dns_config(value: Any, where: str) -> dict[str, Any]:
    return _translate(
        value,
        {
            "nameservers": ("Nameservers", _str_list),
            "search": ("Search", _str_list),
            "options": ("Options", _str_list),
        },
        where,
        "DNSConfig",
    )


def _parse_mount_string(text: str, where: str) -> dict[str, Any]:
    """docker-py's ``"source:target[:mode]"`` mount shorthand → an Engine mount."""
    parts = text.split(":")
    if len(parts) < 2 or len(parts) > 3:
        raise InvalidSpec(f"{where}: invalid mount {text!r}; use 'source:target[:ro|rw]'")
    source, target = parts[0], parts[1]
    read_only = len(parts) == 3 and parts[2] != "rw"
    return {
        "Target": target,
        "Source": source,
        "Type": "bind" if source.startswith("/") else "volume",
        "ReadOnly": read_only,
    }


def _service_mounts(value: Any, where: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for i, item in enumerate(_sequence(value, where)):
        sub = f"{where}[{i}]"
        if isinstance(item, str):
            result.append(_parse_mount_string(item, sub))
        else:
            result.append(translate_mount(_mapping(item, sub), trait=sub))
    return result


#: docker-py ``ContainerSpec`` keyword → (Engine ``ContainerSpec`` field, converter)
CONTAINER_SPEC_KEYS: dict[str, tuple[str, _Converter]] = {
    "image": ("Image", _str),
    "command": ("Command", _command),
    "args": ("Args", _str_list),
    "hostname": ("Hostname", _str),
    "env": ("Env", _environment),
    "workdir": ("Dir", _str),
    "user": ("User", _user),
    "labels": ("Labels", _labels),
    "mounts": ("Mounts", _service_mounts),
    "stop_grace_period": ("StopGracePeriod", _nanoseconds),
    "secrets": ("Secrets", _copy),
    "tty": ("TTY", _bool),
    "groups": ("Groups", _str_list),
    "open_stdin": ("OpenStdin", _bool),
    "read_only": ("ReadOnly", _bool),
    "stop_signal": ("StopSignal", _str),
    "healthcheck": ("Healthcheck", _healthcheck),
    "hosts": ("Hosts", _hosts),
    "dns_config": ("DNSConfig", _dns_config),
    "configs": ("Configs", _copy),
    "privileges": ("Privileges", _copy),
    "isolation": ("Isolation", _str),
    "init": ("Init", _bool),
    "cap_add": ("CapabilityAdd", _str_list),
    "cap_drop": ("CapabilityDrop", _str_list),
    "sysctls": ("Sysctls", _str_dict),
    "ulimits": ("Ulimits", _ulimits),
}


def translate_container_spec(
    value: Mapping[str, Any], *, trait: str = CONTAINER_TRAIT
) -> dict[str, Any]:
    """``extra_container_spec`` → an Engine ``ContainerSpec`` fragment."""
    return _translate(value, CONTAINER_SPEC_KEYS, trait, "ContainerSpec")


def _generic_resources(value: Any, where: str) -> list[Any]:
    """``{kind: int | str}`` → Engine ``GenericResources``; a list passes unchanged."""
    if isinstance(value, list):
        return copy.deepcopy(value)
    result: list[Any] = []
    for kind, amount in _mapping(value, where).items():
        if isinstance(amount, bool):
            raise InvalidSpec(f"{where}[{kind!r}]: expected an int or a string, got {amount!r}")
        if isinstance(amount, int):
            result.append({"DiscreteResourceSpec": {"Kind": str(kind), "Value": amount}})
        elif isinstance(amount, str):
            result.append({"NamedResourceSpec": {"Kind": str(kind), "Value": amount}})
        else:
            raise InvalidSpec(f"{where}[{kind!r}]: expected an int or a string, got {amount!r}")
    return result


#: docker-py ``Resources`` keyword → ((Engine section, field), converter)
RESOURCES_KEYS: dict[str, tuple[tuple[str, str], _Converter]] = {
    "cpu_limit": (("Limits", "NanoCPUs"), _int),
    "mem_limit": (("Limits", "MemoryBytes"), _bytes),
    "cpu_reservation": (("Reservations", "NanoCPUs"), _int),
    "mem_reservation": (("Reservations", "MemoryBytes"), _bytes),
    "generic_resources": (("Reservations", "GenericResources"), _generic_resources),
}


def translate_resources(
    value: Mapping[str, Any], *, trait: str = RESOURCES_TRAIT
) -> dict[str, Any]:
    """``extra_resources_spec`` → an Engine ``Resources`` fragment.

    docker-py's ``cpu_limit``/``cpu_reservation`` are NanoCPUs (1e9 per core),
    as in ``docker.types.Resources``.
    """
    translated: dict[str, Any] = {}
    engine: dict[str, Any] = {}
    for key, item in _mapping(value, trait).items():
        if isinstance(key, str) and key in RESOURCES_KEYS:
            if item is None:
                continue
            (section, name), convert = RESOURCES_KEYS[key]
            translated.setdefault(section, {})[name] = convert(item, f"{trait}[{key!r}]")
        elif isinstance(key, str) and _is_engine_key(key):
            engine[key] = copy.deepcopy(item)
        else:
            raise _unknown_key(trait, key, RESOURCES_KEYS, "Resources")
    return deep_merge(translated, engine)


def _preferences(value: Any, where: str) -> list[Any]:
    """``[("spread", "node.labels.zone")]`` → ``[{"Spread": {"SpreadDescriptor": ...}}]``."""
    result: list[Any] = []
    for i, item in enumerate(_sequence(value, where)):
        if isinstance(item, (tuple, list)) and len(item) == 2:
            strategy, descriptor = item
            if strategy != "spread":
                raise InvalidSpec(
                    f"{where}[{i}]: unknown placement strategy {strategy!r}; only 'spread'"
                )
            result.append({"Spread": {"SpreadDescriptor": _str(descriptor, f"{where}[{i}]")}})
        elif isinstance(item, Mapping):
            result.append(copy.deepcopy(dict(item)))
        else:
            raise InvalidSpec(f"{where}[{i}]: expected ('spread', descriptor) or a dict")
    return result


def _platforms(value: Any, where: str) -> list[Any]:
    """``[("amd64", "linux")]`` → ``[{"Architecture": "amd64", "OS": "linux"}]``."""
    result: list[Any] = []
    for i, item in enumerate(_sequence(value, where)):
        if isinstance(item, (tuple, list)) and len(item) == 2:
            result.append({"Architecture": str(item[0]), "OS": str(item[1])})
        elif isinstance(item, Mapping):
            result.append(copy.deepcopy(dict(item)))
        else:
            raise InvalidSpec(f"{where}[{i}]: expected (architecture, os) or a dict")
    return result


#: docker-py ``Placement`` keyword → (Engine ``Placement`` field, converter)
PLACEMENT_KEYS: dict[str, tuple[str, _Converter]] = {
    "constraints": ("Constraints", _str_list),
    "preferences": ("Preferences", _preferences),
    "platforms": ("Platforms", _platforms),
    "maxreplicas": ("MaxReplicas", _int),
}


def translate_placement(value: Any, *, trait: str = PLACEMENT_TRAIT) -> dict[str, Any]:
    """``extra_placement_spec`` → an Engine ``Placement``; a list means constraints."""
    if isinstance(value, (list, tuple)):
        return {"Constraints": _str_list(value, trait)}
    return _translate(value, PLACEMENT_KEYS, trait, "Placement")


_RESTART_CONDITIONS = ("none", "on-failure", "any")


def _restart_condition(value: Any, where: str) -> str:
    condition = _str(value, where)
    if condition not in _RESTART_CONDITIONS:
        raise InvalidSpec(
            f"{where}: invalid restart condition {condition!r}; one of "
            f"{', '.join(_RESTART_CONDITIONS)}"
        )
    return condition


def _restart_policy(value: Any, where: str) -> dict[str, Any]:
    return _translate(
        value,
        {
            "condition": ("Condition", _restart_condition),
            "delay": ("Delay", _nanoseconds),
            "max_attempts": ("MaxAttempts", _int),
            "window": ("Window", _nanoseconds),
        },
        where,
        "RestartPolicy",
    )


def _driver(value: Any, where: str) -> dict[str, Any]:
    """``"json-file"`` or docker-py ``DriverConfig`` keywords → ``{"Name", "Options"}``."""
    if isinstance(value, str):
        return {"Name": value}
    return _translate(
        value, {"name": ("Name", _str), "options": ("Options", _str_dict)}, where, "DriverConfig"
    )


def _networks(value: Any, where: str) -> list[dict[str, Any]]:
    """Names or docker-py ``NetworkAttachmentConfig`` keywords → ``[{"Target", ...}]``."""
    result: list[dict[str, Any]] = []
    for i, item in enumerate(_sequence(value, where)):
        sub = f"{where}[{i}]"
        if isinstance(item, str):
            result.append({"Target": item})
        else:
            result.append(
                _translate(
                    item,
                    {
                        "target": ("Target", _str),
                        "aliases": ("Aliases", _str_list),
                        "options": ("DriverOpts", _str_dict),
                    },
                    sub,
                    "NetworkAttachmentConfig",
                )
            )
    return result


def _placement(value: Any, where: str) -> dict[str, Any]:
    return translate_placement(value, trait=where)


def _container_spec(value: Any, where: str) -> dict[str, Any]:
    return translate_container_spec(_mapping(value, where), trait=where)


def _resources(value: Any, where: str) -> dict[str, Any]:
    return translate_resources(_mapping(value, where), trait=where)


#: docker-py ``TaskTemplate`` keyword → (Engine ``TaskTemplate`` field, converter)
TASK_TEMPLATE_KEYS: dict[str, tuple[str, _Converter]] = {
    "container_spec": ("ContainerSpec", _container_spec),
    "resources": ("Resources", _resources),
    "restart_policy": ("RestartPolicy", _restart_policy),
    "placement": ("Placement", _placement),
    "log_driver": ("LogDriver", _driver),
    "networks": ("Networks", _networks),
    "force_update": ("ForceUpdate", _int),
}


def translate_task_template(value: Mapping[str, Any], *, trait: str = TASK_TRAIT) -> dict[str, Any]:
    """``extra_task_spec`` → an Engine ``TaskTemplate`` fragment (nested parts translated)."""
    result = _translate(value, TASK_TEMPLATE_KEYS, trait, "TaskTemplate")
    # Engine spellings of the nested parts may still hold docker-py keywords
    for name, convert in (
        ("ContainerSpec", _container_spec),
        ("Resources", _resources),
        ("Placement", _placement),
        ("RestartPolicy", _restart_policy),
        ("Networks", _networks),
    ):
        if name in result and name in value:
            result[name] = convert(result[name], f"{trait}[{name!r}]")
    return result


def _port_config(published: Any, target: Any, where: str) -> dict[str, Any]:
    """docker-py's ``{published: target | (target[, protocol[, mode]])}`` item → Engine."""
    port: dict[str, Any] = {"Protocol": "tcp"}
    if published is not None:
        port["PublishedPort"] = _int(published, where)
    if isinstance(target, (tuple, list)):
        if not 1 <= len(target) <= 3:
            raise InvalidSpec(f"{where}: expected (target_port[, protocol[, publish_mode]])")
        port["TargetPort"] = _int(target[0], where)
        if len(target) >= 2 and target[1] is not None:
            port["Protocol"] = _str(target[1], where)
        if len(target) == 3:
            port["PublishMode"] = _publish_mode(target[2], where)
    else:
        port["TargetPort"] = _int(target, where)
    return port


def _publish_mode(value: Any, where: str) -> str:
    mode = _str(value, where)
    if mode not in PUBLISH_MODES:
        raise InvalidSpec(f"{where}: invalid publish mode {mode!r}; 'ingress' or 'host'")
    return mode


def _ports(value: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(value, Mapping):
        return [_port_config(k, v, f"{where}[{k!r}]") for k, v in value.items()]
    result: list[dict[str, Any]] = []
    for i, item in enumerate(_sequence(value, where)):
        sub = f"{where}[{i}]"
        result.append(
            _translate(
                item,
                {
                    "protocol": ("Protocol", _str),
                    "target_port": ("TargetPort", _int),
                    "published_port": ("PublishedPort", _int),
                    "publish_mode": ("PublishMode", _publish_mode),
                },
                sub,
                "port config",
            )
        )
    return result


def _endpoint_mode(value: Any, where: str) -> str:
    mode = _str(value, where)
    if mode not in ("vip", "dnsrr"):
        raise InvalidSpec(f"{where}: invalid endpoint mode {mode!r}; 'vip' or 'dnsrr'")
    return mode


#: docker-py ``EndpointSpec`` keyword → (Engine ``EndpointSpec`` field, converter)
ENDPOINT_SPEC_KEYS: dict[str, tuple[str, _Converter]] = {
    "mode": ("Mode", _endpoint_mode),
    "ports": ("Ports", _ports),
}


def translate_endpoint_spec(
    value: Mapping[str, Any], *, trait: str = ENDPOINT_TRAIT
) -> dict[str, Any]:
    """``extra_endpoint_spec`` → an Engine ``EndpointSpec`` fragment."""
    return _translate(value, ENDPOINT_SPEC_KEYS, trait, "EndpointSpec")


def _service_mode(value: Any, where: str) -> dict[str, Any]:
    """``"replicated"``/``"global"`` or docker-py ``ServiceMode`` → ``{"Replicated": {...}}``."""
    if isinstance(value, str):
        value = {value: {}}
    result: dict[str, Any] = {}
    for key, item in _mapping(value, where).items():
        name = str(key)
        if name.lower() == "replicated":
            params = _mapping(item or {}, f"{where}[{key!r}]")
            replicas = params.get("Replicas", params.get("replicas"))
            result["Replicated"] = {} if replicas is None else {"Replicas": _int(replicas, where)}
        elif name.lower() == "global":
            result["Global"] = {}
        else:
            result[name] = copy.deepcopy(item)
    return result


def _update_config(value: Any, where: str) -> dict[str, Any]:
    return _translate(
        value,
        {
            "parallelism": ("Parallelism", _int),
            "delay": ("Delay", _nanoseconds),
            "failure_action": ("FailureAction", _str),
            "monitor": ("Monitor", _nanoseconds),
            "max_failure_ratio": ("MaxFailureRatio", _copy),
            "order": ("Order", _str),
        },
        where,
        "UpdateConfig",
    )


def _task_template(value: Any, where: str) -> dict[str, Any]:
    return translate_task_template(_mapping(value, where), trait=where)


def _endpoint(value: Any, where: str) -> dict[str, Any]:
    return translate_endpoint_spec(_mapping(value, where), trait=where)


#: docker-py ``create_service`` keyword → (Engine service ``Spec`` field, converter)
CREATE_SERVICE_KEYS: dict[str, tuple[str, _Converter]] = {
    "task_template": ("TaskTemplate", _task_template),
    "labels": ("Labels", _labels),
    "mode": ("Mode", _service_mode),
    "update_config": ("UpdateConfig", _update_config),
    "rollback_config": ("RollbackConfig", _update_config),
    "networks": ("Networks", _networks),
    "endpoint_spec": ("EndpointSpec", _endpoint),
}

#: ``create_container`` keywords that mean the same in a ContainerSpec; on the
#: swarm spawner they are routed there (dockerspawner crashed on them, #497)
_CONTAINER_KEYWORDS: dict[str, tuple[str, _Converter]] = {
    "user": ("User", _user),
    "working_dir": ("Dir", _str),
    "hostname": ("Hostname", _str),
    "environment": ("Env", _environment),
}


def translate_create_service_kwargs(
    value: Mapping[str, Any], *, trait: str = CREATE_TRAIT
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Swarm ``extra_create_kwargs`` → ``(service Spec fragment, ContainerSpec fragment)``.

    ``create_service`` keywords (``task_template``, ``labels``, ``mode``,
    ``update_config``, ``rollback_config``, ``networks``, ``endpoint_spec``)
    and Engine service ``Spec`` keys make the first dict; the top-level
    ``networks`` of docker-py is moved into ``TaskTemplate.Networks`` (the
    top-level field is deprecated). The container keywords ``user``,
    ``working_dir``, ``hostname`` and ``environment`` make the second.
    ``name`` is refused: the spawner owns the service name.
    """
    spec: dict[str, Any] = {}
    engine: dict[str, Any] = {}
    container: dict[str, Any] = {}
    for key, item in _mapping(value, trait).items():
        where = f"{trait}[{key!r}]"
        if key in ("name", "Name"):
            raise InvalidSpec(
                f"{where}: the service name is set by the spawner; use name_template instead"
            )
        if item is None:
            continue
        if isinstance(key, str) and key in CREATE_SERVICE_KEYS:
            name, convert = CREATE_SERVICE_KEYS[key]
            spec[name] = convert(item, where)
        elif isinstance(key, str) and key in _CONTAINER_KEYWORDS:
            name, convert = _CONTAINER_KEYWORDS[key]
            container[name] = convert(item, where)
        elif isinstance(key, str) and _is_engine_key(key):
            engine[key] = copy.deepcopy(item)
        else:
            known = {**CREATE_SERVICE_KEYS, **_CONTAINER_KEYWORDS}
            error = _unknown_key(trait, key, known, "create_service")
            raise InvalidSpec(
                f"{error} On SwarmSpawner, container settings belong in extra_container_spec."
            )
    spec.update(engine)
    networks = spec.pop("Networks", None)
    if networks is not None:
        spec = deep_merge(spec, {"TaskTemplate": {"Networks": networks}})
    return spec, container


# ---------------------------------------------------------------------------
# the spawner's own parts


def _bind_mount(bind: VolumeBind, volume_driver: str, options: Mapping[str, str]) -> dict[str, Any]:
    """One ``volumes``/``read_only_volumes`` entry → an Engine service mount.

    A host path (a source containing ``/``) is a ``bind`` mount; anything else
    is a named ``volume``, with ``volume_driver`` as its ``DriverConfig``.
    """
    flags = [f for f in bind.mode.split(",") if f]
    where = f"volume {bind.source!r}"
    unsupported = [f for f in flags if f in ("z", "Z")]
    if unsupported:
        raise InvalidSpec(
            f"{where}: SELinux relabelling ({', '.join(unsupported)}) is not available "
            f"for swarm service mounts"
        )
    propagation = bind.propagation or next(
        (f for f in flags if f in ("rshared", "shared", "rslave", "slave", "rprivate", "private")),
        None,
    )
    mount: dict[str, Any] = {
        "Target": bind.target,
        "Source": bind.source,
        "ReadOnly": "ro" in flags,
    }
    if "/" in bind.source:
        mount["Type"] = "bind"
        if propagation:
            mount["BindOptions"] = {"Propagation": propagation}
        return mount
    mount["Type"] = "volume"
    if propagation:
        raise InvalidSpec(f"{where}: propagation applies to host paths, not named volumes")
    volume_options: dict[str, Any] = {}
    if "nocopy" in flags:
        volume_options["NoCopy"] = True
    if volume_driver:
        driver: dict[str, Any] = {"Name": volume_driver}
        if options:
            driver["Options"] = dict(options)
        volume_options["DriverConfig"] = driver
    if volume_options:
        mount["VolumeOptions"] = volume_options
    return mount


def service_mounts(spec: ServiceObjectSpec) -> list[dict[str, Any]]:
    """``ContainerSpec.Mounts`` from ``volumes``, ``read_only_volumes`` and ``mounts``."""
    mounts = [_bind_mount(b, spec.volume_driver, spec.volume_driver_options) for b in spec.binds]
    mounts += [
        translate_mount(m, trait=f"DockerSpawner.mounts[{i}]") for i, m in enumerate(spec.mounts)
    ]
    return mounts


def _merge_container_spec(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge a translated ContainerSpec fragment; ``Env`` merges per variable."""
    extra = dict(extra)
    extra_env = extra.pop("Env", None)
    merged = deep_merge(base, extra)
    if extra_env is not None:
        env = _env_items(list(base.get("Env") or []))
        env.update(_env_items(_str_list(extra_env, "ContainerSpec['Env']")))
        merged["Env"] = _env_list(env)
    return merged


def container_spec(
    spec: ServiceObjectSpec,
    *,
    image_cmd: list[str] | None = None,
    extra_container: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``TaskTemplate.ContainerSpec`` for ``spec``.

    ``cmd`` and ``args`` become ``Args``, so the image's ENTRYPOINT is kept as
    in dockerspawner: ``command + args`` when ``cmd`` is set; the image's CMD
    (``image_cmd``) followed by ``args`` when only ``args`` are; nothing (the
    image's own CMD) otherwise. ``extra_container_spec`` is merged last, then
    ``extra_container`` (the container keywords of ``extra_create_kwargs``).
    """
    body: dict[str, Any] = {"Image": spec.image}
    if spec.command is not None:
        body["Args"] = [*spec.command, *spec.args]
    elif spec.args:
        body["Args"] = [*(image_cmd or []), *spec.args]
    body["Env"] = _env_list(spec.env)
    mounts = service_mounts(spec)
    if mounts:
        body["Mounts"] = mounts
    if spec.user:
        body["User"] = spec.user
    if spec.working_dir:
        body["Dir"] = spec.working_dir
    if spec.stop_grace_period is not None:
        body["StopGracePeriod"] = int(spec.stop_grace_period * 1e9)
    body = _merge_container_spec(body, translate_container_spec(spec.extra_container_spec))
    if extra_container:
        body = _merge_container_spec(body, extra_container)
    return body


def gpu_generic_resources(gpus: GpuRequest) -> list[dict[str, Any]]:
    """``Reservations.GenericResources`` for ``gpus``: a count of ``resource_kind``.

    Swarm hands out the node's advertised resources (``node-generic-resources``
    in the daemon's configuration) exclusively, and tells the task which ones
    in ``DOCKER_RESOURCE_<KIND>``. It cannot be asked for named devices or
    for "all", which are refused.
    """
    if gpus.device_ids or gpus.count == -1:
        raise InvalidSpec(
            "gpus: a swarm service reserves a number of GPUs; name no device ids and not 'all'"
        )
    if not gpus.count:
        return []
    return [{"DiscreteResourceSpec": {"Kind": gpus.resource_kind, "Value": gpus.count}}]


def resources_spec(spec: ServiceObjectSpec) -> dict[str, Any]:
    """``TaskTemplate.Resources``: limits from ``*_limit``, reservations from ``*_guarantee``."""
    limits: dict[str, Any] = {}
    reservations: dict[str, Any] = {}
    if spec.cpu_limit:
        limits["NanoCPUs"] = int(spec.cpu_limit * 1e9)
    if spec.mem_limit:
        limits["MemoryBytes"] = spec.mem_limit
    if spec.cpu_guarantee:
        reservations["NanoCPUs"] = int(spec.cpu_guarantee * 1e9)
    if spec.mem_guarantee:
        reservations["MemoryBytes"] = spec.mem_guarantee
    if spec.gpus is not None:
        generic = gpu_generic_resources(spec.gpus)
        if generic:
            reservations["GenericResources"] = generic
    body: dict[str, Any] = {}
    if limits:
        body["Limits"] = limits
    if reservations:
        body["Reservations"] = reservations
    return deep_merge(body, translate_resources(spec.extra_resources_spec))


def placement_spec(spec: ServiceObjectSpec) -> dict[str, Any]:
    """``TaskTemplate.Placement``: only what ``extra_placement_spec`` asks for."""
    return translate_placement(spec.extra_placement_spec)


def _publishes(spec: ServiceObjectSpec) -> bool:
    return spec.host_ip is not None and spec.network != "host"


def endpoint_spec(spec: ServiceObjectSpec) -> dict[str, Any]:
    """``EndpointSpec``: the server port, published on a port swarm picks.

    Nothing is published when the spawner connects to the task directly
    (``host_ip`` is ``None``, i.e. ``use_internal_ip``) or on the ``host``
    network. ``publish_mode`` ``host`` publishes on the node that runs the
    task (no routing mesh needed); ``ingress`` goes through the mesh.
    """
    body: dict[str, Any] = {}
    if _publishes(spec):
        body["Ports"] = [
            {
                "Protocol": "tcp",
                "TargetPort": spec.port,
                "PublishMode": _publish_mode(spec.publish_mode, "SwarmSpawner.publish_mode"),
            }
        ]
    return deep_merge(body, translate_endpoint_spec(spec.extra_endpoint_spec))


def task_template(
    spec: ServiceObjectSpec,
    *,
    image_cmd: list[str] | None = None,
    extra_container: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``TaskTemplate``: container, resources, placement, restart policy ``none``, networks.

    The restart condition is ``none`` so that a server that exits or is
    rejected shows up as stopped instead of being restarted behind the Hub's
    back. ``extra_task_spec`` is merged last (its ``ContainerSpec`` ``Env``
    per variable).
    """
    body: dict[str, Any] = {
        "ContainerSpec": container_spec(spec, image_cmd=image_cmd, extra_container=extra_container),
        "RestartPolicy": {"Condition": "none"},
    }
    resources = resources_spec(spec)
    if resources:
        body["Resources"] = resources
    placement = placement_spec(spec)
    if placement:
        body["Placement"] = placement
    if spec.network:
        body["Networks"] = [{"Target": spec.network}]
    return _merge_task(body, translate_task_template(spec.extra_task_spec))


def _merge_task(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    extra = dict(extra)
    extra_container = extra.pop("ContainerSpec", None)
    merged = deep_merge(base, extra)
    if extra_container is not None:
        merged["ContainerSpec"] = _merge_container_spec(
            merged.get("ContainerSpec") or {}, extra_container
        )
    return merged


def forced_update_spec(service: Mapping[str, Any]) -> dict[str, Any]:
    """The body of ``POST /services/{id}/update`` that makes swarm replace the task.

    ``service`` is the service's inspect document; its ``Spec`` is sent back
    with ``TaskTemplate.ForceUpdate`` one higher, as ``docker service update
    --force`` does. Nothing else changes (the input is not modified).
    """
    spec = copy.deepcopy(dict(service.get("Spec") or {}))
    template = spec.setdefault("TaskTemplate", {})
    template["ForceUpdate"] = int(template.get("ForceUpdate") or 0) + 1
    return spec


def secret_name(service: str, path: str, content: bytes) -> str:
    """A swarm secret name for one file of ``service`` (at most 64 characters).

    The digest covers the content, so each start's new certificates get new
    secrets (a secret cannot change), and a start that is retried with the
    same files finds the ones it made.
    """
    digest = hashlib.sha256(b"\0".join([service.encode(), path.encode(), content])).hexdigest()
    return f"{service[:44].rstrip('-.')}-{digest[:16]}"


def secret_create_body(name: str, content: bytes, labels: Mapping[str, str]) -> dict[str, Any]:
    """The JSON body of ``POST /secrets/create``."""
    return {
        "Name": name,
        "Labels": dict(labels),
        "Data": base64.b64encode(content).decode("ascii"),
    }


def secret_reference(secret_id: str, name: str, path: str) -> dict[str, Any]:
    """A ``ContainerSpec.Secrets`` entry: the secret as a read-only file at ``path``.

    Readable by every user (0444, owned by root), like the files dockerspawner
    copies: the server may run as any user.
    """
    return {
        "SecretID": secret_id,
        "SecretName": name,
        "File": {"Name": path, "UID": "0", "GID": "0", "Mode": 0o444},
    }


def service_create_body(
    spec: ServiceObjectSpec,
    *,
    image_cmd: list[str] | None = None,
    secrets: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST /services/create`` for ``spec``.

    One replica (``Mode.Replicated.Replicas = 1``), the spawner's labels on the
    service, and the parts built by :func:`task_template` and
    :func:`endpoint_spec`. ``extra_create_kwargs`` (``spec.extra_create``,
    ``create_service`` keywords or Engine ``Spec`` keys) is deep-merged last;
    its container keywords go to the ContainerSpec. ``extra_host_config`` and
    ``links`` have no meaning for services and are not used. ``secrets``
    (:func:`secret_reference` entries) are added to ``ContainerSpec.Secrets``.
    """
    extra_spec, extra_container = translate_create_service_kwargs(spec.extra_create)
    body: dict[str, Any] = {
        "Name": spec.name,
        "Labels": dict(spec.labels),
        "TaskTemplate": task_template(spec, image_cmd=image_cmd, extra_container=extra_container),
        "Mode": {"Replicated": {"Replicas": 1}},
    }
    endpoint = endpoint_spec(spec)
    if endpoint:
        body["EndpointSpec"] = endpoint
    extra_task = extra_spec.pop("TaskTemplate", None)
    body = deep_merge(body, extra_spec)
    if extra_task is not None:
        body["TaskTemplate"] = _merge_task(body["TaskTemplate"], extra_task)
    if "Replicated" in body["Mode"] and "Global" in body["Mode"]:
        del body["Mode"]["Replicated"]
    if secrets:
        container = body["TaskTemplate"]["ContainerSpec"]
        container["Secrets"] = [*(container.get("Secrets") or []), *secrets]
    return body


def prepull_job_body(image: str, *, name: str, labels: dict[str, str]) -> dict[str, Any]:
    """The body of a one-shot global job that makes every node pull ``image``.

    ``Mode.GlobalJob`` (API 1.41, Docker 20.10) runs one task on each node
    and lets it end: the node pulls the image to run it. The task runs
    ``true`` and is not restarted; an image without a ``true`` executable
    fails to start, after the pull, which is all that is wanted.
    """
    return {
        "Name": name,
        "Labels": dict(labels),
        "TaskTemplate": {
            "ContainerSpec": {"Image": image, "Command": ["true"]},
            "RestartPolicy": {"Condition": "none"},
        },
        "Mode": {"GlobalJob": {}},
    }
