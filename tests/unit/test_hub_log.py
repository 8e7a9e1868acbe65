"""The package's module loggers write to the Hub's log (as in a JupyterHub process).

JupyterHub logs through its own logger and leaves the root logger without
handlers; under pytest the root logger has handlers, so this runs in a fresh
interpreter.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import io, logging
    from aiodockerspawner.prepulling import share_hub_log

    out = io.StringIO()
    hub = logging.getLogger("JupyterHub")
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("[%(levelname)s %(name)s] %(message)s"))
    hub.addHandler(handler)
    hub.setLevel(logging.DEBUG)
    hub.propagate = False

    logging.getLogger("aiodockerspawner.backends.docker.pulls").info("before")
    share_hub_log(hub)
    share_hub_log(hub)  # once only
    logging.getLogger("aiodockerspawner.backends.docker.pulls").info("Pulling image x")
    print(out.getvalue(), end="")
    """
)


def test_module_loggers_reach_the_hub_log() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.splitlines() == [
        "[INFO aiodockerspawner.backends.docker.pulls] Pulling image x"
    ], result
