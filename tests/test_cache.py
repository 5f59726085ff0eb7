"""The parse cache (rules/astcache.py), the checked-policy cache (rules/checkcache.py) and the
grammar-table cache: a speed-up that must never change an answer."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from imagefam import PolicyError, load_policy
from imagefam.engine.environment import ECS
from imagefam.engine.environment import EcsContext as Ctx
from imagefam.engine.models import DeleteImageRequest
from imagefam.rules import astcache, checkcache
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


def test_an_entry_others_can_write_or_a_link_is_not_read(folder: Path, tmp_path: Path) -> None:
    # The folder is checked when first used; each entry is checked again on the opened file, so
    # an entry made writable by others, or replaced by a link to a file elsewhere, is not unpickled.
    src = Source("u.rules", RULE.format(v="a"))
    load_policy(sources=[src], default=False)
    (entry,) = _entries(folder)
    assert astcache.load(src) is not None
    entry.chmod(0o666)
    assert astcache.load(src) is None
    entry.chmod(0o600)
    outside = tmp_path / "elsewhere.pickle"
    outside.write_bytes(entry.read_bytes())
    entry.unlink()
    entry.symlink_to(outside)
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


def _checked(folder: Path) -> list[Path]:
    return sorted(folder.glob("checked-*.pickle"))


WARNED = ('rule w on DeleteImage deny when request.ImageId == "{v}" and request.ImageId == "{v}" '
          'message "m {{request.ImageId}}"\n'
          'rule family-name-reserved on CreateImage warn when false message "x"\n')  # replaces a shipped rule


def _answers(policy: object) -> tuple[object, ...]:
    """What a loaded policy says: its rules, notices, warnings, and the decision and message of
    its rules on one request."""
    rules = policy.rules  # type: ignore[attr-defined]
    ctx = Ctx(request=DeleteImageRequest(RegionId="r", ImageId="a"), caller="1")
    fired = [(r.id, r.cond(ctx), r.message(ctx), r.explain(ctx)) for r in rules if r.targets == ("DeleteImage",)]
    warnings = [(d.source.name, d.span.line, d.message) for d in policy.warnings]  # type: ignore[attr-defined]
    return ([r.id for r in rules], list(policy.notices), warnings, fired)  # type: ignore[attr-defined]


def test_a_checked_policy_is_cached_and_says_the_same(folder: Path) -> None:
    src = Source("u.rules", WARNED.format(v="a"))
    first = load_policy(sources=[src])
    assert len(_checked(folder)) == 1
    assert checkcache.load(ECS, [(True, _shipped()), (False, [src])]) is not None
    second = load_policy(sources=[src])  # from the cache: no parsing, no type checking
    assert _answers(second) == _answers(first)
    ids, notices, warnings, fired = _answers(second)
    assert "w" in ids and len(notices) == 1 and "family-name-reserved" in str(notices[0])
    assert ("u.rules", 1, "rule 'w' cites no source") in warnings
    assert ("w", True, "m a", [("request.ImageId", "a"), ("request.ImageId", "a")]) in fired
    assert len(fired) > 1  # the shipped DeleteImage rules too


def _shipped() -> list[Source]:
    from imagefam.engine.policy import shipped_sources

    return shipped_sources()


def test_an_edited_file_is_checked_again(folder: Path) -> None:
    load_policy(sources=[Source("u.rules", RULE.format(v="a"))], default=False)
    edited = load_policy(sources=[Source("u.rules", RULE.format(v="b"))], default=False)
    assert len(_checked(folder)) == 2
    ctx = Ctx(request=DeleteImageRequest(RegionId="r", ImageId="b"))
    assert edited.rules[0].cond(ctx) is True


def test_policies_with_errors_are_never_cached(folder: Path) -> None:
    bad = Source("bad.rules", 'rule r on DeleteImage deny when request.Nope == "a"\n')
    for _ in range(2):
        with pytest.raises(PolicyError):
            load_policy(sources=[bad], default=False)
    assert _checked(folder) == []


def test_a_damaged_checked_entry_is_ignored(folder: Path) -> None:
    src = Source("u.rules", RULE.format(v="a"))
    load_policy(sources=[src], default=False)
    (entry,) = _checked(folder)
    entry.write_bytes(b"not a pickle")
    assert load_policy(sources=[src], default=False).rule("r") is not None


@pytest.mark.parametrize("key", [None, lambda: None])  # no key; a key that cannot be made (sources unreadable)
def test_an_environment_without_a_key_is_never_cached(folder: Path, key: object) -> None:
    import dataclasses

    from imagefam.rules.policy import load_policy as load_layers

    keyless = dataclasses.replace(ECS, cache_key=key)
    load_layers(keyless, [(False, [Source("u.rules", RULE.format(v="a"))])])
    assert _checked(folder) == [] and len(_entries(folder)) == 1  # the parse cache still serves


def test_closures_are_compiled_when_first_called(folder: Path) -> None:
    from imagefam.rules.compiled import compiled

    policy = load_policy(sources=[Source("u.rules", RULE.format(v="a"))], default=False)
    rule = policy.rules[0]
    kept = rule.cond  # a reference from before the first call
    assert type(kept).__name__ == "_FirstCall"
    ctx = Ctx(request=DeleteImageRequest(RegionId="r", ImageId="a"))
    assert kept(ctx) is True  # compiles, and puts the closure in the rule
    assert rule.cond is not kept and rule.cond is compiled(kept) and compiled(rule.cond) is rule.cond
    assert rule.cond(Ctx(request=DeleteImageRequest(RegionId="r", ImageId="b"))) is False
    assert type(rule.message).__name__ == "_FirstCall"  # only what was called is compiled
    assert rule.message(ctx) == "m" and rule.explain(ctx) == [("request.ImageId", "a")]
    assert type(rule.message).__name__ != "_FirstCall"
