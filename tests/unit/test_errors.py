"""The exceptions backends raise."""

from __future__ import annotations

from aiodockerspawner.errors import DockerOperationError


def test_reason_is_one_line_and_jupyterhub_may_relabel_it() -> None:
    e = DockerOperationError("start service", "jupyter-a", 0, "task rejected: No such image\nmore")
    assert e.reason == "start service jupyter-a failed: task rejected: No such image"
    # JupyterHub does this to every exception a spawn raises (user.py, spawn());
    # it must not fail, or the Hub answers the spawn request with HTTP 500
    e.reason = "error"
    assert e.reason == "error"
    assert "No such image" in str(e)
