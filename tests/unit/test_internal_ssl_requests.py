"""The Engine requests of an internal-SSL start: one upload, no helper container or volume."""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path
from typing import Any

from aioresponses import CallbackResult, aioresponses

from tests.helpers import make_spawner

API = "unix://localhost/v1.41"


async def test_internal_ssl_start_adds_one_request(tmp_path: Path) -> None:
    paths = {}
    for key, name in [("keyfile", "u.key"), ("certfile", "u.crt"), ("cafile", "ca.crt")]:
        (tmp_path / name).write_text(name)
        paths[key] = str(tmp_path / name)
    spawner = make_spawner(
        image="example/image:1",
        client_kwargs={"version": "1.41"},
        internal_ssl=True,
        events_cache=False,
    )
    spawner.cert_paths = await spawner.move_certs(paths)
    cid = "c0ffee" * 10 + "abcd"
    calls: list[tuple[str, str]] = []
    uploaded: list[bytes] = []

    def record(method: str, payload: Any, status: int) -> Any:
        def callback(url: Any, **kwargs: Any) -> CallbackResult:
            calls.append((method, str(url).removeprefix(API)))
            if method == "PUT":
                uploaded.append(kwargs["data"])
            return CallbackResult(status=status, payload=payload)

        return callback

    doc = {
        "Id": cid,
        "Name": "/" + spawner.object_name,
        "State": {"Running": True, "Status": "running"},
        "Config": {"Image": "example/image:1", "Env": [], "Labels": {}},
        "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.9"}}, "Ports": {}},
    }
    with aioresponses() as mocked:
        mocked.post(
            re.compile(rf"^{re.escape(API)}/containers/create\?.*$"),
            callback=record("POST", {"Id": cid, "Warnings": []}, 201),
        )
        mocked.put(
            re.compile(rf"^{re.escape(API)}/containers/{cid}/archive\?path=(/|%2F)$"),
            callback=record("PUT", None, 200),
        )
        mocked.post(f"{API}/containers/{cid}/start", callback=record("POST", None, 204))
        mocked.get(f"{API}/containers/{cid}/json", callback=record("GET", doc, 200))
        url = await spawner.start()

    assert url == f"https://{spawner.object_name}:8888"
    assert [(m, u.split("?")[0]) for m, u in calls] == [
        ("POST", "/containers/create"),
        ("PUT", f"/containers/{cid}/archive"),
        ("POST", f"/containers/{cid}/start"),
        ("GET", f"/containers/{cid}/json"),
    ]
    with tarfile.open(fileobj=io.BytesIO(uploaded[0])) as tar:
        assert sorted(tar.getnames()) == ["certs", "certs/ca.crt", "certs/u.crt", "certs/u.key"]
