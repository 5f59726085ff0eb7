"""Property tests of the plan checker (imagefam.check and the Session it loops over).

Random plans of every supported action over random states:

- never crash, and always produce the contract JSON;
- a denied step changes nothing (the simulated images and every resolution stay the same, no
  family change is recorded; dropping denied steps from the plan changes no later answer);
- an allowed step applies exactly its documented effect (docs/formats.md, "What an allowed step
  changes");
- resolved_image_id is the reference resolution on the state the step sees, and never an image
  the caller cannot see;
- family_changes are exact: each entry is a real change of what that viewer resolves, and every
  change seen by the image's owner or sharees is recorded;
- from a compliant state near the quotas (99 families, a family of 99 images), allowed steps
  never push a family past 100 images or an account past 100 families in a region
  (a RuleBasedStateMachine and random plans).

Example count: IMAGEFAM_FUZZ_EXAMPLES (default 150).
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from helpers_engine import (
    FUZZ_EXAMPLES,
    assert_check_json,
    ref_resolve,
    ref_seen_as,
    ref_visible,
    shipped_policy,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import imagefam
from imagefam.engine.loader import Plan, plan_from_data
from imagefam.engine.models import Image
from imagefam.engine.preflight import COMMUNITY, Session
from imagefam.engine.render import check_text
from imagefam.engine.state import State

SETTINGS = settings(max_examples=FUZZ_EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])
ACCOUNTS = ("1001", "2002", "3003")
OUTSIDER = "4004"
VIEWERS = (*ACCOUNTS, OUTSIDER)
REGIONS = ("r1", "r2")
FAMILIES = ("web", "db")
REQUEST_FAMILIES = ("web", "db", "api", "", "acs:1001:web", "aliyun-x", "1bad", "w")
BASE = datetime(2020, 1, 1, tzinfo=UTC)
TIMES = [BASE + timedelta(days=d) for d in range(3)]
LAUNCHES = ("RunInstances", "CreateInstance", "DescribeImageFromFamily")


# ---------------------------------------------------------------- strategies


@st.composite
def states(draw: st.DrawFn) -> State:
    n = draw(st.integers(0, 10)) if draw(st.integers(0, 5)) == 0 else draw(st.integers(3, 10))
    out = []
    for k in range(n):
        system = draw(st.integers(0, 9)) == 0
        region = draw(st.sampled_from(REGIONS))
        if system:  # a public image: the same ImageId in every region
            out.append(Image(ImageId="ubuntu-pub" if draw(st.booleans()) else f"m-{k:02d}", RegionId=region, CreationTime=draw(st.sampled_from(TIMES)),
                             Status="Available", ImageOwnerAlias="system", ImageFamily="acs:os"))
            continue
        owner = draw(st.sampled_from(ACCOUNTS))
        out.append(Image(
            ImageId=f"m-{k:02d}", RegionId=region, CreationTime=draw(st.sampled_from(TIMES)),
            Status=draw(st.sampled_from(("Available", "Available", "Deprecated", "Creating"))),
            ImageOwnerId=owner, ImageFamily=draw(st.sampled_from((*FAMILIES, None))),
            SharedWith=tuple(draw(st.lists(st.sampled_from([a for a in ACCOUNTS if a != owner]), max_size=2,
                                           unique=True))),
            IsPublic=draw(st.integers(0, 4)) == 0))
    taken = draw(st.sampled_from((None, BASE + timedelta(days=30))))
    unique = {(i.ImageId, i.RegionId): i for i in out}
    return State.of(list(unique.values()), taken)


def _family_name(draw: st.DrawFn) -> str:
    owner = draw(st.sampled_from((*ACCOUNTS, None)))
    fam = draw(st.sampled_from((*FAMILIES, "api")))
    if owner is None:
        return draw(st.sampled_from((fam, "acs:os")))
    return f"acs:{owner}:{fam}"


@st.composite
def step_data(draw: st.DrawFn, images: list[Image], index: int) -> dict[str, Any]:
    """One random plan step (a dict as a plan file holds it). Most steps name an image of the
    state in its own region, called by its owner, so that many of them are allowed."""
    known = {i.ImageId: i for i in images}
    ids = [*sorted(known), *[f"m-new{k}" for k in range(index)], "m-missing"]
    action = draw(st.sampled_from(("CreateImage", "CopyImage", "ModifyImageAttribute", "ModifyImageAttribute",
                                   "ModifyImageSharePermission", "DeleteImage", "RunInstances", "CreateInstance",
                                   "DescribeImageFromFamily", "ReplaceSystemDisk")))
    region = draw(st.sampled_from(REGIONS))
    caller = draw(st.sampled_from(VIEWERS))
    pick_known = bool(known) and draw(st.integers(0, 4)) > 0
    image_id: str = draw(st.sampled_from(sorted(known) if pick_known else ids))
    target = known.get(image_id)
    if target is not None and draw(st.integers(0, 3)) > 0:  # usually: the image's region and owner
        region = target.RegionId
        if target.ImageOwnerId is not None and action not in ("CopyImage", *LAUNCHES):
            caller = target.ImageOwnerId
    s: dict[str, Any] = {"Action": action, "caller": caller}
    if action == "CreateImage":
        s.update(RegionId=region, creates=f"m-new{index}")
        fam = draw(st.sampled_from((None, *FAMILIES, *FAMILIES, *REQUEST_FAMILIES)))
        if fam is not None:
            s["ImageFamily"] = fam
    elif action == "CopyImage":
        s.update(RegionId=region, ImageId=image_id, DestinationRegionId=draw(st.sampled_from(REGIONS)),
                 creates=f"m-new{index}")
    elif action == "ModifyImageAttribute":
        s.update(RegionId=region, ImageId=image_id)
        fam = draw(st.sampled_from((None, None, None, *FAMILIES, *FAMILIES, *REQUEST_FAMILIES)))
        if fam is not None:
            s["ImageFamily"] = fam
        status = draw(st.sampled_from((None, "Available", "Deprecated")))
        if status is not None:
            s["Status"] = status
        if draw(st.booleans()):
            s["ImageName"] = "renamed"
    elif action == "ModifyImageSharePermission":
        s.update(RegionId=region, ImageId=image_id,
                 AddAccount=draw(st.lists(st.sampled_from(VIEWERS), max_size=3)),
                 RemoveAccount=draw(st.lists(st.sampled_from(VIEWERS), max_size=2)))
        public = draw(st.sampled_from((None, None, True, False)))
        if public is not None:
            s["IsPublic"] = public
    elif action == "DeleteImage":
        s.update(RegionId=region, ImageId=image_id)
    elif action in ("RunInstances", "CreateInstance", "DescribeImageFromFamily"):
        s["RegionId"] = region
        how = draw(st.sampled_from(("family", "family", "family", "image", "both")))
        if action == "DescribeImageFromFamily":
            how = "family"
        if how in ("family", "both"):
            if target is not None and target.ImageFamily and draw(st.integers(0, 3)):
                s["ImageFamily"] = ref_seen_as(target, caller)  # the name the caller knows it by
            else:
                s["ImageFamily"] = _family_name(draw) if draw(st.booleans()) else draw(st.sampled_from(FAMILIES))
        if how in ("image", "both"):
            s["ImageId"] = image_id
        if action != "DescribeImageFromFamily" and draw(st.integers(0, 5)) == 0:
            s["channel"] = "console"
    else:  # ReplaceSystemDisk
        s.update(InstanceId="i-1", ImageId=image_id)
        if draw(st.booleans()):
            s["RegionId"] = region
    return s


@st.composite
def scenarios(draw: st.DrawFn, max_steps: int = 8) -> tuple[State, Plan]:
    state = draw(states())
    n = draw(st.integers(1, max_steps))
    images = list(state.images)
    steps = [draw(step_data(images, i)) for i in range(n)]
    return state, plan_from_data({"steps": steps})


# ---------------------------------------------------------------- reference pieces


Key = tuple[str, str | None]


def _snapshot(state: State) -> dict[Key, Image]:
    """The images by (ImageId, RegionId): ECS image IDs are regional."""
    return {(i.ImageId, i.RegionId): i for i in state.images}


def _key(request: Any) -> Key:
    return (getattr(request, "ImageId", None) or "", getattr(request, "RegionId", None))


def _target(images: dict[Key, Image], request: Any) -> Image | None:
    """The image a request names: its ImageId in its RegionId (or, without a region, the only one)."""
    image_id, region = _key(request)
    if region is not None:
        return images.get((image_id, region))
    hits = [img for (iid, _), img in images.items() if iid == image_id]
    return hits[0] if len(hits) == 1 else None


def _resolutions(images: list[Image]) -> dict[tuple[str, str, str], str | None]:
    """Every (region, name, viewer) resolution the reference knows, over all names in use."""
    viewers = (*VIEWERS, COMMUNITY)  # "*": any other account, which sees only public and community images
    names = {ref_seen_as(i, v) for i in images for v in viewers} - {None}
    out = {}
    for region in REGIONS:
        for viewer in viewers:
            for name in names:
                assert name is not None
                hit = ref_resolve(images, name, region, viewer)
                out[(region, name, viewer)] = hit.ImageId if hit else None
    return out


def _expected_after(before: dict[Key, Image], step: Any, new: Image | None) -> dict[Key, Image]:
    """The documented effect of an allowed step (docs/formats.md)."""
    r = step.request
    after = dict(before)
    a = step.action
    if a in ("CreateImage", "CopyImage"):
        assert new is not None
        after[(new.ImageId, new.RegionId)] = new
        return after
    target = _target(before, r)
    if target is None or target.ImageOwnerId != step.caller:
        return after  # only the owner changes or deletes an image (a DeleteImage of another's is a no-op)
    if a == "ModifyImageAttribute":
        changes: dict[str, Any] = {}
        if r.ImageFamily is not None:
            changes["ImageFamily"] = r.ImageFamily or None
        for name in ("Status", "ImageName", "Description"):
            if getattr(r, name) is not None:
                changes[name] = getattr(r, name)
        after[(target.ImageId, target.RegionId)] = dataclasses.replace(target, **changes)
    elif a == "ModifyImageSharePermission":
        removed = set(r.RemoveAccount[:10])  # ECS: RemoveAccount.N and AddAccount.N take N = 1..10
        kept = [x for x in target.SharedWith if x not in removed]
        added = [x for x in r.AddAccount[:10] if x not in removed]
        shared = tuple(dict.fromkeys(kept + added))
        public = target.IsPublic if r.IsPublic is None else r.IsPublic
        after[(target.ImageId, target.RegionId)] = dataclasses.replace(target, SharedWith=shared, IsPublic=public)
    elif a == "DeleteImage":
        del after[(target.ImageId, target.RegionId)]
    return after


def _check_step(session: Session, step: Any) -> None:
    """Run one step through the session and check every per-step property."""
    before = _snapshot(session.state)
    before_list = list(before.values())
    changes_before = len(session.family_changes)
    result = session.step(step)
    after = _snapshot(session.state)
    r = step.request

    # resolved_image_id: the reference resolution on the state the step sees, always visible
    family = getattr(r, "ImageFamily", None)
    if step.action in LAUNCHES and family:
        want = ref_resolve(before_list, family, getattr(r, "RegionId", "") or "", step.caller)
        assert result.resolved_image_id == (want.ImageId if want else None), (step, result.resolved_image_id)
    else:
        assert result.resolved_image_id is None
    if result.resolved_image_id is not None:
        chosen = before[(result.resolved_image_id, r.RegionId)]
        assert ref_visible(chosen, step.caller), f"{step.caller} got {chosen} it cannot see"
        assert chosen.Status == "Available"

    recorded = session.family_changes[changes_before:]
    if not result.allowed:
        assert after == before, "a denied step changed the state"
        assert recorded == [], "a denied step recorded a family change"
        assert result.created_image_id is None
        return

    # an allowed step applies exactly its documented effect
    new = None
    if step.action in ("CreateImage", "CopyImage"):
        assert result.created_image_id == step.creates
        region = r.RegionId if step.action == "CreateImage" else r.DestinationRegionId
        new = after[(step.creates, region)]
        src = _target(before, r)
        assert new.ImageOwnerId == step.caller and new.ImageOwnerAlias is None
        assert new.Status == "Available" and new.SharedWith == () and not new.IsPublic
        assert new.ImageFamily == ((r.ImageFamily or None) if step.action == "CreateImage" else None)
        assert all(new.CreationTime > i.CreationTime for i in before_list)
        if step.action == "CopyImage":
            assert src is not None
    else:
        assert result.created_image_id is None
    assert after == _expected_after(before, step, new)

    # family_changes: sound for everyone, complete for the owner and the sharees
    res_before = _resolutions(before_list)
    res_after = _resolutions(list(after.values()))
    changed = {k: (res_before.get(k), res_after.get(k)) for k in set(res_before) | set(res_after)
               if res_before.get(k) != res_after.get(k)}
    got = {}
    for c in recorded:
        assert c.step == step.index
        key = (c.region, c.family, c.viewer)
        assert key not in got, f"family change recorded twice: {key}"
        got[key] = (c.before, c.after)
        assert key in changed, f"recorded change {c} did not happen"
        assert changed[key] == (c.before, c.after), (c, changed[key])
        owners = {i.ImageOwnerId for i in (before.get((c.before or "", c.region)), after.get((c.after or "", c.region)))
                  if i is not None}
        assert owners == {c.owner}
    touched = [i for i in (_target(before, r), _target(after, r), new) if i is not None]
    involved = {i.ImageOwnerId for i in touched} | {a for i in touched for a in i.SharedWith}
    if any(i.IsPublic for i in touched):
        involved.add(COMMUNITY)
    for key, pair in changed.items():
        if key[2] in involved:
            assert got.get(key) == pair, f"change {key}: {pair} not recorded (recorded: {recorded})"
        else:  # only a community image can move the view of an account it is not shared with
            assert any(i.IsPublic for i in touched), (key, pair, touched)


# ---------------------------------------------------------------- properties


@SETTINGS
@given(scenarios())
def test_random_plans_never_crash_and_give_contract_json(scenario: tuple[State, Plan]) -> None:
    state, plan = scenario
    result = imagefam.check(state, plan, shipped_policy())
    doc = result.to_json()
    assert_check_json(json.loads(json.dumps(doc)))
    assert len(doc["steps"]) == len(plan.steps)
    assert [s["caller"] for s in doc["steps"]] == [s.caller for s in plan.steps]
    assert result.allowed == doc["allowed"]
    assert check_text(result).strip()


@SETTINGS
@given(scenarios())
def test_check_does_not_modify_the_given_state(scenario: tuple[State, Plan]) -> None:
    state, plan = scenario
    before = sorted(state.images, key=lambda i: i.ImageId)
    imagefam.check(state, plan, shipped_policy())
    assert sorted(state.images, key=lambda i: i.ImageId) == before


@SETTINGS
@given(scenarios())
def test_every_step_denied_unchanged_allowed_exact_resolutions_visible(scenario: tuple[State, Plan]) -> None:
    state, plan = scenario
    session = Session(state, shipped_policy())
    for step in plan.steps:
        _check_step(session, step)


@SETTINGS
@given(scenarios(max_steps=10))
def test_dropping_denied_steps_changes_no_later_answer(scenario: tuple[State, Plan]) -> None:
    """A later step sees the same state whether or not a denied step came before it."""
    state, plan = scenario
    full = imagefam.check(state, plan, shipped_policy())
    kept = [s.step for s in full.steps if s.allowed]
    if len(kept) == len(plan.steps):
        return
    renumbered = [dataclasses.replace(s, index=i) for i, s in enumerate(kept)]
    short = imagefam.check(state, Plan(plan.caller, renumbered), shipped_policy())
    old_index = {i: s.index for i, s in enumerate(kept)}

    def summary(r: Any) -> tuple[Any, ...]:
        return (r.allowed, sorted(f.rule for f in r.violations), sorted(f.rule for f in r.warnings),
                r.resolved_image_id, r.created_image_id)

    assert [summary(r) for r in short.steps] == [summary(r) for r in full.steps if r.allowed]
    assert [(old_index[c.step], c.region, c.family, c.viewer, c.before, c.after) for c in short.family_changes] == [
        (c.step, c.region, c.family, c.viewer, c.before, c.after) for c in full.family_changes]


# ---------------------------------------------------------------- quotas near the limit

OWNER = "1001"


def near_limit_state() -> State:
    """1001 in r1: 98 one-image families f00..f97 plus family big with 99 images (99 families);
    1002's images do not count toward 1001's quotas."""
    images = [Image(ImageId=f"m-f{k:02d}", RegionId="r1", CreationTime=BASE, Status="Available",
                    ImageOwnerId=OWNER, ImageFamily=f"f{k:02d}") for k in range(98)]
    images += [Image(ImageId=f"m-big{k:02d}", RegionId="r1", CreationTime=BASE + timedelta(minutes=k),
                     Status="Deprecated" if k % 3 else "Available", ImageOwnerId=OWNER, ImageFamily="big")
               for k in range(99)]
    images += [Image(ImageId="m-r2", RegionId="r2", CreationTime=BASE, Status="Available", ImageOwnerId=OWNER,
                     ImageFamily="big"),
               Image(ImageId="m-other", RegionId="r1", CreationTime=BASE, Status="Available", ImageOwnerId="2002",
                     ImageFamily="zz-other")]
    return State.of(images, BASE + timedelta(days=1))


QUOTA_FAMILIES = ("big", "f00", "f01", "f97", "new-a", "new-b", "new-c", "zz-other", "")


def assert_within_quotas(images: list[Image]) -> None:
    fam_images = Counter((i.ImageOwnerId, i.RegionId, i.ImageFamily) for i in images
                         if i.ImageFamily is not None and i.ImageOwnerId is not None)
    over = {k: n for k, n in fam_images.items() if n > 100}
    assert not over, f"a family holds more than 100 images: {over}"
    families = Counter((o, r) for o, r, _ in fam_images)
    over2 = {k: n for k, n in families.items() if n > 100}
    assert not over2, f"an account has more than 100 families in a region: {over2}"


def test_near_limit_fixture_is_compliant_and_at_the_edge() -> None:
    images = list(near_limit_state().images)
    assert_within_quotas(images)
    fams = {i.ImageFamily for i in images if i.ImageOwnerId == OWNER and i.RegionId == "r1"}
    assert len(fams) == 99
    assert sum(1 for i in images if i.ImageFamily == "big" and i.RegionId == "r1") == 99


@st.composite
def quota_step(draw: st.DrawFn, index: int) -> dict[str, Any]:
    caller = draw(st.sampled_from((OWNER, OWNER, OWNER, "2002")))
    region = draw(st.sampled_from(("r1", "r1", "r1", "r2")))
    fam = draw(st.sampled_from(QUOTA_FAMILIES))
    kind = draw(st.sampled_from(("CreateImage", "ModifyImageAttribute", "ModifyImageAttribute", "DeleteImage",
                                 "CopyImage")))
    if kind == "CreateImage":
        return {"Action": kind, "RegionId": region, "ImageFamily": fam, "caller": caller, "creates": f"m-q{index}"}
    iid = draw(st.sampled_from(("m-f00", "m-f01", "m-f50", "m-f97", "m-big00", "m-big01", "m-big98", "m-r2",
                                "m-other", *[f"m-q{k}" for k in range(index)])))
    if kind == "DeleteImage":
        return {"Action": kind, "RegionId": region, "ImageId": iid, "caller": caller}
    if kind == "CopyImage":
        return {"Action": kind, "RegionId": region, "ImageId": iid, "DestinationRegionId": "r1", "caller": caller,
                "creates": f"m-q{index}"}
    return {"Action": kind, "RegionId": region, "ImageId": iid, "ImageFamily": fam, "caller": caller}


@st.composite
def quota_plans(draw: st.DrawFn) -> Plan:
    n = draw(st.integers(1, 12))
    return plan_from_data({"steps": [draw(quota_step(i)) for i in range(n)]})


@settings(max_examples=max(20, FUZZ_EXAMPLES // 2), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(quota_plans())
def test_allowed_steps_never_exceed_the_quotas(plan: Plan) -> None:
    session = Session(near_limit_state(), shipped_policy())
    for step in plan.steps:
        session.step(step)
        assert_within_quotas(list(session.state.images))
    assert_within_quotas(list(session.state.images))


def test_the_quota_edge_itself() -> None:
    """The 100th family and the 100th image are allowed; the 101st of each is denied."""
    session = Session(near_limit_state(), shipped_policy())

    def run(**s: Any) -> Any:
        return session.step(plan_from_data({"caller": OWNER, "steps": [s]}).steps[0])

    assert run(Action="CreateImage", RegionId="r1", ImageFamily="new-a", creates="m-n1").allowed  # 100 families
    r = run(Action="CreateImage", RegionId="r1", ImageFamily="new-b", creates="m-n2")
    assert not r.allowed and {f.error_code for f in r.violations} == {"ImageFamilyQuotaExceed"}
    r = run(Action="ModifyImageAttribute", RegionId="r1", ImageId="m-big00", ImageFamily="new-b")
    assert not r.allowed and {f.error_code for f in r.violations} == {"ImageFamilyQuotaFull"}
    # moving the only image of f00 to a new family keeps 100 families: allowed
    assert run(Action="ModifyImageAttribute", RegionId="r1", ImageId="m-f00", ImageFamily="new-b").allowed
    assert run(Action="CreateImage", RegionId="r1", ImageFamily="big", creates="m-n3").allowed  # 100 images
    r = run(Action="CreateImage", RegionId="r1", ImageFamily="big", creates="m-n4")
    assert not r.allowed and {f.error_code for f in r.violations} == {"ImageQuotaExceed.ImageFamily"}
    r = run(Action="ModifyImageAttribute", RegionId="r1", ImageId="m-f01", ImageFamily="big")
    assert not r.allowed and "ImageQuotaFull.ImageFamily" in {f.error_code for f in r.violations}
    # the same names in another region, or for another account, are not limited
    assert run(Action="CreateImage", RegionId="r2", ImageFamily="new-c", creates="m-n5").allowed
    assert session.step(plan_from_data({"caller": "2002", "steps": [
        {"Action": "CreateImage", "RegionId": "r1", "ImageFamily": "big", "creates": "m-n6"}]}).steps[0]).allowed
    assert_within_quotas(list(session.state.images))


@settings(max_examples=max(10, FUZZ_EXAMPLES // 6), stateful_step_count=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
class QuotaMachine(RuleBasedStateMachine):
    """Random API calls against the near-limit state, one at a time through a Session."""

    @initialize()
    def start(self) -> None:
        self.session = Session(near_limit_state(), shipped_policy())
        self.n = 0

    def _ids(self) -> list[str]:
        return sorted(i.ImageId for i in self.session.state.images if i.ImageOwnerId in (OWNER, "2002"))

    def _do(self, s: dict[str, Any]) -> None:
        self.n += 1
        step = plan_from_data({"steps": [s]}).steps[0]
        step = dataclasses.replace(step, index=self.n)
        _check_step(self.session, step)

    @rule(fam=st.sampled_from(QUOTA_FAMILIES), region=st.sampled_from(("r1", "r2")),
          caller=st.sampled_from((OWNER, "2002")))
    def create(self, fam: str, region: str, caller: str) -> None:
        self._do({"Action": "CreateImage", "RegionId": region, "ImageFamily": fam, "caller": caller,
                  "creates": f"m-sm{self.n}"})

    @rule(data=st.data(), fam=st.sampled_from(QUOTA_FAMILIES), caller=st.sampled_from((OWNER, OWNER, "2002")))
    def move(self, data: st.DataObject, fam: str, caller: str) -> None:
        iid = data.draw(st.sampled_from(self._ids()))
        region = self.session.state.images.get(iid).RegionId  # type: ignore[union-attr]
        self._do({"Action": "ModifyImageAttribute", "RegionId": region, "ImageId": iid, "ImageFamily": fam,
                  "caller": caller})

    @rule(data=st.data(), status=st.sampled_from(("Available", "Deprecated")))
    def set_status(self, data: st.DataObject, status: str) -> None:
        iid = data.draw(st.sampled_from(self._ids()))
        region = self.session.state.images.get(iid).RegionId  # type: ignore[union-attr]
        self._do({"Action": "ModifyImageAttribute", "RegionId": region, "ImageId": iid, "Status": status,
                  "caller": OWNER})

    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        iid = data.draw(st.sampled_from(self._ids()))
        region = self.session.state.images.get(iid).RegionId  # type: ignore[union-attr]
        self._do({"Action": "DeleteImage", "RegionId": region, "ImageId": iid, "caller": OWNER})

    @rule(fam=st.sampled_from(("big", "f00", "new-a", "zz-other")), caller=st.sampled_from((OWNER, "2002")))
    def launch(self, fam: str, caller: str) -> None:
        self._do({"Action": "RunInstances", "RegionId": "r1", "ImageFamily": fam, "caller": caller})

    @invariant()
    def within_quotas(self) -> None:
        assert_within_quotas(list(self.session.state.images))


TestQuotaMachine = QuotaMachine.TestCase


# ---------------------------------------------------------------- share batches (AddAccount.N / RemoveAccount.N)


def _shared_state(n: int) -> State:
    return State.of([Image(ImageId="m-1", RegionId="r1", CreationTime=BASE, Status="Available", ImageOwnerId=OWNER,
                           ImageFamily="web", SharedWith=tuple(str(500000 + k) for k in range(n)))])


def _share(session: Session, **params: Any) -> Any:
    step = plan_from_data({"caller": OWNER, "steps": [
        {"Action": "ModifyImageSharePermission", "RegionId": "r1", "ImageId": "m-1", **params}]}).steps[0]
    return session.step(step)


def test_accounts_past_the_tenth_are_ignored_and_do_not_count_toward_50() -> None:
    """ECS processes AddAccount.1-10 only: 40 + 11 requested = 50 actually shared, which is allowed."""
    session = Session(_shared_state(40), shipped_policy())
    result = _share(session, AddAccount=[str(600000 + k) for k in range(11)])
    assert result.allowed, [f.message for f in result.violations]
    assert [f.rule for f in result.warnings] == ["share-batch-over-10"]
    shared = session.state.images.get("m-1", "r1").SharedWith  # type: ignore[union-attr]
    assert len(shared) == 50 and "600010" not in shared
    # one more (the 51st) is denied
    result = _share(session, AddAccount=["700000"])
    assert not result.allowed and [f.rule for f in result.violations] == ["share-limit"]


def test_only_the_first_ten_removals_are_processed() -> None:
    session = Session(_shared_state(12), shipped_policy())
    everyone = [str(500000 + k) for k in range(12)]
    result = _share(session, RemoveAccount=everyone)
    assert result.allowed and [f.rule for f in result.warnings] == ["share-batch-over-10"]
    assert session.state.images.get("m-1", "r1").SharedWith == ("500010", "500011")  # type: ignore[union-attr]
