"""Unit tests for aiodockerspawner.core.naming: escaping, names, templates, volumes."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

import escapism
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiodockerspawner import volumenamingstrategy
from aiodockerspawner.core import naming
from aiodockerspawner.core.naming import (
    default_format_volume_name,
    default_name_template,
    escape_dns,
    escape_legacy,
    escape_server_name,
    escaped_format_volume_name,
    format_volume_name_default,
    mount_points,
    render_templates,
    resolve_escape,
    template_namespace,
    volumes_to_binds,
)
from aiodockerspawner.errors import InvalidSpec
from aiodockerspawner.model import VolumeBind, binds_as_dockerspawner_dict

# Docker's container name rule (the optional leading "/" is the API's, not the user's).
CONTAINER_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


def dockerspawner_escape(s: str) -> str:
    """dockerspawner's ``_escape``, written out from its definition."""
    escaped: str = escapism.escape(
        s, safe=set(string.ascii_lowercase + string.digits), escape_char="-"
    )
    return escaped.lower()


def dockerspawner_legacy_escape(s: str) -> str:
    """dockerspawner's ``_legacy_escape``, written out from its definition."""
    escaped: str = escapism.escape(
        s, safe=set(string.ascii_letters + string.digits + "-"), escape_char="_"
    )
    return escaped


def ns_for(
    username: str,
    server_name: str = "",
    *,
    image: str = "quay.io/jupyterhub/singleuser:5",
    prefix: str = "jupyter",
) -> dict[str, str]:
    return template_namespace(
        escaped_username=escape_dns(username),
        raw_username=username,
        image=image,
        escaped_servername=escape_server_name(server_name, escape_dns),
        raw_servername=server_name,
        prefix=prefix,
    )


def object_name(username: str, server_name: str = "", prefix: str = "jupyter") -> str:
    ns = ns_for(username, server_name, prefix=prefix)
    return default_name_template(server_name).format(**ns)


# --- escaping -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("user@email.com", "user-40email-2ecom"),
        ("user--foo", "user-2d-2dfoo"),
        ("Alice", "-41lice"),
        ("plain123", "plain123"),
        ("a b", "a-20b"),
        # non-ASCII: every UTF-8 byte is escaped, hex lower-cased
        ("Zoë", "-5ao-c3-ab"),
        ("ü", "-c3-bc"),
        ("用户", "-e7-94-a8-e6-88-b7"),
        ("José.García", "-4aos-c3-a9-2e-47arc-c3-ada"),
    ],
)
def test_escape_dns_literals(raw: str, expected: str) -> None:
    assert escape_dns(raw) == expected
    assert dockerspawner_escape(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["Zoë", "Ωmega", "用户名", "naïve_user", "ÅSA", "emoji😀", "x\u200by", "tab\tname", ""],
)
def test_escape_dns_matches_dockerspawner_formula(raw: str) -> None:
    assert escape_dns(raw) == dockerspawner_escape(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("user@email.com", "user_40email_2Ecom"),
        ("user--foo", "user--foo"),
        ("Alice", "Alice"),
        ("Zoë", "Zo_C3_AB"),
        ("a_b", "a_5Fb"),
    ],
)
def test_escape_legacy(raw: str, expected: str) -> None:
    assert escape_legacy(raw) == expected
    assert escape_legacy(raw) == dockerspawner_legacy_escape(raw)


def test_resolve_escape() -> None:
    assert resolve_escape(None) is escape_dns
    assert resolve_escape("legacy") is escape_legacy

    def custom(s: str) -> str:
        return s.upper()

    assert resolve_escape(custom) is custom
    for bad in ("nonsense", 42, ["legacy"]):
        with pytest.raises(ValueError, match=r"DockerSpawner\.escape must be callable, got"):
            resolve_escape(bad)


# --- names ----------------------------------------------------------------------


def test_default_name_template() -> None:
    assert default_name_template("") == "{prefix}-{username}"
    assert default_name_template("gpu") == "{prefix}-{username}--{servername}"


@pytest.mark.parametrize(
    ("username", "server_name", "expected"),
    [
        ("alice", "", "jupyter-alice"),
        ("user@email.com", "", "jupyter-user-40email-2ecom"),
        ("Alice", "", "jupyter--41lice"),
        ("alice", "gpu", "jupyter-alice--gpu"),
        # server names are lower-cased before escaping (dockerspawner quirk)
        ("alice", "My-Server", "jupyter-alice--my-2dserver"),
        ("alice", "my-server", "jupyter-alice--my-2dserver"),
        ("user--foo", "x", "jupyter-user-2d-2dfoo--x"),
    ],
)
def test_object_names(username: str, server_name: str, expected: str) -> None:
    assert object_name(username, server_name) == expected
    # and computed dockerspawner's way
    template = "{prefix}-{username}--{servername}" if server_name else "{prefix}-{username}"
    assert (
        template.format(
            prefix="jupyter",
            username=dockerspawner_escape(username),
            servername=dockerspawner_escape(server_name.lower()),
        )
        == expected
    )


def test_template_namespace_keys() -> None:
    ns = ns_for("user@email.com", "My Server", image="registry:5000/org/img:tag")
    assert ns == {
        "username": "user-40email-2ecom",
        "safe_username": "user-40email-2ecom",
        "raw_username": "user@email.com",
        "imagename": "registry-5000-org-img-tag",
        "servername": "my-20server",
        "raw_servername": "My Server",
        "prefix": "jupyter",
    }


def test_escape_server_name_lowercases_first() -> None:
    assert escape_server_name("Foo", escape_dns) == "foo"
    assert escape_server_name("Foo", escape_legacy) == "foo"
    assert escape_server_name("", escape_dns) == ""


# --- render_templates -------------------------------------------------------------


def test_render_templates_recurses_and_leaves_bad_templates() -> None:
    ns = ns_for("user@email.com", "srv")
    obj: dict[str, Any] = {
        "{username}": "/home/{raw_username}",
        "list": ["{prefix}", "{unknown}", 5, None],
        "tuple": ("{servername}", "{", "{0}", "{username.nope}"),
        "nested": {"labels": {"owner": "{raw_username}"}, "n": 1.5, "b": True},
    }
    original = {**obj, "list": list(obj["list"])}
    out = render_templates(obj, ns)
    assert out == {
        "user-40email-2ecom": "/home/user@email.com",
        "list": ["jupyter", "{unknown}", 5, None],
        "tuple": ("srv", "{", "{0}", "{username.nope}"),
        "nested": {"labels": {"owner": "user@email.com"}, "n": 1.5, "b": True},
    }
    assert isinstance(out["tuple"], tuple)
    assert obj == original  # input untouched
    assert out is not obj
    assert render_templates(42, ns) == 42
    assert render_templates("{username}", ns) == "user-40email-2ecom"


# --- volume naming ----------------------------------------------------------------------


class FakeSpawner:
    def __init__(self, username: str) -> None:
        self.escaped_name = escape_dns(username)
        self._ns = ns_for(username)

    def template_namespace(self) -> Mapping[str, str]:
        return dict(self._ns)


def test_volume_naming_strategies() -> None:
    sp = FakeSpawner("user@email.com")
    template = "jupyterhub-user-{username}-{raw_username}"
    expected = "jupyterhub-user-user-40email-2ecom-user@email.com"
    assert default_format_volume_name(template, sp) == expected
    assert escaped_format_volume_name(template, sp) == expected
    assert format_volume_name_default(template, sp.template_namespace()) == expected
    with pytest.raises(KeyError):
        default_format_volume_name("{nope}", sp)
    # the dockerspawner compatibility module
    assert volumenamingstrategy.default_format_volume_name is default_format_volume_name
    assert volumenamingstrategy.escaped_format_volume_name is escaped_format_volume_name


def _fmt(username: str) -> Any:
    ns = ns_for(username)
    return lambda template: format_volume_name_default(template, ns)


def test_volumes_binds_like_dockerspawner() -> None:
    volumes: dict[str, Any] = {"a": "b", "c": {"bind": "d", "mode": "Z", "propagation": "rprivate"}}
    binds = volumes_to_binds(volumes, mode="rw", format_name=_fmt("xyz"))
    assert binds == [
        VolumeBind("a", "b", "rw"),
        VolumeBind("c", "d", "Z", "rprivate"),
    ]
    assert binds_as_dockerspawner_dict(binds) == {
        "a": {"bind": "b", "mode": "rw"},
        "c": {"bind": "d", "mode": "Z", "propagation": "rprivate"},
    }
    assert mount_points(binds) == ["b", "d"]
    assert [b.to_bind_string() for b in binds] == ["a:b:rw", "c:d:Z,rprivate"]


def test_volumes_templated_with_username() -> None:
    binds = volumes_to_binds(
        {"/nfs/{username}": {"bind": "/home/{username}", "mode": "z"}},
        mode="rw",
        format_name=_fmt("xyz"),
    )
    assert binds_as_dockerspawner_dict(binds) == {"/nfs/xyz": {"bind": "/home/xyz", "mode": "z"}}


def test_volumes_escaped_and_raw_username() -> None:
    binds = volumes_to_binds(
        {"data/{username}": {"bind": "/home/{raw_username}"}},
        mode="rw",
        format_name=_fmt("user@email.com"),
    )
    assert binds_as_dockerspawner_dict(binds) == {
        "data/user-40email-2ecom": {"bind": "/home/user@email.com", "mode": "rw"}
    }


def test_read_only_volumes_force_ro() -> None:
    binds = volumes_to_binds(
        {
            "/a": "/ro/a",
            "/b": {"bind": "/ro/b", "mode": "rw"},
            "/c": {"bind": "/ro/c", "mode": "z"},
            "/d": {"bind": "/ro/d", "mode": "rw,Z", "propagation": "rslave"},
            "/e": {"bind": "/ro/e"},
        },
        mode="ro",
        format_name=_fmt("xyz"),
        trait="DockerSpawner.read_only_volumes",
    )
    assert [b.to_bind_string() for b in binds] == [
        "/a:/ro/a:ro",
        "/b:/ro/b:ro",
        "/c:/ro/c:ro,z",
        "/d:/ro/d:ro,Z,rslave",
        "/e:/ro/e:ro",
    ]


@pytest.mark.parametrize(
    ("volumes", "match"),
    [
        ({"a": 5}, r"DockerSpawner\.volumes: entry 'a' must be a path string"),
        ({"a": {"mode": "ro"}}, r"DockerSpawner\.volumes: entry 'a' needs a string 'bind'"),
        ({"a": {"bind": "/x", "mode": 1}}, r"non-string mode"),
        ({"a": ["/x"]}, r"must be a path string or a dict"),
    ],
)
def test_volumes_invalid(volumes: Any, match: str) -> None:
    with pytest.raises(InvalidSpec, match=match):
        volumes_to_binds(volumes, mode="rw", format_name=_fmt("xyz"))


def test_volumes_invalid_names_trait() -> None:
    with pytest.raises(InvalidSpec, match=r"^DockerSpawner\.read_only_volumes: "):
        volumes_to_binds(
            {"a": None},  # type: ignore[dict-item]
            mode="ro",
            format_name=_fmt("xyz"),
            trait="DockerSpawner.read_only_volumes",
        )


def test_volume_format_errors_propagate() -> None:
    with pytest.raises(KeyError):
        volumes_to_binds({"{nope}": "/x"}, mode="rw", format_name=_fmt("xyz"))


def test_public_names() -> None:
    for name in naming.__all__:
        assert hasattr(naming, name)


# --- properties -----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_escape_dns_charset_and_container_name(raw: str) -> None:
    escaped = escape_dns(raw)
    assert re.fullmatch(r"[a-z0-9-]*", escaped)
    assert escaped == dockerspawner_escape(raw)
    assert CONTAINER_NAME_RE.match(f"jupyter-{escaped}")
    assert "--" not in escaped


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=20), min_size=2, max_size=30, unique=True))
def test_escape_dns_injective(raws: list[str]) -> None:
    escaped = [escape_dns(r) for r in raws]
    assert len(set(escaped)) == len(raws)


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20))
def test_named_server_names_are_valid(username: str, server_name: str) -> None:
    name = object_name(username, server_name)
    assert CONTAINER_NAME_RE.match(name)
    assert name == (f"jupyter-{escape_dns(username)}--{escape_dns(server_name.lower())}")
