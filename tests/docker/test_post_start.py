"""post_start_cmd against a real daemon: commands that succeed, fail and do not exist."""

from __future__ import annotations

import logging

import pytest

from tests.helpers import docker_cli, make_spawner

pytestmark = pytest.mark.docker

LOGGER = "aiodockerspawner-test.post-start"


def records(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == LOGGER]


async def test_post_start_cmd_outcomes_are_logged(
    tiny_image: str, caplog: pytest.LogCaptureFixture
) -> None:
    spawner = make_spawner(
        image=tiny_image,
        remove=True,
        stop_grace_period=0,
        post_start_cmd="sh -c 'echo started > /tmp/post-start; echo visible'",
        log=logging.getLogger(LOGGER),
    )
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    await spawner.start()
    try:
        # the command ran inside the container, after it started
        marker = await docker_cli("exec", spawner.object_name, "cat", "/tmp/post-start")
        assert marker.strip() == "started"
        assert (
            logging.DEBUG,
            f"post_start stdout in {spawner.object_name}: visible",
        ) in records(caplog)

        cases: list[tuple[str | list[str], list[tuple[int, str]]]] = [
            ("true", []),
            ("ls /", [(logging.DEBUG, "post_start stdout")]),
            (
                "ls /nosuchfile",
                [(logging.WARNING, "post_start stderr"), (logging.WARNING, "exited with code 1")],
            ),
            (
                "nosuchcommand",
                [
                    (logging.WARNING, "post_start stderr"),
                    (logging.WARNING, "exited with code 126"),
                ],
            ),
            ("sh -c 'exit 3'", [(logging.WARNING, "exited with code 3")]),
            (["sh", "-c", "echo oops >&2"], [(logging.WARNING, "post_start stderr")]),
        ]
        for cmd, expected in cases:
            caplog.clear()
            spawner.post_start_cmd = cmd
            await spawner.post_start_exec()
            seen = records(caplog)
            for level, fragment in expected:
                assert any(lvl == level and fragment in msg for lvl, msg in seen), (cmd, seen)
            assert len(seen) == len(expected), (cmd, seen)
    finally:
        await spawner.stop()
