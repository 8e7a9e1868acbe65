"""py-spy on a Hub during the spawn batch of scenario 5, summarised by package.

``python -m benchmarks --profile`` records each Hub contender's process with
``py-spy record --nonblocking --format raw`` (collapsed stacks: one line per
distinct stack, ``frame;frame;... count``) while its 50 spawns run, and
summarises the samples: the share whose stack passes through each package,
and the share of the spawner's own code, which priced at the Hub's CPU
seconds for the batch gives the spawner's CPU per spawn.

py-spy is found on ``PATH``, next to the interpreter, or at ``$PY_SPY``
(``pip install py-spy``; ``nox -s bench`` installs it). Without it, or
without the right to read the Hub's memory, nothing is profiled and the run
goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

#: packages whose share of the samples is reported, by the path fragment of their frames
PACKAGES = {
    "aiodockerspawner": "(aiodockerspawner/",
    "aiodocker": "(aiodocker/",
    "aiohttp": "(aiohttp/",
    "dockerspawner": "(dockerspawner/",
    "docker-py": "(docker/",
    "requests": "(requests/",
    "urllib3": "(urllib3/",
    "jupyterhub": "(jupyterhub/",
    "sqlalchemy": "(sqlalchemy/",
    "tornado": "(tornado/",
    "json": "(json/",
    "logging": "(logging/",
}
#: py-spy names a frame ``function (package/module.py:line)``.
#: What counts as the spawner's own work, per contender: its code and its Docker client.
#: JupyterHub 6 makes its own HTTP requests (to servers, to the proxy) with aiohttp too,
#: so aiohttp counts as aiodockerspawner's only in stacks without a JupyterHub frame
#: (which still takes the protocol callbacks of JupyterHub's connections: an upper bound)
SPAWNER = {
    "ads": ("(aiodockerspawner/", "(aiodocker/"),
    "ds": ("(dockerspawner/", "(docker/", "(requests/", "(urllib3/"),
    "floor": ("floor.py:",),
}
UNLESS_HUB = {"ads": ("(aiohttp/",)}
_FRAME = re.compile(r"^(.*) \((.*):(\d+)\)$")


def py_spy() -> str | None:
    found = os.environ.get("PY_SPY") or shutil.which("py-spy")
    if found:
        return found
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else None


class Recording:
    """``async with Recording(pid, path):`` py-spy samples the process meanwhile."""

    def __init__(self, pid: int, path: Path, rate: int = 250) -> None:
        self.pid = pid
        self.path = path
        self.rate = rate
        self.proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Recording:
        exe = py_spy()
        if exe is None:
            print("bench: py-spy not found: no profile", flush=True)
            return self
        self.proc = await asyncio.create_subprocess_exec(
            exe,
            "record",
            "--nonblocking",
            "--rate",
            str(self.rate),
            "--format",
            "raw",
            "--pid",
            str(self.pid),
            "--output",
            str(self.path),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        await asyncio.sleep(0.5)  # attached before the batch starts
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            _, err = await asyncio.wait_for(self.proc.communicate(), 60)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            return
        if self.proc.returncode not in (0, -2, 130) or not self.path.exists():
            print(f"bench: py-spy failed: {err.decode(errors='replace')[-500:]}", flush=True)


def summarise(path: Path, key: str) -> dict[str, Any] | None:
    """Shares of the samples by package, the spawner's share, and the heaviest frames."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    total = 0
    by_package: Counter[str] = Counter()
    spawner = 0
    frames: Counter[str] = Counter()
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        for name, fragment in PACKAGES.items():
            if fragment in stack:
                by_package[name] += count
        if any(fragment in stack for fragment in SPAWNER.get(key, ())) or (
            "(jupyterhub/" not in stack
            and any(fragment in stack for fragment in UNLESS_HUB.get(key, ()))
        ):
            spawner += count
        for frame in set(stack.split(";")):
            match = _FRAME.match(frame.strip())
            if match:
                short = match.group(2).split("site-packages/")[-1].split("/src/")[-1]
                frames[f"{match.group(1)} ({short}:{match.group(3)})"] += count
    if not total:
        return None
    return {
        "samples": total,
        "spawner_share": spawner / total,
        "packages": {k: v / total for k, v in by_package.most_common()},
        "top_frames": [(f, c / total) for f, c in frames.most_common(40)],
    }


def write_text(path: Path, summaries: dict[str, dict[str, Any]], header: str) -> None:
    """The summaries as the text file kept in benchmarks/results/."""
    lines = [header, ""]
    for key, s in summaries.items():
        lines.append(
            f"== {key}: {s['samples']} samples, spawner's own share {s['spawner_share']:.1%}"
        )
        for name, share in s["packages"].items():
            lines.append(f"  {share:6.1%} {name}")
        lines.append("  heaviest frames (share of samples whose stack contains the frame):")
        for frame, share in s["top_frames"]:
            lines.append(f"  {share:6.1%} {frame}")
        lines.append("")
    path.write_text("\n".join(lines))
