"""The package's shape, as docs/architecture.md draws it, checked on every run.

Each module belongs to one layer; a module may import (at any place in the
file, type-checking imports included) only modules of the layers its own layer
lists. The rules are the table below; the picture and the reasons are in
docs/architecture.md, which names this file.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "aiodockerspawner"
NAME = "aiodockerspawner"

#: layer -> module prefixes (relative to the package) that belong to it; the
#: longest matching prefix decides
LAYERS: dict[str, tuple[str, ...]] = {
    "floor": (
        "_version",
        "model",
        "errors",
        "labels",
        "progress",
        "deadlines",
        "imagerefs",
        "units",
        "exits",
    ),
    "core": ("core",),
    "backends.base": ("backends.base",),
    "backends.docker": ("backends.docker",),
    "backends.container": ("backends.container",),
    "backends.service": ("backends.service",),
    "backends": ("backends",),  # the package itself: the narrow door the spawners use
    "spawners": (
        "spawner",
        "swarm",
        "systemuser",
        "internalssl",
        "hubdb",
        "serverlifetime",
        "resolve",
        "config",
        "compat",
        "volumenamingstrategy",
        "useroptions",
        "gpuassignment",
        "failfast",
        "prepulling",
        "serverlimits",
    ),
    "public": ("",),  # aiodockerspawner/__init__.py
    "testing": ("testing",),
}

#: layer -> the layers it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "floor": set(),
    "core": {"floor"},
    "backends.base": {"floor"},
    "backends.docker": {"floor", "backends.base"},
    "backends.container": {"floor", "backends.base", "backends.docker"},
    "backends.service": {"floor", "backends.base", "backends.docker", "backends.container"},
    "backends": {
        "floor",
        "backends.base",
        "backends.docker",
        "backends.container",
        "backends.service",
    },
    "spawners": {"floor", "core", "backends", "backends.base"},
    "public": {"floor", "core", "backends", "backends.base", "spawners"},
    "testing": {
        "floor",
        "core",
        "backends",
        "backends.base",
        "backends.docker",
        "spawners",
        "public",
    },
}

#: third-party packages that only some layers may import
RESTRICTED: dict[str, set[str]] = {
    # Docker I/O happens in the backends only
    "aiodocker": {
        "backends.docker",
        "backends.container",
        "backends.service",
        "backends",
        "testing",
    },
    "aiohttp": {"backends.docker", "backends.container", "backends.service", "testing"},
    # configuration is the spawner layer's business
    "traitlets": {"spawners", "testing"},
}

#: no module may hold more than this share of the package's lines
MAX_SHARE = 0.15
#: the DockerSpawner class reads as its lifecycle; its traits live in config/
MAX_SPAWNER_CLASS_LINES = 700


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> str:
    best, best_len = "", -1
    for layer, prefixes in LAYERS.items():
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + ".") or prefix == "":
                length = len(prefix) if prefix else 0
                if length > best_len:
                    best, best_len = layer, length
    return best


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield _module(path), path


def _imports(path: Path, module: str) -> Iterator[tuple[str, int]]:
    """(absolute module imported, line) of every import in the file."""
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = [NAME, *module.split(".")] if module else [NAME]
                if not is_package:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == NAME or target.startswith(NAME + "."):
                # "from aiodockerspawner.core import naming" imports core.naming
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    inner = sub.removeprefix(NAME + ".")
                    if (PACKAGE / inner.replace(".", "/")).with_suffix(".py").exists() or (
                        PACKAGE / inner.replace(".", "/") / "__init__.py"
                    ).exists():
                        yield sub, node.lineno
                    else:
                        yield target, node.lineno
            else:
                yield target, node.lineno


def _violations() -> list[str]:
    found = []
    for module, path in _modules():
        layer = _layer(module)
        allowed = ALLOWED[layer] | {layer}
        for target, line in _imports(path, module):
            where = f"{path.relative_to(PACKAGE.parent)}:{line}"
            if target == NAME or target.startswith(NAME + "."):
                inner = target.removeprefix(NAME).removeprefix(".")
                target_layer = _layer(inner)
                if target_layer not in allowed:
                    found.append(f"{where}: {layer} imports {target} ({target_layer})")
            else:
                top = target.split(".")[0]
                if top in RESTRICTED and layer not in RESTRICTED[top]:
                    found.append(f"{where}: {layer} imports {top}")
    return found


def test_every_module_has_a_layer() -> None:
    for module, _path in _modules():
        assert _layer(module) in ALLOWED, module


def test_imports_only_run_downwards() -> None:
    assert _violations() == []


def test_the_rules_have_no_cycle() -> None:
    """The layer graph itself is a hierarchy: no layer can reach itself."""

    def reach(layer: str, seen: set[str]) -> set[str]:
        for below in ALLOWED[layer]:
            if below not in seen:
                seen.add(below)
                reach(below, seen)
        return seen

    for layer in ALLOWED:
        assert layer not in reach(layer, set()), layer


def test_nothing_imports_testing() -> None:
    for module, path in _modules():
        if _layer(module) == "testing":
            continue
        for target, line in _imports(path, module):
            assert not target.startswith(f"{NAME}.testing"), f"{path}:{line}"


def test_no_module_dominates_the_package() -> None:
    sizes = {module: len(path.read_text().splitlines()) for module, path in _modules()}
    total = sum(sizes.values())
    too_big = {m: n for m, n in sizes.items() if n > MAX_SHARE * total}
    assert too_big == {}, f"over {MAX_SHARE:.0%} of {total} lines"


def test_the_spawner_class_reads_as_its_lifecycle() -> None:
    tree = ast.parse((PACKAGE / "spawner.py").read_text())
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "DockerSpawner"]
    assert cls.end_lineno is not None
    assert cls.end_lineno - cls.lineno + 1 <= MAX_SPAWNER_CLASS_LINES


@pytest.mark.parametrize(
    "code",
    [
        "from aiodockerspawner.backends.docker.client import shared_client",  # skips the door
        "import aiodocker",  # Docker I/O outside the backends
    ],
)
def test_the_check_catches_a_violation(tmp_path: Path, code: str) -> None:
    """A core module that reached into the backends would be reported."""
    path = PACKAGE / "core" / "_probe_violation.py"
    path.write_text(code + "\n")
    try:
        assert any("core/_probe_violation.py" in v for v in _violations())
    finally:
        path.unlink()
