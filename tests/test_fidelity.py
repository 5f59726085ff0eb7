"""Issue 10, "Fidelity": behaviour the policy-test format cannot express.

- raw DescribeImages ``IsSelfShared`` -> ``SharedWithUnknown`` (and the snapshot replacing it);
- a denied family removal says which other changes of the call are not made;
- report severities: a family name found in a snapshot is never a deny finding;
- ties flagged on family_changes entries;
- ``resolve --format api`` notes DescribeImageFromFamily's disputed scope on stderr;
- isolation: no output format of ``check`` or ``resolve`` says anything about an image the caller
  cannot see (a property test over random states and plans).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers_engine import (
    FUZZ_EXAMPLES,
    M,
    N,
    P,
    img,
    run_main,
    shipped_policy,
    write_plan,
    write_state,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagefam.engine.aliyun import describe_images_to_native, snapshot
from imagefam.engine.ci import check_github, check_sarif
from imagefam.engine.loader import plan_from_data
from imagefam.engine.models import Image
from imagefam.engine.preflight import Session, check
from imagefam.engine.render import api_body, check_junit, check_text, to_json_text, trace_text
from imagefam.engine.report import report
from imagefam.engine.resolver import Resolver
from imagefam.engine.state import State

HZ = "cn-hangzhou"


# ---------------------------------------------------------------- 1. IsSelfShared


def _body(*images: dict[str, Any]) -> dict[str, Any]:
    return {"RegionId": HZ, "Images": {"Image": list(images)}}


RAW = {"ImageId": "m-1", "CreationTime": "2024-01-02T03:04:05Z", "Status": "Available",
       "ImageOwnerAlias": "self", "ImageOwnerId": M, "ImageFamily": "web"}


def test_is_self_shared_marks_an_own_image_shared_with_unknown_accounts() -> None:
    for value in (True, "True", "true"):
        [native] = describe_images_to_native(_body({**RAW, "IsSelfShared": value}), M)
        assert native["SharedWithUnknown"] is True and "SharedWith" not in native
    for value in (False, "False", "", None):
        [native] = describe_images_to_native(_body({**RAW, "IsSelfShared": value}), M)
        assert "SharedWithUnknown" not in native
    # another account's image: IsSelfShared says nothing about who the caller is
    [other] = describe_images_to_native(_body({**RAW, "ImageOwnerAlias": "others", "ImageOwnerId": "77",
                                               "IsSelfShared": "True"}), M)
    assert "SharedWithUnknown" not in other


def test_a_raw_describe_images_state_denies_what_sharing_forbids(capsys: Any, tmp_path: Path) -> None:
    older = {**RAW, "ImageId": "m-0", "CreationTime": "2024-01-01T00:00:00Z", "IsSelfShared": "False"}
    state = tmp_path / "raw.json"
    state.write_text(json.dumps(_body({**RAW, "IsSelfShared": "True"}, older)), "utf-8")
    plan = write_plan(tmp_path, [{"Action": "ModifyImageAttribute", "RegionId": HZ, "ImageId": "m-1",
                                  "Status": "Deprecated"},
                                 {"Action": "DeleteImage", "RegionId": HZ, "ImageId": "m-1"}])
    run = run_main(capsys, "check", plan, "--state", state, "--account", M, "--format", "json")
    assert run.code == 1
    deprecate, delete = run.json()["steps"]
    for step in (deprecate, delete):
        (v,) = step["violations"]
        assert v["error_code"] == "ImageUseShared"
        assert "accounts the state does not list" in v["message"]
    # and the report finds the Deprecated-but-shared image
    data = {"Images": [{**i, "Status": "Deprecated"} if i["ImageId"] == "m-1" else i
                       for i in describe_images_to_native(_body({**RAW, "IsSelfShared": "True"}, older), M)]}
    rep = report(_state(data), shipped_policy())
    assert [f.rule for f in rep.findings if f.severity == "deny"] == ["deprecated-still-shared"]


def _state(data: dict[str, Any]) -> State:
    from imagefam.engine.loader import state_from_data

    return state_from_data(data, Path("<memory>"))


def test_an_unshare_in_a_plan_does_not_clear_unknown_sharees() -> None:
    state = State.of([Image(ImageId="m-1", RegionId=HZ, CreationTime=datetime(2024, 1, 1, tzinfo=UTC),
                            Status="Available", ImageOwnerId=M, ImageFamily="web", SharedWithUnknown=True)])
    plan = plan_from_data({"caller": M, "steps": [
        {"Action": "ModifyImageSharePermission", "RegionId": HZ, "ImageId": "m-1", "RemoveAccount": [N]},
        {"Action": "ModifyImageAttribute", "RegionId": HZ, "ImageId": "m-1", "Status": "Deprecated"}]})
    result = check(state, plan, shipped_policy())
    assert result.steps[0].allowed
    assert [v.error_code for v in result.steps[1].violations] == ["ImageUseShared"]


class _ShareFake:
    """An SDK client with two own images, both ``IsSelfShared``: DescribeImageSharePermission lists
    an account for m-1 and none for m-2 (shared some other way, e.g. with a group)."""

    def __init__(self, models: Any) -> None:
        self.models = models

    def describe_images(self, request: Any) -> Any:
        own = request.to_map()["ImageOwnerAlias"] == "self"
        images = [{**RAW, "ImageId": i, "IsSelfShared": "True"} for i in ("m-1", "m-2")] if own else []
        body = {"RegionId": HZ, "TotalCount": len(images), "Images": {"Image": images}}
        return self.models.DescribeImagesResponse().from_map({"headers": {}, "statusCode": 200, "body": body})

    def describe_image_share_permission(self, request: Any) -> Any:
        image_id = request.to_map()["ImageId"]
        accounts = [{"AliyunId": N, "SharedTime": "2024-01-01T00:00:00Z"}] if image_id == "m-1" else []
        body = {"RegionId": HZ, "ImageId": image_id, "TotalCount": len(accounts), "Accounts": {"Account": accounts}}
        return self.models.DescribeImageSharePermissionResponse().from_map(
            {"headers": {}, "statusCode": 200, "body": body})


def test_snapshot_lists_the_sharees_and_keeps_the_flag_only_when_it_cannot() -> None:
    models = pytest.importorskip("alibabacloud_ecs20140526.models")
    data = snapshot([HZ], M, lambda region: _ShareFake(models), owners=("self",),
                     now=datetime(2024, 9, 1, tzinfo=UTC))
    by_id = {i["ImageId"]: i for i in data["Images"]}
    assert by_id["m-1"].get("SharedWith") == [N] and "SharedWithUnknown" not in by_id["m-1"]
    assert by_id["m-2"].get("SharedWithUnknown") is True and "SharedWith" not in by_id["m-2"]


# ---------------------------------------------------------------- 3. a denied family removal


def test_a_denied_family_removal_says_its_rename_is_not_made_either() -> None:
    state = State.of([Image(ImageId="m-1", RegionId=HZ, CreationTime=datetime(2024, 1, 1, tzinfo=UTC),
                            Status="Available", ImageOwnerId=M, ImageFamily="web", ImageName="old")])
    plan = plan_from_data({"caller": M, "steps": [
        {"Action": "ModifyImageAttribute", "RegionId": HZ, "ImageId": "m-1", "ImageFamily": "", "ImageName": "new"},
        {"Action": "ModifyImageAttribute", "RegionId": HZ, "ImageId": "m-1", "ImageFamily": ""}]})
    session = Session(state, shipped_policy())
    renamed, plain = (session.step(s) for s in plan.steps)
    (v,) = renamed.violations
    assert v.rule == "family-cannot-be-removed"
    assert "other changes (ImageName, Description, Status) are not made either" in v.message
    (v,) = plain.violations
    assert "not made" not in v.message
    assert session.state.images.get("m-1", HZ).ImageName == "old"  # type: ignore[union-attr]


# ---------------------------------------------------------------- 5. names found in a snapshot


def test_a_family_name_found_in_a_snapshot_is_at_most_a_warning() -> None:
    t = datetime(2024, 1, 1, tzinfo=UTC)
    images = [Image(ImageId=f"m-{k}-{name}", RegionId=HZ, CreationTime=t + timedelta(days=k), Status="Available",
                    ImageOwnerId=M, ImageFamily=name)
              for name in ("Acsent-web", "ACS-web", "AliyunWeb", "acs-web", "9lives") for k in range(2)]
    rep = report(State.of(images), shipped_policy())
    named = [f for f in rep.findings if f.rule == "family-name-invalid"]
    assert {f.subject["family"] for f in named} == {"Acsent-web", "ACS-web", "AliyunWeb", "acs-web", "9lives"}
    assert {f.severity for f in named} == {"warn"}
    assert not rep.denied


# ---------------------------------------------------------------- 7. ties on family_changes


def test_family_changes_flag_a_tie_before_or_after(capsys: Any, tmp_path: Path) -> None:
    state = write_state(tmp_path, [
        img("m-t1", family="web", created="2024-01-02T00:00:00Z"),
        img("m-t2", family="web", created="2024-01-02T00:00:00Z"),
        img("m-t0", family="web", created="2024-01-01T00:00:00Z"),
    ])
    plan = write_plan(tmp_path, [
        {"Action": "RunInstances", "RegionId": HZ, "ImageFamily": "web"},
        {"Action": "ModifyImageAttribute", "RegionId": HZ, "ImageId": "m-t2", "Status": "Deprecated"},  # tie before
        {"Action": "ModifyImageAttribute", "RegionId": HZ, "ImageId": "m-t1", "Status": "Deprecated"},  # no tie
        {"Action": "ModifyImageAttribute", "RegionId": HZ, "ImageId": "m-t2", "Status": "Available"},   # tie after? no
    ])
    run = run_main(capsys, "check", plan, "--state", state, "--format", "json")
    doc = run.json()
    assert [w["rule"] for w in doc["steps"][0]["warnings"]] == ["launch-family-tie"]
    assert [(c["step"], c["before"], c["after"], c["tie"]) for c in doc["family_changes"]] == [
        (1, "m-t2", "m-t1", True), (2, "m-t1", "m-t0", False), (3, "m-t0", "m-t2", False)]
    text = run_main(capsys, "check", plan, "--state", state).out
    assert "tie: before or after the step" in text


# ---------------------------------------------------------------- 11. DescribeImageFromFamily's scope


def test_resolve_api_notes_the_disputed_scope_for_a_family_the_caller_does_not_own(capsys: Any,
                                                                                    tmp_path: Path) -> None:
    state = write_state(tmp_path, [img("m-b1", family="web", SharedWith=[N]),
                                   img("m-u", owner=None, ImageOwnerAlias="system", family="acs:ubuntu")])
    own = run_main(capsys, "resolve", "--state", state, "--family", "web", "--region", HZ, "--caller", M,
                   "--format", "api")
    assert own.code == 0 and own.json()["Image"]["ImageId"] == "m-b1" and own.err == ""
    for family, caller in ((f"acs:{M}:web", N), ("acs:ubuntu", P)):
        other = run_main(capsys, "resolve", "--state", state, "--family", family, "--region", HZ, "--caller", caller,
                         "--format", "api")
        assert other.code == 0 and other.json()["Image"]  # the answer is kept
        assert "DescribeImageFromFamily" in other.err and "may answer {}" in other.err


# ---------------------------------------------------------------- 9. isolation in every word

CALLER, OTHER, SHAREE = "1001", "2002", "3003"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
STATUSES = ("Available", "Deprecated", "Creating", "Waiting", "CreateFailed")


@st.composite
def isolation_cases(draw: Any) -> tuple[list[Image], list[Image], list[dict[str, Any]]]:
    """Images (the caller's, visible ones of others, invisible ones), the same images with every
    attribute of the invisible ones replaced by secrets, and a plan of the caller's calls."""
    images: list[Image] = []
    n = draw(st.integers(2, 7))
    for k in range(n):
        kind = draw(st.sampled_from(("own", "shared", "community", "invisible", "invisible")))
        owner = CALLER if kind == "own" else OTHER
        images.append(Image(
            ImageId=f"m-{k}", RegionId=draw(st.sampled_from(("r1", "r2"))),
            CreationTime=T0 + timedelta(days=draw(st.integers(0, 3))), Status=draw(st.sampled_from(STATUSES)),
            ImageOwnerId=owner, ImageFamily=draw(st.sampled_from(("web", "db", None))),
            IsPublic=kind == "community",
            SharedWith=(CALLER,) if kind == "shared" else tuple(draw(st.lists(st.sampled_from((SHAREE,)), max_size=1))),
            ImageName=f"name-{k}", Tags={"team": "blue"} if draw(st.booleans()) else None))
    secret = [dataclasses.replace(i, ImageFamily=f"zzfam{i.ImageId}", ImageName=f"zzname{i.ImageId}",
                                  Tags={f"zztag{i.ImageId}": f"zzval{i.ImageId}"}, SharedWith=(f"99990{k}",),
                                  Description=f"zzdesc{i.ImageId}",
                                  Status=draw(st.sampled_from(STATUSES)))
              if _invisible(i) else i for k, i in enumerate(images)]
    ids = [i.ImageId for i in images] + ["m-missing"]
    families = st.sampled_from(("web", "db", f"acs:{OTHER}:web", f"acs:{OTHER}:db", f"acs:{CALLER}:web"))
    region = st.sampled_from(("r1", "r2"))
    step = st.one_of(
        st.fixed_dictionaries({"Action": st.just("DeleteImage"), "RegionId": region, "ImageId": st.sampled_from(ids)}),
        st.fixed_dictionaries({"Action": st.just("ModifyImageAttribute"), "RegionId": region,
                               "ImageId": st.sampled_from(ids)},
                              optional={"Status": st.sampled_from(("Deprecated", "Available")),
                                        "ImageFamily": st.sampled_from(("web", "", "api")),
                                        "ImageName": st.just("renamed")}),
        st.fixed_dictionaries({"Action": st.just("ModifyImageSharePermission"), "RegionId": region,
                               "ImageId": st.sampled_from(ids), "AddAccount": st.just([SHAREE])}),
        st.fixed_dictionaries({"Action": st.just("CopyImage"), "RegionId": region, "ImageId": st.sampled_from(ids),
                               "DestinationRegionId": region}),
        st.fixed_dictionaries({"Action": st.sampled_from(("RunInstances", "CreateInstance", "DescribeImageFromFamily")),
                               "RegionId": region, "ImageFamily": families}),
        st.fixed_dictionaries({"Action": st.sampled_from(("RunInstances", "ReplaceSystemDisk")), "RegionId": region,
                               "ImageId": st.sampled_from(ids), "InstanceId": st.just("i-1")}).map(
            lambda d: d if d["Action"] == "ReplaceSystemDisk" else {k: v for k, v in d.items() if k != "InstanceId"}),
        st.fixed_dictionaries({"Action": st.just("CreateImage"), "RegionId": region,
                               "ImageFamily": st.sampled_from(("web", "db"))}),
    )
    return images, secret, draw(st.lists(step, min_size=1, max_size=6))


def _invisible(i: Image) -> bool:
    return i.ImageOwnerId != CALLER and CALLER not in i.SharedWith and not i.IsPublic


def _outputs(images: list[Image], steps: list[dict[str, Any]]) -> str:
    policy = shipped_policy()
    state = State.of(images, taken_at=T0 + timedelta(days=10))
    result = check(state, plan_from_data({"caller": CALLER, "steps": steps}), policy)
    texts = [check_text(result), to_json_text(result.to_json()), check_junit(result),
             to_json_text(check_sarif(result, policy)), check_github(result)]
    resolver = Resolver(policy, state.images, state.taken_at)
    for family in ("web", "db", f"acs:{OTHER}:web", f"acs:{OTHER}:db"):
        for region in ("r1", "r2"):
            trace = resolver.trace(family, region, CALLER)
            texts += [trace_text(trace), to_json_text(trace.to_json()), to_json_text(api_body(trace))]
    return "\n".join(texts)


@settings(max_examples=min(FUZZ_EXAMPLES, 80), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(isolation_cases())
def test_no_output_names_an_attribute_of_an_image_the_caller_cannot_see(
        case: tuple[list[Image], list[Image], list[dict[str, Any]]]) -> None:
    images, secret, steps = case
    plain, hidden = _outputs(images, steps), _outputs(secret, steps)
    for word in ("zzfam", "zzname", "zztag", "zzval", "zzdesc", "99990"):
        assert word not in hidden, f"{word!r} of an invisible image reached the output"
    # statuses, families, sharees of invisible images change nothing in any output
    assert plain == hidden
    # nor does their existence
    assert plain == _outputs([i for i in images if not _invisible(i)], steps)
