"""Pages generated at build time, so that the docs follow the code without edits.

* A page containing the line ``<!-- spawner-configuration -->`` gets, in its
  place, one ``autoconfigurable`` block (autodoc-traits) for each class that
  ``aiodockerspawner`` exports and that is a JupyterHub ``Spawner``: a spawner
  class appears in the reference as soon as the package exports it.
* ``<!-- other-pages -->`` in a toctree becomes the pages of docs/ that the
  toctree does not name yet, so a new page is listed without editing the index
  (a toctree glob would warn, and so fail the build, when nothing is left).
"""

from __future__ import annotations

import re
from typing import Any

MARKER = "<!-- spawner-configuration -->"
OTHER_PAGES = "<!-- other-pages -->"


def exported_spawners() -> list[str]:
    """Names in ``aiodockerspawner.__all__`` that are Spawner classes, in that order."""
    from jupyterhub.spawner import Spawner

    import aiodockerspawner

    names = []
    for name in getattr(aiodockerspawner, "__all__", []):
        obj = getattr(aiodockerspawner, name, None)
        if isinstance(obj, type) and issubclass(obj, Spawner):
            names.append(name)
    return names


def reference_block() -> str:
    lines = ["```{eval-rst}"]
    for name in exported_spawners():
        lines += [f".. autoconfigurable:: aiodockerspawner.{name}", "   :members:", ""]
    lines.append("```")
    return "\n".join(lines)


def other_pages(app: Any, docname: str, text: str) -> str:
    """Pages of the project that ``text`` does not mention, sorted."""
    named = set(re.findall(r"^([\w/.-]+)$", text, flags=re.M))
    pages = sorted(
        name
        for name in app.env.found_docs
        if name != docname and name not in named and not name.startswith("_")
    )
    return "\n".join(pages)


def expand(app: Any, docname: str, source: list[str]) -> None:
    if MARKER in source[0]:
        source[0] = source[0].replace(MARKER, reference_block())
    if OTHER_PAGES in source[0]:
        source[0] = source[0].replace(OTHER_PAGES, other_pages(app, docname, source[0]))


def setup(app: Any) -> dict[str, Any]:
    app.connect("source-read", expand)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
