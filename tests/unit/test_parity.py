"""Configuration-surface parity with dockerspawner 14.0.0.

``tests/data/dockerspawner-config.tsv`` is the reference table (one row per
class and trait, method or property of DockerSpawner, SwarmSpawner and
SystemUserSpawner), generated from dockerspawner 14.0.0 itself, installed
next to this session's JupyterHub, by ``scripts/dockerspawner-reference``:
each configurable trait with its type and the value an unconfigured instance
has (what dockerspawner computes at runtime, when it is a Python literal),
the values an enum accepts, and the properties and public methods each class
defines. ``tests/data/parity-differences.tsv`` lists where we differ, and why:

* ``runtime``: dockerspawner's default is a value the table cannot print (a
  function); the row says which one we have;
* ``deliberate``: we differ from dockerspawner on purpose (the migration guide
  says why);
* ``absent``: the name is not provided, on purpose;
* ``gap``: a difference not decided or not fixed yet; the row says by whom.
  The row's check must still fail: once the gap is closed, remove the row.

A row of the differences table must really differ from the reference (a stale
row fails), and must name a row of the reference table. Every value
dockerspawner accepts for an enum, and every literal default it has, must be
accepted by our trait too.
"""

from __future__ import annotations

import ast
import csv
import importlib
import inspect
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jupyterhub
import pytest
import traitlets
from jupyterhub import orm
from jupyterhub.objects import Hub

import aiodockerspawner
from tests.helpers import mock_user

DATA = Path(__file__).resolve().parent.parent / "data"
HUB_XY = ".".join(jupyterhub.__version__.split(".")[:2])


@dataclass(frozen=True)
class Row:
    cls: str
    name: str
    default: str
    kind: str
    replacement: str
    #: for an enum, the values dockerspawner accepts
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Difference:
    cls: str
    name: str
    ours: str
    kind: str
    reason: str


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _values(text: str | None) -> tuple[str, ...]:
    return tuple("" if v == "''" else v for v in text.split("|")) if text else ()


REFERENCE = [
    Row(r["class"], r["trait"], r["default"], r["kind"], r["replacement"], _values(r["values"]))
    for r in _read(DATA / "dockerspawner-config.tsv")
]
DIFFERENCES = {
    (d["class"], d["name"]): Difference(d["class"], d["name"], d["ours"], d["kind"], d["reason"])
    for d in _read(DATA / "parity-differences.tsv")
}

#: marks "the reference prints no default" (e.g. ``Union()``): only existence is checked
UNSPECIFIED = object()
_EMPTY = {"List": [], "Dict": {}, "Command": [], "Unicode": "", "Bool": False, "Int": 0}


def reference_default(text: str) -> Any:
    """The value of a reference default such as ``Unicode('jupyter')`` or ``List()``."""
    match = re.fullmatch(r"(\w+)\((.*)\)", text, flags=re.S)
    assert match, f"unreadable reference default {text!r}"
    type_name, literal = match.groups()
    if not literal:
        return _EMPTY.get(type_name, UNSPECIFIED)
    return ast.literal_eval(literal)


def difference_for(cls_name: str, name: str) -> Difference | None:
    return DIFFERENCES.get((cls_name, name)) or DIFFERENCES.get(("*", name))


def our_listed_default(diff: Difference, spawner: Any) -> Any:
    """The value the differences table says we have."""
    text = string.Template(diff.ours).safe_substitute(
        hub_xy=HUB_XY, object_name=spawner.object_name
    )
    if text.startswith("callable:"):
        module, _, attr = text[len("callable:") :].rpartition(".")
        return getattr(importlib.import_module(module), attr)
    return ast.literal_eval(text)


def exported(cls_name: str) -> type:
    cls = getattr(aiodockerspawner, cls_name, None)
    if cls is None:
        # SwarmSpawner and SystemUserSpawner land with issue 4; their rows are
        # checked automatically as soon as the package exports them.
        pytest.skip(f"{cls_name} is not exported by aiodockerspawner yet")
    return cls


@pytest.fixture
def make_instance(monkeypatch: pytest.MonkeyPatch) -> Any:
    # host_ip's default reads DOCKER_HOST; the reference values assume a local daemon
    monkeypatch.delenv("DOCKER_HOST", raising=False)

    def make(cls: type) -> Any:
        return cls(
            user=mock_user("alice"),
            hub=Hub(ip="127.0.0.1", port=8081, base_url="/hub/"),
            orm_spawner=orm.Spawner(name=""),
        )

    return make


def _type_names(trait: traitlets.TraitType) -> set[str]:
    """The class names a trait answers to: its classes' MRO, and for a Union its members'."""
    names = {c.__name__ for c in type(trait).__mro__}
    for member in getattr(trait, "trait_types", None) or []:
        names |= _type_names(member)
    return names


def _row_id(row: Row) -> str:
    return f"{row.cls}.{row.name}"


def test_reference_table_is_complete() -> None:
    # dockerspawner 14.0.0 with JupyterHub 6.1.1 (scripts/dockerspawner-reference)
    assert len(REFERENCE) == 274
    assert {r.cls for r in REFERENCE} == {"DockerSpawner", "SwarmSpawner", "SystemUserSpawner"}
    assert {r.kind for r in REFERENCE} == {"config", "deprecated", "property", "method"}
    assert any(r.values for r in REFERENCE), "enum values are recorded"


def test_every_difference_names_a_reference_row() -> None:
    names = {(r.cls, r.name) for r in REFERENCE} | {("*", r.name) for r in REFERENCE}
    orphans = [key for key in DIFFERENCES if key not in names]
    assert not orphans, f"differences without a reference row: {orphans}"
    kinds = {d.kind for d in DIFFERENCES.values()}
    assert kinds <= {"runtime", "deliberate", "absent", "gap"}
    assert all(d.reason.strip() for d in DIFFERENCES.values())


@pytest.mark.parametrize("row", REFERENCE, ids=_row_id)
def test_reference_row(row: Row, make_instance: Any) -> None:
    diff = difference_for(row.cls, row.name)
    if diff is not None and diff.kind == "gap":
        try:
            check_row(row, None, make_instance)
        except AssertionError:
            return  # still open, as listed
        pytest.fail(f"{row.cls}.{row.name} matches dockerspawner now: remove its 'gap' row")
    check_row(row, diff, make_instance)


def check_row(row: Row, diff: Difference | None, make_instance: Any) -> None:
    cls = exported(row.cls)
    if diff is not None and diff.kind == "absent":
        assert not hasattr(cls, row.name), f"{row.name} is listed as absent on purpose"
        return

    if diff is not None and diff.kind == "deliberate" and row.kind in ("property", "method"):
        # we offer a configurable trait where dockerspawner has a property or method
        assert diff.ours == "trait", f"unknown replacement {diff.ours!r} for {row.name}"
        assert row.name in cls.class_traits(config=True), f"{row.name} should be configurable"
        return
    if row.kind == "property":
        attr = inspect.getattr_static(cls, row.name, None)
        assert isinstance(attr, property), f"{row.cls}.{row.name} should be a property"
        return
    spawner = make_instance(cls)
    if row.kind == "method":
        assert callable(getattr(spawner, row.name, None)), f"{row.cls}.{row.name}() is missing"
        return

    trait = cls.class_traits().get(row.name)
    assert trait is not None, f"{row.cls}.{row.name} is not a trait"
    assert trait.metadata.get("config"), f"{row.cls}.{row.name} is not configurable"
    ref_type = row.default.split("(", 1)[0]
    assert ref_type in _type_names(trait), (
        f"{row.cls}.{row.name} is a {type(trait).__name__}, the reference says {ref_type}"
    )

    expected = reference_default(row.default)
    actual = getattr(spawner, row.name)
    if diff is None:
        if expected is not UNSPECIFIED:
            assert actual == expected, (
                f"{row.cls}.{row.name} defaults to {actual!r}, the reference to {expected!r}; "
                "fix the default or add a row to tests/data/parity-differences.tsv"
            )
        return
    listed = our_listed_default(diff, spawner)
    assert actual == listed, (
        f"{row.cls}.{row.name} defaults to {actual!r}; parity-differences.tsv says {listed!r}"
    )
    assert expected is UNSPECIFIED or actual != expected, (
        f"{row.cls}.{row.name} now matches the reference: remove its parity-differences.tsv row"
    )


@pytest.mark.parametrize("row", [r for r in REFERENCE if r.kind == "deprecated"], ids=_row_id)
def test_deprecated_rows_name_their_replacement(row: Row) -> None:
    cls = exported(row.cls)
    if row.replacement:
        new = row.replacement.split(".", 1)[1]
        assert new in cls.class_traits(config=True), f"replacement {new} missing"


def _accepts(row: Row, value: Any, make_instance: Any) -> None:
    spawner = make_instance(exported(row.cls))
    try:
        setattr(spawner, row.name, value)
    except traitlets.TraitError as e:
        raise AssertionError(
            f"{row.cls}.{row.name} = {value!r} is accepted by dockerspawner 14, refused here: {e}"
        ) from e


CONFIG_ROWS = [r for r in REFERENCE if r.kind in ("config", "deprecated")]


@pytest.mark.parametrize("row", CONFIG_ROWS, ids=_row_id)
def test_values_dockerspawner_accepts_are_accepted(row: Row, make_instance: Any) -> None:
    """Every enum value and the default dockerspawner 14 has: a config file may set them."""
    values = list(row.values)
    default = reference_default(row.default)
    if default is not UNSPECIFIED:
        values.append(default)
    if not values:
        return
    diff = difference_for(row.cls, row.name)
    if diff is not None and diff.kind == "gap":
        try:
            for value in values:
                _accepts(row, value, make_instance)
        except AssertionError:
            return  # a listed gap
        return  # the gap is about something else (e.g. the default read back)
    for value in values:
        _accepts(row, value, make_instance)
