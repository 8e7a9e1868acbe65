"""Callable resource settings read back as numbers, as in dockerspawner, and still work at start."""

from __future__ import annotations

from typing import Any

import pytest

from aiodockerspawner import DockerSpawner
from aiodockerspawner.errors import InvalidSpec
from tests.helpers import make_spawner

G = 1024**3


# dockerspawner 14's test_mem_limit and test_cpu_limit tables
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1G", G),
        (1_000_000, 1_000_000),
        (None, None),
        (lambda spawner: None, None),
        (lambda spawner: "2G", 2 * G),
        (lambda spawner: 1_000_000, 1_000_000),
    ],
)
def test_mem_limit_reads_back_as_bytes(value: Any, expected: Any) -> None:
    assert DockerSpawner(mem_limit=value).mem_limit == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, 1),
        (None, None),
        (1.5, 1.5),
        (lambda spawner: None, None),
        (lambda spawner: 2, 2),
        (lambda spawner: 1.25, 1.25),
    ],
)
def test_cpu_limit_reads_back_as_cores(value: Any, expected: Any) -> None:
    assert DockerSpawner(cpu_limit=value).cpu_limit == expected


async def test_the_callable_runs_again_at_start_and_may_read_user_options() -> None:
    def by_size(spawner: DockerSpawner) -> str:
        return {"small": "1G", "big": "4G"}[spawner.user_options.get("size", "small")]

    spawner = make_spawner(mem_limit=by_size)
    assert spawner.mem_limit == G  # evaluated when set, with no options yet
    spawner.user_options = {"size": "big"}
    spec = await spawner.build_spec()
    assert spec.mem_limit == 4 * G
    assert spawner.mem_limit == 4 * G  # the start's value, for hooks that read it after
    spawner.user_options = {"size": "small"}
    assert (await spawner.build_spec()).mem_limit == G  # still the callable, not the last value


async def test_an_async_callable_is_evaluated_at_start() -> None:
    async def cores(spawner: DockerSpawner) -> float:
        return 0.5

    spawner = make_spawner(cpu_guarantee=cores)
    assert spawner.cpu_guarantee is None  # cannot be awaited when set
    assert (await spawner.build_spec()).cpu_guarantee == 0.5
    assert spawner.cpu_guarantee == 0.5


async def test_a_plain_value_set_later_replaces_the_callable() -> None:
    spawner = make_spawner(mem_limit=lambda s: "2G")
    spawner.mem_limit = "1G"
    assert (await spawner.build_spec()).mem_limit == G


async def test_a_callable_that_fails_when_set_is_reported_at_start_with_its_name() -> None:
    spawner = make_spawner(mem_limit=lambda s: s.user_options["size"])
    assert spawner.mem_limit is None
    spawner.user_options = {"size": "lots"}
    with pytest.raises(InvalidSpec, match="mem_limit"):
        await spawner.build_spec()


def test_unset_limits_read_back_as_dockerspawners() -> None:
    """dockerspawner 14 reads back 0 and 0.0 when unset (its Union takes the ByteSpecification's
    and the Float's default); hooks that compare or multiply the value see the same numbers."""
    spawner = make_spawner()
    assert spawner.mem_limit == 0 and isinstance(spawner.mem_limit, int)
    assert spawner.cpu_limit == 0.0 and isinstance(spawner.cpu_limit, float)
    # the guarantees are JupyterHub's base Spawner's, None, in dockerspawner too
    assert spawner.mem_guarantee is None and spawner.cpu_guarantee is None


@pytest.mark.parametrize("setting", ["mem_limit", "cpu_limit"])
async def test_zero_is_no_limit_as_in_dockerspawner(setting: str) -> None:
    """0 (the unset value, or configured) sets no limit, as Docker's 0 means for dockerspawner."""
    for spawner in (make_spawner(), make_spawner(**{setting: 0})):
        spec = await spawner.build_spec()
        assert getattr(spec, setting) is None
    with pytest.raises(InvalidSpec, match=f"{setting}: must not be negative"):
        await make_spawner(**{setting: -1}).build_spec()
