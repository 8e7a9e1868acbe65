"""A swarm service that dies before it answered: the task's error, exit code and log."""

from __future__ import annotations

import time

import pytest
from tornado import web

from tests.helpers import give_hub_server, hub_wait_up
from tests.swarm.test_swarm_spawner import services_named, swarm_spawner

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("swarm")]


async def spawn(spawner: object) -> tuple[str, float]:
    give_hub_server(spawner)  # type: ignore[arg-type]
    began = time.monotonic()
    with pytest.raises(web.HTTPError) as info:
        url = await spawner.start()  # type: ignore[attr-defined]
        await hub_wait_up(spawner, url, 30)  # type: ignore[arg-type]
    return str(getattr(info.value, "jupyterhub_message", "")), time.monotonic() - began


@pytest.mark.parametrize(
    "script", ["echo boom >&2; exit 3", "sleep 1; echo boom >&2; exit 3"], ids=["start", "wait"]
)
async def test_task_exit_says_code_error_and_log(tiny_image: str, script: str) -> None:
    spawner = swarm_spawner(tiny_image, cmd=["sh", "-c", f"echo starting up; {script}"])
    try:
        text, took = await spawn(spawner)
    finally:
        await spawner.stop()
    assert "(service " in text and "exited with code 3" in text, text
    assert "non-zero exit (3)" in text, text  # the task's own error
    assert "boom" in text and "starting up" in text, text
    assert took < 10, took  # far below http_timeout (30 s), even on a loaded machine
    assert await services_named(spawner.object_name) == []
    print(f"\nMEASURE swarm fast failure ({script!r}): {took:.2f} s")
