"""Fixtures of the fault tests: the real-Hub factory of the end-to-end tier."""

from __future__ import annotations

from tests.e2e.conftest import start_hub

__all__ = ["start_hub"]
