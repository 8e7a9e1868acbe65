"""Host path checks, account lookups and certificate reads never stall the Hub's event loop.

Each test makes the underlying call hang (a ``test`` that never answers, a
``pwd`` lookup or a certificate read that blocks) and shows that the loop gets
control back while the call is pending. Code calling them on the loop would
instead run to completion inside ``create_task``'s first step.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import pwd
import tarfile
import threading
from collections.abc import Coroutine
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from tornado import web

from aiodockerspawner import systemuser
from aiodockerspawner.core import lifetime
from aiodockerspawner.systemuser import Account, forget_accounts, lookup_account
from tests.helpers import make_spawner

#: how long a simulated in-process hang lasts before it gives up (bounds a failing run)
HANG = 3.0


async def pending_while_the_loop_runs(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """Start ``coro`` and hand the loop back a few times: it must still be waiting."""
    task = asyncio.create_task(coro)
    for _ in range(3):
        await asyncio.sleep(0)
    assert not task.done(), "the call ran to completion on the event loop"
    return task


# -- rename(): host directories named after the server -----------------------------


def _hung_test_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``test`` on PATH that never answers, as a stat on a hung NFS mount does."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "test"
    fake.write_text("#!/bin/sh\nexec sleep 60\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def _renamable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("DOCKER_HOST", raising=False)  # a local daemon: paths are checked
    return make_spawner(
        server_name="lab",
        volumes={f"{tmp_path}/homes/{{raw_servername}}": "/data"},
    )


async def test_a_hung_path_check_does_not_stall_the_loop_and_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _hung_test_command(tmp_path, monkeypatch)
    # the same hang for a check made in the Hub's process
    released = threading.Event()

    def hung_exists(path: str) -> bool:
        released.wait(HANG)
        return False

    hung_os = SimpleNamespace(path=SimpleNamespace(exists=hung_exists))
    monkeypatch.setattr(lifetime, "os", hung_os, raising=False)
    monkeypatch.setattr(lifetime, "PATH_CHECK_TIMEOUT", 0.5, raising=False)
    spawner = _renamable(tmp_path, monkeypatch)
    caplog.set_level(logging.WARNING, logger="aiodockerspawner.core.lifetime")
    try:
        task = await pending_while_the_loop_runs(spawner.rename("lab", "lab2"))
        with pytest.raises(web.HTTPError) as info:
            await task
    finally:
        released.set()
    assert info.value.status_code == 409
    message = info.value.jupyterhub_message  # type: ignore[attr-defined]
    assert f"directory {tmp_path}/homes/lab" in message
    assert f"Checking whether {tmp_path}/homes/lab exists took longer than 0.5 s" in caplog.text


async def test_rename_checks_the_host_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spawner = _renamable(tmp_path, monkeypatch)
    await spawner.rename("lab", "lab2")  # nothing there yet: allowed
    (tmp_path / "homes" / "lab").mkdir(parents=True)
    with pytest.raises(web.HTTPError) as info:
        await spawner.rename("lab", "lab2")
    assert info.value.status_code == 409


async def test_a_path_check_that_cannot_run_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    spawner = _renamable(tmp_path, monkeypatch)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no `test` anywhere
    with pytest.raises(web.HTTPError) as info:
        await spawner.rename("lab", "lab2")
    assert info.value.status_code == 409
    assert "Cannot check whether" in caplog.text


# -- SystemUserSpawner: all-digit account names ------------------------------------


@pytest.fixture
def _fresh_accounts() -> Any:
    forget_accounts()
    yield
    forget_accounts()


@pytest.mark.usefixtures("_fresh_accounts")
async def test_a_numeric_name_lookup_does_not_stall_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    released = threading.Event()

    def slow_directory(name: str) -> Any:
        released.wait(HANG)
        raise KeyError(name)

    monkeypatch.setattr(pwd, "getpwnam", slow_directory)
    try:
        task = await pending_while_the_loop_runs(lookup_account("4242"))
        assert await task is None
    finally:
        released.set()


@pytest.mark.usefixtures("_fresh_accounts")
async def test_a_numeric_name_is_a_name_not_a_uid() -> None:
    assert await lookup_account("0") is None  # uid 0 is root, but no account is named "0"


@pytest.mark.usefixtures("_fresh_accounts")
async def test_lookup_without_getent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(systemuser.shutil, "which", lambda name: None)
    root = pwd.getpwnam("root")
    assert await lookup_account("root") == Account("root", root.pw_uid, root.pw_gid, root.pw_dir)
    assert await lookup_account("no-such-user-aiodockerspawner") is None


# -- internal SSL: reading the server's certificates -------------------------------


async def test_certificate_reads_do_not_stall_the_loop(tmp_path: Path) -> None:
    """A certificate that is a FIFO blocks its reader until someone writes it."""
    (tmp_path / "u.key").write_bytes(b"KEY")
    (tmp_path / "ca.crt").write_bytes(b"CA")
    fifo = tmp_path / "u.crt"
    os.mkfifo(fifo)
    written = threading.Lock()

    def write_once() -> None:
        if written.acquire(blocking=False):
            with open(fifo, "wb") as f:  # waits for the reader
                f.write(b"CERT")

    safety = threading.Timer(HANG, write_once)  # unblocks a reader stuck on the loop
    safety.start()
    paths = {"keyfile": str(tmp_path / "u.key"), "certfile": str(fifo)}
    paths["cafile"] = str(tmp_path / "ca.crt")
    spawner = make_spawner(internal_ssl=True)
    try:
        task = await pending_while_the_loop_runs(spawner.move_certs(paths))
        safety.cancel()
        writer = threading.Thread(target=write_once)
        writer.start()
        assert await task == {
            "keyfile": "/certs/u.key",
            "certfile": "/certs/u.crt",
            "cafile": "/certs/ca.crt",
        }
    finally:
        safety.cancel()
    writer.join(HANG)
    archive = spawner._cert_archive
    assert archive is not None
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        member = tar.extractfile("certs/u.crt")
        assert member is not None and member.read() == b"CERT"
