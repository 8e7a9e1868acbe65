"""The Hub floor: JupyterHub with a spawner that does nothing.

``FloorSpawner.start()`` hands out one port of a pool that a separate
process serves (``python floor.py serve PORTS_FILE COUNT``): every server is
a local HTTP server of its own, answering every path with the tiny servers'
marker page, so the Hub's readiness check and its proxy see what they see
with a container. Nothing of the spawner runs on the Hub's loop but a port
taken from a list: what a Hub spends on a spawn beyond that is JupyterHub's
own work (its database, its REST and OAuth handlers, the proxy's routes).

Standard library and JupyterHub only: it is loaded by the floor's Hub
(``c.JupyterHub.spawner_class = "floor.FloorSpawner"``, with this folder on
``sys.path`` as the benchmark's configuration sets it).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

READY_MARKER = "adsb-ready"

try:  # the server process below needs no JupyterHub
    from jupyterhub.spawner import Spawner
    from traitlets import Unicode
except ImportError:  # pragma: no cover
    Spawner = object  # type: ignore[assignment,misc]

    def Unicode(*a: Any, **kw: Any) -> Any:  # type: ignore[no-redef]
        return None


class FloorSpawner(Spawner):  # type: ignore[misc,valid-type]
    """A spawner whose start is taking a free port of the pool."""

    ports_file = Unicode("", config=True, help="file with one served port per line")

    _free: list[int] | None = None

    def _pool(self) -> list[int]:
        if FloorSpawner._free is None:
            FloorSpawner._free = [int(p) for p in Path(self.ports_file).read_text().split()]
        return FloorSpawner._free

    _port: int = 0

    async def start(self) -> str:
        self._port = self._pool().pop()
        return f"http://127.0.0.1:{self._port}"

    async def poll(self) -> int | None:
        return None if self._port else 0

    async def stop(self, now: bool = False) -> None:
        if self._port:
            self._pool().append(self._port)
            self._port = 0


# -- the servers ------------------------------------------------------------------


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if not head:
                break
            body = (READY_MARKER + "\n").encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


def _publish(ports_file: str, ports: list[int]) -> None:
    tmp = Path(ports_file + ".tmp")
    tmp.write_text("".join(f"{p}\n" for p in ports))
    tmp.rename(ports_file)


async def serve(ports_file: str, count: int) -> None:
    servers = [await asyncio.start_server(_answer, "127.0.0.1", 0) for _ in range(count)]
    _publish(ports_file, [s.sockets[0].getsockname()[1] for s in servers])
    await asyncio.Event().wait()


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "serve":
        sys.exit("usage: floor.py serve PORTS_FILE COUNT")
    asyncio.run(serve(sys.argv[2], int(sys.argv[3])))
