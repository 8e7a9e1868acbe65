"""The package uses aiodocker's public API only (issue 11).

aiodocker's underscore names (``Docker._query_json``, ``_do_query``,
``_check_version``...) change between releases without notice; code that
calls them ties the package to one aiodocker version. Whatever the public
calls cannot do (a streamed answer, custom headers or timeouts, the bodies
of the package's own builders) goes through
``aiodockerspawner.backends.docker.engine``, which uses aiodocker's public
attributes (``session``, ``docker_host``, ``api_version``) only.

The scan parses every module of ``src/`` and reports:

- an attribute ``._x`` named like one of aiodocker's underscore names, on
  anything but ``self``/``cls`` of a class of the package's own;
- ``from aiodocker... import _x`` and any ``aiodocker._module``;
- a class deriving from an aiodocker class that defines or uses ``self._x``
  of aiodocker (an override of a private hook, as ``_check_version`` was);
- ``getattr``/``setattr``/``hasattr`` with such a name as a string.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import aiodocker
import pytest
import tomllib
from packaging.requirements import Requirement

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "aiodockerspawner"

#: the private names the package used before issue 11, in case an aiodocker
#: release renames them (the scan must still know them)
KNOWN_PRIVATE = {
    "_query",
    "_query_json",
    "_do_query",
    "_query_chunked_post",
    "_check_version",
    "_canonicalize_url",
    "_connection_info",
    "_timeout",
    "_websocket",
}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def aiodocker_private_names() -> set[str]:
    """Every underscore name aiodocker's installed sources define."""
    names = set(KNOWN_PRIVATE)
    for path in Path(aiodocker.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            name: str | None = None
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = node.name
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                name = node.attr
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                name = node.id
            if name and _private(name) and name != "_":
                names.add(name)
    return names


PRIVATE = aiodocker_private_names()


def _aiodocker_names(tree: ast.Module) -> set[str]:
    """Local names bound to aiodocker or to something imported from it."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "aiodocker":
                    bound.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "aiodocker":
            bound.update(alias.asname or alias.name for alias in node.names)
    return bound


def _root(expr: ast.expr) -> str | None:
    while isinstance(expr, ast.Attribute):
        expr = expr.value
    return expr.id if isinstance(expr, ast.Name) else None


def private_uses(source: str, where: str = "<src>") -> list[str]:
    """``where:line: what`` for every use of an aiodocker underscore name in ``source``."""
    tree = ast.parse(source, where)
    from_aiodocker = _aiodocker_names(tree)
    found: list[str] = []

    def report(node: ast.AST, what: str) -> None:
        found.append(f"{where}:{getattr(node, 'lineno', 0)}: {what}")

    # classes deriving from aiodocker's: their self._x may be aiodocker's
    subclasses: list[ast.ClassDef] = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any(_root(base) in from_aiodocker for base in node.bases)
    ]
    inside_subclass = {id(n) for cls in subclasses for n in ast.walk(cls)}
    for cls in subclasses:
        for item in cls.body:
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name in PRIVATE:
                report(item, f"class {cls.name} overrides aiodocker's {item.name}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("aiodocker") and any(
                    _private(part) for part in alias.name.split(".")
                ):
                    report(node, f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "aiodocker":
            parts = (node.module or "").split(".")
            if any(_private(part) for part in parts):
                report(node, f"from {node.module} import ...")
            for alias in node.names:
                if _private(alias.name):
                    report(node, f"from {node.module} import {alias.name}")
        elif isinstance(node, ast.Attribute) and node.attr in PRIVATE:
            own = (
                isinstance(node.value, ast.Name)
                and node.value.id in ("self", "cls")
                and id(node) not in inside_subclass
            )
            if not own:
                report(node, ast.unparse(node))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in PRIVATE
        ):
            report(node, ast.unparse(node))
    return found


def test_the_scan_knows_aiodockers_private_request_methods() -> None:
    assert {"_query", "_query_json", "_do_query", "_check_version"} <= PRIVATE


@pytest.mark.parametrize(
    "source",
    [
        "async def f(docker):\n    return await docker._query_json('info')",
        "async def f(self):\n    return await self.docker._do_query('events', 'GET')",
        "def f(endpoint):\n    return shared_client(endpoint)._query('containers/json')",
        "from aiodocker.docker import _sock_search_paths",
        "import aiodocker._private",
        "from aiodocker.utils import _suppress_timeout_deprecation as quiet",
        "def f(docker):\n    return getattr(docker, '_query_json')",
        (
            "import aiodocker\n"
            "class D(aiodocker.Docker):\n"
            "    async def _check_version(self):\n"
            "        await super()._check_version()\n"
        ),
        (
            "from aiodocker import Docker\n"
            "class D(Docker):\n"
            "    def url(self):\n"
            "        return self._canonicalize_url('x')\n"
        ),
    ],
)
def test_the_scan_finds_private_uses(source: str) -> None:
    assert private_uses(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "class Watcher:\n    def go(self):\n        return self._query_json()",
        "async def f(docker):\n    return await docker.system.info()",
        "def f(docker):\n    return docker.session, docker.docker_host, docker.api_version",
        "from aiodocker.exceptions import DockerError",
    ],
)
def test_the_scan_leaves_public_and_own_names_alone(source: str) -> None:
    assert private_uses(source) == []


def test_no_private_aiodocker_api_in_the_package() -> None:
    found: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        found += private_uses(path.read_text(), str(path.relative_to(PACKAGE)))
    assert found == []


# -- the supported range, and the CI session that tests its lower end -------------

ROOT = PACKAGE.parents[1]


def aiodocker_requirement() -> Requirement:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (found,) = [r for r in map(Requirement, dependencies) if r.name == "aiodocker"]
    return found


def noxfile_function(name: str) -> ast.FunctionDef:
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    return next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)


def test_the_installed_aiodocker_is_in_the_supported_range() -> None:
    """Whichever end a session installs, it is one the package declares."""
    assert aiodocker_requirement().specifier.contains(aiodocker.__version__), aiodocker.__version__


def test_the_oldest_session_installs_the_lower_bound_of_pyproject() -> None:
    requirement = aiodocker_requirement()
    (floor,) = [s.version for s in requirement.specifier if s.operator == ">="]
    # the noxfile's reader, run on this pyproject
    reader = noxfile_function("_aiodocker_floor")
    namespace: dict[str, object] = {"re": re, "ROOT": ROOT}
    exec(compile(ast.Module(body=[reader], type_ignores=[]), "noxfile.py", "exec"), namespace)
    assert namespace["_aiodocker_floor"]() == floor  # type: ignore[operator]
    oldest = ast.unparse(noxfile_function("aiodocker_oldest")).replace("'", '"')
    assert "floor = _aiodocker_floor()" in oldest
    assert 'session.install(f"aiodocker=={floor}")' in oldest
    assert '["tests/unit", "tests/docker", "tests/swarm"]' in oldest
    # CI runs `nox -s tests` without arguments, which must bring the oldest along
    tests = ast.unparse(noxfile_function("tests")).replace("'", '"')
    assert 'if not session.posargs:\n        session.notify("aiodocker_oldest")' in tests
