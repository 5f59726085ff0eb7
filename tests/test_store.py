"""The image store against a plain reference: partitioned indexes, the copy-on-write overlay a
check simulates on, and the maintained counts ``distinct(... of images where ...)`` reads.

The reference is the simplest store that can answer: one index per field tuple over all images
(``partition=()``), no maintained counts (so compiled rules filter the images themselves), and
a full copy of the state per check. Check and report outputs must be identical to it on random
states and plans (hypothesis; IMAGEFAM_FUZZ_EXAMPLES examples), with partitions or with the
fallback to indexes over all images (``FANOUT``) forced.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from conftest import compile_expr
from helpers_engine import FUZZ_EXAMPLES, shipped_policy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_preflight_properties import near_limit_state, quota_plans, scenarios, states

import imagefam
from imagefam.engine import store as store_mod
from imagefam.engine.environment import EcsContext as Ctx
from imagefam.engine.loader import Plan
from imagefam.engine.models import Image
from imagefam.engine.preflight import Session
from imagefam.engine.report import report
from imagefam.engine.state import State
from imagefam.engine.store import ImageStore, Overlay

SETTINGS = settings(max_examples=FUZZ_EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


class PlainStore(ImageStore):
    """The reference: indexes over all images only, and no maintained counts."""

    value_counts = None  # type: ignore[assignment]  # compiled rules then filter the bucket themselves


def _with(state: State, images: ImageStore) -> State:
    """``state`` with other images (the same clock: rules may read ``now``)."""
    return State(images, state.taken_at, state.source, list(state.notes), state.from_api, state.at, state.clock)


def _plain(state: State) -> State:
    return _with(state, PlainStore(list(state.images), partition=()))


def _full_copy(self: State) -> State:
    """What a check session simulated on before the overlay: a full copy of a plain store."""
    return _plain(self)


@contextmanager
def reference() -> Any:
    with mock.patch.object(State, "overlay", _full_copy):
        yield


def _both_checks(state: State, plan: Plan, fanout: int) -> tuple[Any, Any]:
    policy = shipped_policy()
    with mock.patch.object(store_mod, "FANOUT", fanout):
        got = imagefam.check(_with(state, ImageStore(list(state.images))), plan, policy).to_json()
    with reference():
        want = imagefam.check(state, plan, policy).to_json()
    return got, want


@SETTINGS
@given(scenarios(max_steps=12), st.sampled_from((store_mod.FANOUT, 1)))
def test_check_on_the_overlay_is_identical_to_a_full_copy(scenario: tuple[State, Plan], fanout: int) -> None:
    state, plan = scenario
    got, want = _both_checks(state, plan, fanout)
    assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)


@settings(max_examples=max(20, FUZZ_EXAMPLES // 3), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(quota_plans())
def test_quota_checks_with_maintained_counts_are_identical(plan: Plan) -> None:
    """Near the quotas (99 families, a family of 99 images) the maintained counts decide."""
    got, want = _both_checks(near_limit_state(), plan, store_mod.FANOUT)
    assert got == want


def test_quota_edge_after_a_family_shrinks() -> None:
    """Counts are decremented, not dropped: new-a is the 100th family (counted now), big keeps 98
    images after a delete, so new-b is still denied (as the plain store says)."""
    plan = imagefam.engine.loader.plan_from_data({"caller": "1001", "steps": [
        {"Action": "CreateImage", "RegionId": "r1", "ImageFamily": "new-a", "creates": "m-n1"},
        {"Action": "DeleteImage", "RegionId": "r1", "ImageId": "m-big00"},
        {"Action": "CreateImage", "RegionId": "r1", "ImageFamily": "new-b", "creates": "m-n2"},
        {"Action": "ModifyImageAttribute", "RegionId": "r1", "ImageId": "m-f00", "ImageFamily": "new-b"}]})
    got, want = _both_checks(near_limit_state(), plan, store_mod.FANOUT)
    assert got == want
    assert [s["decision"] for s in got["steps"]] == ["allow", "allow", "deny", "allow"]


@SETTINGS
@given(states(), st.sampled_from((store_mod.FANOUT, 1)))
def test_report_is_identical_to_the_plain_store(state: State, fanout: int) -> None:
    policy = shipped_policy()
    with mock.patch.object(store_mod, "FANOUT", fanout):
        got = report(_with(state, ImageStore(list(state.images))), policy).to_json()
    want = report(_plain(state), policy).to_json()
    assert got == want


def test_a_session_neither_copies_nor_changes_the_snapshot() -> None:
    state = near_limit_state()
    before = list(state.images)
    session = Session(state, shipped_policy())
    assert isinstance(session.state.images, Overlay) and session.state.images.base is state.images
    plan = imagefam.engine.loader.plan_from_data({"caller": "1001", "steps": [
        {"Action": "CreateImage", "RegionId": "r1", "ImageFamily": "big", "creates": "m-n1"},
        {"Action": "DeleteImage", "RegionId": "r1", "ImageId": "m-f00"},
        {"Action": "ModifyImageAttribute", "RegionId": "r1", "ImageId": "m-f01", "ImageFamily": "xx"}]})
    results = [session.step(s) for s in plan.steps]
    assert [r.allowed for r in results] == [True, True, True]
    assert list(state.images) == before  # the snapshot: same images, same order
    assert len(session.state.images) == len(before)  # one created, one deleted
    assert session.state.images.get("m-n1", "r1") is not None and state.images.get("m-n1", "r1") is None


# ---------------------------------------------------------------- the overlay, operation by operation

T0 = datetime(2020, 1, 1, tzinfo=UTC)
FIELD_SETS = [("RegionId",), ("ImageOwnerId", "RegionId"), ("ImageFamily", "ImageOwnerId", "RegionId"),
              ("ImageFamily",), ("ImageFamily", "RegionId"), ("ImageFamily", "ImageOwnerAlias", "RegionId"),
              ("ImageId", "ImageOwnerId", "RegionId"), ("ImageOwnerId", "RegionId", "Status")]


def _image(rng: random.Random, k: int) -> Image:
    system = rng.random() < 0.1
    return Image(ImageId=f"m-{k}", RegionId=rng.choice(("r1", "r2", "r3")), CreationTime=T0 + timedelta(seconds=k),
                 Status=rng.choice(("Available", "Deprecated")), ImageFamily=rng.choice(("a", "b", "c", None)),
                 ImageOwnerId=None if system else rng.choice(("1", "2", "3")),
                 ImageOwnerAlias="system" if system else None)


def _same(got: Any, want: ImageStore) -> None:
    assert list(got) == list(want)  # iteration order too: as a copied dict would give
    assert len(got) == len(want)
    assert got.newest == want.newest
    keys = {(i.ImageId, i.RegionId) for i in want} | {(f"m-{k}", r) for k in range(60) for r in ("r1", "r2", "r3")}
    for image_id, region in keys:
        assert got.get(image_id, region) == want.get(image_id, region)
        assert got.get(image_id) == want.get(image_id)
        assert (image_id in got) == (image_id in want)
    for fields in FIELD_SETS:
        values = {tuple(getattr(i, f) for f in fields) for i in want} | {tuple(None for _ in fields)}
        for key in values:
            assert Counter(got.lookup(fields, key)) == Counter(want.lookup(fields, key)), (fields, key)
            assert dict(got.value_counts(fields, key, "ImageFamily")) == dict(
                Counter(i.ImageFamily for i in want.lookup(fields, key))), (fields, key)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize(("fanout", "reads"), [(64, 4), (1, 4), (64, 1), (64, 10**9)])
def test_overlay_and_store_follow_random_changes_like_a_plain_dict(seed: int, fanout: int, reads: int) -> None:
    """``reads``: partitions answer by reading their images this many times before indexing
    (1: index at once; 10**9: never)."""
    rng = random.Random(seed)
    images = [_image(rng, k) for k in range(40)]
    with mock.patch.object(store_mod, "FANOUT", fanout), mock.patch.object(store_mod, "FILTER_READS", reads):
        base = ImageStore(images)
        frozen = list(base)
        overlay, partitioned = Overlay(base), ImageStore(images)
        reference = PlainStore(images, partition=())
        for step in range(80):
            if step % 20 == 5:  # lookups and counts made between changes must be kept current
                _same(overlay, reference)
                _same(partitioned, reference)
            if rng.random() < 0.35:
                victim = rng.choice([*list(reference), images[0]])  # images[0] may be gone already
                want = reference.remove(victim.ImageId, victim.RegionId)
                assert overlay.remove(victim.ImageId, victim.RegionId) == want
                assert partitioned.remove(victim.ImageId, victim.RegionId) == want
            else:
                new = _image(rng, rng.randrange(60))
                want = reference.put(new)
                assert overlay.put(new) == want and partitioned.put(new) == want
        _same(overlay, reference)
        _same(partitioned, reference)
        assert list(base) == frozen  # the overlay's base is never changed


def test_a_partition_is_read_before_it_is_indexed() -> None:
    """A lookup on fields other than the partition's reads the partition's images (no index) until
    the partition has been read ``FILTER_READS`` times; then it builds the index and uses it."""
    images = [Image(ImageId=f"m-{k}", RegionId="r1", CreationTime=T0, Status=("Available", "Deprecated")[k % 2],
                    ImageFamily="a", ImageOwnerId="1") for k in range(6)]
    store = ImageStore(images)
    (part,) = (p for p in store._parts.values() if p.images)
    fields, key = ("ImageFamily", "ImageOwnerId", "RegionId", "Status"), ("a", "1", "r1", "Deprecated")
    for _ in range(store_mod.FILTER_READS - 1):
        assert [i.ImageId for i in store.lookup(fields, key)] == ["m-1", "m-3", "m-5"]
        assert part.indexes == {}
    assert [i.ImageId for i in store.lookup(fields, key)] == ["m-1", "m-3", "m-5"]
    assert set(part.indexes) == {("Status",)}
    assert list(store.lookup(fields, ("a", "1", "r1", "Creating"))) == []


def test_remove_returns_the_removed_image_in_every_store() -> None:
    a, b = Image(ImageId="a", RegionId="r1", CreationTime=T0, Status="Available"), Image(ImageId="b", RegionId="r1", CreationTime=T0, Status="Available")
    for s in (Overlay(ImageStore([a, b])), ImageStore([a, b]), ImageStore([a, b], partition=())):
        assert s.remove("a") is a and s.remove("a") is None and s.get("a") is None
        assert s.put(a) is None and s.remove("a", "r1") is a and list(s) == [b]


def test_overlay_copies_only_the_buckets_changes_touch() -> None:
    images = [Image(ImageId=f"m-{k}", RegionId="r1", CreationTime=T0, Status="Available", ImageOwnerId=str(k % 4), ImageFamily="f")
              for k in range(400)]
    base = ImageStore(images)
    overlay = Overlay(base)
    overlay.put(Image(ImageId="new", RegionId="r1", CreationTime=T0, Status="Available", ImageOwnerId="0", ImageFamily="f"))
    assert len(overlay.lookup(("ImageOwnerId", "RegionId"), ("0", "r1"))) == 101
    assert len(overlay.lookup(("ImageOwnerId", "RegionId"), ("1", "r1"))) == 100
    # one bucket copied (owner 0's); owner 1's was read from the base, which still has 100 for owner 0
    assert list(overlay._own[("ImageOwnerId", "RegionId")]) == [("0", "r1")]
    assert len(base.lookup(("ImageOwnerId", "RegionId"), ("0", "r1"))) == 100


# ---------------------------------------------------------------- distinct from maintained counts

FAMILIES_IN = ('distinct(ImageFamily of images where ImageOwnerId == "1" and RegionId == "r1" '
               'and ImageFamily != null and ImageId != "{x}")')


@pytest.mark.parametrize("x", ["", "m-0", "m-1", "m-3", "m-7"])
def test_distinct_reads_counts_and_subtracts_the_excluded_image(x: str) -> None:
    images = [Image(ImageId=f"m-{k}", RegionId="r1", CreationTime=T0, Status="Available", ImageOwnerId="1",
                    ImageFamily=[None, "b", "a", "c", "a", "b", "b", "d"][k]) for k in range(8)]
    fn = compile_expr(FAMILIES_IN.replace("{x}", x))
    want = fn(Ctx(tuple(images)))  # a plain sequence: filtered image by image
    store = ImageStore(images)
    assert fn(Ctx(store)) == want
    assert store._counts  # answered from the maintained counts
    overlay = Overlay(store)
    overlay.remove("m-3", "r1")  # the only "c"
    overlay.put(Image(ImageId="m-9", RegionId="r1", CreationTime=T0, Status="Available", ImageOwnerId="1", ImageFamily="e"))
    assert fn(Ctx(overlay)) == fn(Ctx(tuple(overlay)))
    assert "c" not in fn(Ctx(overlay)) and "e" in fn(Ctx(overlay))


def test_report_scopes_from_partitions_equal_scopes_from_every_image() -> None:
    # report.scopes reads an ImageStore's partitions; an overlay (no partitions of its own) is
    # grouped image by image: the two give the same families and accounts.
    from conftest import make_image

    from imagefam.engine.report import scopes
    from imagefam.engine.state import State

    rng = random.Random(7)
    images = [make_image(f"m-{k}", RegionId=rng.choice(["r1", "r2"]), ImageFamily=rng.choice(["web", "db", None]),
                         ImageOwnerId=rng.choice(["1001", "2002"]), CreationTime=datetime(2024, 1, 1, tzinfo=UTC)
                         + timedelta(days=k)) for k in range(60)]
    images += [make_image("pub-1", RegionId=r, ImageOwnerId=None, ImageOwnerAlias="system", ImageFamily="acs:os")
               for r in ("r1", "r2")]
    state = State.of(images)
    from_partitions, from_images = scopes(state), scopes(state.overlay())
    assert from_partitions == from_images
    families, accounts = from_partitions
    assert sum(len(f.Images) for f in families) == sum(1 for i in images if i.ImageFamily is not None)
    assert sum(len(a.Images) for a in accounts) == sum(1 for i in images if i.ImageOwnerAlias is None)
