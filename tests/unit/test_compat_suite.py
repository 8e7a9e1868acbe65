"""The compatibility tier's own logic (tests/compat/suite.py), without running the suite."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from tests.compat import suite
from tests.compat.suite import DIFFERS, ENVIRONMENT, ListedTest, compare

ROOT = Path(__file__).resolve().parents[2]


def outcome(value: str) -> dict[str, str]:
    return {"outcome": value, "message": ""}


def listed(test: str, kind: str) -> ListedTest:
    return ListedTest(test, kind, "status", "reason")


def test_every_test_dockerspawner_passes_must_pass_for_us() -> None:
    ds = {"a": outcome("passed"), "b": outcome("passed"), "c": outcome("failed")}
    ads = {"a": outcome("passed"), "b": outcome("failed"), "c": outcome("failed")}
    cmp = compare(ds, ads, {"c": listed("c", ENVIRONMENT)})
    assert cmp.regressions == ["b"]
    assert not cmp.ok
    assert cmp.ds_passed == {"a", "b"} and cmp.ads_passed == {"a"}

    excepted = compare(ds, ads, {"b": listed("b", DIFFERS), "c": listed("c", ENVIRONMENT)})
    assert excepted.ok and excepted.regressions == []


def test_dockerspawner_failures_must_be_listed_environment_failures() -> None:
    ds = {"a": outcome("failed"), "b": outcome("error")}
    ads = {"a": outcome("failed"), "b": outcome("passed")}
    cmp = compare(ds, ads, {"a": listed("a", ENVIRONMENT)})
    # a test dockerspawner fails for no listed reason means a broken environment
    assert cmp.unexplained_ds_failures == ["b"]
    assert not cmp.ok
    # a "differs" entry does not excuse a dockerspawner failure
    assert compare(ds, ads, {"a": listed("a", DIFFERS)}).unexplained_ds_failures == ["a", "b"]


def test_stale_entries_are_reported_not_fatal() -> None:
    ds = {"a": outcome("passed"), "b": outcome("xfailed")}
    ads = {"a": outcome("passed"), "b": outcome("passed")}
    cmp = compare(
        ds,
        ads,
        {"a": listed("a", DIFFERS), "b": listed("b", ENVIRONMENT), "z": listed("z", DIFFERS)},
    )
    assert cmp.ok
    assert cmp.fixed_exceptions == ["a"]
    assert cmp.environment_passing == ["b"]
    assert cmp.unknown_listed == ["z"]


def test_a_test_one_run_did_not_run_fails() -> None:
    cmp = compare({"a": outcome("passed")}, {}, {})
    assert cmp.missing == ["a"] and not cmp.ok


def test_the_exceptions_file_is_valid_and_mirrored_in_the_migration_guide() -> None:
    entries = suite.load_exceptions()
    assert entries, "the list is read"
    guide = (ROOT / "docs" / "migration.md").read_text()
    for entry in entries.values():
        assert entry.test.startswith("tests/test_") and "::" in entry.test
        if entry.kind == DIFFERS:
            # each difference is explained to admins, under its test name
            assert entry.test.split("/", 1)[1] in guide, f"{entry.test} not in docs/migration.md"


def test_the_exceptions_file_rejects_rows_without_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "x.tsv"
    path.write_text("# comment\ntest\tkind\tstatus\treason\ntests/test_a.py::t\tdiffers\tx\t \n")
    with pytest.raises(ValueError, match="no reason"):
        suite.load_exceptions(path)
    path.write_text("test\tkind\tstatus\treason\ntests/test_a.py::t\tflaky\tx\ty\n")
    with pytest.raises(ValueError, match="unknown kind"):
        suite.load_exceptions(path)


def test_an_unreachable_sdist_fails_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(suite.SuiteUnavailable, match=r"cannot download.*sha256"):
        suite.fetch_sdist(tmp_path, url=(tmp_path / "missing.tar.gz").as_uri())
    assert not list(tmp_path.iterdir()), "no partial file left behind"


def test_a_wrong_sdist_is_refused(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.tar.gz"
    wrong.write_bytes(b"not dockerspawner")
    cache = tmp_path / "cache"
    with pytest.raises(suite.SuiteUnavailable, match=r"is not dockerspawner 14\.0\.0's sdist"):
        suite.fetch_sdist(cache, url=wrong.as_uri())
    assert not (cache / suite.SDIST).exists()


def test_a_cached_sdist_with_the_right_hash_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / suite.SDIST).write_bytes(b"pretend")
    monkeypatch.setattr(suite, "SDIST_SHA256", hashlib.sha256(b"pretend").hexdigest())
    assert suite.fetch_sdist(tmp_path, url="http://127.0.0.1:9/unused") == tmp_path / suite.SDIST


def _sdist(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"dockerspawner-{suite.VERSION}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_prepare_takes_the_tests_and_settings_not_the_package(tmp_path: Path) -> None:
    sdist = _sdist(
        tmp_path / "s.tar.gz",
        {
            "pyproject.toml": b"[tool.pytest.ini_options]\n",
            "tests/test_x.py": b"def test_x(): pass\n",
            "tests/data/test_y.py": b"",
            "dockerspawner/__init__.py": b"raise SystemExit",
        },
    )
    dest = suite.prepare_suite(sdist, tmp_path / "suite")
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()) == [
        "pyproject.toml",
        "tests/conftest.py",
        "tests/test_x.py",
    ]
    assert (dest / "tests" / "conftest.py").read_text() == (
        ROOT / "tests" / "compat" / "suite_conftest.py"
    ).read_text()


def test_image_aliases_cover_the_names_the_suite_uses() -> None:
    aliases = suite.image_aliases("local/su:6.1.1", "local/tiny", "6.1.1")
    assert aliases == {
        "quay.io/jupyterhub/singleuser:6.1": "local/su:6.1.1",
        "quay.io/jupyterhub/singleuser:4.0": "local/su:6.1.1",
        "quay.io/jupyterhub/singleuser:4": "local/su:6.1.1",
        "busybox:1.29.1": "local/tiny",
    }
