"""The output contracts of ``imagefam check`` and ``imagefam resolve`` (JSON shapes with types), and
the seed's stories (Examples 1-4 and the rollback) told through BOTH the CLI and the Python API.

Every scenario runs twice: ``via="cli"`` calls ``imagefam.cli.main`` with ``--format json`` (the
same code path as the ``imagefam`` command; test_cli checks that the subprocess prints the same),
``via="api"`` calls ``imagefam.load_state / load_plan / check / resolve``. Both must give the same
answers, exit codes included.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers_engine import (
    DEMO_DIR,
    M,
    N,
    P,
    assert_check_json,
    assert_trace_json,
    img,
    run_main,
    write_plan,
    write_state,
)

import imagefam

VIA = pytest.mark.parametrize("via", ["cli", "api"])
HZ = "cn-hangzhou"


def do_check(via: str, capsys: Any, plan: Path, state: Path) -> tuple[int, dict[str, Any]]:
    if via == "cli":
        run = run_main(capsys, "check", plan, "--state", state, "--format", "json")
        assert run.code in (0, 1), run.err
        doc = run.json()
    else:
        result = imagefam.check(imagefam.load_state(state), imagefam.load_plan(plan))
        doc = json.loads(json.dumps(result.to_json()))
        assert result.allowed is doc["allowed"]
        run_code = 0 if result.allowed else 1
        assert_check_json(doc)
        return run_code, doc
    assert_check_json(doc)
    assert run.code == (0 if doc["allowed"] else 1)
    return run.code, doc


def do_resolve(via: str, capsys: Any, state: Path, family: str, region: str, caller: str) -> tuple[int, dict[str, Any]]:
    if via == "cli":
        run = run_main(capsys, "resolve", "--state", state, "--family", family, "--region", region,
                       "--caller", caller, "--format", "json")
        assert run.code in (0, 1), run.err
        doc = run.json()
        assert run.code == (0 if doc["image_id"] else 1)
        code = run.code
    else:
        image, trace = imagefam.resolve(imagefam.load_state(state), family, region, caller)
        doc = json.loads(json.dumps(trace.to_json()))
        assert (image.ImageId if image else None) == doc["image_id"]
        code = 0 if image else 1
    assert_trace_json(doc)
    assert (doc["family"], doc["region"], doc["caller"]) == (family, region, caller)
    return code, doc


def steps_summary(doc: dict[str, Any]) -> list[tuple[str, str, str | None, list[str]]]:
    """(action, decision, resolved_image_id, error codes or rule ids of the violations) per step."""
    return [(s["action"], s["decision"], s["resolved_image_id"],
             sorted(v["error_code"] or v["rule"] for v in s["violations"])) for s in doc["steps"]]


def changes(doc: dict[str, Any]) -> list[tuple[int, str, str, str | None, str | None, str | None]]:
    return [(c["step"], c["region"], c["family"], c["owner"], c["before"], c["after"]) for c in doc["family_changes"]]


def verdicts(doc: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {c["image_id"]: (c["verdict"], c["requirement"]) for c in doc["candidates"]}


# ---------------------------------------------------------------- the seed's accounts and images


def seed_images(*, community: bool = True, a1_created: str = "2020-01-01T00:00:00Z") -> list[dict[str, Any]]:
    """User M's custom images A1 and B1 in family A (here fam-a): A1 published as community image A2
    (unless ``community`` is False), B1 shared with user N as B2."""
    return [
        img("m-a1", family="fam-a", created=a1_created, IsPublic=community, ImageName="A1"),
        img("m-b1", family="fam-a", created="2020-01-03T00:00:00Z", SharedWith=[N], ImageName="B1"),
        img("m-n0", owner=N, created="2020-01-01T00:00:00Z", ImageName="N's own, no family"),
        img("ubuntu_24_04_x64_20G_alibase_20200101.vhd", owner=None, ImageOwnerAlias="system",
            family="acs:ubuntu_24_04_x64", created="2020-01-01T00:00:00Z", ImageName="Ubuntu 24.04 64 bit"),
    ]


# ---------------------------------------------------------------- JSON shapes


@VIA
def test_check_json_shape_on_every_demo_plan(via: str, capsys: Any) -> None:
    state = DEMO_DIR / "state.yaml"
    outcomes = {}
    for plan in ("rollback-denied.yaml", "rollback-fixed.yaml", "sharee.yaml"):
        code, doc = do_check(via, capsys, DEMO_DIR / plan, state)
        outcomes[plan] = code
        for s in doc["steps"]:
            for v in s["violations"]:
                assert set(v) >= {"rule", "message", "error_code"}
            for w in s["warnings"]:
                assert set(w) >= {"rule", "message"}
        for c in doc["family_changes"]:
            assert set(c) >= {"step", "region", "family", "owner", "before", "after"}
    assert outcomes == {"rollback-denied.yaml": 1, "rollback-fixed.yaml": 0, "sharee.yaml": 1}


@VIA
def test_resolve_json_shape_on_the_demo(via: str, capsys: Any) -> None:
    state = DEMO_DIR / "state.yaml"
    code, doc = do_resolve(via, capsys, state, "app-a", HZ, M)
    assert code == 0 and doc["image_id"] == "m-b1" and doc["tie"] is False
    assert [c["image_id"] for c in doc["candidates"]] == ["m-b1", "m-a1", "m-x1"]
    assert verdicts(doc) == {"m-b1": ("chosen", None), "m-a1": ("eligible", None), "m-x1": ("excluded", "available")}
    x1 = doc["candidates"][2]
    assert x1 == {**x1, "creation_time": "2020-01-02T00:00:00Z", "status": "Deprecated"}
    assert x1["reason"] == "status is Deprecated, only Available images launch"
    code, doc = do_resolve(via, capsys, state, "app-a", "cn-shanghai", M)
    assert (code, doc["image_id"]) == (0, "m-s1")
    code, doc = do_resolve(via, capsys, state, "acs:ubuntu_24_04_x64", HZ, P)
    assert (code, doc["image_id"]) == (0, "ubuntu_24_04_x64_20G_alibase_20200101.vhd")
    code, doc = do_resolve(via, capsys, state, "app-a", "cn-beijing", M)
    assert (code, doc["image_id"], doc["candidates"], doc["tie"]) == (1, None, [], False)


@VIA
def test_resolve_json_tie_and_all_excluded(via: str, capsys: Any, tmp_path: Path) -> None:
    state = write_state(tmp_path, [
        img("m-t1", family="web", created="2020-01-05T00:00:00Z"),
        img("m-t2", family="web", created="2020-01-05T00:00:00Z"),
        img("m-t0", family="web", created="2020-01-04T00:00:00Z"),
        img("m-c1", family="db", created="2020-01-05T00:00:00Z", status="Creating"),
        img("m-c2", family="db", created="2020-01-06T00:00:00Z", status="Deprecated"),
    ])
    code, doc = do_resolve(via, capsys, state, "web", HZ, M)
    assert code == 0 and doc["image_id"] == "m-t2" and doc["tie"] is True
    assert [(c["image_id"], c["verdict"]) for c in doc["candidates"]] == [
        ("m-t2", "chosen"), ("m-t1", "eligible"), ("m-t0", "eligible")]
    assert "tied with m-t2" in doc["candidates"][1]["reason"]
    code, doc = do_resolve(via, capsys, state, "db", HZ, M)
    assert code == 1 and doc["image_id"] is None and doc["tie"] is False
    assert verdicts(doc) == {"m-c1": ("excluded", "available"), "m-c2": ("excluded", "available")}
    # N sees nothing of M's unshared family: not even that it has candidates (isolation)
    code, doc = do_resolve(via, capsys, state, f"acs:{M}:web", HZ, N)
    assert code == 1 and doc["candidates"] == []


def test_resolve_api_body(capsys: Any, tmp_path: Path) -> None:
    state = write_state(tmp_path, seed_images())
    base: list[str | Path] = ["resolve", "--state", state, "--region", HZ, "--format", "api"]
    own = run_main(capsys, *base, "--family", "fam-a", "--caller", M).json()
    assert set(own) == {"Image"}
    assert own["Image"]["ImageId"] == "m-b1" and own["Image"]["ImageOwnerAlias"] == "self"
    assert own["Image"]["ImageFamily"] == "fam-a" and own["Image"]["Status"] == "Available"
    assert own["Image"]["CreationTime"] == "2020-01-03T00:00:00Z" and own["Image"]["ImageName"] == "B1"
    shared = run_main(capsys, *base, "--family", f"acs:{M}:fam-a", "--caller", N).json()
    assert shared["Image"]["ImageId"] == "m-b1" and shared["Image"]["ImageOwnerAlias"] == "others"
    assert shared["Image"]["ImageFamily"] == f"acs:{M}:fam-a"
    public = run_main(capsys, *base, "--family", "acs:ubuntu_24_04_x64", "--caller", N).json()
    assert public["Image"]["ImageOwnerAlias"] == "system"
    empty = run_main(capsys, *base, "--family", "fam-a", "--caller", N)
    assert empty.code == 1 and empty.json() == {}


# ---------------------------------------------------------------- seed examples


@VIA
def test_example_1_sharee_launches_from_the_shared_family(via: str, capsys: Any, tmp_path: Path) -> None:
    """N calls RunInstances/CreateInstance with ImageFamily acs:<M>:A: the latest of A2/B2."""
    state = write_state(tmp_path, seed_images())
    fam = f"acs:{M}:fam-a"
    plan = write_plan(tmp_path, [
        {"Action": "RunInstances", "RegionId": HZ, "ImageFamily": fam, "InstanceType": "ecs.g7.large"},
        {"Action": "CreateInstance", "RegionId": HZ, "ImageFamily": fam},
        {"Action": "DescribeImageFromFamily", "RegionId": HZ, "ImageFamily": fam},
        {"Action": "RunInstances", "RegionId": HZ, "ImageFamily": fam, "caller": P},  # P: the community A2
        {"Action": "RunInstances", "RegionId": HZ, "ImageFamily": "fam-a", "caller": M},  # M: own name
    ], caller=N)
    code, doc = do_check(via, capsys, plan, state)
    assert code == 0
    assert steps_summary(doc) == [
        ("RunInstances", "allow", "m-b1", []), ("CreateInstance", "allow", "m-b1", []),
        ("DescribeImageFromFamily", "allow", "m-b1", []), ("RunInstances", "allow", "m-a1", []),
        ("RunInstances", "allow", "m-b1", [])]
    assert [s["caller"] for s in doc["steps"]] == [N, N, N, P, M]
    assert doc["family_changes"] == []
    assert do_resolve(via, capsys, state, fam, HZ, N)[1]["image_id"] == "m-b1"
    assert do_resolve(via, capsys, state, fam, HZ, P)[1]["image_id"] == "m-a1"
    # N does not know the family by M's own name
    code, doc = do_resolve(via, capsys, state, "fam-a", HZ, N)
    assert code == 1 and {r for _, r in verdicts(doc).values()} <= {"visible", "named"}


@VIA
def test_example_2_a_copy_does_not_inherit_the_family(via: str, capsys: Any, tmp_path: Path) -> None:
    """N copies B2 to B3: B3 is in no family until N assigns one."""
    state = write_state(tmp_path, seed_images())
    plan = write_plan(tmp_path, [
        {"Action": "CopyImage", "RegionId": HZ, "ImageId": "m-b1", "DestinationRegionId": HZ,
         "DestinationImageName": "B3", "creates": "m-b3"},
        {"Action": "RunInstances", "RegionId": HZ, "ImageFamily": f"acs:{M}:fam-a"},
        {"Action": "ModifyImageAttribute", "RegionId": HZ, "ImageId": "m-b3", "ImageFamily": "fam-n"},
        {"Action": "RunInstances", "RegionId": HZ, "ImageFamily": "fam-n"},
    ], caller=N)
    code, doc = do_check(via, capsys, plan, state)
    assert code == 0
    assert steps_summary(doc) == [
        ("CopyImage", "allow", None, []), ("RunInstances", "allow", "m-b1", []),
        ("ModifyImageAttribute", "allow", None, []), ("RunInstances", "allow", "m-b3", [])]
    assert [w["rule"] for w in doc["steps"][0]["warnings"]] == ["copy-drops-family"]
    assert doc["steps"][0].get("created_image_id", "m-b3") == "m-b3"
    # the copy joins no family (no change at step 0); assigning one is a change seen by N
    assert changes(doc) == [(2, HZ, "fam-n", N, None, "m-b3")]


@VIA
def test_example_3_sharing_alone_is_enough(via: str, capsys: Any, tmp_path: Path) -> None:
    """Without the community image, N still resolves acs:<M>:A to the shared B2; P gets nothing, and
    M's newer unshared image is invisible to N."""
    state = write_state(tmp_path, seed_images(community=False, a1_created="2020-01-09T00:00:00Z"))
    fam = f"acs:{M}:fam-a"
    code, doc = do_resolve(via, capsys, state, fam, HZ, N)
    assert code == 0 and doc["image_id"] == "m-b1"
    assert "m-a1" not in verdicts(doc)  # invisible to N: not even listed
    code, doc = do_resolve(via, capsys, state, fam, HZ, P)
    assert code == 1 and doc["image_id"] is None
    assert do_resolve(via, capsys, state, "fam-a", HZ, M)[1]["image_id"] == "m-a1"
    plan = write_plan(tmp_path, [{"Action": "RunInstances", "RegionId": HZ, "ImageFamily": fam},
                                 {"Action": "RunInstances", "RegionId": HZ, "ImageFamily": fam, "caller": P}],
                      caller=N)
    code, doc = do_check(via, capsys, plan, state)
    assert code == 1
    assert steps_summary(doc) == [("RunInstances", "allow", "m-b1", []),
                                  ("RunInstances", "deny", None, ["InvalidImageFamily.MissingAvailableImage"])]


@VIA
def test_example_4_no_custom_image_joins_an_acs_family(via: str, capsys: Any, tmp_path: Path) -> None:
    state = write_state(tmp_path, seed_images())
    fam = f"acs:{M}:fam-a"
    plan = write_plan(tmp_path, [
        {"Action": "CreateImage", "RegionId": HZ, "InstanceId": "i-n1", "ImageFamily": fam, "creates": "m-n9"},
        {"Action": "ModifyImageAttribute", "RegionId": HZ, "ImageId": "m-n0", "ImageFamily": fam},
        {"Action": "RunInstances", "RegionId": HZ, "ImageFamily": fam},
        {"Action": "RunInstances", "RegionId": HZ, "ImageId": "m-n9"},  # never created
    ], caller=N)
    code, doc = do_check(via, capsys, plan, state)
    assert code == 1
    assert steps_summary(doc) == [
        ("CreateImage", "deny", None, ["InvalidImageFamily.Malformed"]),
        ("ModifyImageAttribute", "deny", None, ["InvalidImageFamily.Malformed"]),
        ("RunInstances", "allow", "m-b1", []),
        ("RunInstances", "deny", None, ["InvalidImageId.NotFound"])]
    assert {v["rule"] for v in doc["steps"][0]["violations"]} == {"family-name-acs-prefix"}
    assert doc["family_changes"] == []


# ---------------------------------------------------------------- rollback


def rollback_state(tmp_path: Path) -> Path:
    return write_state(tmp_path, [
        img("m-v1", family="web", created="2020-01-01T00:00:00Z"),
        img("m-v2", family="web", created="2020-01-02T00:00:00Z"),
        img("m-v3", family="web", created="2020-01-03T00:00:00Z"),
        img("m-sh", region="cn-shanghai", family="web", created="2020-01-09T00:00:00Z"),  # globally newest
    ], name="state.yaml", taken_at="2020-02-01T00:00:00Z")


@VIA
def test_rollback_deprecate_restore_delete(via: str, capsys: Any, tmp_path: Path) -> None:
    state = rollback_state(tmp_path)
    launch = {"Action": "RunInstances", "RegionId": HZ, "ImageFamily": "web"}
    plan = write_plan(tmp_path, [
        launch,                                                                                # 0
        {"Action": "ModifyImageAttribute", "RegionId": HZ, "ImageId": "m-v3", "Status": "Deprecated"},  # 1
        launch,                                                                                # 2
        {"Action": "DescribeImageFromFamily", "RegionId": HZ, "ImageFamily": "web"},           # 3
        {"Action": "ModifyImageAttribute", "RegionId": HZ, "ImageId": "m-v3", "Status": "Available"},   # 4
        {"Action": "CreateInstance", "RegionId": HZ, "ImageFamily": "web"},                    # 5
        {"Action": "DeleteImage", "RegionId": HZ, "ImageId": "m-v3"},                          # 6
        launch,                                                                                # 7
        {"Action": "RunInstances", "RegionId": "cn-shanghai", "ImageFamily": "web"},           # 8
        {"Action": "RunInstances", "RegionId": HZ, "ImageId": "m-v1"},                         # 9: no family
    ])
    code, doc = do_check(via, capsys, plan, state)
    assert code == 0
    assert [s["resolved_image_id"] for s in doc["steps"]] == [
        "m-v3", None, "m-v2", "m-v2", None, "m-v3", None, "m-v2", "m-sh", None]
    assert changes(doc) == [(1, HZ, "web", M, "m-v3", "m-v2"), (4, HZ, "web", M, "m-v2", "m-v3"),
                            (6, HZ, "web", M, "m-v3", "m-v2")]


@VIA
def test_rollback_states_resolve_to_the_next_newest(via: str, capsys: Any, tmp_path: Path) -> None:
    """The same story as snapshots: after deprecating, restoring and deleting the newest image."""
    images = [img("m-v1", family="web", created="2020-01-01T00:00:00Z"),
              img("m-v2", family="web", created="2020-01-02T00:00:00Z"),
              img("m-v3", family="web", created="2020-01-03T00:00:00Z")]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    deprecated = write_state(tmp_path / "a", [*images[:2], {**images[2], "Status": "Deprecated"}])
    restored = write_state(tmp_path / "b", images)
    deleted = write_state(tmp_path / "c", images[:2])
    code, doc = do_resolve(via, capsys, deprecated, "web", HZ, M)
    assert (code, doc["image_id"]) == (0, "m-v2")
    assert verdicts(doc)["m-v3"] == ("excluded", "available")
    assert do_resolve(via, capsys, restored, "web", HZ, M)[1]["image_id"] == "m-v3"
    code, doc = do_resolve(via, capsys, deleted, "web", HZ, M)
    assert (code, doc["image_id"]) == (0, "m-v2") and "m-v3" not in verdicts(doc)
    # deprecating every image leaves nothing
    nothing = write_state(tmp_path, [{**i, "Status": "Deprecated"} for i in images])
    code, doc = do_resolve(via, capsys, nothing, "web", HZ, M)
    assert (code, doc["image_id"]) == (1, None)


@VIA
def test_demo_rollback_plans(via: str, capsys: Any) -> None:
    state = DEMO_DIR / "state.yaml"
    code, doc = do_check(via, capsys, DEMO_DIR / "rollback-denied.yaml", state)
    assert code == 1
    assert steps_summary(doc) == [("ModifyImageAttribute", "deny", None, ["ImageUseShared"]),
                                  ("RunInstances", "allow", "m-b1", [])]
    assert doc["family_changes"] == []
    code, doc = do_check(via, capsys, DEMO_DIR / "rollback-fixed.yaml", state)
    assert code == 0
    assert [s["resolved_image_id"] for s in doc["steps"]] == [None, None, "m-a1", "m-a1", None, "m-b1"]
    assert changes(doc) == [(0, HZ, f"acs:{M}:app-a", M, "m-b1", "m-a1"), (1, HZ, "app-a", M, "m-b1", "m-a1"),
                            (4, HZ, "app-a", M, "m-a1", "m-b1")]
    code, doc = do_check(via, capsys, DEMO_DIR / "sharee.yaml", state)
    assert code == 1
    assert [s["decision"] for s in doc["steps"]] == ["allow", "allow", "deny", "allow"]
    assert changes(doc) == [(3, HZ, "app-a-mine", N, None, "m-b3")]


# ---------------------------------------------------------------- denied steps change nothing


@VIA
def test_denied_steps_change_nothing(via: str, capsys: Any, tmp_path: Path) -> None:
    state = write_state(tmp_path, seed_images())
    fam = f"acs:{M}:fam-a"
    plan = write_plan(tmp_path, [
        {"Action": "DeleteImage", "RegionId": HZ, "ImageId": "m-b1"},                               # shared: deny
        {"Action": "ModifyImageAttribute", "RegionId": HZ, "ImageId": "m-b1", "Status": "Deprecated"},  # deny
        {"Action": "ModifyImageAttribute", "RegionId": HZ, "ImageId": "m-b1", "Status": "Deprecated",
         "caller": N},                                                                                # not N's
        {"Action": "ModifyImageSharePermission", "RegionId": HZ, "ImageId": "m-b1", "RemoveAccount": [N],
         "caller": N},                                                                                # not N's
        {"Action": "ModifyImageAttribute", "RegionId": HZ, "ImageId": "m-b1", "ImageFamily": "1bad"},   # bad name
        {"Action": "RunInstances", "RegionId": HZ, "ImageFamily": "fam-a"},
        {"Action": "RunInstances", "RegionId": HZ, "ImageFamily": fam, "caller": N},
        {"Action": "DescribeImageFromFamily", "RegionId": HZ, "ImageFamily": fam, "caller": P},
    ])
    code, doc = do_check(via, capsys, plan, state)
    assert code == 1
    assert [s["decision"] for s in doc["steps"]] == ["deny"] * 5 + ["allow"] * 3
    assert [s["resolved_image_id"] for s in doc["steps"][5:]] == ["m-b1", "m-b1", "m-a1"]
    assert doc["family_changes"] == []
    assert "InvalidImageId.NotFound" in steps_summary(doc)[2][3]  # N does not own m-b1


@VIA
def test_denied_launch_still_reports_what_the_family_resolves_to(via: str, capsys: Any, tmp_path: Path) -> None:
    """resolved_image_id is the resolution even when the launch is denied for another reason."""
    state = write_state(tmp_path, seed_images())
    plan = write_plan(tmp_path, [
        {"Action": "RunInstances", "RegionId": HZ, "ImageFamily": "fam-a", "channel": "console"},
        {"Action": "RunInstances", "RegionId": HZ, "ImageFamily": "fam-a", "ImageId": "m-a1"},
        {"Action": "RunInstances", "RegionId": HZ, "ImageFamily": "nope"},
        {"Action": "DescribeImageFromFamily", "RegionId": HZ, "ImageFamily": "nope"},
        {"Action": "ModifyImageAttribute", "RegionId": HZ, "ImageId": "m-a1", "ImageName": "x"},
    ])
    code, doc = do_check(via, capsys, plan, state)
    assert code == 1
    assert steps_summary(doc) == [
        ("RunInstances", "deny", "m-b1", ["family-launch-api-only"]),
        ("RunInstances", "deny", "m-b1", ["image-id-and-family"]),
        ("RunInstances", "deny", None, ["InvalidImageFamily.MissingAvailableImage"]),
        ("DescribeImageFromFamily", "allow", None, []),
        ("ModifyImageAttribute", "allow", None, [])]


@VIA
def test_created_images_join_the_family_and_win(via: str, capsys: Any, tmp_path: Path) -> None:
    """CreateImage makes the newest image of its family (TakenAt + 1 s); family_changes says so."""
    state = rollback_state(tmp_path)
    plan = write_plan(tmp_path, [
        {"Action": "CreateImage", "RegionId": HZ, "InstanceId": "i-1", "ImageFamily": "web", "creates": "m-v4"},
        {"Action": "RunInstances", "RegionId": HZ, "ImageFamily": "web"},
        {"Action": "CreateImage", "RegionId": HZ, "InstanceId": "i-1", "ImageFamily": "new-fam"},
        {"Action": "ModifyImageAttribute", "RegionId": HZ, "ImageId": "m-v4", "ImageFamily": "other"},
        {"Action": "RunInstances", "RegionId": HZ, "ImageFamily": "web"},
    ])
    code, doc = do_check(via, capsys, plan, state)
    assert code == 0
    created = doc["steps"][2].get("created_image_id")
    assert [s["resolved_image_id"] for s in doc["steps"]] == [None, "m-v4", None, None, "m-v3"]
    got = changes(doc)
    assert got[0] == (0, HZ, "web", M, "m-v3", "m-v4")
    assert got[1][:5] == (2, HZ, "new-fam", M, None) and (created is None or got[1][5] == created)
    assert sorted(got[2:]) == [(3, HZ, "other", M, None, "m-v4"), (3, HZ, "web", M, "m-v4", "m-v3")]


@VIA
def test_family_changes_include_the_community_view(via: str, capsys: Any, tmp_path: Path) -> None:
    state = write_state(tmp_path, [
        img("m-1", family="web", created="2020-01-01T00:00:00Z"),
        img("m-2", family="web", created="2020-01-02T00:00:00Z", status="Deprecated", IsPublic=True),
    ])
    plan = write_plan(tmp_path, [
        {"Action": "ModifyImageSharePermission", "RegionId": HZ, "ImageId": "m-1", "IsPublic": True},
        {"Action": "ModifyImageAttribute", "RegionId": HZ, "ImageId": "m-2", "Status": "Available"},
        {"Action": "RunInstances", "RegionId": HZ, "ImageFamily": f"acs:{M}:web", "caller": P},
    ])
    code, doc = do_check(via, capsys, plan, state)
    assert code == 0 and doc["steps"][2]["resolved_image_id"] == "m-2"
    got = changes(doc)
    assert (0, HZ, f"acs:{M}:web", M, None, "m-1") in got      # P (and everyone) now sees m-1
    assert (1, HZ, f"acs:{M}:web", M, "m-1", "m-2") in got     # ... and then m-2
    assert (1, HZ, "web", M, "m-1", "m-2") in got              # the owner's own view
