"""Sphinx configuration: the Markdown pages (MyST) and a reference generated from the traits.

Build: ``nox -s docs`` (warnings are errors).
"""

from __future__ import annotations

import sys
from pathlib import Path

import aiodockerspawner

sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))

project = "aiodockerspawner"
author = "aiodockerspawner developers"
copyright = "aiodockerspawner developers"
release = aiodockerspawner.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "autodoc_traits",
    "configreference",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_ext"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# Documented objects come from JupyterHub and traitlets too; their cross
# references are not resolvable without network inventories, so do not try.
autodoc_typehints = "none"
autodoc_member_order = "groupwise"
nitpicky = False

html_theme = "furo"
html_title = f"aiodockerspawner {release}"
