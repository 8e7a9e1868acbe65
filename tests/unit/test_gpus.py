"""GPUs: the setting, the Engine bodies, exclusive assignment (pure, and on the fake Engine)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from tornado import web

from aiodockerspawner import DockerSpawner, SwarmSpawner
from aiodockerspawner.backends.container.body import container_create_body
from aiodockerspawner.backends.service.body import service_create_body
from aiodockerspawner.core import drift
from aiodockerspawner.core.gpus import (
    ALL,
    GpuAsk,
    NoFreeGpu,
    assign,
    devices_from_generic_resources,
    held,
    parse_gpus,
    previous_ids,
)
from aiodockerspawner.errors import InvalidSpec
from aiodockerspawner.labels import LABEL_GPUS, LABEL_SERVER, LABEL_USER
from aiodockerspawner.model import (
    GpuRequest,
    ObjectSpec,
    ObjectStatus,
    ObservedObject,
    ServiceObjectSpec,
)
from aiodockerspawner.testing.engine import FakeEngine
from aiodockerspawner.testing.pytest_plugin import fake_docker, fake_spawner
from tests.helpers import make_spawner

__all__ = ["fake_docker", "fake_spawner"]  # fixtures used below

SpawnerFactory = Callable[..., DockerSpawner]


# -- the setting -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, GpuAsk()),
        (0, GpuAsk()),
        ("", GpuAsk()),
        (False, GpuAsk()),
        (1, GpuAsk(count=1)),
        ("2", GpuAsk(count=2)),
        ("all", GpuAsk(count=ALL)),
        ("ALL", GpuAsk(count=ALL)),
        (["0", "2"], GpuAsk(device_ids=("0", "2"))),
        ([1, 3], GpuAsk(device_ids=("1", "3"))),
        ("0, 2", GpuAsk(device_ids=("0", "2"))),
        ("GPU-8f3a", GpuAsk(device_ids=("GPU-8f3a",))),
    ],
)
def test_parse_gpus(value: Any, expected: GpuAsk) -> None:
    assert parse_gpus(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "must not be negative"),
        (True, "True is not a number"),
        (["0", "0"], "named twice"),
        ([None], "device ids are strings"),
        ({"count": 1}, "expected a count"),
        (1.5, "expected a count"),
    ],
)
def test_bad_gpus_settings_name_the_setting(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_gpus(value, setting="DockerSpawner.gpus")
    assert "DockerSpawner.gpus" in str(info.value)


def test_a_bad_setting_is_refused_when_set_and_a_callable_at_start() -> None:
    with pytest.raises(Exception, match="must not be negative"):
        DockerSpawner(gpus=-2)
    spawner = make_spawner(gpus=lambda s: "all")
    assert spawner.gpus("x") == "all"


# -- the Engine bodies ------------------------------------------------------------


def spec(**kw: Any) -> ObjectSpec:
    base: dict[str, Any] = dict(
        name="jupyter-a", image="img", env={}, command=None, args=[], port=8888, labels={}
    )
    base.update(kw)
    return ObjectSpec(**base)


@pytest.mark.parametrize(
    ("gpus", "requests"),
    [
        (
            GpuRequest(count=2),
            [
                {
                    "Driver": "nvidia",
                    "Count": 2,
                    "DeviceIDs": [],
                    "Capabilities": [["gpu"]],
                    "Options": {},
                }
            ],
        ),
        (
            GpuRequest(count=ALL),
            [
                {
                    "Driver": "nvidia",
                    "Count": -1,
                    "DeviceIDs": [],
                    "Capabilities": [["gpu"]],
                    "Options": {},
                }
            ],
        ),
        (
            GpuRequest(device_ids=("1", "3"), driver=""),
            [
                {
                    "Driver": "",
                    "Count": 0,
                    "DeviceIDs": ["1", "3"],
                    "Capabilities": [["gpu"]],
                    "Options": {},
                }
            ],
        ),
    ],
)
def test_container_device_requests(gpus: GpuRequest, requests: list[dict[str, Any]]) -> None:
    body = container_create_body(spec(gpus=gpus))
    assert body["HostConfig"]["DeviceRequests"] == requests
    assert not any(e.startswith("NVIDIA_VISIBLE_DEVICES=") for e in body["Env"])


def test_no_gpus_no_device_requests() -> None:
    assert "DeviceRequests" not in container_create_body(spec())["HostConfig"]
    assert "DeviceRequests" not in container_create_body(spec(gpus=GpuRequest()))["HostConfig"]


@pytest.mark.parametrize(
    ("gpus", "visible"),
    [
        (GpuRequest(device_ids=("0", "1"), mode="environment"), "0,1"),
        (GpuRequest(count=ALL, mode="environment"), "all"),
    ],
)
def test_environment_mode_sets_only_the_visible_devices(gpus: GpuRequest, visible: str) -> None:
    body = container_create_body(spec(gpus=gpus))
    assert "DeviceRequests" not in body["HostConfig"]
    assert f"NVIDIA_VISIBLE_DEVICES={visible}" in body["Env"]


def test_environment_mode_cannot_express_a_bare_count() -> None:
    with pytest.raises(InvalidSpec, match="a count needs device ids"):
        container_create_body(spec(gpus=GpuRequest(count=1, mode="environment")))


def test_extra_host_config_device_requests_win() -> None:
    mine = [{"Driver": "amd", "Count": 1, "DeviceIDs": [], "Capabilities": [], "Options": {}}]
    body = container_create_body(
        spec(gpus=GpuRequest(count=1), extra_host_config={"DeviceRequests": mine})
    )
    assert body["HostConfig"]["DeviceRequests"] == mine


def service_spec(**kw: Any) -> ServiceObjectSpec:
    base: dict[str, Any] = dict(
        name="jupyter-a", image="img", env={}, command=None, args=[], port=8888, labels={}
    )
    base.update(kw)
    return ServiceObjectSpec(**base)


def test_service_generic_resources() -> None:
    body = service_create_body(
        service_spec(gpus=GpuRequest(count=2, resource_kind="NVIDIA-GPU"), mem_limit=1024)
    )
    assert body["TaskTemplate"]["Resources"] == {
        "Limits": {"MemoryBytes": 1024},
        "Reservations": {
            "GenericResources": [{"DiscreteResourceSpec": {"Kind": "NVIDIA-GPU", "Value": 2}}]
        },
    }


@pytest.mark.parametrize("gpus", [GpuRequest(device_ids=("0",)), GpuRequest(count=ALL)])
def test_service_cannot_name_devices_or_take_all(gpus: GpuRequest) -> None:
    with pytest.raises(InvalidSpec, match="reserves a number of GPUs"):
        service_create_body(service_spec(gpus=gpus))


# -- who holds what --------------------------------------------------------------


def obj(name: str, ids: str, status: str = "running", user: str = "u", server: str = "") -> Any:
    labels = {LABEL_USER: user, LABEL_SERVER: server}
    if ids:
        labels[LABEL_GPUS] = ids
    return ObservedObject(
        id=name, name=name, image="i", status=ObjectStatus(running=True, status=status),
        labels=labels,
    )  # fmt: skip


def test_live_objects_hold_their_ids_and_stopped_ones_do_not() -> None:
    objects = [
        obj("a", "0", user="ann"),
        obj("b", "1,2", status="created", user="bob"),
        obj("c", "3", status="exited", user="cid"),
        obj("d", "4", status="paused", user="dee"),
        obj("e", "", user="eve"),
        obj("mine", "5", user="me"),
        obj("mine-named", "6", user="me", server="gpu"),
    ]
    assert held(objects, user="me", server="") == {
        "0": "a",
        "1": "b",
        "2": "b",
        "4": "d",
        "6": "mine-named",
    }
    assert previous_ids(objects, user="me", server="") == ("5",)
    assert previous_ids(objects, user="nobody", server="") == ()


@pytest.mark.parametrize(
    ("ask", "taken", "prefer", "expected"),
    [
        (GpuAsk(count=1), set(), (), ("0",)),
        (GpuAsk(count=1), {"0"}, (), ("1",)),
        (GpuAsk(count=2), {"1"}, (), ("0", "2")),
        (GpuAsk(count=1), set(), ("2",), ("2",)),
        (GpuAsk(count=2), {"2"}, ("2", "3"), ("3", "0")),
        (GpuAsk(count=ALL), set(), (), ("0", "1", "2", "3")),
        (GpuAsk(device_ids=("3", "1")), {"0"}, (), ("3", "1")),
    ],
)
def test_assign(
    ask: GpuAsk, taken: set[str], prefer: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    assert assign(ask, ["0", "1", "2", "3"], taken, prefer=prefer) == expected


@pytest.mark.parametrize(
    ("ask", "taken", "message"),
    [
        (GpuAsk(count=1), {"0", "1"}, "No free GPU: this server needs 1 GPU, 0 of 2 are free"),
        (GpuAsk(count=2), {"0"}, "needs 2 GPUs, 1 of 2 is free"),
        (GpuAsk(count=ALL), {"1"}, "needs all GPUs, 1 of 2 is free"),
        (GpuAsk(device_ids=("1",)), {"1"}, "No free GPU: 1 is in use by another server"),
    ],
)
def test_no_free_gpu(ask: GpuAsk, taken: set[str], message: str) -> None:
    with pytest.raises(NoFreeGpu, match=message):
        assign(ask, ["0", "1"], taken)


def test_named_ids_must_be_known_devices() -> None:
    with pytest.raises(ValueError, match="names 7, which gpu_devices"):
        assign(GpuAsk(device_ids=("7",)), ["0", "1"], set())


def test_devices_from_the_daemons_generic_resources() -> None:
    resources = [
        {"NamedResourceSpec": {"Kind": "NVIDIA-GPU", "Value": "GPU-a"}},
        {"NamedResourceSpec": {"Kind": "NVIDIA-GPU", "Value": "GPU-b"}},
        {"NamedResourceSpec": {"Kind": "FPGA", "Value": "f0"}},
        {"DiscreteResourceSpec": {"Kind": "AMD-GPU", "Value": 2}},
    ]
    assert devices_from_generic_resources(resources, "NVIDIA-GPU") == ["GPU-a", "GPU-b"]
    assert devices_from_generic_resources(resources, "AMD-GPU") == ["0", "1"]
    assert devices_from_generic_resources([], "NVIDIA-GPU") == []


def test_other_devices_always_recreate_on_resume() -> None:
    now = spec(labels={LABEL_GPUS: "1"})
    existing = ObservedObject(
        id="x", name="n", image="img", status=ObjectStatus(running=False, status="exited"),
        labels={LABEL_GPUS: "0"},
    )  # fmt: skip
    found = drift.drift(existing, now)
    assert found.devices and drift.should_recreate(found, drift.KEEP)
    assert "other GPU devices" in found.describe()
    same = drift.drift(existing, spec(labels={LABEL_GPUS: "0"}))
    assert not same.devices


def test_the_digest_of_a_spec_without_gpus_is_unchanged() -> None:
    # containers created before GPUs existed keep matching their digest
    assert drift.spec_digest(spec()) == drift.spec_digest(spec(gpus=None))


# -- exclusive assignment on the fake Engine ----------------------------------------


async def test_concurrent_starts_get_different_ids_and_the_third_a_503(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    started = []
    try:
        spawners = [
            fake_spawner(user=f"g{i}", gpus=1, gpu_assignment="exclusive", gpu_devices=["0", "1"])
            for i in range(3)
        ]
        results = await asyncio.gather(*(s.start() for s in spawners), return_exceptions=True)
        started = [s for s, r in zip(spawners, results, strict=True) if isinstance(r, str)]
        refused = [r for r in results if isinstance(r, web.HTTPError)]
        assert len(started) == 2 and len(refused) == 1, results
        assert refused[0].status_code == 503
        assert "No free GPU" in str(refused[0].log_message)
        labels = sorted(c.config["Labels"][LABEL_GPUS] for c in fake_docker.containers.values())
        assert labels == ["0", "1"]
        requests = [
            c.host_config["DeviceRequests"][0]["DeviceIDs"] for c in fake_docker.containers.values()
        ]
        assert sorted(requests) == [["0"], ["1"]]
        # a stopped server gives its device back
        await started[0].stop()
        started.pop(0)
        late = fake_spawner(user="late", gpus=1, gpu_assignment="exclusive", gpu_devices=["0", "1"])
        await late.start()
        started.append(late)
    finally:
        for s in started:
            await s.stop()


async def test_exclusive_needs_devices(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    spawner = fake_spawner(gpus=1, gpu_assignment="exclusive")
    with pytest.raises(web.HTTPError) as info:
        await spawner.start()
    assert info.value.status_code == 500
    assert "set gpu_devices" in str(info.value.log_message)
    assert fake_docker.containers == {}


async def test_shared_assignment_asks_the_driver_for_a_count(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    spawners = [fake_spawner(user=f"s{i}", gpus=1, remove=True) for i in range(2)]
    for s in spawners:
        await s.start()
    try:
        for c in fake_docker.containers.values():
            assert c.host_config["DeviceRequests"][0]["Count"] == 1
            assert LABEL_GPUS not in c.config["Labels"]
    finally:
        for s in spawners:
            await s.stop()


async def test_a_profile_sets_gpus(fake_docker: FakeEngine, fake_spawner: SpawnerFactory) -> None:
    spawner = fake_spawner(
        profile_list=[{"display_name": "GPU", "spawner_override": {"gpus": 2}}], remove=True
    )
    await spawner._run_apply_user_options({})
    await spawner.start()
    try:
        (c,) = fake_docker.containers.values()
        assert c.host_config["DeviceRequests"][0]["Count"] == 2
    finally:
        await spawner.stop()


async def test_swarm_refuses_device_ids() -> None:
    spawner = make_spawner(SwarmSpawner, gpus=["0"])
    with pytest.raises(InvalidSpec, match="device ids and 'all' cannot be asked"):
        await spawner._assign_gpus(await spawner.build_spec())


async def test_a_resumed_server_keeps_its_device_or_is_recreated_with_another(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    def gpu_server(user: str) -> DockerSpawner:
        return fake_spawner(
            user=user, gpus=1, gpu_assignment="exclusive", gpu_devices=["0", "1"], remove=False
        )

    ann, bob = gpu_server("ann"), gpu_server("bob")
    await ann.start()
    first_id = ann.object_id
    await ann.stop()
    await ann.start()  # its device is free: the same container resumes with it
    assert ann.object_id == first_id
    assert fake_docker.containers[first_id].config["Labels"][LABEL_GPUS] == "0"
    await ann.stop()
    await bob.start()  # the stopped container holds nothing: bob gets device 0
    await ann.start()  # device 0 is bob's now: ann's container is made again with 1
    try:
        assert ann.object_id != first_id
        assert fake_docker.containers[ann.object_id].config["Labels"][LABEL_GPUS] == "1"
        assert fake_docker.containers[bob.object_id].config["Labels"][LABEL_GPUS] == "0"
    finally:
        await ann.stop()
        await bob.stop()
