"""Profiles on the spawners: overrides set on the traits, the image option, the form."""

from __future__ import annotations

import asyncio
from html.parser import HTMLParser
from typing import Any

import pytest
from tornado import web

from aiodockerspawner import DockerSpawner, SwarmSpawner
from tests.helpers import make_spawner

G = 1024**3

PROFILES: list[dict[str, Any]] = [
    {"display_name": "Small", "slug": "small", "spawner_override": {"mem_limit": "1G"}},
    {
        "display_name": "Big",
        "slug": "big",
        "description": "8 GB <b>and</b> 4 CPUs",
        "spawner_override": {
            "image": "big:1",
            "mem_limit": "8G",
            "cpu_limit": 4,
            "environment": {"PROFILE": "big"},
        },
        "profile_options": {
            "flavour": {
                "display_name": "Flavour",
                "choices": {
                    "plain": {"display_name": "Plain", "default": True},
                    "r": {"display_name": "R", "spawner_override": {"image": "big-r:1"}},
                },
                "unlisted_choice": {
                    "enabled": True,
                    "display_name": "Image",
                    "validation_regex": r"big-[a-z]+:[0-9]+",
                    "spawner_override": {"image": "{value}"},
                },
            }
        },
    },
    {
        "display_name": "Staff only",
        "slug": "staff",
        "allowed_groups": ["staff"],
        "spawner_override": {"cpu_limit": 16},
    },
]


def spawner_with(cls: type[DockerSpawner] = DockerSpawner, **kw: Any) -> Any:
    kw.setdefault("profile_list", PROFILES)
    kw.setdefault("image", "configured:1")
    return make_spawner(cls, **kw)


async def apply(spawner: Any, user_options: dict[str, Any]) -> None:
    spawner.user_options = user_options
    await spawner._run_apply_user_options(user_options)


@pytest.mark.parametrize("cls", [DockerSpawner, SwarmSpawner])
async def test_a_profile_sets_image_memory_and_cpu(cls: type[DockerSpawner]) -> None:
    spawner = spawner_with(cls, environment={"GLOBAL": "1"})
    await apply(spawner, {"profile": "big"})
    assert (spawner.image, spawner.mem_limit, spawner.cpu_limit) == ("big:1", 8 * G, 4)
    assert spawner.environment == {"GLOBAL": "1", "PROFILE": "big"}
    spec = await spawner.build_spec()
    assert (spec.image, spec.mem_limit, spec.cpu_limit) == ("big:1", 8 * G, 4.0)
    assert spec.env["PROFILE"] == "big" and spec.env["GLOBAL"] == "1"


async def test_a_choice_overrides_on_top_and_free_text_too() -> None:
    spawner = spawner_with()
    await apply(spawner, {"profile": "big", "flavour": "r"})
    assert (spawner.image, spawner.mem_limit) == ("big-r:1", 8 * G)
    await apply(spawner, {"profile": "big", "flavour--unlisted-choice": "big-x:2"})
    assert spawner.image == "big-x:2"


async def test_the_next_start_begins_from_the_configuration() -> None:
    spawner = spawner_with(environment={"GLOBAL": "1"})
    await apply(spawner, {"profile": "big"})
    await apply(spawner, {"profile": "small"})
    assert (spawner.image, spawner.mem_limit, spawner.cpu_limit) == (
        "configured:1",
        G,
        0.0,
    )  # unset reads 0.0, as in dockerspawner
    assert spawner.environment == {"GLOBAL": "1"}


async def test_a_callable_resource_setting_comes_back_after_a_profile() -> None:
    spawner = spawner_with(mem_limit=lambda s: "2G", profile_list=PROFILES[:1])
    await apply(spawner, {"profile": "small"})
    assert spawner.mem_limit == G
    spawner.profile_list = []
    await apply(spawner, {})
    assert spawner._resource_callable("mem_limit") is not None
    assert (await spawner.build_spec()).mem_limit == 2 * G


@pytest.mark.parametrize(
    ("user_options", "message"),
    [
        ({"profile": "huge"}, "Profile 'huge' is not offered to user"),
        ({"profile": "staff"}, "Profile 'staff' is not offered to user"),
        ({"profile": "big", "flavour": "cobol"}, "'cobol' is not offered"),
        ({"profile": "big", "flavour--unlisted-choice": "evil:1"}, "'evil:1' is not accepted"),
        ({"profile": "big", "privileged": True}, "Unknown user option(s) 'privileged'"),
        ({"profile": "small", "image": "other"}, "Choosing an image is not allowed"),
    ],
)
async def test_refusals_are_400_and_change_nothing(
    user_options: dict[str, Any], message: str
) -> None:
    spawner = spawner_with()
    with pytest.raises(web.HTTPError) as info:
        await apply(spawner, user_options)
    assert info.value.status_code == 400
    assert message in str(info.value.log_message)
    assert (spawner.image, spawner.mem_limit, spawner.cpu_limit) == (
        "configured:1",
        0,
        0.0,
    )  # unset, as dockerspawner reads it


async def test_groups_decide_who_may_request_a_profile() -> None:
    spawner = spawner_with(groups=["staff"])
    await apply(spawner, {"profile": "staff"})
    assert spawner.cpu_limit == 16


async def test_no_profile_key_applies_the_users_default() -> None:
    spawner = spawner_with()
    await apply(spawner, {})
    assert spawner.mem_limit == G  # the first profile: none is marked default


async def test_the_image_option_applies_on_top_of_the_profile() -> None:
    spawner = spawner_with(allowed_images={"alt": "alt:1"})
    await apply(spawner, {"profile": "big", "image": "alt"})
    assert (spawner.image, spawner.mem_limit) == ("alt:1", 8 * G)


async def test_a_profile_may_set_its_own_allowed_images() -> None:
    profiles = [
        {"display_name": "A", "spawner_override": {"allowed_images": {"x": "x:1"}}},
        {"display_name": "B"},
    ]
    spawner = spawner_with(profile_list=profiles)
    await apply(spawner, {"profile": "a", "image": "x"})
    assert spawner.image == "x:1"
    with pytest.raises(web.HTTPError, match="not allowed"):
        await apply(spawner, {"profile": "b", "image": "x"})


async def test_an_option_named_image_is_the_profiles_option() -> None:
    profiles = [
        {
            "display_name": "A",
            "profile_options": {
                "image": {"choices": {"lab": {"spawner_override": {"image": "lab:1"}}}}
            },
        }
    ]
    spawner = spawner_with(profile_list=profiles, allowed_images={"lab": "not-this:1"})
    await apply(spawner, {"profile": "a", "image": "lab"})
    assert spawner.image == "lab:1"


@pytest.mark.parametrize("is_async", [False, True])
async def test_profile_list_may_be_a_callable_of_the_spawner(is_async: bool) -> None:
    def build(spawner: Any) -> list[dict[str, Any]]:
        return [{"display_name": f"For {spawner.user.name}", "slug": "mine"}]

    async def build_async(spawner: Any) -> list[dict[str, Any]]:
        await asyncio.sleep(0)
        return build(spawner)

    spawner = spawner_with(user="carol", profile_list=build_async if is_async else build)
    await apply(spawner, {"profile": "mine"})
    assert "For carol" in await spawner.render_profile_form()


async def test_callable_values_in_an_override_are_called_with_the_spawner() -> None:
    async def limit(spawner: Any) -> str:
        return "3G"

    profiles = [{"display_name": "A", "spawner_override": {"mem_limit": limit}}]
    spawner = spawner_with(profile_list=profiles)
    await apply(spawner, {})
    assert spawner.mem_limit == 3 * G


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"no_such_setting": 1}, "'no_such_setting' is not a setting a profile may set"),
        ({"profile_list": []}, "'profile_list' is not a setting a profile may set"),
        ({"object_name": "x"}, "'object_name' is not a setting"),
        ({"mem_limit": "lots"}, "mem_limit = 'lots'"),
    ],
)
async def test_a_bad_override_is_a_configuration_error(
    override: dict[str, Any], message: str
) -> None:
    spawner = spawner_with(profile_list=[{"display_name": "A", "spawner_override": override}])
    with pytest.raises(web.HTTPError) as info:
        await apply(spawner, {})
    assert info.value.status_code == 500
    assert "profiles are misconfigured" in str(info.value.log_message)
    assert message in str(info.value.log_message)


async def test_a_bad_profile_list_is_a_configuration_error() -> None:
    spawner = spawner_with(profile_list=[{"slug": "no-display-name"}])
    with pytest.raises(web.HTTPError) as info:
        await apply(spawner, {})
    assert info.value.status_code == 500
    assert "display_name" in str(info.value.log_message)


# -- the form ----------------------------------------------------------------------


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, str | None]] = []
        self.selects: list[str] = []
        self.options: list[tuple[str | None, bool]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "input":
            self.inputs.append(a)
        elif tag == "select":
            self.selects.append(str(a["name"]))
        elif tag == "option":
            self.options.append((a.get("value"), "selected" in a))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


async def form_of(spawner: Any) -> _Form:
    html = await spawner.get_options_form()
    parsed = _Form()
    parsed.feed(html)
    return parsed


async def test_the_form_lists_the_users_profiles_only() -> None:
    form = await form_of(spawner_with())
    radios = [i for i in form.inputs if i.get("type") == "radio"]
    assert [r["value"] for r in radios] == ["small", "big"]
    assert "checked" in radios[0]  # the default: the first, none is marked
    assert form.selects == ["profile-option-big--flavour"]
    assert form.options == [("plain", True), ("r", False), ("unlisted_choice", False)]
    texts = [i for i in form.inputs if i.get("type") == "text"]
    assert [t["name"] for t in texts] == ["profile-option-big--flavour--unlisted-choice"]
    assert "8 GB <b>and</b> 4 CPUs" in "".join(form.text)  # escaped, shown as text
    staff = await form_of(spawner_with(groups=["staff"]))
    assert [i["value"] for i in staff.inputs if i.get("type") == "radio"] == [
        "small",
        "big",
        "staff",
    ]


async def test_the_form_preselects_the_previous_choices() -> None:
    spawner = spawner_with()
    spawner.user_options = {"profile": "big", "flavour--unlisted-choice": "big-x:2"}
    form = await form_of(spawner)
    radios = {str(i["value"]): "checked" in i for i in form.inputs if i.get("type") == "radio"}
    assert radios == {"small": False, "big": True}
    assert ("unlisted_choice", True) in form.options
    texts = [i for i in form.inputs if i.get("type") == "text"]
    assert texts[0]["value"] == "big-x:2"


async def test_the_form_template_can_be_replaced() -> None:
    spawner = spawner_with(
        profile_form_template="{% for p in profiles %}<i>{{ p.slug }}</i>{% endfor %}"
    )
    assert await spawner.get_options_form() == "<i>small</i><i>big</i>"


async def test_the_form_parse_and_apply_round_trip() -> None:
    spawner = spawner_with()
    user_options = spawner.run_options_from_form(
        {
            "profile": ["big"],
            "profile-option-big--flavour": ["unlisted_choice"],
            "profile-option-big--flavour--unlisted-choice": ["big-y:3"],
            "profile-option-small--x": ["ignored"],
            "_xsrf": ["token"],
        }
    )
    assert user_options == {"profile": "big", "flavour--unlisted-choice": "big-y:3"}
    await apply(spawner, user_options)
    assert spawner.image == "big-y:3"


async def test_without_profiles_the_form_is_the_image_select() -> None:
    spawner = make_spawner(allowed_images={"a": "a:1", "b": "b:1"})
    assert 'name="image"' in await spawner.get_options_form()


async def test_prepull_allowed_takes_the_images_of_the_profiles_and_their_choices() -> None:
    profile_list = [
        {"display_name": "Small", "slug": "small", "kubespawner_override": {"image": "s:1"}},
        {
            "display_name": "Big",
            "slug": "big",
            "kubespawner_override": {"image": "b:1"},
            "profile_options": {
                "flavour": {
                    "display_name": "Flavour",
                    "choices": {
                        "r": {"display_name": "R", "kubespawner_override": {"image": "b-r:1"}},
                        "same": {"display_name": "S", "kubespawner_override": {"image": "s:1"}},
                    },
                    "unlisted_choice": {
                        "enabled": True,
                        "display_name": "Other",
                        "validation_regex": "^[a-z:0-9]+$",
                        "kubespawner_override": {"image": "{value}"},
                    },
                }
            },
        },
    ]

    async def by_user(spawner: Any) -> list[dict[str, Any]]:
        return profile_list

    for value in (profile_list, by_user):
        spawner = make_spawner(
            DockerSpawner,
            image="configured:1",
            allowed_images={"a": "a:1"},
            profile_list=value,
            prepull_images="allowed",
        )
        # each image once; free text cannot be known in advance
        assert await spawner.images_to_prepull() == ["configured:1", "a:1", "s:1", "b:1", "b-r:1"]
