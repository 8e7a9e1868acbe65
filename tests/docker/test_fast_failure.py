"""A server that dies before it answered fails its spawn at once, saying why (real daemon).

The spawner is driven as JupyterHub drives it: ``start()``, then the
``Server.wait_up`` that ``User._wait_up`` calls (``tests.helpers.hub_wait_up``),
with ``http_timeout``-like waits of 30 s that must never be reached.
"""

from __future__ import annotations

import time

import pytest
from tornado import web

from aiodockerspawner import DockerSpawner
from tests.helpers import docker_cli, give_hub_server, hub_wait_up, make_spawner, wait_for

pytestmark = pytest.mark.docker

BOOM = ["sh", "-c", "echo starting up; echo boom >&2; exit 3"]
#: allocates 100 MiB at once: over a 32 MiB mem_limit, the kernel kills it
HOG = ["sh", "-c", "echo allocating; exec dd if=/dev/zero of=/dev/null bs=100M count=1"]
HTTP_TIMEOUT = 30.0
#: far below HTTP_TIMEOUT, with room for a loaded machine (tests/e2e holds 3 s)
FAST = 10.0


async def exists(name: str) -> bool:
    return bool((await docker_cli("ps", "-aq", "--filter", f"name=^/{name}$")).strip())


async def spawn(spawner: DockerSpawner) -> tuple[web.HTTPError, float]:
    """start() then JupyterHub's HTTP wait, as a Hub does; the error and the seconds it took."""
    give_hub_server(spawner)
    began = time.monotonic()
    with pytest.raises(web.HTTPError) as info:
        url = await spawner.start()
        await hub_wait_up(spawner, url, HTTP_TIMEOUT)
    return info.value, time.monotonic() - began


def message(error: web.HTTPError) -> str:
    text = getattr(error, "jupyterhub_message", "")
    assert isinstance(text, str)
    return text


@pytest.mark.parametrize("remove", [True, False])
async def test_exit_during_start_says_code_and_log(tiny_image: str, remove: bool) -> None:
    spawner = make_spawner(image=tiny_image, cmd=BOOM, remove=remove)
    error, took = await spawn(spawner)
    try:
        text = message(error)
        assert "exited with code 3" in text, text
        assert "boom" in text and "starting up" in text, text
        assert error.status_code == 500
        assert error.log_message == text  # what the REST API and the Hub log show
        assert "<pre>" in error.jupyterhub_html_message  # type: ignore[attr-defined]
        assert took < FAST, took
        # kept for inspection, or gone, as `remove` says
        assert await exists(spawner.object_name) is (not remove)
        assert spawner._startup_watch is None
    finally:
        await spawner.stop()
    assert not await exists(spawner.object_name) or not remove


async def test_exit_while_the_hub_waits_for_http(tiny_image: str) -> None:
    """The container runs when start() returns, then dies: JupyterHub's wait ends at once."""
    spawner = make_spawner(
        image=tiny_image,
        cmd=["sh", "-c", "sleep 1; echo boom >&2; exit 4"],
        remove=True,
    )
    error, took = await spawn(spawner)
    try:
        text = message(error)
        assert "exited with code 4" in text and "boom" in text, text
        assert 1 <= took < FAST, took
    finally:
        await spawner.stop()


async def test_out_of_memory_says_so(tiny_image: str) -> None:
    spawner = make_spawner(image=tiny_image, cmd=HOG, remove=False, mem_limit="32M")
    error, took = await spawn(spawner)
    try:
        text = message(error)
        assert "ran out of memory (mem_limit 32 MiB)" in text, text
        assert "exited with code 137" in text, text
        assert "allocating" in text, text
        assert took < FAST, took
        # the kept container agrees
        state = await docker_cli("inspect", "-f", "{{.State.OOMKilled}}", spawner.object_name)
        assert state.strip() == "true"
    finally:
        await spawner.stop()


async def test_log_tail_is_bounded_and_clean(tiny_image: str) -> None:
    script = (
        "i=0; while [ $i -lt 500 ]; do echo line $i; i=$((i+1)); done; "
        # stdout, as the lines before it: the order of two streams is not kept
        "printf 'bell\\007 and \\033[31mcolour\\033[0m\\n'; exit 1"
    )
    spawner = make_spawner(
        image=tiny_image,
        cmd=["sh", "-c", script],
        remove=True,
        failure_log_lines=5,
        failure_log_bytes=200,
    )
    error, _ = await spawn(spawner)
    await spawner.stop()
    text = message(error)
    lines = text.split("\n")[1:]
    assert 0 < len(lines) <= 5, lines
    assert sum(len(line.encode()) for line in lines) <= 200
    assert "bell and colour" in lines, lines
    assert not any(ch in text for ch in "\x07\x1b\r"), repr(text)


async def test_no_log_lines_when_turned_off(tiny_image: str) -> None:
    spawner = make_spawner(image=tiny_image, cmd=BOOM, remove=True, failure_log_lines=0)
    error, _ = await spawn(spawner)
    await spawner.stop()
    text = message(error)
    assert "exited with code 3" in text and "boom" not in text, text


async def test_a_healthy_server_closes_the_watch(tiny_image: str) -> None:
    spawner = make_spawner(image=tiny_image, remove=True)
    give_hub_server(spawner)
    url = await spawner.start()
    try:
        watch = spawner._startup_watch
        assert watch is not None
        await hub_wait_up(spawner, url, HTTP_TIMEOUT)
        # the window is over: no watch, the Hub's own wait_up back
        assert spawner._startup_watch is None
        assert "wait_up" not in vars(spawner.server)
        assert not watch.died.done() or watch.died.cancelled()
        # a later exit is poll()'s business, not a failed spawn
        await docker_cli("kill", spawner.object_name)

        async def stopped() -> bool:
            return await spawner.poll() is not None

        await wait_for(stopped, timeout=10, interval=0.05)
    finally:
        await spawner.stop()
