"""User and server names cannot move a templated volume path."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tornado.web import HTTPError

from aiodockerspawner.core.naming import path_steered
from tests.helpers import make_spawner


@pytest.mark.parametrize(
    ("template", "rendered", "steered"),
    [
        ("/srv/{raw_username}", "/srv/alice", False),
        ("/srv/{raw_username}", "/srv/..", True),
        ("/srv/{raw_username}/data", "/srv/../data", True),
        ("/srv/{raw_username}", "/srv/alice/../../etc", True),
        ("/srv/{raw_username}", "/srv/a/b", True),
        ("/srv/{raw_username}", "/srv/a\x00b", True),
        ("/srv/../shared/{username}", "/srv/../shared/alice", False),  # the admin's own ..
        ("jupyterhub-user-{username}", "jupyterhub-user-alice", False),
    ],
)
def test_path_steered(template: str, rendered: str, steered: bool) -> None:
    assert path_steered(template, rendered) is steered


@given(st.text(min_size=1, max_size=200))
def test_escaped_username_never_steers(name: str) -> None:
    spawner = make_spawner(user=name, volumes={"/srv/{username}": "/home/{username}"})
    binds = spawner.volume_binds
    (source,) = binds
    assert source.startswith("/srv/") and source.count("/") == 2


@pytest.mark.parametrize("name", ["..", "a/../../etc", "x/y"])
def test_raw_username_that_steers_is_refused(name: str) -> None:
    spawner = make_spawner(user=name, volumes={"/srv/{raw_username}": "/home/jovyan"})
    with pytest.raises(HTTPError) as info:
        spawner.volume_binds  # noqa: B018
    assert info.value.status_code == 400
    assert "/srv/{raw_username}" in str(info.value.log_message)


def test_custom_format_volume_name_is_trusted() -> None:
    spawner = make_spawner(
        user="alice",
        volumes={"{username}": "/home/jovyan"},
        format_volume_name=lambda template, sp: f"/nfs/users/{sp.user.name}/data",
    )
    assert list(spawner.volume_binds) == ["/nfs/users/alice/data"]
