"""The profile form in headless Chromium: a user sees their groups' profiles and spawns one.

The Hub (tests/e2e/conftest.py) runs tiny servers (tests/faults/servers.py),
whose page carries a marker: landing on it means the server was spawned and
the browser followed the Hub to it.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from tests.browser.conftest import log_in
from tests.e2e.conftest import HubFactory, RunningHub
from tests.e2e.test_profiles_hub import created
from tests.faults.servers import READY_MARKER, tiny_hub_config, wait_ready, wait_stopped

pytestmark = pytest.mark.e2e

#: where the documentation's screenshot lives; rewritten with AIODOCKERSPAWNER_SCREENSHOTS=1
DOC_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "_static" / "profiles-form.png"


def profiles(big_image: str) -> str:
    return textwrap.dedent(
        f"""
        c.JupyterHub.load_groups = {{
            "physics": {{"users": ["ada"]}},
            "chemistry": {{"users": ["carl"]}},
        }}
        c.DockerSpawner.profile_list = [
            {{
                "display_name": "Standard",
                "slug": "standard",
                "description": "1 CPU, 512 MB: for most work",
                "spawner_override": {{"mem_limit": "512M", "cpu_limit": 1}},
            }},
            {{
                "display_name": "Physics: simulation",
                "slug": "physics-sim",
                "description": "4 CPUs, 2 GB, the simulation image",
                "allowed_groups": ["physics"],
                "spawner_override": {{"image": {big_image!r}, "mem_limit": "2G"}},
                "profile_options": {{
                    "cpus": {{
                        "display_name": "CPUs",
                        "choices": {{
                            "two": {{
                                "display_name": "2 CPUs",
                                "spawner_override": {{"cpu_limit": 2}},
                            }},
                            "four": {{
                                "display_name": "4 CPUs",
                                "default": True,
                                "spawner_override": {{"cpu_limit": 4}},
                            }},
                        }},
                    }},
                    "image": {{
                        "display_name": "Image",
                        "choices": {{"sim": {{"display_name": "Simulation (default)"}}}},
                        "unlisted_choice": {{
                            "enabled": True,
                            "display_name": "Your own image",
                            "display_name_in_choices": "Other...",
                            "validation_regex": r"aiodockerspawner-test/[a-z]+:[a-z0-9]+",
                            "validation_message": "An image of aiodockerspawner-test/, with a tag",
                            "spawner_override": {{"image": "{{value}}"}},
                        }},
                    }},
                }},
            }},
            {{
                "display_name": "Chemistry: big memory",
                "slug": "chem-big",
                "description": "16 GB",
                "allowed_groups": ["chemistry"],
                "spawner_override": {{"mem_limit": "16G"}},
            }},
        ]
        """
    )


@pytest.fixture(scope="module")
def hub(start_hub: HubFactory, tiny_image: str, second_tiny_image: str) -> Iterator[RunningHub]:
    running = start_hub(
        "browser", tiny_hub_config(tiny_image, remove=True) + profiles(second_tiny_image)
    )
    yield running
    running.stop()


def test_a_user_sees_their_groups_profiles_and_spawns_one(
    browser: webdriver.Chrome, hub: RunningHub, second_tiny_image: str, tmp_path: Path
) -> None:
    name = "ada"
    try:
        log_in(browser, hub.url, name)
        browser.get(f"{hub.url}/hub/spawn")
        form = WebDriverWait(browser, 30).until(
            expected_conditions.presence_of_element_located((By.ID, "spawn_form"))
        )
        radios = form.find_elements(By.CSS_SELECTOR, "input[type=radio][name=profile]")
        # ada is in physics, not chemistry
        assert [r.get_attribute("value") for r in radios] == ["standard", "physics-sim"]
        assert radios[0].is_selected()
        assert "Chemistry" not in form.text
        assert "4 CPUs, 2 GB, the simulation image" in form.text

        radios[1].click()
        cpus = Select(form.find_element(By.NAME, "profile-option-physics-sim--cpus"))
        assert cpus.first_selected_option.get_attribute("value") == "four"
        cpus.select_by_value("two")
        shot = tmp_path / "profiles-form.png"
        browser.save_screenshot(str(shot))
        if os.environ.get("AIODOCKERSPAWNER_SCREENSHOTS"):
            shutil.copyfile(shot, DOC_SCREENSHOT)
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

        # the spawn-pending page follows the start and then goes to the server
        WebDriverWait(browser, 90).until(
            lambda b: READY_MARKER in b.page_source and f"/user/{name}/" in b.current_url
        )
        container = f"{hub.prefix}-{name}"
        inspect = hub.api("GET", f"users/{name}").json()["servers"][""]
        assert inspect["ready"]
        assert inspect["user_options"] == {"profile": "physics-sim", "cpus": "two", "image": "sim"}
        assert created("container", container) == {
            "image": second_tiny_image,
            "memory": 2 * 1024**3,
            "cpus": 2.0,
        }
    finally:
        hub.api("DELETE", f"users/{name}/server")
        wait_stopped(hub, [(name, "")])


def test_the_form_works_without_javascript(
    browser_without_js: webdriver.Chrome, hub: RunningHub
) -> None:
    name = "carl"  # chemistry
    browser = browser_without_js
    try:
        log_in(browser, hub.url, name)
        browser.get(f"{hub.url}/hub/spawn")
        form = browser.find_element(By.ID, "spawn_form")
        radios = form.find_elements(By.CSS_SELECTOR, "input[type=radio][name=profile]")
        assert [r.get_attribute("value") for r in radios] == ["standard", "chem-big"]
        radios[1].click()
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        # without JavaScript the pending page cannot follow the start: ask the Hub
        wait_ready(hub, [(name, "")])
        model = hub.api("GET", f"users/{name}").json()["servers"][""]
        assert model["user_options"] == {"profile": "chem-big"}
        assert created("container", f"{hub.prefix}-{name}")["memory"] == 16 * 1024**3
    finally:
        hub.api("DELETE", f"users/{name}/server")
        wait_stopped(hub, [(name, "")])
