"""Pruning at load for `imagefam check` (imagefam.engine.prune): the regions a plan names are
indexed, the others only validated, and the answer is always a full load's.

- a differential property: random states over four regions and random plans (every action),
  checked on a pruned store and on the whole state, give the same contract JSON;
- a rule that reads images without a region (or outside the plan's regions) makes the check
  start again on every image, with the same answer, and says so;
- the guard itself: which reads a pruned store answers, which it refuses;
- the CLI: `--verbose` says what was skipped, the output is byte-identical to an unpruned
  check, and a bad image in a region left out is still exit 2.
"""

from __future__ import annotations

import functools
import io
import json
import tempfile
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from helpers_engine import FUZZ_EXAMPLES, shipped_policy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_preflight_properties import step_data

from imagefam.cli import main
from imagefam.engine.loader import load_state, plan_from_data
from imagefam.engine.models import Image
from imagefam.engine.parsing import InputError
from imagefam.engine.policy import load_policy
from imagefam.engine.preflight import check
from imagefam.engine.prune import PrunedStore, plan_reach, step_regions
from imagefam.engine.state import State
from imagefam.engine.store import ImageStore, OutOfReach
from imagefam.rules.compiled import Policy
from imagefam.rules.errors import Source

SETTINGS = settings(max_examples=FUZZ_EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
REGIONS = ("r1", "r2", "r3", "r4")
ACCOUNTS = ("1001", "2002", "3003")
BASE = datetime(2020, 1, 1, tzinfo=UTC)


def _img(i: str, region: str, owner: str | None = "1001", family: str | None = "web", days: int = 0,
         **kw: Any) -> Image:
    return Image(ImageId=i, RegionId=region, CreationTime=BASE + timedelta(days=days), Status="Available",
                 ImageOwnerId=owner, ImageFamily=family, **kw)


@st.composite
def estates(draw: st.DrawFn) -> tuple[list[Image], datetime | None]:
    out: dict[tuple[str, str], Image] = {}
    for k in range(draw(st.integers(0, 14))):
        region = draw(st.sampled_from(REGIONS))
        days = draw(st.integers(0, 3))
        if draw(st.integers(0, 8)) == 0:  # public: the same ImageId in several regions
            img = Image(ImageId="pub-1", RegionId=region, CreationTime=BASE + timedelta(days=days),
                        Status="Available", ImageOwnerAlias="system", ImageFamily="acs:os")
        else:
            owner = draw(st.sampled_from(ACCOUNTS))
            img = Image(ImageId=f"m-{k:02d}", RegionId=region, CreationTime=BASE + timedelta(days=days),
                        Status=draw(st.sampled_from(("Available", "Available", "Deprecated", "Creating"))),
                        ImageOwnerId=owner, ImageFamily=draw(st.sampled_from(("web", "db", None))),
                        SharedWith=tuple(draw(st.lists(st.sampled_from([a for a in ACCOUNTS if a != owner]),
                                                       max_size=2, unique=True))),
                        IsPublic=draw(st.integers(0, 4)) == 0)
        out[(img.ImageId, img.RegionId)] = img
    return list(out.values()), draw(st.sampled_from((None, BASE + timedelta(days=30))))


def _both(images: list[Image], taken: datetime | None, plan: Any, policy: Any) -> tuple[Any, Any, PrunedStore | None]:
    full = check(State.of(images, taken), plan, policy).to_json()
    reach = plan_reach([plan])
    if reach is None:
        return full, full, None
    store = PrunedStore(list(images), reach)
    return full, check(State(store, taken), plan, policy).to_json(), store


@SETTINGS
@given(estate=estates(), data=st.data())
def test_a_pruned_check_answers_as_a_full_one(estate: tuple[list[Image], datetime | None],
                                               data: st.DataObject) -> None:
    images, taken = estate
    steps = [data.draw(step_data(images, i)) for i in range(data.draw(st.integers(1, 6)))]
    plan = plan_from_data({"steps": steps})
    policy = shipped_policy() if data.draw(st.integers(0, 3)) else _regionless()
    full, pruned, store = _both(images, taken, plan, policy)
    assert pruned == full
    if store is not None and store.abandoned is None:  # it really ran on the regions named only
        assert set(store._regions) <= store.kept


def test_steps_in_one_region_leave_the_others_out() -> None:
    images = [_img("m-1", "r1"), _img("m-2", "r1", days=1), _img("m-3", "r2"), _img("m-4", "r3", owner="2002")]
    plan = plan_from_data({"caller": "1001", "steps": [
        {"Action": "CreateImage", "RegionId": "r1", "ImageFamily": "web"},
        {"Action": "RunInstances", "RegionId": "r1", "ImageFamily": "web"},
        {"Action": "ModifyImageAttribute", "RegionId": "r1", "ImageId": "m-2", "Status": "Deprecated"}]})
    full, pruned, store = _both(images, None, plan, shipped_policy())
    assert pruned == full and store is not None
    assert store.abandoned is None and store.skipped == {"r2": 1, "r3": 1} and len(store._by_id) == 2
    assert full["steps"][1]["resolved_image_id"] == "m-imagefam-step0"  # newer than every image, r3's too


REGIONLESS = """
rule too-many-images-anywhere
  on CreateImage
  deny when count(images where ImageOwnerId == caller) >= 3
  message "{caller} has 3 images or more"
"""


@functools.cache
def _regionless() -> Policy:
    return load_policy(sources=[Source("extra.rules", REGIONLESS)])


def test_a_rule_reading_every_region_undoes_the_pruning_with_the_same_answer() -> None:
    images = [_img("m-1", "r1"), _img("m-2", "r2"), _img("m-3", "r3")]
    policy = _regionless()
    plan = plan_from_data({"caller": "1001", "steps": [{"Action": "CreateImage", "RegionId": "r1"}]})
    full, pruned, store = _both(images, None, plan, policy)
    assert pruned == full and full["steps"][0]["decision"] == "deny"  # r2's and r3's images counted
    assert store is not None and store.abandoned is not None and "naming no region" in store.abandoned


def test_the_guard_answers_only_reads_of_the_regions_kept() -> None:
    store = PrunedStore([_img("m-1", "r1"), _img("m-2", "r2", days=5), _img("pub", "r2", owner=None,
                                                                               ImageOwnerAlias="system")],
                        frozenset({"r1"}))
    assert len(store) == 3 and store.newest == BASE + timedelta(days=5)
    assert [i.ImageId for i in store.lookup(("ImageFamily", "RegionId"), ("web", "r1"))] == ["m-1"]
    assert store.get("m-1", "r1") is not None and store.get("m-1") is not None
    assert "m-2" in store and "nope" not in store
    for read in (lambda: store.lookup(("ImageFamily", "RegionId"), ("web", "r2")),
                 lambda: store.lookup(("ImageFamily",), ("web",)), lambda: store.get("m-2", "r2"),
                 lambda: store.get("m-2"), lambda: list(store), lambda: store.by_key(), store.copy,
                 lambda: store.value_counts(("ImageOwnerId",), ("1001",), "ImageFamily"),
                 lambda: store.groups(("RegionId",))):
        with pytest.raises(OutOfReach):
            read()
    assert store.whole().get("m-2", "r2") is not None
    with pytest.raises(TypeError):
        store.put(_img("m-9", "r1"))
    with pytest.raises(TypeError):
        store.remove("m-1", "r1")


# Public reads of a store that a pruned store answers through the guarded ones (by id and region,
# or whole-state facts), so it need not override them.
_ANSWERED_THROUGH_GUARDED_READS = {"get", "newest", "stats", "kept", "skipped", "whole", "abandoned"}


def test_every_public_read_of_a_store_is_guarded_when_pruned() -> None:
    # A new read added to ImageStore must be overridden by PrunedStore (or listed above, with a
    # reason): otherwise it would answer from the regions kept only.
    public = {n for cls in ImageStore.__mro__[:-1] for n in vars(cls) if not n.startswith("_")}
    unguarded = {n for n in public if n not in vars(PrunedStore) and n not in _ANSWERED_THROUGH_GUARDED_READS}
    assert not unguarded, f"reads PrunedStore does not guard: {sorted(unguarded)}"


def test_the_reach_of_a_plan() -> None:
    plan = plan_from_data({"caller": "1", "steps": [
        {"Action": "CopyImage", "RegionId": "r1", "ImageId": "m-1", "DestinationRegionId": "r2"},
        {"Action": "CreateScalingConfiguration", "ScalingGroupId": "g", "ImageFamily": "f", "region": "r3"}]})
    assert plan_reach([plan]) == {"r1", "r2", "r3"}
    assert step_regions(plan.steps[0]) == {"r1", "r2"}
    no_region = plan_from_data({"caller": "1", "steps": [{"Action": "ReplaceSystemDisk", "InstanceId": "i-1"}]})
    scaling = plan_from_data({"caller": "1", "steps": [
        {"Action": "CreateScalingConfiguration", "ScalingGroupId": "g", "ImageFamily": "f"}]})
    assert plan_reach([no_region]) is None and plan_reach([scaling]) is None and plan_reach([plan, scaling]) is None
    unknown = plan.steps[0]
    unknown.unknown = {"DestinationRegionId": "known after apply"}
    assert step_regions(unknown) is None


def _files(tmp_path: Path, images: list[dict[str, Any]], steps: list[dict[str, Any]]) -> tuple[str, str]:
    state, plan = tmp_path / "state.json", tmp_path / "plan.json"
    state.write_text(json.dumps({"TakenAt": "2025-06-01T00:00:00Z", "Images": images}))
    plan.write_text(json.dumps({"caller": "1001", "steps": steps}))
    return str(state), str(plan)


IMAGES = [{"ImageId": f"m-{r}{k}", "RegionId": r, "CreationTime": f"2025-05-0{k + 1}T00:00:00Z",
           "Status": "Available", "ImageOwnerId": "1001", "ImageFamily": "web"} for r in REGIONS for k in range(3)]
STEPS = [{"Action": "RunInstances", "RegionId": "r2", "ImageFamily": "web"},
         {"Action": "CopyImage", "RegionId": "r2", "ImageId": "m-r22", "DestinationRegionId": "r3"},
         {"Action": "DeleteImage", "RegionId": "r3", "ImageId": "m-r30"}]


def test_the_cli_says_what_it_skipped_and_answers_as_an_unpruned_check(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    state, plan = _files(tmp_path, IMAGES, STEPS)
    assert main(["check", plan, "--state", state, "--format", "json", "--verbose"]) == 0
    out, err = capsys.readouterr()
    assert "loaded the 6 images of the 2 region(s) the plan names (r2, r3)" in err
    assert "left out 6 images of 2 other region(s) (r1 3, r4 3)" in err
    with monkeypatch.context() as m:  # no reach: every image indexed
        m.setattr("imagefam.engine.prune.plan_reach", lambda plans: None)
        assert main(["check", plan, "--state", state, "--format", "json", "--verbose"]) == 0
    unpruned, err = capsys.readouterr()
    assert unpruned == out and "all 12 images were loaded" in err
    assert main(["check", plan, "--state", state, "--format", "json"]) == 0
    assert capsys.readouterr().err == ""  # without --verbose: nothing said


def test_a_bad_image_in_a_region_left_out_is_still_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = [*IMAGES, {"ImageId": "m-bad", "RegionId": "r4", "CreationTime": "2025-05-01T00:00:00Z",
                     "Status": "Available"}]  # a custom image without its owner
    state, plan = _files(tmp_path, bad, STEPS)
    assert main(["check", plan, "--state", state]) == 2
    assert "Images[12] (m-bad) field ImageOwnerId: required for a custom image" in capsys.readouterr().err
    dup = [*IMAGES, {**IMAGES[0], "RegionId": "r4"}]  # a custom ImageId in two regions
    state, plan = _files(tmp_path, dup, STEPS)
    assert main(["check", plan, "--state", state]) == 2
    assert "duplicate ImageId" in capsys.readouterr().err


def test_a_pruned_load_validates_and_keeps_the_file_order(tmp_path: Path) -> None:
    state, _ = _files(tmp_path, IMAGES, STEPS)
    pruned = load_state(state, reach=frozenset({"r1", "r4"}))
    assert isinstance(pruned.images, PrunedStore) and len(pruned.images) == 12
    whole = pruned.images.whole()
    assert [i.ImageId for i in whole] == [i.ImageId for i in load_state(state).images]


def _image_json(img: Image) -> dict[str, Any]:
    doc: dict[str, Any] = {"ImageId": img.ImageId, "RegionId": img.RegionId, "Status": img.Status,
                           "CreationTime": img.CreationTime.strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "SharedWith": list(img.SharedWith), "IsPublic": img.IsPublic}
    for key in ("ImageOwnerId", "ImageOwnerAlias", "ImageFamily"):
        if getattr(img, key) is not None:
            doc[key] = getattr(img, key)
    return doc


@SETTINGS
@given(estate=estates(), family=st.sampled_from(("web", "db", "acs:os", "acs:1001:web", "acs:2002:db")),
       region=st.sampled_from(REGIONS), caller=st.sampled_from(ACCOUNTS), fmt=st.sampled_from(("json", "text")))
def test_resolve_in_one_region_answers_as_with_every_image(
        estate: tuple[list[Image], datetime | None], family: str, region: str, caller: str, fmt: str) -> None:
    # `resolve --region R` loads only R's images; the output and status are a full load's.
    images, taken = estate
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.json"
        doc: dict[str, Any] = {"Images": [_image_json(i) for i in images]}
        if taken is not None:
            doc["TakenAt"] = taken.strftime("%Y-%m-%dT%H:%M:%SZ")
        path.write_text(json.dumps(doc))
        args = ["resolve", "--family", family, "--region", region, "--caller", caller, "--state", str(path), "--format", fmt]
        reaches: list[frozenset[str] | None] = []
        real_state = _cli_state()

        def spy(a: Any, reach: frozenset[str] | None = None) -> State:
            reaches.append(reach)
            return real_state(a, reach)

        with redirect_stdout(io.StringIO()) as pruned_out, patch("imagefam.cli._state", spy):
            pruned_code = main(args)
        assert reaches == [frozenset({region})]  # the pruned load was asked for
        with redirect_stdout(io.StringIO()) as full_out, patch("imagefam.cli._state", _full_state):
            full_code = main(args)
    assert (pruned_code, pruned_out.getvalue()) == (full_code, full_out.getvalue())


def _cli_state() -> Any:
    import imagefam.cli

    return imagefam.cli._state


def test_resolve_runs_again_with_every_image_when_it_reads_outside_its_region(tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from imagefam.engine.resolver import Resolver

    path = tmp_path / "state.json"
    path.write_text(json.dumps({"Images": [_image_json(_img("m-1", "r1")), _image_json(_img("m-2", "r2"))]}))
    real = Resolver.trace
    calls: list[type] = []

    def reads_everything(self: Any, family: str, region: str, caller: str) -> Any:
        calls.append(type(self.images))
        if isinstance(self.images, PrunedStore):
            list(self.images)  # a read of every image: refused by a pruned store
        return real(self, family, region, caller)

    with patch.object(Resolver, "trace", reads_everything):
        code = main(["resolve", "--family", "web", "--region", "r1", "--caller", "1001", "--state", str(path), "--format", "json"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["image_id"] == "m-1"
    assert calls == [PrunedStore, ImageStore]


def _full_state(args: Any, reach: frozenset[str] | None = None) -> State:
    from imagefam.engine.loader import load_states

    return load_states([args.state], args.account, args.stdin_format, None)


def test_verbose_escapes_region_names_from_the_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a region name is data: a control character in it never starts a line of stderr (a CI log
    # would obey "::error") nor reaches the terminal as an escape sequence
    evil = "r2\x1b[31m\n::error x"
    images = [{**IMAGES[0], "RegionId": "r1"}, {**IMAGES[1], "RegionId": evil}]
    state, plan = _files(tmp_path, images, [{"Action": "RunInstances", "RegionId": "r1", "ImageFamily": "web"}])
    assert main(["check", plan, "--state", state, "--format", "json", "--verbose"]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err and "r2\\x1b[31m\\n::error x 1" in err


# ---- report --region: a report on some regions loads only theirs, and says what the full one says there

NO_DRIFT = """
audit family-region-drift
  for each family info when count(family.Images) > 1000
  message "replaced: this policy reads one region at a time"
"""


@functools.cache
def _regional() -> Policy:
    """The shipped policy without its one audit that compares a family across regions."""
    return load_policy(sources=[Source("regional.rules", NO_DRIFT)])


def _in(doc: dict[str, Any], regions: frozenset[str], images: list[Image], state: State) -> dict[str, Any]:
    """The full report's JSON ``doc`` cut down to ``regions`` by hand: the reference."""
    from imagefam.engine.report import scopes

    findings = [f for f in doc["findings"] if f["subject"]["region"] in regions]
    families, accounts = scopes(state)
    by_sev = {s: sum(f["severity"] == s for f in findings) for s in doc["summary"]["by_severity"]}
    rules = sorted({f["rule"] for f in findings})
    summary = {"by_severity": by_sev, "by_rule": {r: sum(f["rule"] == r for f in findings) for r in rules},
               "total": len(findings), "images": sum(i.RegionId in regions for i in images),
               "families": sum(f.RegionId in regions for f in families),
               "accounts": sum(a.RegionId in regions for a in accounts)}
    return {"findings": findings, "summary": summary, "regions": sorted(regions)}


@SETTINGS
@given(estate=estates(), regions=st.frozensets(st.sampled_from(REGIONS), min_size=1),
       shipped=st.booleans())
def test_a_report_on_some_regions_is_the_full_report_cut_to_them(
        estate: tuple[list[Image], datetime | None], regions: frozenset[str], shipped: bool) -> None:
    from imagefam.engine.report import report

    images, taken = estate
    policy = shipped_policy() if shipped else _regional()
    whole = State.of(images, taken)
    if not regions <= {i.RegionId for i in images}:  # a region with nothing in it: a typo, refused
        with pytest.raises(InputError, match="no image, scaling configuration or instance"):
            report(State(PrunedStore(list(images), regions), taken), policy, regions)
        return
    expected = _in(report(whole, policy).to_json(), regions, images, whole)
    store = PrunedStore(list(images), regions)
    assert report(State(store, taken), policy, regions).to_json() == expected  # loaded: those regions
    assert report(State.of(images, taken), policy, regions).to_json() == expected  # loaded: every region
    if not shipped:  # no rule here reads another region: the report ran on the regions named only
        assert store.abandoned is None and set(store._regions) <= regions


def test_report_region_on_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state, _ = _files(tmp_path, IMAGES, STEPS)
    regional = tmp_path / "regional.rules"
    regional.write_text(NO_DRIFT)
    assert main(["report", "--state", state, "--region", "r2", "--region", "r4", "--policy", str(regional),
                 "--verbose"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("imagefam compliance report: 6 images, 2 families, 2 account-regions in regions r2, r4:")
    assert "loaded the 6 images of the 2 region(s) named by --region (r2, r4); left out 6 images" in err
    assert "ran again" not in err
    assert main(["report", "--state", state, "--region", "r2", "--verbose", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["regions"] == ["r2"] and json.loads(out)["summary"]["images"] == 3
    assert "so the report ran again with every image loaded" in err  # the shipped drift audit reads r1, r3, r4
    assert main(["report", "--state", state, "--region", "r2", "--format", "html", "-o", str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text()
    assert "in region r2" in page and "m-r20" in page and "m-r10" not in page
    with pytest.raises(SystemExit) as exited:
        main(["report", "--state", state, "--region", "", "--format", "json"])
    assert exited.value.code == 2 and "argument --region: must not be empty" in capsys.readouterr().err


def test_report_region_html_with_a_resolution_reading_every_region(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # The page resolves each family again; a resolution policy whose candidates name no region
    # needs every image: the page is made again on the whole state (found in review: it crashed).
    state, _ = _files(tmp_path, IMAGES, STEPS)
    rules = tmp_path / "res.rules"
    rules.write_text('resolve\n  candidates images where ImageFamily == family\n'
                     '  require available: Status == "Available"\n    otherwise "status is {Status}"\n'
                     '  order by CreationTime desc, ImageId desc\n\n'
                     'audit big-family\n  for each family info when count(family.Images) > 1000\n  message "off"\n')
    page = tmp_path / "r.html"
    assert main(["report", "--state", state, "--no-default-policy", "--policy", str(rules), "--region", "r1",
                 "--format", "html", "-o", str(page), "--verbose"]) == 0
    err = capsys.readouterr().err
    assert "so the report ran again with every image loaded" in err
    text = page.read_text()
    assert "m-r10" in text and "m-r20" not in text and "in region r1" in text


def test_report_on_a_region_the_state_does_not_hold_is_an_input_error(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # a misspelled region would give an empty report that passes: exit 2, with the regions it holds
    state, _ = _files(tmp_path, IMAGES, STEPS)
    assert main(["report", "--state", state, "--region", "r2", "r22", "--format", "json"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "region r22: no image, scaling configuration or instance of" in err
    assert "(its regions: r1, r2, r3, r4); did you mean 'r2'?" in err
    assert main(["report", "--state", state, "--region", "r\x1b[2J\nx"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err
