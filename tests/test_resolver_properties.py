"""Property tests of family resolution (imagefam.resolve) against an independent reference.

Random states hold a few accounts in 2-3 regions, custom images in a few families with every
status, sharing and community (IsPublic) images, system and marketplace images, and deliberate
CreationTime collisions. Random callers name families either by their own name or as
acs:<owner UID>:<family>. The reference (tests/helpers_engine.py) is written from the seed text:
the newest Available image the caller can see under that name in that region.

Example count: IMAGEFAM_FUZZ_EXAMPLES (default 150).
"""

from __future__ import annotations

import json
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import load
from helpers_engine import (
    FUZZ_EXAMPLES,
    assert_trace_json,
    ref_candidates,
    ref_eligible,
    ref_resolve,
    ref_seen_as,
    ref_short,
    ref_tie,
    ref_visible,
    shipped_policy,
    write_state,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import imagefam
from imagefam.engine.models import Image
from imagefam.engine.resolver import Resolver
from imagefam.engine.state import State

SETTINGS = settings(max_examples=FUZZ_EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ACCOUNTS = ("1001", "2002", "3003")
OUTSIDER = "4004"
REGIONS = ("r1", "r2", "r3")
FAMILIES = ("web", "db", "web:v2")
SYSTEM_FAMILIES = ("acs:ubuntu_24_04_x64", "acs:centos_7")
STATUSES = ("Available", "Available", "Available", "Deprecated", "Creating", "Waiting", "UnAvailable",
            "CreateFailed")
BASE = datetime(2020, 1, 1, tzinfo=UTC)
# Few distinct times, so that equal CreationTimes (ties) are common.
TIMES = [BASE + timedelta(days=d) for d in range(4)] + [BASE + timedelta(days=1, seconds=1)]


@st.composite
def images(draw: st.DrawFn, max_images: int = 14) -> list[Image]:
    n_regions = draw(st.integers(2, 3))
    regions = REGIONS[:n_regions]
    n = draw(st.integers(0, max_images))
    out: list[Image] = []
    for k in range(n):
        kind = draw(st.sampled_from(("custom", "custom", "custom", "custom", "system", "marketplace")))
        region = draw(st.sampled_from(regions))
        created = draw(st.sampled_from(TIMES))
        status = draw(st.sampled_from(STATUSES))
        if kind == "custom":
            owner: str | None = draw(st.sampled_from(ACCOUNTS))
            family = draw(st.sampled_from((*FAMILIES, None)))
            shared = tuple(draw(st.lists(st.sampled_from((*ACCOUNTS, OUTSIDER)), max_size=3, unique=True)))
            public = draw(st.booleans())
            alias = None
        else:
            alias = kind
            owner = draw(st.sampled_from((None, "9999"))) if kind == "marketplace" else None
            # a public family, or (rarely) a name that collides with a custom family
            family = draw(st.sampled_from((*SYSTEM_FAMILIES, "web", None)))
            shared, public = (), False
        image_id = f"m-{k:02d}"
        if kind == "system" and draw(st.booleans()):
            # a public image has the same ImageId in every region
            image_id = f"pub-{family or 'none'}"
            if any(i.ImageId == image_id and i.RegionId == region for i in out):
                image_id = f"m-{k:02d}"
        out.append(Image(ImageId=image_id, RegionId=region, CreationTime=created, Status=status,  # type: ignore[arg-type]
                         ImageOwnerId=owner, ImageOwnerAlias=alias, ImageFamily=family,  # type: ignore[arg-type]
                         IsPublic=public, SharedWith=shared))
    return out


def family_names() -> st.SearchStrategy[str]:
    own = st.sampled_from(FAMILIES + SYSTEM_FAMILIES)
    acs = st.builds(lambda uid, fam: f"acs:{uid}:{fam}", st.sampled_from((*ACCOUNTS, OUTSIDER)),
                    st.sampled_from(FAMILIES))
    return st.one_of(own, acs)


callers = st.sampled_from((*ACCOUNTS, OUTSIDER))
regions = st.sampled_from(REGIONS)


def _resolve(image_list: list[Image], family: str, region: str, caller: str) -> tuple[Image | None, imagefam.Trace]:
    return imagefam.resolve(State.of(list(image_list)), family, region, caller, shipped_policy())


@SETTINGS
@given(images(), family_names(), regions, callers)
def test_chosen_image_matches_reference(image_list: list[Image], family: str, region: str, caller: str) -> None:
    chosen, trace = _resolve(image_list, family, region, caller)
    expected = ref_resolve(image_list, family, region, caller)
    assert (chosen.ImageId if chosen else None) == (expected.ImageId if expected else None)
    assert trace.to_json()["image_id"] == (expected.ImageId if expected else None)


@SETTINGS
@given(images(), family_names(), regions, callers)
def test_fast_path_agrees_with_the_trace(image_list: list[Image], family: str, region: str, caller: str) -> None:
    """Resolver.image looks only at the policy's shortlist; the trace at every candidate."""
    from imagefam.engine.resolver import Resolver

    state = State.of(list(image_list))
    resolver = Resolver(shipped_policy(), state.images)
    fast = resolver.image(family, region, caller)
    traced = resolver.trace(family, region, caller).image
    assert (fast.ImageId if fast else None) == (traced.ImageId if traced else None)
    assert shipped_policy().resolution is not None and shipped_policy().resolution.shortlist is not None


@SETTINGS
@given(images(), family_names(), regions, callers)
def test_chosen_image_is_visible_available_in_region_and_family(
        image_list: list[Image], family: str, region: str, caller: str) -> None:
    chosen, _ = _resolve(image_list, family, region, caller)
    if chosen is None:
        assert not ref_eligible(image_list, family, region, caller)
        return
    assert chosen.RegionId == region
    assert chosen.Status == "Available"
    # visible: owner, system/marketplace, shared with the caller, or a community image
    assert (chosen.ImageOwnerId == caller or chosen.ImageOwnerAlias in ("system", "marketplace")
            or caller in chosen.SharedWith or chosen.IsPublic)
    assert ref_visible(chosen, caller)
    # in the family as the caller names it
    if chosen.ImageOwnerAlias is not None or chosen.ImageOwnerId == caller:
        assert chosen.ImageFamily == family
    else:
        assert family == f"acs:{chosen.ImageOwnerId}:{chosen.ImageFamily}"
    # no eligible image is newer
    for other in ref_eligible(image_list, family, region, caller):
        assert other.CreationTime <= chosen.CreationTime


@SETTINGS
@given(images(), family_names(), regions, callers, st.randoms(use_true_random=False))
def test_image_order_changes_nothing(image_list: list[Image], family: str, region: str, caller: str,
                                     rnd: random.Random) -> None:
    first, trace = _resolve(image_list, family, region, caller)
    shuffled = list(image_list)
    rnd.shuffle(shuffled)
    again, trace2 = _resolve(shuffled, family, region, caller)
    assert (first.ImageId if first else None) == (again.ImageId if again else None)
    assert json.dumps(trace.to_json(), sort_keys=True) == json.dumps(trace2.to_json(), sort_keys=True)
    reverse, trace3 = _resolve(list(reversed(image_list)), family, region, caller)
    assert (reverse.ImageId if reverse else None) == (first.ImageId if first else None)
    assert trace3.to_json() == trace.to_json()


@SETTINGS
@given(images(), family_names(), regions, callers)
def test_trace_lists_every_visible_image_of_the_family_in_the_region(
        image_list: list[Image], family: str, region: str, caller: str) -> None:
    _, trace = _resolve(image_list, family, region, caller)
    doc = trace.to_json()
    assert_trace_json(doc)
    listed = [c["image_id"] for c in doc["candidates"]]
    assert len(listed) == len(set(listed)), "no image is listed twice"
    # every candidate the caller can see, and none it cannot (isolation)
    visible = {i.ImageId for i in image_list if ref_visible(i, caller)}
    assert set(listed) == ref_candidates(image_list, family, region) & visible
    short = ref_short(family)
    by_id = {i.ImageId: i for i in image_list if i.RegionId == region}
    for c in doc["candidates"]:
        i = by_id[c["image_id"]]
        assert i.RegionId == region and i.ImageFamily == short
        assert c["status"] == i.Status
    # chosen + eligible are exactly the images the reference finds eligible
    eligible = {c["image_id"] for c in doc["candidates"] if c["verdict"] in ("chosen", "eligible")}
    assert eligible == {i.ImageId for i in ref_eligible(image_list, family, region, caller)}
    # an excluded candidate names the first requirement it fails, in policy order
    for c in doc["candidates"]:
        if c["verdict"] != "excluded":
            continue
        i = by_id[c["image_id"]]
        assert ref_visible(i, caller)
        if ref_seen_as(i, caller) != family:
            assert c["requirement"] == "named"
        else:
            assert i.Status != "Available"
            assert c["requirement"] == "available"


@SETTINGS
@given(images(), family_names(), regions, callers)
def test_tie_flag_iff_two_eligible_images_share_the_newest_time(
        image_list: list[Image], family: str, region: str, caller: str) -> None:
    _, trace = _resolve(image_list, family, region, caller)
    assert trace.tie == ref_tie(image_list, family, region, caller)
    assert trace.to_json()["tie"] is trace.tie
    # the checker's cheap test (family_changes) agrees with the trace
    resolver = Resolver(shipped_policy(), State.of(list(image_list)).images)
    assert resolver.tie(family, region, caller) is trace.tie


@SETTINGS
@given(images(), family_names(), callers)
def test_each_region_resolves_on_its_own(image_list: list[Image], family: str, caller: str) -> None:
    """Seed: ECS selects the latest Available image in the target region, not the global latest."""
    for region in REGIONS:
        chosen, _ = _resolve(image_list, family, region, caller)
        in_region = [i for i in image_list if i.RegionId == region]
        alone, _ = _resolve(in_region, family, region, caller)
        assert (chosen.ImageId if chosen else None) == (alone.ImageId if alone else None)


@st.composite
def shared_family_scenario(draw: st.DrawFn) -> tuple[list[Image], str]:
    """An owner's family with several images, some shared with/published for the caller."""
    owner, caller = "1001", "2002"
    n = draw(st.integers(1, 8))
    out = []
    for k in range(n):
        out.append(Image(ImageId=f"m-{k}", RegionId="r1", CreationTime=draw(st.sampled_from(TIMES)),
                         Status=draw(st.sampled_from(("Available", "Deprecated"))), ImageOwnerId=owner,
                         ImageFamily="web", IsPublic=draw(st.booleans()),
                         SharedWith=(caller,) if draw(st.booleans()) else ()))
    return out, caller


@SETTINGS
@given(shared_family_scenario())
def test_owner_and_sharee_names(scenario: tuple[list[Image], str]) -> None:
    """The owner uses "web"; the sharee uses acs:1001:web and never "web"; acs:<self>:web is nothing."""
    image_list, caller = scenario
    owner_pick, _ = _resolve(image_list, "web", "r1", "1001")
    avail = [i for i in image_list if i.Status == "Available"]
    assert (owner_pick.ImageId if owner_pick else None) == (
        max(avail, key=lambda i: (i.CreationTime, i.ImageId)).ImageId if avail else None)
    assert _resolve(image_list, "web", "r1", caller)[0] is None
    assert _resolve(image_list, "acs:1001:web", "r1", "1001")[0] is None
    sharee_pick, _ = _resolve(image_list, "acs:1001:web", "r1", caller)
    seen = [i for i in avail if i.IsPublic or caller in i.SharedWith]
    assert (sharee_pick.ImageId if sharee_pick else None) == (
        max(seen, key=lambda i: (i.CreationTime, i.ImageId)).ImageId if seen else None)


def _image_data(i: Image) -> dict[str, object]:
    d: dict[str, object] = {"ImageId": i.ImageId, "RegionId": i.RegionId,
                            "CreationTime": i.CreationTime.strftime("%Y-%m-%dT%H:%M:%SZ"), "Status": i.Status}
    if i.ImageOwnerId is not None:
        d["ImageOwnerId"] = i.ImageOwnerId
    if i.ImageOwnerAlias is not None:
        d["ImageOwnerAlias"] = i.ImageOwnerAlias
    if i.ImageFamily is not None:
        d["ImageFamily"] = i.ImageFamily
    if i.IsPublic:
        d["IsPublic"] = True
    if i.SharedWith:
        d["SharedWith"] = list(i.SharedWith)
    return d


@settings(max_examples=max(10, FUZZ_EXAMPLES // 5), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(images(max_images=8), family_names(), regions, callers, st.sampled_from(("state.json", "state.yaml")))
def test_state_files_resolve_like_the_images_they_hold(image_list: list[Image], family: str, region: str,
                                                       caller: str, name: str) -> None:
    """Writing the state to a JSON or YAML file and loading it changes no resolution."""
    assume(len({(i.ImageId, i.RegionId) for i in image_list}) == len(image_list))
    with tempfile.TemporaryDirectory() as tmp:
        path = write_state(Path(tmp), [_image_data(i) for i in image_list], name=name)
        state = imagefam.load_state(path)
    def key(i: Image) -> tuple[str, str]:
        return (i.ImageId, i.RegionId)

    assert sorted(state.images, key=key) == sorted(image_list, key=key)
    chosen, trace = imagefam.resolve(state, family, region, caller, shipped_policy())
    expected = ref_resolve(image_list, family, region, caller)
    assert (chosen.ImageId if chosen else None) == (expected.ImageId if expected else None)
    _, trace2 = _resolve(image_list, family, region, caller)
    assert trace.to_json() == trace2.to_json()


@pytest.mark.parametrize(("family", "expected"), [
    ("acs:1001:web", "web"), ("acs:1001:web:v2", "web:v2"), ("acs:ubuntu_24_04_x64", "acs:ubuntu_24_04_x64"),
    ("web", "web"), ("web:v2", "web:v2"),
])
def test_reference_short_name(family: str, expected: str) -> None:
    """The reference's short-name rule (sanity check of the test's own helper)."""
    assert ref_short(family) == expected


@pytest.mark.parametrize(("requirement", "tests"), [
    ('require available: Status == "Available"', [("available", "Status", "Available")]),
    ('require available: "Available" == it.Status', [("available", "Status", "Available")]),
    ('require public: IsPublic == true', [("public", "IsPublic", True)]),
    ('require available: Status != "Deprecated"', []),
    ('require family: ImageFamily == "web"', []),  # a nullable field
    ('require available: Status == "Available" or Status == "Creating"', []),
])
def test_only_field_equals_constant_requirements_are_filtered_before_ranking(requirement: str,
                                                                            tests: list[object]) -> None:
    """``Resolution.field_tests`` lists exactly the requirements resolution may apply in C before
    ranking (and then not test again): a never-null field of the candidate equal to a literal."""
    policy = load(f"""
resolve
  candidates images where RegionId == region and ImageFamily == family
  require mine: ImageOwnerId == caller
  {requirement}
  order by CreationTime desc, ImageId desc
""")
    assert policy.resolution is not None
    assert policy.resolution.field_tests == tests
    assert shipped_policy().resolution.field_tests == [("available", "Status", "Available")]  # type: ignore[union-attr]
