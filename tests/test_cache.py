"""The parse cache (rules/astcache.py) and the grammar-table cache: a speed-up that must never
change an answer."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from imagefam import PolicyError, load_policy
from imagefam.rules import astcache
from imagefam.rules.cache import cache_dir
from imagefam.rules.errors import Source

RULE = 'rule r on DeleteImage deny when request.ImageId == "{v}" message "m"\n'


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IMAGEFAM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("IMAGEFAM_NO_CACHE", raising=False)
    return tmp_path / "cache"


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("ast-*.pickle"))


def test_a_parsed_file_is_cached_and_served(folder: Path) -> None:
    src = Source("u.rules", RULE.format(v="a"))
    load_policy(sources=[src], default=False)
    assert len(_entries(folder)) == 1
    cached = astcache.load(src)
    assert cached is not None and [d.id for d in cached] == ["r"]
    policy = load_policy(sources=[src], default=False)  # from the cache: same behaviour
    assert policy.rule("r") is not None


def test_an_edited_file_is_parsed_again(folder: Path) -> None:
    load_policy(sources=[Source("u.rules", RULE.format(v="a"))], default=False)
    edited = Source("u.rules", RULE.format(v="b"))
    assert astcache.load(edited) is None
    load_policy(sources=[edited], default=False)
    assert len(_entries(folder)) == 2


def test_files_with_errors_are_never_cached(folder: Path) -> None:
    bad = Source("bad.rules", "rule r on DeleteImage deny when (\n")
    for _ in range(2):
        with pytest.raises(PolicyError):
            load_policy(sources=[bad], default=False)
    assert _entries(folder) == []


def test_a_damaged_entry_is_ignored(folder: Path) -> None:
    src = Source("u.rules", RULE.format(v="a"))
    load_policy(sources=[src], default=False)
    (entry,) = _entries(folder)
    entry.write_bytes(b"not a pickle")
    assert astcache.load(src) is None
    assert load_policy(sources=[src], default=False).rule("r") is not None


def test_no_cache_switch_and_untrusted_folders(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGEFAM_NO_CACHE", "1")
    assert cache_dir() is None
    load_policy(sources=[Source("u.rules", RULE.format(v="a"))], default=False)
    assert not folder.exists() or _entries(folder) == []
    monkeypatch.delenv("IMAGEFAM_NO_CACHE")
    made = cache_dir()
    assert made == folder and stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    os.chmod(folder, 0o777)  # writable by others: not trusted
    assert cache_dir() is None
