"""Which volume sources are named after the server (pure)."""

from __future__ import annotations

from aiodockerspawner.core.lifetime import per_server_sources


def test_per_server_sources() -> None:
    def render(template: str) -> str:
        return template.format(username="ann", servername="lab", raw_servername="Lab")

    found = per_server_sources(
        {"jh-{username}-{servername}": "/a", "jh-{username}": "/b"},
        {"/srv/{username}/{raw_servername}": "/c"},
        [
            {"type": "volume", "source": "m-{servername}", "target": "/d"},
            {"type": "tmpfs", "target": "/tmp/{servername}"},
            {"Type": "volume", "Source": "jh-{username}-{servername}", "Target": "/e"},
        ],
        render,
    )
    assert [(s.name, s.is_volume) for s in found] == [
        ("jh-ann-lab", True),
        ("/srv/ann/Lab", False),
        ("m-lab", True),
    ]
