"""Unit tests for aiodockerspawner.core.options (image choice, form, user_options)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from tornado import web

from aiodockerspawner.core import options
from aiodockerspawner.core.options import (
    AllowedImages,
    check_allowed,
    choose_image,
    normalize_allowed_images,
    options_from_form,
    render_options_form,
    resolve_allowed_images,
    spawn_error,
    validate_user_options,
)

REPO = "quay.io/jupyterhub/singleuser"
DEFAULT = f"{REPO}:5"
IMAGE_DICT = {"4.0": f"{REPO}:4.0", "4": f"{REPO}:4"}
IMAGE_LIST = [f"{REPO}:4", f"{REPO}:4.0"]


def _list_callable(spawner: Any) -> list[str]:
    return list(IMAGE_LIST)


class _Spawner:
    """Stand-in for a spawner; only passed through to callables."""

    user_name = "alice"


# ---------------------------------------------------------------------------
# dockerspawner's nine allowed_image cases
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("allowed_images", "requested", "expected"),
    [
        # dict + a key -> the mapped image
        (IMAGE_DICT, "4.0", f"{REPO}:4.0"),
        # dict + no image -> the default
        (IMAGE_DICT, None, DEFAULT),
        # list + not an entry -> refused
        (IMAGE_LIST, "not-in-list", 400),
        # list + an exact entry -> that image
        (IMAGE_LIST, f"{REPO}:4", f"{REPO}:4"),
        # callable returning a list + an entry -> that image
        (_list_callable, f"{REPO}:4.0", f"{REPO}:4.0"),
        # callable + something else -> refused
        (_list_callable, f"{REPO}:3.0", 400),
        # unset + the default image named explicitly -> refused (13.0 rule)
        (None, DEFAULT, 400),
        # unset + nothing -> the default
        (None, None, DEFAULT),
        # "*" + anything -> taken as-is
        ("*", f"{REPO}:4", f"{REPO}:4"),
    ],
    ids=[
        "dict-key",
        "dict-no-image",
        "list-not-in-list",
        "list-entry",
        "callable-entry",
        "callable-other",
        "unset-explicit-default",
        "unset-no-image",
        "star-anything",
    ],
)
async def test_allowed_image(
    allowed_images: object, requested: str | None, expected: str | int
) -> None:
    allowed = await resolve_allowed_images(allowed_images, _Spawner())
    if isinstance(expected, int):
        with pytest.raises(web.HTTPError) as info:
            choose_image(allowed, requested, DEFAULT)
        assert info.value.status_code == expected
    else:
        assert choose_image(allowed, requested, DEFAULT) == expected


def test_choose_image_empty_request_is_no_request() -> None:
    assert choose_image(None, "", DEFAULT) == DEFAULT
    assert choose_image({}, None, DEFAULT) == DEFAULT


def test_check_allowed_returns_value_not_key() -> None:
    allowed = {"python": f"{REPO}:python-3.12"}
    assert check_allowed(allowed, "python") == f"{REPO}:python-3.12"
    # The image itself is not a key, so asking for it directly is refused.
    with pytest.raises(web.HTTPError) as info:
        check_allowed(allowed, f"{REPO}:python-3.12")
    assert info.value.status_code == 400


@pytest.mark.parametrize("allowed", [None, {}])
def test_check_allowed_refuses_when_choice_disabled(allowed: AllowedImages) -> None:
    with pytest.raises(web.HTTPError) as info:
        check_allowed(allowed, DEFAULT)
    err = info.value
    assert err.status_code == 400
    assert "not allowed" in (err.log_message or "")
    assert "\n" not in (err.log_message or "")


def test_check_allowed_message_lists_keys() -> None:
    with pytest.raises(web.HTTPError) as info:
        check_allowed(IMAGE_DICT, "nope")
    message = info.value.log_message or ""
    assert message.startswith("Image 'nope' is not in the allowed list:")
    assert "'4.0'" in message and "'4'" in message


def test_check_allowed_message_stays_one_bounded_line() -> None:
    with pytest.raises(web.HTTPError) as info:
        check_allowed(IMAGE_DICT, "evil\nline" + "x" * 1000)
    message = info.value.log_message or ""
    assert "\n" not in message
    assert len(message) < 300


def test_check_allowed_star() -> None:
    assert check_allowed("*", "anything:at-all") == "anything:at-all"


def test_spawn_exception_used_when_available() -> None:
    from jupyterhub.spawner import SpawnException

    err = spawn_error("nope", reason="image")
    assert isinstance(err, SpawnException)
    assert err.status_code == 400
    assert err.reason == "image"


def test_spawn_error_fallback_for_older_hubs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(options, "_SpawnException", None)
    err = spawn_error("no such image", reason="image")
    assert type(err) is web.HTTPError
    assert err.status_code == 400
    assert err.log_message == "no such image"
    assert err.jupyterhub_message == "no such image"  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------
# normalize / resolve
# ---------------------------------------------------------------------------


def test_normalize_forms() -> None:
    assert normalize_allowed_images(None) is None
    assert normalize_allowed_images("*") == "*"
    assert normalize_allowed_images(["a", "b"]) == {"a": "a", "b": "b"}
    assert normalize_allowed_images(("a",)) == {"a": "a"}
    assert list(normalize_allowed_images({"b", "a", "c"}) or {}) == ["a", "b", "c"]
    assert normalize_allowed_images([]) == {}


def test_normalize_copies_mapping() -> None:
    source = {"x": "img:x"}
    result = normalize_allowed_images(source)
    assert result == source
    assert result is not source


@pytest.mark.parametrize(
    "value",
    [
        "quay.io/jupyterhub/singleuser:4",
        "",
        "**",
        42,
        [1, 2],
        ["ok", None],
        {"k": 1},
        {1: "img"},
        object(),
    ],
)
def test_normalize_rejects_invalid(value: object) -> None:
    with pytest.raises(ValueError, match="allowed_images"):
        normalize_allowed_images(value)


def test_normalize_string_error_explains_star() -> None:
    with pytest.raises(ValueError, match=r"'\*'"):
        normalize_allowed_images("some/image")


async def test_resolve_async_callable() -> None:
    seen: list[Any] = []

    async def allowed(spawner: Any) -> dict[str, str]:
        seen.append(spawner)
        return {"py": f"{REPO}:py"}

    spawner = _Spawner()
    assert await resolve_allowed_images(allowed, spawner) == {"py": f"{REPO}:py"}
    assert seen == [spawner]


async def test_resolve_callable_may_return_none_or_star() -> None:
    assert await resolve_allowed_images(lambda s: None, _Spawner()) is None
    assert await resolve_allowed_images(lambda s: "*", _Spawner()) == "*"


async def test_resolve_callable_result_is_validated() -> None:
    async def bad(spawner: Any) -> str:
        return "not-star"

    with pytest.raises(ValueError, match="allowed_images"):
        await resolve_allowed_images(bad, _Spawner())


async def test_resolve_plain_value() -> None:
    assert await resolve_allowed_images(IMAGE_LIST, _Spawner()) == {i: i for i in IMAGE_LIST}


# ---------------------------------------------------------------------------
# options form
# ---------------------------------------------------------------------------


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.selects: list[dict[str, str | None]] = []
        self.labels: list[dict[str, str | None]] = []
        self.options: list[dict[str, Any]] = []
        self._in_option = False
        self.open_tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open_tags.append(tag)
        attr_map = dict(attrs)
        if tag == "select":
            self.selects.append(attr_map)
        elif tag == "label":
            self.labels.append(attr_map)
        elif tag == "option":
            self.options.append({"attrs": attr_map, "text": ""})
            self._in_option = True

    def handle_endtag(self, tag: str) -> None:
        assert self.open_tags and self.open_tags[-1] == tag, f"unbalanced </{tag}>"
        self.open_tags.pop()
        if tag == "option":
            self._in_option = False

    def handle_data(self, data: str) -> None:
        if self._in_option:
            self.options[-1]["text"] += data


def _parse(form: str) -> _FormParser:
    parser = _FormParser()
    parser.feed(form)
    parser.close()
    assert parser.open_tags == []
    return parser


def test_form_select_and_options() -> None:
    allowed = {"1.0": f"{REPO}:1.0", "1.1": f"{REPO}:1.1", "2.0": f"{REPO}:2.0"}
    form = render_options_form(allowed, f"{REPO}:1.1")
    parsed = _parse(form)

    assert len(parsed.selects) == 1
    select = parsed.selects[0]
    assert select["name"] == "image"
    assert select["id"] == "image"
    assert "form-select" in (select["class"] or "").split()
    assert "required" in select and "autofocus" in select
    assert [label.get("for") for label in parsed.labels] == ["image"]

    assert [o["attrs"]["value"] for o in parsed.options] == ["1.0", "1.1", "2.0"]
    assert [o["text"] for o in parsed.options] == ["1.0", "1.1", "2.0"]
    selected = [o["attrs"]["value"] for o in parsed.options if "selected" in o["attrs"]]
    assert selected == ["1.1"]
    assert "['" not in form and "']" not in form


def test_form_selects_by_key() -> None:
    parsed = _parse(render_options_form({"a": "img:a", "b": "img:b"}, "b"))
    assert [o["attrs"]["value"] for o in parsed.options if "selected" in o["attrs"]] == ["b"]


def test_form_selects_nothing_when_no_match() -> None:
    parsed = _parse(render_options_form({"a": "img:a", "b": "img:b"}, DEFAULT))
    assert not any("selected" in o["attrs"] for o in parsed.options)


def test_form_selects_at_most_one() -> None:
    # "b" is the key of one entry and the image of the other.
    parsed = _parse(render_options_form({"a": "b", "b": "img:b"}, "b"))
    assert [o["attrs"]["value"] for o in parsed.options if "selected" in o["attrs"]] == ["a"]


def test_form_escapes_keys() -> None:
    nasty = '<x>"&'
    form = render_options_form({nasty: "img:x", "plain": "img:plain"}, "img:x")
    assert nasty not in form
    assert "&lt;x&gt;&quot;&amp;" in form
    parsed = _parse(form)
    assert len(parsed.selects) == 1
    assert [o["attrs"]["value"] for o in parsed.options] == [nasty, "plain"]
    assert [o["text"] for o in parsed.options] == [nasty, "plain"]
    assert "selected" in parsed.options[0]["attrs"]


def test_form_order_follows_mapping() -> None:
    allowed = {"z": "img:z", "a": "img:a", "m": "img:m"}
    parsed = _parse(render_options_form(allowed, ""))
    assert [o["attrs"]["value"] for o in parsed.options] == ["z", "a", "m"]


@pytest.mark.parametrize("allowed", [None, "*", {}, {"1.0": f"{REPO}:1.0"}])
def test_form_empty(allowed: AllowedImages) -> None:
    assert render_options_form(allowed, DEFAULT) == ""


# ---------------------------------------------------------------------------
# options_from_form
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("formdata", "expected"),
    [
        ({"image": ["1.0", "1.1"]}, {"image": "1.0"}),
        ({"image": ["1.0"], "other": ["x"], "cpu": ["8"]}, {"image": "1.0"}),
        ({}, {}),
        ({"image": []}, {}),
        ({"image": [""]}, {}),
        ({"other": ["x"]}, {}),
    ],
)
def test_options_from_form(formdata: dict[str, list[str]], expected: dict[str, str]) -> None:
    assert options_from_form(formdata) == expected


# ---------------------------------------------------------------------------
# validate_user_options
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_options", "expected"),
    [
        ({}, (None, [])),
        (None, (None, [])),
        ({"image": "4.0"}, ("4.0", [])),
        ({"image": ""}, (None, [])),
        ({"image": None}, (None, [])),
        ({"image": "4.0", "zeta": 1, "alpha": {}}, ("4.0", ["alpha", "zeta"])),
        ({"profile": "big"}, (None, ["profile"])),
    ],
)
def test_validate_user_options(
    user_options: dict[str, object] | None, expected: tuple[str | None, list[str]]
) -> None:
    assert validate_user_options(user_options) == expected


@pytest.mark.parametrize("bad", [1, 4.0, ["4.0"], {"tag": "4.0"}, True])
def test_validate_user_options_wrong_type(bad: object) -> None:
    with pytest.raises(web.HTTPError) as info:
        validate_user_options({"image": bad})
    err = info.value
    assert err.status_code == 400
    message = err.log_message or ""
    assert "'image'" in message
    assert type(bad).__name__ in message
    assert "\n" not in message
