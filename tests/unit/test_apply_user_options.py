"""User options are applied in ``apply_user_options``, before ``pre_spawn_hook`` and ``start()``.

JupyterHub (5.3+) calls ``Spawner._run_apply_user_options`` and then the
``pre_spawn_hook``; these tests call the same methods in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from jupyterhub.utils import maybe_future
from tornado import web

from aiodockerspawner import DockerSpawner
from aiodockerspawner.testing.engine import FakeEngine
from aiodockerspawner.testing.pytest_plugin import DEFAULT_IMAGE, fake_docker, fake_spawner
from aiodockerspawner.useroptions import builtin_apply_user_options
from tests.helpers import make_spawner

__all__ = ["fake_docker", "fake_spawner"]  # fixtures used below

SpawnerFactory = Callable[..., DockerSpawner]
ALT = "example/alt:1"


def test_the_default_hook_is_the_spawners_own() -> None:
    # JupyterHub logs "Received unhandled user_options" when the hook is None
    assert make_spawner().apply_user_options is builtin_apply_user_options


async def test_the_image_is_applied_before_the_pre_spawn_hook() -> None:
    seen: list[str] = []
    spawner = make_spawner(
        allowed_images={"alt": ALT},
        pre_spawn_hook=lambda s: seen.append(s.image),
    )
    spawner.user_options = {"image": "alt"}
    await spawner._run_apply_user_options(spawner.user_options)
    await maybe_future(spawner.run_pre_spawn_hook())
    assert seen == [ALT]


async def test_unknown_keys_are_refused_in_apply_user_options() -> None:
    spawner = make_spawner(allowed_images={"alt": ALT})
    with pytest.raises(web.HTTPError) as info:
        await spawner._run_apply_user_options({"image": "alt", "privileged": True})
    assert info.value.status_code == 400
    assert "'privileged'" in str(info.value.log_message)
    assert spawner.image != ALT  # nothing applied


async def test_an_admin_hook_runs_after_ours_and_may_read_its_own_keys() -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def admin(spawner: DockerSpawner, user_options: dict[str, Any]) -> None:
        calls.append((spawner.image, dict(user_options)))
        spawner.environment = {"SIZE": user_options["size"]}

    spawner = make_spawner(allowed_images={"alt": ALT}, apply_user_options=admin)
    await spawner._run_apply_user_options({"image": "alt", "size": "big"})
    assert calls == [(ALT, {"image": "alt", "size": "big"})]
    assert spawner.environment == {"SIZE": "big"}


async def test_an_admin_dict_hook_works_beside_ours() -> None:
    spawner = make_spawner(allowed_images={"alt": ALT}, apply_user_options={"limit": "mem_limit"})
    await spawner._run_apply_user_options({"image": "alt", "limit": "1G"})
    assert spawner.image == ALT
    assert spawner.mem_limit == 1024**3


async def test_start_keeps_what_the_pre_spawn_hook_changed(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    fake_docker.add_image(ALT)
    fake_docker.add_image("example/hooked:1")

    def hook(spawner: DockerSpawner) -> None:
        spawner.image = "example/hooked:1"

    spawner = fake_spawner(allowed_images={"alt": ALT}, pre_spawn_hook=hook, remove=True)
    spawner.user_options = {"image": "alt"}
    await spawner._run_apply_user_options(spawner.user_options)
    await maybe_future(spawner.run_pre_spawn_hook())
    await spawner.start()
    try:
        (container,) = fake_docker.containers.values()
        # the options were applied once, before the hook: start() does not apply them again
        assert container.config["Image"] == "example/hooked:1"
    finally:
        await spawner.stop()


async def test_start_applies_the_options_when_nothing_did(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    fake_docker.add_image(ALT)
    spawner = fake_spawner(allowed_images={"alt": ALT}, remove=True)
    for choice, image in (("alt", ALT), ("", DEFAULT_IMAGE)):
        spawner.user_options = {"image": choice}
        await spawner.start()
        (container,) = fake_docker.containers.values()
        assert container.config["Image"] == image
        await spawner.stop()


async def test_a_spawn_that_never_started_does_not_leave_its_options_applied(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    fake_docker.add_image(ALT)
    spawner = fake_spawner(allowed_images={"alt": ALT}, remove=True)
    await spawner._run_apply_user_options({"image": "alt"})
    # the spawn failed before start() (a pre_spawn_hook raised); JupyterHub stops
    # the server, and clears the state before the next spawn's options
    await spawner.stop()
    spawner.clear_state()
    spawner.user_options = {}
    await spawner.start()
    try:
        (container,) = fake_docker.containers.values()
        assert container.config["Image"] == DEFAULT_IMAGE
    finally:
        await spawner.stop()
