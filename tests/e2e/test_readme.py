"""The README's minimal configuration, exactly as written, runs a real Hub whose
servers answer through the proxy.

The Hub gets the README's block followed only by what the test harness needs
(``start_hub(..., common_config=False)``): its ports and files, a service token
to drive it, the local single-user image (no registry is reachable here) and
this test run's prefix and hub id. Nothing about how containers reach the Hub
is added, so a README without a working ``hub_connect_ip`` fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import HubFactory
from tests.e2e.test_hub import containers, server_status, wait_ready, wait_stopped

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
#: the first line of the README's configuration block
MARKER = "# jupyterhub_config.py\n"


def readme_config() -> str:
    """The README's ``jupyterhub_config.py`` block, verbatim."""
    blocks = re.findall(r"^```python\n(.*?)^```$", README.read_text(), flags=re.S | re.M)
    config = [block for block in blocks if block.startswith(MARKER)]
    assert len(config) == 1, f"README.md must have one python block starting {MARKER!r}"
    return config[0]


def test_readme_configuration_runs_a_server(start_hub: HubFactory) -> None:
    config = readme_config()
    # the block is what an admin copies: it names the entry point, not a test setting
    assert 'c.JupyterHub.spawner_class = "aiodocker"' in config
    hub = start_hub("readme", config, common_config=False)

    # one of the README's allowed users (JupyterHub adds them at startup),
    # started through the admin API
    name = "alice"
    assert hub.api("GET", f"users/{name}").status_code == 200
    resp = hub.api("POST", f"users/{name}/server", json={})
    assert resp.status_code in (201, 202), resp.text
    wait_ready(hub, name, "")
    assert f"{hub.prefix}-{name}" in containers(hub.prefix)

    # Through the proxy with the user's token: the server checks the token
    # with the Hub's API, so a 200 also proves the container reaches the Hub.
    status = server_status(hub, name)
    assert status.status_code == 200, f"{status.status_code} {status.text}\n{hub.log_tail()}"
    assert "kernels" in status.json()

    resp = hub.api("DELETE", f"users/{name}/server")
    assert resp.status_code in (202, 204), resp.text
    wait_stopped(hub, name, "")
    # the README sets remove = True
    assert f"{hub.prefix}-{name}" not in containers(hub.prefix)
