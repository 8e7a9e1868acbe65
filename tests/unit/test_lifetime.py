"""Which volume sources are named after the server (pure)."""

from __future__ import annotations

from aiodockerspawner.core.lifetime import per_server_sources
from aiodockerspawner.core.naming import VOLUME_NAME_MAX
from tests.helpers import make_spawner


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


def test_per_server_volume_names_are_the_created_ones_when_shortened() -> None:
    """rename() and delete_forever() look a volume up under the name it was created with."""
    user = "é" * 100  # escapes to 600 characters
    spawner = make_spawner(
        image="example/image:1",
        user=user,
        server_name="lab",
        volumes={"{prefix}-{username}-{servername}": "/data", "/srv/{servername}": "/srv"},
    )
    created = [b.source for b in spawner._volume_bind_list()]
    assert len(created[0].encode()) == VOLUME_NAME_MAX  # shortened at creation
    assert [s.name for s in spawner.per_server_sources()] == created
