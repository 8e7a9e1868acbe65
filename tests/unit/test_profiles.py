"""Unit tests for aiodockerspawner.core.profiles: configuration, selection, form parsing."""

from __future__ import annotations

from typing import Any

import pytest

from aiodockerspawner.core import options
from aiodockerspawner.core.profiles import (
    ProfileConfigError,
    ProfileRefused,
    make_slug,
    merge_setting,
    options_from_form,
    parse_profile_list,
    select,
    visible_profiles,
)

PROFILES: list[dict[str, Any]] = [
    {
        "display_name": "Small server",
        "description": "1 GB",
        "spawner_override": {"mem_limit": "1G"},
    },
    {
        "display_name": "Big",
        "slug": "big",
        "default": True,
        "kubespawner_override": {"image": "big:1", "mem_limit": "8G", "cpu_limit": 4},
        "profile_options": {
            "image": {
                "display_name": "Image",
                "choices": {
                    "lab": {"display_name": "Lab", "spawner_override": {"image": "lab:1"}},
                    "r": {
                        "display_name": "R",
                        "default": True,
                        "spawner_override": {"image": "r:1"},
                    },
                },
                "unlisted_choice": {
                    "enabled": True,
                    "display_name": "Other image",
                    "validation_regex": r"registry\.example\.org/[a-z0-9/._-]+:[a-z0-9._-]+",
                    "validation_message": "an image of registry.example.org, with a tag",
                    "spawner_override": {"image": "{value}", "environment": {"IMG": "{value}"}},
                },
            },
            "size": {
                "choices": {
                    "m": {"spawner_override": {"mem_limit": "16G"}},
                    "l": {"spawner_override": {"mem_limit": "32G"}},
                }
            },
        },
    },
    {
        "display_name": "GPU",
        "slug": "gpu",
        "allowed_groups": ["gpu-users"],
        "allowed_users": ["root-user"],
        "spawner_override": {"gpus": 1},
    },
]

PARSED = parse_profile_list(PROFILES)


def pick(user_options: dict[str, Any], user: str = "alice", groups: tuple[str, ...] = ()) -> Any:
    selection = select(PARSED, user_options, user=user, groups=groups)
    assert selection is not None
    return selection


def applied(selection: Any) -> dict[str, Any]:
    """The overrides in order, merged the way the spawner sets them."""
    result: dict[str, Any] = {}
    for _, override in selection.overrides:
        result = merge_setting(result, override)
    return result


# -- configuration ---------------------------------------------------------------


def test_parsed_profiles() -> None:
    small, big, gpu = PARSED
    assert (small.slug, small.display_name, small.description) == (
        "small-server",
        "Small server",
        "1 GB",
    )
    assert big.override == {"image": "big:1", "mem_limit": "8G", "cpu_limit": 4}
    assert [o.name for o in big.options] == ["image", "size"]
    image = big.options[0]
    assert [c.slug for c in image.choices] == ["lab", "r"]
    assert image.default_choice is not None and image.default_choice.slug == "r"
    assert big.options[1].default_choice is not None and big.options[1].default_choice.slug == "m"
    assert big.options[1].display_name == "size"
    assert image.unlisted is not None and image.unlisted.display_name_in_choices == "Other image"
    assert gpu.allowed_groups == frozenset({"gpu-users"})


@pytest.mark.parametrize("empty", [None, []])
def test_no_profiles(empty: Any) -> None:
    assert parse_profile_list(empty) == []
    assert select([], {"profile": "x"}, user="a", groups=()) is None


@pytest.mark.parametrize(
    ("profile_list", "message"),
    [
        ("big", "expected a list"),
        ({"display_name": "x"}, "expected a list"),
        (["x"], "profile_list[0]: expected a dict"),
        ([{}], "display_name: expected a string"),
        ([{"display_name": "A", "memory": "1G"}], "unknown key(s) 'memory'"),
        ([{"display_name": "A"}, {"display_name": "a"}], "two profiles have the slug 'a'"),
        ([{"display_name": "A", "slug": "a b"}], "slug: 'a b'"),
        ([{"display_name": "A", "slug": "a--b"}], "slug: 'a--b'"),
        ([{"display_name": "A", "default": "yes"}], "expected True or False"),
        ([{"display_name": "A", "allowed_groups": "staff"}], "expected a list of names"),
        ([{"display_name": "A", "allowed_users": [1]}], "expected names"),
        ([{"display_name": "A", "spawner_override": ["image"]}], "expected a dict of settings"),
        ([{"display_name": "A", "spawner_override": {"not valid": 1}}], "is not a setting name"),
        (
            [{"display_name": "A", "spawner_override": {}, "kubespawner_override": {}}],
            "not both",
        ),
        (
            [{"display_name": "A", "profile_options": {"profile": {"choices": {"x": {}}}}}],
            "not 'profile'",
        ),
        (
            [{"display_name": "A", "profile_options": {"a--b": {"choices": {"x": {}}}}}],
            "option name",
        ),
        ([{"display_name": "A", "profile_options": {"o": {}}}], "needs choices"),
        (
            [{"display_name": "A", "profile_options": {"o": {"choices": {"x": {"k": 1}}}}}],
            "unknown key",
        ),
        (
            [{"display_name": "A", "profile_options": {"o": {"choices": {"unlisted_choice": {}}}}}],
            "not a valid choice name",
        ),
        (
            [
                {
                    "display_name": "A",
                    "profile_options": {"o": {"unlisted_choice": {"enabled": True}}},
                }
            ],
            "validation_regex: required",
        ),
        (
            [
                {
                    "display_name": "A",
                    "profile_options": {
                        "o": {"unlisted_choice": {"enabled": True, "validation_regex": "("}}
                    },
                }
            ],
            "validation_regex: missing )",
        ),
        (
            [
                {
                    "display_name": "A",
                    "profile_options": {"o": {"unlisted_choice": {"enabled": False}}},
                }
            ],
            "needs choices",
        ),
    ],
)
def test_bad_configuration_names_the_entry(profile_list: Any, message: str) -> None:
    with pytest.raises(ProfileConfigError) as info:
        parse_profile_list(profile_list)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("name", "slug"),
    [("Big server", "big-server"), ("GPU (A100) x2", "gpu-a100-x2"), ("???", "profile")],
)
def test_slugs_from_display_names(name: str, slug: str) -> None:
    assert make_slug(name) == slug


# -- who sees what -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "groups", "slugs"),
    [
        ("alice", (), ["small-server", "big"]),
        ("alice", ("staff",), ["small-server", "big"]),
        ("alice", ("gpu-users",), ["small-server", "big", "gpu"]),
        ("root-user", (), ["small-server", "big", "gpu"]),
    ],
)
def test_visible_profiles_follow_groups_and_users(
    user: str, groups: tuple[str, ...], slugs: list[str]
) -> None:
    assert [p.slug for p in visible_profiles(PARSED, user, groups)] == slugs


def test_a_profile_outside_the_users_groups_is_refused_like_an_unknown_one() -> None:
    with pytest.raises(ProfileRefused) as hidden:
        pick({"profile": "gpu"})
    with pytest.raises(ProfileRefused) as unknown:
        pick({"profile": "nope"})
    assert str(hidden.value) == (
        "Profile 'gpu' is not offered to user 'alice'; choose one of: small-server, big"
    )
    assert str(unknown.value).replace("'nope'", "'gpu'") == str(hidden.value)
    assert pick({"profile": "gpu"}, groups=("gpu-users",)).profile.slug == "gpu"


def test_no_visible_profile_is_refused() -> None:
    only_gpu = parse_profile_list([PROFILES[2]])
    with pytest.raises(ProfileRefused, match="No server profile is offered to user 'alice'"):
        select(only_gpu, {}, user="alice", groups=())


# -- selection -----------------------------------------------------------------------


def test_no_profile_key_selects_the_default_with_default_choices() -> None:
    selection = pick({})
    assert selection.profile.slug == "big"
    assert selection.choices == {"image": "r", "size": "m"}
    assert applied(selection) == {"image": "r:1", "mem_limit": "16G", "cpu_limit": 4}


def test_without_a_marked_default_the_first_visible_profile_is_the_default() -> None:
    plain = parse_profile_list([PROFILES[2], PROFILES[0]])
    selection = select(plain, {}, user="alice", groups=())
    assert selection is not None and selection.profile.slug == "small-server"


def test_choices_override_on_top_of_the_profile_in_order() -> None:
    selection = pick({"profile": "big", "image": "lab", "size": "l"})
    assert [where for where, _ in selection.overrides] == [
        "profile 'big'",
        "profile 'big', option 'image' choice 'lab'",
        "profile 'big', option 'size' choice 'l'",
    ]
    assert applied(selection) == {"image": "lab:1", "mem_limit": "32G", "cpu_limit": 4}
    assert selection.consumed == {
        "profile",
        "image",
        "image--unlisted-choice",
        "size",
        "size--unlisted-choice",
    }


def test_a_profile_without_options_consumes_only_profile() -> None:
    selection = pick({"profile": "small-server", "image": "x"})
    assert selection.consumed == {"profile"}
    assert applied(selection) == {"mem_limit": "1G"}


@pytest.mark.parametrize(
    "user_options",
    [
        {"profile": "big", "image--unlisted-choice": "registry.example.org/team/nb:2"},
        {
            "profile": "big",
            "image": "unlisted_choice",
            "image--unlisted-choice": "registry.example.org/team/nb:2",
        },
        {
            "profile": "big",
            "image": "--unlisted-choice",
            "image--unlisted-choice": "registry.example.org/team/nb:2",
        },
    ],
)
def test_free_text_goes_where_value_stands(user_options: dict[str, str]) -> None:
    selection = pick(user_options)
    assert selection.choices["image"] == "registry.example.org/team/nb:2"
    assert applied(selection)["image"] == "registry.example.org/team/nb:2"
    assert applied(selection)["environment"] == {"IMG": "registry.example.org/team/nb:2"}


@pytest.mark.parametrize(
    ("user_options", "message"),
    [
        ({"profile": 3}, "Invalid user option 'profile': expected a string, got int"),
        ({"profile": ["big"]}, "expected a string, got list"),
        (
            {"profile": "big", "image": "cobol"},
            "option 'image': 'cobol' is not offered; choose one of: lab, r or free text",
        ),
        (
            {"profile": "big", "size": "xxl"},
            "option 'size': 'xxl' is not offered; choose one of: m, l",
        ),
        ({"profile": "big", "size": {"$ne": 1}}, "Invalid user option 'size'"),
        (
            {"profile": "big", "size--unlisted-choice": "64G"},
            "option 'size': free text is not accepted",
        ),
        ({"profile": "big", "image": "unlisted_choice"}, "the free text is missing"),
        (
            {
                "profile": "big",
                "image": "lab",
                "image--unlisted-choice": "registry.example.org/a:1",
            },
            "both the choice 'lab' and free text were sent",
        ),
        (
            {"profile": "big", "image--unlisted-choice": "evil/image:latest"},
            "'evil/image:latest' is not accepted: an image of registry.example.org, with a tag",
        ),
        (
            # the whole text must match, not a prefix of it
            {"profile": "big", "image--unlisted-choice": "registry.example.org/a:1 --privileged"},
            "is not accepted: an image",
        ),
        (
            {"profile": "big", "image--unlisted-choice": "registry.example.org/a:1\n"},
            "no braces or control characters",
        ),
        (
            {"profile": "big", "image--unlisted-choice": "registry.example.org/{username}:1"},
            "no braces or control characters",
        ),
        (
            {
                "profile": "big",
                "image--unlisted-choice": "registry.example.org/" + "a" * 2000 + ":1",
            },
            "longer than 1024 characters",
        ),
    ],
)
def test_refusals_name_what_was_refused(user_options: dict[str, Any], message: str) -> None:
    with pytest.raises(ProfileRefused) as info:
        pick(user_options)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_the_regex_message_defaults_to_the_regex() -> None:
    profile = parse_profile_list(
        [
            {
                "display_name": "Free",
                "profile_options": {
                    "image": {
                        "unlisted_choice": {
                            "enabled": True,
                            "validation_regex": "^ok/.+$",
                            "spawner_override": {"image": "{value}"},
                        }
                    }
                },
            }
        ]
    )
    with pytest.raises(ProfileRefused, match=r"it must match \^ok/\.\+\$"):
        select(profile, {"image--unlisted-choice": "no"}, user="a", groups=())
    with pytest.raises(ProfileRefused, match="a value is required"):
        select(profile, {}, user="a", groups=())
    selection = select(profile, {"image--unlisted-choice": "ok/x"}, user="a", groups=())
    assert selection is not None and applied(selection) == {"image": "ok/x"}


def test_overrides_are_copies() -> None:
    selection = pick({"profile": "big", "image--unlisted-choice": "registry.example.org/a:1"})
    for _, override in selection.overrides:
        for value in override.values():
            if isinstance(value, dict):
                value["changed"] = "yes"
    assert "changed" not in str(PROFILES)


# -- merging -----------------------------------------------------------------------


def test_merge_setting() -> None:
    current = {"A": "1", "B": {"x": 1, "y": 2}, "C": "3"}
    merged = merge_setting(current, {"B": {"y": None, "z": 3}, "C": None, "D": "4"})
    assert merged == {"A": "1", "B": {"x": 1, "z": 3}, "D": "4"}
    assert current == {"A": "1", "B": {"x": 1, "y": 2}, "C": "3"}


# -- the form ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("formdata", "expected"),
    [
        ({}, {}),
        ({"profile": ["big"]}, {"profile": "big"}),
        (
            {
                "profile": ["big"],
                "profile-option-big--image": ["lab"],
                "profile-option-big--image--unlisted-choice": ["ignored/because:listed"],
                "profile-option-big--size": ["l"],
                "profile-option-small-server--size": ["x"],
                "_xsrf": ["token"],
                "privileged": ["1"],
            },
            {"profile": "big", "image": "lab", "size": "l"},
        ),
        (
            {
                "profile": ["big"],
                "profile-option-big--image": ["unlisted_choice"],
                "profile-option-big--image--unlisted-choice": ["registry.example.org/a:1"],
            },
            {"profile": "big", "image--unlisted-choice": "registry.example.org/a:1"},
        ),
        (
            {
                "profile": ["big"],
                "profile-option-big--image": ["unlisted_choice"],
                "profile-option-big--image--unlisted-choice": [""],
            },
            {"profile": "big", "image": "unlisted_choice"},
        ),
        ({"image": ["alt"], "profile": [""]}, {"image": "alt"}),
        ({"image": ["alt"], "profile": ["gpu"]}, {"image": "alt", "profile": "gpu"}),
    ],
)
def test_options_from_the_form(formdata: dict[str, list[str]], expected: dict[str, str]) -> None:
    assert options.options_from_form(formdata) == expected


def test_form_options_round_trip_through_select() -> None:
    user_options = options.options_from_form(
        {
            "profile": ["big"],
            "profile-option-big--image": ["unlisted_choice"],
            "profile-option-big--image--unlisted-choice": ["registry.example.org/a:1"],
            "profile-option-big--size": ["l"],
        }
    )
    selection = pick(user_options)
    assert applied(selection)["image"] == "registry.example.org/a:1"
    assert applied(selection)["mem_limit"] == "32G"
    assert options_from_form({"profile": ["x"]}) == {"profile": "x"}
