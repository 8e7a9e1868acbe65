"""The configurations in docs/profiles.md are valid and do what the page says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from tornado import web
from traitlets.config import Config

from aiodockerspawner.core.profiles import parse_profile_list
from aiodockerspawner.testing.spawners import make_spawner

PAGE = Path(__file__).resolve().parents[2] / "docs" / "profiles.md"
G = 1024**3


def examples() -> dict[str, Config]:
    """The complete examples (## Example: ...), executed into a configuration each."""
    text = PAGE.read_text()
    found = {}
    for title, body in re.findall(r"^## Example: (.+?)\n(.*?)(?=^## |\Z)", text, re.M | re.S):
        (code,) = re.findall(r"```python\n(.*?)```", body, re.S)
        c = Config()
        exec(code, {"c": c})
        found[title] = c
    return found


EXAMPLES = examples()


def test_the_page_has_the_three_examples() -> None:
    assert list(EXAMPLES) == [
        "images and sizes",
        "GPU tiers by group",
        "free-text image with a regular expression",
    ]


@pytest.mark.parametrize("title", list(EXAMPLES))
def test_every_example_parses(title: str) -> None:
    assert parse_profile_list(EXAMPLES[title].DockerSpawner.profile_list)


async def apply(config: Config, user_options: dict[str, Any], **kw: Any) -> Any:
    spawner = make_spawner(config=config, **kw)
    await spawner._run_apply_user_options(user_options)
    return spawner


async def test_images_and_sizes() -> None:
    spawner = await apply(
        EXAMPLES["images and sizes"], {"profile": "datascience", "memory": "16g", "flavour": "r"}
    )
    assert spawner.image == "quay.io/jupyter/r-notebook:2025-01-06"
    assert (spawner.cpu_limit, spawner.mem_limit) == (4, 16 * G)


async def test_gpu_tiers_by_group() -> None:
    config = EXAMPLES["GPU tiers by group"]
    for groups, visible in [
        ([], ["cpu"]),
        (["gpu-users"], ["cpu", "gpu-1"]),
        (["gpu-power-users"], ["cpu", "gpu-1", "gpu-2"]),
    ]:
        form = await make_spawner(config=config, groups=groups).get_options_form()
        assert re.findall(r'name="profile"\s+id="[^"]+"\s+value="([^"]+)"', form) == visible
    spawner = await apply(config, {"profile": "gpu-2"}, groups=["gpu-power-users"])
    assert spawner.gpus == 2 and spawner.gpu_assignment == "exclusive"
    with pytest.raises(web.HTTPError, match="not offered"):
        await apply(config, {"profile": "gpu-2"}, groups=["gpu-users"])


async def test_free_text_image() -> None:
    config = EXAMPLES["free-text image with a regular expression"]
    image = "registry.example.org/physics/sim:3"
    spawner = await apply(config, {"profile": "custom", "image--unlisted-choice": image})
    assert spawner.image == image and spawner.environment["CUSTOM_IMAGE"] == image
    for text in ["docker.io/evil/image:latest", "registry.example.org/a/b:1 --privileged"]:
        with pytest.raises(web.HTTPError) as info:
            await apply(config, {"profile": "custom", "image--unlisted-choice": text})
        assert info.value.status_code == 400
