"""``imagefam diff``: the JSON contract, exit codes, inputs, and resolution changes checked against
resolving every name for every account in both snapshots."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from helpers_engine import (
    FUZZ_EXAMPLES,
    M,
    N,
    assert_clean_error,
    img,
    run_main,
    shipped_policy,
    tree_hashes,
    write_state,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_resolver_properties import (
    ACCOUNTS,
    FAMILIES,
    OUTSIDER,
    REGIONS,
    SYSTEM_FAMILIES,
    TIMES,
    images,
)

from imagefam.engine.diff import diff_states
from imagefam.engine.loader import state_from_data
from imagefam.engine.models import Image
from imagefam.engine.policy import load_policy
from imagefam.engine.preflight import COMMUNITY
from imagefam.engine.resolver import Resolver
from imagefam.engine.state import State
from imagefam.rules.errors import Source

OLD = [
    img("m-a1", family="app-a", created="2020-01-01T00:00:00Z", IsPublic=True),
    img("m-b1", family="app-a", created="2020-01-03T00:00:00Z", SharedWith=[N]),
    img("m-s1", family="app-a", region="cn-shanghai"),
    img("m-c1", family="db", created="2020-01-02T00:00:00Z"),
    img("m-gone", family="db", created="2019-01-01T00:00:00Z", status="Deprecated"),
    img("ubuntu-1", owner=None, family="acs:ubuntu_24_04_x64", ImageOwnerAlias="system"),
]
NEW = [
    img("m-a1", family="app-a", created="2020-01-01T00:00:00Z", IsPublic=True),
    img("m-b1", family="app-a", created="2020-01-03T00:00:00Z", status="Deprecated"),  # deprecated, unshared
    img("m-s1", family="app-a", region="cn-shanghai"),
    img("m-n1", family="app-a", region="cn-shanghai", created="2020-02-05T00:00:00Z", SharedWith=[N]),
    img("m-c1", family="web", created="2020-01-02T00:00:00Z"),  # moved from db to web
    img("ubuntu-1", owner=None, family="acs:ubuntu_24_04_x64", ImageOwnerAlias="system"),
    img("ubuntu-2", owner=None, family="acs:ubuntu_24_04_x64", ImageOwnerAlias="system",
        created="2020-02-01T00:00:00Z"),
]

EXPECTED = {
    "resolution_changes": [
        {"region": "cn-hangzhou", "family": "acs:100001:app-a", "viewer": N, "before": "m-b1", "after": "m-a1"},
        {"region": "cn-hangzhou", "family": "acs:ubuntu_24_04_x64", "viewer": "*", "before": "ubuntu-1",
         "after": "ubuntu-2"},
        {"region": "cn-hangzhou", "family": "app-a", "viewer": M, "before": "m-b1", "after": "m-a1"},
        {"region": "cn-hangzhou", "family": "db", "viewer": M, "before": "m-c1", "after": None},
        {"region": "cn-hangzhou", "family": "web", "viewer": M, "before": None, "after": "m-c1"},
        {"region": "cn-shanghai", "family": "acs:100001:app-a", "viewer": N, "before": None, "after": "m-n1"},
        {"region": "cn-shanghai", "family": "app-a", "viewer": M, "before": "m-s1", "after": "m-n1"},
    ],
    "image_changes": {
        "added": ["m-n1", "ubuntu-2"],
        "removed": ["m-gone"],
        "status": [{"image_id": "m-b1", "before": "Available", "after": "Deprecated"}],
        "family": [{"image_id": "m-c1", "before": "db", "after": "web"}],
        "sharing": [{"image_id": "m-b1", "added": [], "removed": [N], "public_before": False,
                     "public_after": False}],
    },
}


@pytest.fixture
def states(tmp_path: Path) -> tuple[Path, Path]:
    old = write_state(tmp_path, OLD, name="old.json", taken_at="2020-02-01T00:00:00Z")
    new = write_state(tmp_path, NEW, name="new.yaml", taken_at="2020-02-08T00:00:00Z")
    return old, new


def test_json_contract(states: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    old, new = states
    before = tree_hashes(old.parent)
    run = run_main(capsys, "diff", old, new, "--format", "json")
    assert run.code == 0, run.err
    assert run.json() == EXPECTED
    assert tree_hashes(old.parent) == before  # inputs untouched


def test_fail_on_resolution(states: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    old, new = states
    assert run_main(capsys, "diff", old, new, "--fail-on", "resolution").code == 1
    same = run_main(capsys, "diff", old, old, "--fail-on", "resolution", "--format", "json")
    assert same.code == 0
    assert same.json() == {"resolution_changes": [], "image_changes": {
        "added": [], "removed": [], "status": [], "family": [], "sharing": []}}
    only_images = write_state(old.parent, [*OLD, img("m-z", family=None)], name="z.json")
    run = run_main(capsys, "diff", old, only_images, "--fail-on", "resolution", "--format", "json")
    assert run.code == 0 and run.json()["image_changes"]["added"] == ["m-z"]


@pytest.mark.parametrize("args", [
    ["--fail-on", "resolutoin"],
    ["--format", "yaml"],
])
def test_bad_flags_exit_2(states: tuple[Path, Path], capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    old, new = states
    assert run_main(capsys, "diff", old, new, *args).code == 2


def test_bad_state_exit_2(states: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, _ = states
    typo = write_state(tmp_path, [{**img("m-1", family="x"), "ImageFamly": "x"}], name="typo.json")
    run = run_main(capsys, "diff", old, typo)
    assert_clean_error(run)
    assert "typo.json" in run.err and "ImageFamly" in run.err
    assert_clean_error(run_main(capsys, "diff", old, tmp_path / "missing.json"))


def test_text_and_markdown(states: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    old, new = states
    text = run_main(capsys, "diff", old, new).out
    assert "7 resolution changes" in text and "m-b1" in text and "any other account" in text
    assert text.index("acs:100001:app-a") < text.index("cn-shanghai")  # sorted by region first
    md = run_main(capsys, "diff", old, new, "--format", "markdown").out
    assert md.startswith("## imagefam diff")
    assert "| cn-hangzhou | db " in md.replace("  ", " ").replace("  ", " ")
    assert "no changes" in run_main(capsys, "diff", old, old).out


def test_output_is_deterministic(states: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    old, new = states
    shuffled = write_state(new.parent, list(reversed(NEW)), name="rev.json", taken_at="2020-02-08T00:00:00Z")
    a = run_main(capsys, "diff", old, new, "--format", "json").out
    b = run_main(capsys, "diff", old, shuffled, "--format", "json").out
    assert a == b


def test_raw_describe_images_bodies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def body(images: list[dict[str, object]]) -> dict[str, object]:
        return {"RegionId": "cn-hangzhou", "TotalCount": len(images), "Images": {"Image": images}}

    def raw(image_id: str, created: str, status: str = "Available") -> dict[str, object]:
        return {"ImageId": image_id, "ImageOwnerAlias": "self", "ImageFamily": "web", "Status": status,
                "CreationTime": created, "IsPublic": False}

    old = tmp_path / "old.json"
    new = tmp_path / "new.json"
    old.write_text(json.dumps(body([raw("m-1", "2020-01-01T00:00:00Z")])))
    new.write_text(json.dumps(body([raw("m-1", "2020-01-01T00:00:00Z", "Deprecated"),
                                    raw("m-2", "2020-01-05T00:00:00Z")])))
    run = run_main(capsys, "diff", old, new, "--account", M, "--format", "json")
    assert run.code == 0, run.err
    assert run.json()["resolution_changes"] == [
        {"region": "cn-hangzhou", "family": "web", "viewer": M, "before": "m-1", "after": "m-2"}]


def test_consumers_extension_point() -> None:
    old = state_from_data({"Images": OLD}, Path("old"))
    new = state_from_data({"Images": NEW}, Path("new"))
    d = diff_states(old, new, shipped_policy(),
                    consumers=lambda region, family, viewer: [f"asg-{family}"] if viewer == M else [])
    by_view = {(c.region, c.family, c.viewer): c.to_json() for c in d.resolution_changes}
    assert by_view[("cn-hangzhou", "web", M)]["consumers"] == ["asg-web"]
    assert by_view[("cn-hangzhou", "acs:100001:app-a", N)]["consumers"] == []
    assert "consumers" not in diff_states(old, new, shipped_policy()).to_json()["resolution_changes"][0]


# ---- which resolutions diff may skip ----


def _keys(text: str) -> object:
    policy = load_policy(sources=[Source("r.rules", text)])
    assert policy.resolution is not None
    return policy.resolution.family_keys


def test_shipped_resolution_depends_only_on_its_family() -> None:
    res = shipped_policy().resolution
    assert res is not None and res.family_keys is not None
    from imagefam.engine.environment import EcsContext as Ctx

    ctx = Ctx(family="acs:100001:web", region="r1", caller="200002")
    assert {k.family(ctx) for k in res.family_keys} == {"web"}
    # the owner the name designates, and public images: another account's "web" is never read
    assert sorted((k.fields, tuple(v(ctx) for v in k.values), k.member) for k in res.family_keys) == [
        (("ImageFamily", "ImageOwnerId", "RegionId"), ("web", "100001", "r1"), None),
        (("ImageFamily", "RegionId"), ("web", "r1"), "ImageOwnerAlias")]


@pytest.mark.parametrize("extra", [
    # reads the snapshot time
    "require fresh: taken_at == null or CreationTime <= taken_at",
    # reads the time through age()
    "require soaked: age(it) >= days(7)",
    # reads other images through a definition
    "require newest: not exists(others(it))",
])
def test_resolutions_that_read_more_are_all_recomputed(extra: str) -> None:
    text = f"""
def others(img: Image) = images where ImageOwnerId == img.ImageOwnerId and Status == "Creating"
resolve
  candidates images where RegionId == region and ImageFamily == short_name(family)
  require visible: visible(it, caller)
  {extra}
  order by CreationTime desc
"""
    assert _keys(text) is None
    # without the extra requirement the block depends on its family only
    assert _keys(text.replace(extra, "")) is not None


# ---- against resolving everything ----

SETTINGS = settings(max_examples=max(FUZZ_EXAMPLES // 2, 20), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def edited(draw: st.DrawFn) -> tuple[list[Image], list[Image]]:
    old = draw(images(max_images=12))
    new: list[Image] = []
    for i in old:
        what = draw(st.sampled_from(("keep", "keep", "drop", "status", "family", "share", "public", "time")))
        if what == "drop":
            continue
        if what == "status":
            i = replace(i, Status=draw(st.sampled_from(("Available", "Deprecated", "Creating"))))
        elif what == "family" and i.ImageOwnerAlias is None:
            i = replace(i, ImageFamily=draw(st.sampled_from((*FAMILIES, None))))
        elif what == "share" and i.ImageOwnerAlias is None:
            i = replace(i, SharedWith=tuple(draw(st.lists(st.sampled_from((*ACCOUNTS, OUTSIDER)), max_size=2,
                                                          unique=True))))
        elif what == "public" and i.ImageOwnerAlias is None:
            i = replace(i, IsPublic=not i.IsPublic)
        elif what == "time":
            i = replace(i, CreationTime=draw(st.sampled_from(TIMES)))
        new.append(i)
    extra = draw(images(max_images=4))
    taken = {(i.ImageId, i.RegionId) for i in new}
    ids = {i.ImageId for i in old}
    for k, i in enumerate(extra):
        image_id = f"n-{k}" if i.ImageOwnerAlias is None or i.ImageId in ids else i.ImageId
        if (image_id, i.RegionId) not in taken:
            new.append(replace(i, ImageId=image_id))
    return old, new


def _all_names() -> list[str]:
    return [*FAMILIES, *SYSTEM_FAMILIES, *(f"acs:{a}:{f}" for a in ACCOUNTS for f in FAMILIES)]


@SETTINGS
@given(edited())
def test_resolution_changes_match_resolving_everything(pair: tuple[list[Image], list[Image]]) -> None:
    old_images, new_images = pair
    old, new = State.of(old_images), State.of(new_images)
    policy = shipped_policy()
    d = diff_states(old, new, policy)
    reported = {(c.region, c.family, c.viewer): (c.before, c.after) for c in d.resolution_changes}
    assert len(reported) == len(d.resolution_changes)
    keys = [(c.region, c.family, c.viewer) for c in d.resolution_changes]
    assert keys == sorted(keys)
    r_old, r_new = Resolver(policy, old.images), Resolver(policy, new.images)

    def ids(name: str, region: str, viewer: str) -> tuple[str | None, str | None]:
        b, a = r_old.image(name, region, viewer), r_new.image(name, region, viewer)
        return (b.ImageId if b else None), (a.ImageId if a else None)

    for (region, name, viewer), change in reported.items():  # every reported change is real
        assert change[0] != change[1]
        assert ids(name, region, viewer) == change
    for name in _all_names():  # every real change is reported, for the account or as "any other"
        for region in REGIONS:
            for viewer in (*ACCOUNTS, OUTSIDER):
                b, a = ids(name, region, viewer)
                if b != a:
                    assert reported.get((region, name, viewer), reported.get((region, name, COMMUNITY))) == (b, a), (
                        region, name, viewer, b, a, reported)
    # the full computation (as for a policy that may read anything) agrees
    res = policy.resolution
    assert res is not None
    full = diff_states(old, new, replace(policy, resolution=replace(res, family_keys=None)))
    assert full.resolution_changes == d.resolution_changes


def test_time_differences_alone_change_nothing_for_the_shipped_policy() -> None:
    images_ = [Image(ImageId="m-1", RegionId="r1", CreationTime=TIMES[0], Status="Available",
                     ImageOwnerId=M, ImageFamily="web")]
    d = diff_states(State.of(images_, TIMES[0]), State.of(images_, TIMES[3]), shipped_policy())
    assert d.empty


def test_no_resolution_policy_is_an_error_not_a_silent_pass(states: tuple[Path, Path],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    old, new = states
    run = run_main(capsys, "diff", old, new, "--no-default-policy", "--fail-on", "resolution")
    assert_clean_error(run)
    assert "resolve" in run.err


@pytest.mark.parametrize("candidates", [
    # whether an image is a candidate depends on the others (a count over the family)
    "if count(images where RegionId == region and ImageFamily == short_name(family)) > 3 then [] "
    "else images where RegionId == region and ImageFamily == short_name(family)",
    # a condition that can be null makes the whole list null when one image has a null field
    "images where RegionId == region and ImageFamily == short_name(family) and ImageName startswith \"v\"",
])
def test_candidate_lists_that_depend_on_other_images_are_all_recomputed(candidates: str) -> None:
    text = f"""
resolve
  candidates {candidates}
  require visible: visible(it, caller)
  order by CreationTime desc
"""
    assert _keys(text) is None


def test_one_snapshot_from_standard_input(states: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    import os
    import subprocess
    import sys

    from helpers_engine import ROOT

    old, new = states
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "imagefam.cli", "diff", str(old), "-", "--format", "json"],
                          input=new.read_text(), capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["resolution_changes"] == EXPECTED["resolution_changes"]
    both = run_main(capsys, "diff", "-", "-")
    assert_clean_error(both)
    assert "standard input" in both.err
