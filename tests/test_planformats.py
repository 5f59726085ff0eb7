"""Terraform JSON plans and aliyun CLI scripts as plans: the mapping of every resource and action,
the order of steps, values not known until apply, sources in every output format, skipped
changes counted, and malformed inputs (exit 2 naming the JSON path or the script line).

The Terraform fixtures in tests/data/terraform/ follow the field names and nesting of Terraform's
JSON output format page; see tests/data/terraform/README.md.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from helpers_engine import DEMO_DIR, M, N, assert_clean_error, run_main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagefam.engine.loader import load_state
from imagefam.engine.parsing import InputError
from imagefam.engine.planformats import load_any_plan, skipped_summary
from imagefam.engine.preflight import check

ROOT = Path(__file__).resolve().parents[1]
TF = ROOT / "tests" / "data" / "terraform"
STATE = DEMO_DIR / "state.yaml"
SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text("utf-8"))


def steps_of(path: Path, **kw: Any) -> list[tuple[str, str, dict[str, Any]]]:
    plan = load_any_plan(path, caller=M, **kw)
    return [(s.source["address"] if s.source and "address" in s.source else str(s.source), s.action,
             s.request.model_dump(exclude_defaults=True)) for s in plan.steps]


def checked(path: Path, **kw: Any) -> dict[str, Any]:
    return check(load_state(STATE), load_any_plan(path, caller=M, **kw)).to_json()


def write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text, "utf-8")
    return p


def tf_plan(tmp: Path, changes: list[dict[str, Any]], resources: list[dict[str, Any]] | None = None,
            providers: dict[str, Any] | None = None, **top: Any) -> Path:
    data = {"format_version": "1.2", "resource_changes": changes,
            "configuration": {"provider_config": providers if providers is not None else
                              {"alicloud": {"name": "alicloud",
                                            "expressions": {"region": {"constant_value": "cn-hangzhou"}}}},
                              "root_module": {"resources": resources or []}}, **top}
    return write(tmp, "plan.json", json.dumps(data))


def change(address: str, actions: list[str], before: Any = None, after: Any = None,
           unknown: dict[str, Any] | None = None) -> dict[str, Any]:
    type_, name = address.split(".")[-2:]
    return {"address": address, "mode": "managed", "type": type_, "name": name.split("[")[0],
            "change": {"actions": actions, "before": before, "after": after, "after_unknown": unknown or {}}}


# ---------------------------------------------------------------- Terraform: the mapping


def test_terraform_plan_maps_every_resource_in_apply_order() -> None:
    got = steps_of(TF / "images.plan.json")
    assert got == [
        ("alicloud_image.app", "CreateImage", {"RegionId": "cn-hangzhou", "InstanceId": "i-build1",
                                               "ImageFamily": "app-b", "ImageName": "app-b-v1",
                                               "Description": "built by CI"}),
        # after_unknown image_id that refers to alicloud_image.app: the simulated image
        ("alicloud_image_share_permission.app", "ModifyImageSharePermission",
         {"RegionId": "cn-hangzhou", "ImageId": "alicloud_image.app", "AddAccount": (N,)}),
        # the aliased provider's region comes from var.backup_region
        ("alicloud_image_copy.backup", "CopyImage", {"RegionId": "cn-hangzhou", "ImageId": "m-b1",
                                                     "DestinationRegionId": "cn-shanghai",
                                                     "DestinationImageName": "app-a-v3-copy", "Encrypted": False}),
        ("alicloud_image.old", "DeleteImage", {"RegionId": "cn-hangzhou", "ImageId": "m-x1", "Force": True}),
        ("alicloud_instance.web[0]", "RunInstances", {"RegionId": "cn-hangzhou", "ImageId": "m-b1"}),
        ("alicloud_instance.web[1]", "RunInstances", {"RegionId": "cn-hangzhou", "ImageId": "(known after apply)"}),
        ("alicloud_instance.api", "ReplaceSystemDisk", {"InstanceId": "i-api1", "ImageId": "m-b1",
                                                        "RegionId": "cn-hangzhou"}),
        ("alicloud_image.rename", "ModifyImageAttribute", {"RegionId": "cn-shanghai", "ImageId": "m-s1",
                                                           "ImageFamily": "app-c"}),
        # an Auto Scaling call: the provider's region is the step's region key (no RegionId)
        ("alicloud_ess_scaling_configuration.web", "CreateScalingConfiguration",
         {"ScalingGroupId": "asg-1", "ImageId": "m-b1"}),
        ('module.images.alicloud_image.app["web"]', "CreateImage",
         {"RegionId": "cn-hangzhou", "InstanceId": "i-web", "ImageFamily": "web", "ImageName": "web-v1"}),
        # for_each over alicloud_image.app in a module: the instance with the same key
        ('module.images.alicloud_image_share_permission.app["web"]', "ModifyImageSharePermission",
         {"RegionId": "cn-hangzhou", "ImageId": 'module.images.alicloud_image.app["web"]', "AddAccount": ("300003",)}),
    ]


def test_terraform_skipped_changes_are_counted_with_reasons() -> None:
    plan = load_any_plan(TF / "images.plan.json", caller=M)
    reasons = {s["source"]["address"]: s["reason"] for s in plan.skipped or []}
    assert reasons == {
        "alicloud_instance.db": "changing nothing imagefam checks",
        "alicloud_vpc.main": "not about images",
        "data.alicloud_images.ubuntu": "not about images",
        "alicloud_security_group.web": "without a change",
    }
    assert skipped_summary(plan.skipped) == (
        "skipped 4 resource changes: 2 not about images, 1 changing nothing imagefam checks, 1 without a change")


def test_terraform_scaling_configurations_become_auto_scaling_steps(tmp_path: Path) -> None:
    plan = load_any_plan(TF / "images.plan.json", caller=M)
    [scale] = [s for s in plan.steps if s.action == "CreateScalingConfiguration"]
    assert (scale.region, scale.creates) == ("cn-hangzhou", "alicloud_ess_scaling_configuration.web")
    path = tf_plan(tmp_path, [
        change("alicloud_ess_scaling_configuration.a", ["update"], {"id": "asc-1", "image_id": "m-1"},
               {"id": "asc-1", "image_id": "m-2"}),
        change("alicloud_ess_scaling_configuration.b", ["update"], {"id": "asc-2", "image_id": "m-1", "active": True},
               {"id": "asc-2", "image_id": "m-1", "active": False}),
        change("alicloud_ess_scaling_configuration.c", ["delete"], {"id": "asc-3", "image_id": "m-1"}, None)])
    plan = load_any_plan(path, caller=M)
    assert [(s.action, s.region, s.request.model_dump(exclude_defaults=True)) for s in plan.steps] == [
        ("ModifyScalingConfiguration", "cn-hangzhou", {"ScalingConfigurationId": "asc-1", "ImageId": "m-2"})]
    assert skipped_summary(plan.skipped) == "skipped 2 resource changes: 2 changing nothing imagefam checks"
    no_region = tf_plan(tmp_path, [change("alicloud_ess_scaling_configuration.a", ["create"], None,
                                          {"scaling_group_id": "asg-1", "image_id": "m-1"})], providers={})
    plan = load_any_plan(no_region, caller=M)
    assert plan.steps == []
    assert skipped_summary(plan.skipped) == (
        "skipped 1 resource change: 1 for scaling configurations in a region the plan does not say")


@pytest.mark.parametrize(("name", "order"), [
    ("alicloud_image.blue", ["CreateImage", "DeleteImage"]),   # ["create", "delete"]: create_before_destroy
    ("alicloud_image.green", ["DeleteImage", "CreateImage"]),  # ["delete", "create"]
])
def test_terraform_replace_keeps_terraform_order(name: str, order: list[str]) -> None:
    got = [(a, act) for a, act, _ in steps_of(TF / "replace.plan.json") if a == name]
    assert [act for _, act in got] == order


def test_terraform_replace_uses_before_for_the_delete_and_the_alias_region() -> None:
    got = {(a, act): p for a, act, p in steps_of(TF / "replace.plan.json")}
    assert got[("alicloud_image.green", "DeleteImage")] == {"RegionId": "cn-shanghai", "ImageId": "m-s1"}
    assert got[("alicloud_image.green", "CreateImage")]["RegionId"] == "cn-shanghai"
    assert got[("alicloud_image.blue", "DeleteImage")] == {"RegionId": "cn-hangzhou", "ImageId": "m-x1"}


def test_terraform_update_maps_only_changed_image_attributes(tmp_path: Path) -> None:
    plan = tf_plan(tmp_path, [
        change("alicloud_image.a", ["update"], {"id": "m-b1", "image_family": "app-a", "image_name": "x"},
               {"id": "m-b1", "image_family": "app-a", "image_name": "y"}),
        change("alicloud_image.b", ["update"], {"id": "m-a1", "image_family": "app-a", "tags": None},
               {"id": "m-a1", "image_family": None, "tags": {"k": "v"}}),
        change("alicloud_image.c", ["update"], {"id": "m-a1", "tags": None}, {"id": "m-a1", "tags": {"k": "v"}}),
    ])
    got = steps_of(plan)
    assert got == [("alicloud_image.a", "ModifyImageAttribute", {"RegionId": "cn-hangzhou", "ImageId": "m-b1",
                                                                  "ImageName": "y"}),
                   # a family removed in the configuration: the provider cannot clear it, and ECS does not allow it
                   ("alicloud_image.b", "ModifyImageAttribute", {"RegionId": "cn-hangzhou", "ImageId": "m-a1",
                                                                  "ImageFamily": ""})]
    result = checked(plan)
    assert [v["rule"] for v in result["steps"][1]["violations"]] == ["family-cannot-be-removed"]
    assert result["skipped"] == [{"source": {"kind": "terraform", "address": "alicloud_image.c"},
                                  "reason": "changing nothing imagefam checks"}]


def test_terraform_share_permission_delete_and_copy_delete(tmp_path: Path) -> None:
    plan = tf_plan(tmp_path, [
        change("alicloud_image_share_permission.s", ["delete"], {"id": "m-b1:200002", "image_id": "m-b1",
                                                                 "account_id": N}),
        change("alicloud_image_copy.c", ["delete"], {"id": "m-s1", "source_image_id": "m-b1", "force": True}),
    ])
    assert steps_of(plan) == [
        ("alicloud_image_share_permission.s", "ModifyImageSharePermission",
         {"RegionId": "cn-hangzhou", "ImageId": "m-b1", "RemoveAccount": (N,)}),
        ("alicloud_image_copy.c", "DeleteImage", {"RegionId": "cn-hangzhou", "ImageId": "m-s1", "Force": True}),
    ]


def test_terraform_destroys_a_share_before_its_image(tmp_path: Path) -> None:
    """Unsharing first is what lets the delete through: Terraform destroys dependents first."""
    plan = tf_plan(tmp_path, [
        change("alicloud_image.app", ["delete"], {"id": "m-b1", "force": False}),
        change("alicloud_image_share_permission.app", ["delete"], {"image_id": "m-b1", "account_id": N}),
    ], resources=[
        {"address": "alicloud_image_share_permission.app", "mode": "managed", "type": "alicloud_image_share_permission",
         "name": "app", "provider_config_key": "alicloud",
         "expressions": {"image_id": {"references": ["alicloud_image.app.id", "alicloud_image.app"]}}},
        {"address": "alicloud_image.app", "mode": "managed", "type": "alicloud_image", "name": "app",
         "provider_config_key": "alicloud", "expressions": {}},
    ])
    result = checked(plan)
    assert [s["action"] for s in result["steps"]] == ["ModifyImageSharePermission", "DeleteImage"]
    assert result["allowed"] is True


# ---------------------------------------------------------------- values known only after apply


def test_unknown_value_a_deny_rule_needs_fails_closed_with_a_warning() -> None:
    result = checked(TF / "images.plan.json")
    web1 = next(s for s in result["steps"] if s["source"]["address"] == "alicloud_instance.web[1]")
    assert web1["decision"] == "deny"
    nf = next(v for v in web1["violations"] if v["rule"] == "image-not-found")
    assert "not known until apply" in nf["message"] and "alicloud_instance.web[1].image_id" in nf["message"]
    assert nf["message"].endswith("failing closed")
    warning = next(w for w in web1["warnings"] if w["rule"] == "not-known-until-apply")
    assert "ImageId (alicloud_instance.web[1].image_id)" in warning["message"]


def test_unknown_value_no_rule_needs_changes_nothing(tmp_path: Path) -> None:
    plan = tf_plan(tmp_path, [change("alicloud_image.a", ["create"], None,
                                     {"instance_id": "i-1", "image_family": "app-z", "image_name": None},
                                     {"id": True, "image_name": True})])
    step = checked(plan)["steps"][0]
    assert step["decision"] == "allow" and step["warnings"] == []


def test_reference_to_an_image_created_in_the_plan_is_checked_against_it(tmp_path: Path) -> None:
    """The share of an image created by the plan sees the simulated image: sharing it with 51 accounts
    is denied by share-limit, which needs the image."""
    changes = [change("alicloud_image.app", ["create"], None, {"instance_id": "i-1", "image_family": "app-z"},
                      {"id": True})]
    resources = [{"address": f"alicloud_image_share_permission.s{i}", "mode": "managed",
                  "type": "alicloud_image_share_permission", "name": f"s{i}", "provider_config_key": "alicloud",
                  "expressions": {"image_id": {"references": ["alicloud_image.app.id", "alicloud_image.app"]}}}
                 for i in range(51)]
    changes += [change(f"alicloud_image_share_permission.s{i}", ["create"], None, {"account_id": f"9{i:05d}"},
                       {"image_id": True, "id": True}) for i in range(51)]
    result = checked(tf_plan(tmp_path, changes, resources))
    assert [s["decision"] for s in result["steps"]] == ["allow"] * 51 + ["deny"]
    assert result["steps"][-1]["violations"][0]["rule"] == "share-limit"


def test_unknown_region_fails_closed(tmp_path: Path) -> None:
    plan = tf_plan(tmp_path, [change("alicloud_image.old", ["delete"], {"id": "m-b1"})],
                   providers={"alicloud": {"name": "alicloud"}})
    step = checked(plan)["steps"][0]
    assert step["decision"] == "deny"
    assert "provider alicloud sets no region" in json.dumps(step["warnings"])


def test_region_from_a_variable_without_a_value_is_unknown(tmp_path: Path) -> None:
    plan = tf_plan(tmp_path, [change("alicloud_image.old", ["delete"], {"id": "m-x1"})],
                   providers={"alicloud": {"name": "alicloud", "expressions": {"region": {"references": ["var.r"]}}}},
                   variables={})
    assert load_any_plan(plan, caller=M).steps[0].unknown == {"RegionId": "provider alicloud: var.r has no value in "
                                                                          "the plan"}


# ---------------------------------------------------------------- outputs


def test_json_text_sarif_and_github_name_the_source(capsys: Any, tmp_path: Path) -> None:
    plan = DEMO_DIR / "terraform-plan.json"
    run = run_main(capsys, "check", plan, "--state", STATE, "--caller", M, "--format", "json")
    assert run.code == 1
    data = json.loads(run.out)
    assert [s["source"] for s in data["steps"]] == [{"kind": "terraform", "address": "alicloud_image.base"},
                                                    {"kind": "terraform", "address": "alicloud_image.app_v3"}]
    assert data["skipped"] == []
    assert [v["rule"] for s in data["steps"] for v in s["violations"]] == ["family-name-acs-prefix",
                                                                          "unshare-before-delete"]
    text = run_main(capsys, "check", plan, "--state", STATE, "--caller", M).out
    assert "step 1 DeleteImage (alicloud_image.app_v3): denied" in text
    sarif = json.loads(run_main(capsys, "check", plan, "--state", STATE, "--caller", M, "--format", "sarif").out)
    jsonschema.validate(sarif, SCHEMA)
    locs = [r["locations"][0] for r in sarif["runs"][0]["results"] if r["level"] == "error"]
    assert [loc["logicalLocations"][0]["fullyQualifiedName"] for loc in locs] == ["alicloud_image.base",
                                                                                  "alicloud_image.app_v3"]
    assert all(loc["physicalLocation"]["artifactLocation"]["uri"] == str(plan) for loc in locs)


def test_terraform_dir_points_sarif_at_the_resource_block(capsys: Any) -> None:
    run = run_main(capsys, "check", TF / "images.plan.json", "--state", STATE, "--caller", M, "--format", "sarif",
                   "--terraform-dir", TF)
    sarif = json.loads(run.out)
    jsonschema.validate(sarif, SCHEMA)
    by_name = {r["locations"][0]["logicalLocations"][0]["name"]: r["locations"][0]["physicalLocation"]
               for r in sarif["runs"][0]["results"]}
    assert by_name["alicloud_image.app"] == {"artifactLocation": {"uri": str(TF / "main.tf")},
                                             "region": {"startLine": 2}}
    gh = run_main(capsys, "check", TF / "images.plan.json", "--state", STATE, "--caller", M, "--format", "github",
                  "--terraform-dir", TF).out
    assert f"file={TF / 'main.tf'},line=2," in gh


def test_script_findings_point_at_the_script_line(capsys: Any) -> None:
    script = DEMO_DIR / "deprecate-shared.sh"
    gh = run_main(capsys, "check", script, "--state", STATE, "--caller", M, "--format", "github")
    assert gh.code == 1
    assert gh.out.startswith(f"::error file={script},line=6,title=imagefam unshare-before-deprecate::")
    sarif = json.loads(run_main(capsys, "check", script, "--state", STATE, "--caller", M, "--format", "sarif").out)
    jsonschema.validate(sarif, SCHEMA)
    assert sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"] == {"startLine": 6}
    data = json.loads(run_main(capsys, "check", script, "--state", STATE, "--caller", M, "--format", "json").out)
    assert data["steps"][0]["source"] == {"kind": "script", "line": 6} and data["steps"][0]["line"] == 6
    assert [s["reason"] for s in data["skipped"]] == ["without an aliyun ecs call"] * 2
    text = run_main(capsys, "check", script, "--state", STATE, "--caller", M).out
    assert "skipped 2 lines: 2 without an aliyun ecs call" in text


# ---------------------------------------------------------------- scripts


SCRIPT = r"""#!/bin/bash
set -euo pipefail
REGION=cn-hangzhou
# share the newest build with the test account
aliyun ecs ModifyImageSharePermission \
    --RegionId cn-hangzhou --ImageId 'm-a1' \
    --AddAccount.1 "300003" --AddAccount.2 400004
aliyun --profile ci ecs DeleteImage --region cn-shanghai --ImageId m-s1 --Force true > /dev/null 2>&1
IMAGE_ID=$(aliyun ecs CreateImage --RegionId cn-hangzhou --InstanceId i-9 --ImageFamily app-a | jq -r .ImageId)
aliyun ecs ModifyImageSharePermission --RegionId cn-hangzhou --ImageId "$IMAGE_ID" --AddAccount.1 $SHAREE
aliyun ecs DescribeInstances --RegionId cn-hangzhou
aliyun ess ModifyScalingConfiguration --ScalingConfigurationId asc-1 --ImageId m-b1
if aliyun ecs RunInstances --RegionId "$REGION" --ImageFamily app-a; then echo ok; fi
"""


def test_script_calls_become_steps(tmp_path: Path) -> None:
    plan = load_any_plan(write(tmp_path, "deploy.sh", SCRIPT), caller=M)
    got = [(s.line, s.action, s.request.model_dump(exclude_defaults=True), s.unknown) for s in plan.steps]
    assert got == [
        (5, "ModifyImageSharePermission", {"RegionId": "cn-hangzhou", "ImageId": "m-a1",
                                           "AddAccount": ("300003", "400004")}, {}),
        (8, "DeleteImage", {"RegionId": "cn-shanghai", "ImageId": "m-s1", "Force": True}, {}),
        (9, "CreateImage", {"RegionId": "cn-hangzhou", "InstanceId": "i-9", "ImageFamily": "app-a"}, {}),
        (10, "ModifyImageSharePermission", {"RegionId": "cn-hangzhou", "ImageId": "$IMAGE_ID",
                                            "AddAccount": ("$SHAREE",)}, {"AddAccount": "$SHAREE, line 10"}),
        (12, "ModifyScalingConfiguration", {"ScalingConfigurationId": "asc-1", "ImageId": "m-b1"}, {}),
        (13, "RunInstances", {"RegionId": "$REGION", "ImageFamily": "app-a"}, {"RegionId": "$REGION, line 13"}),
    ]
    assert plan.steps[2].creates == "$IMAGE_ID"
    assert plan.steps[4].region is None  # no --region: the state's region of the configuration
    assert [s["source"]["line"] for s in plan.skipped or []] == [2, 11]
    assert skipped_summary(plan.skipped) == ("skipped 2 lines: 1 with an aliyun ecs call not about images, "
                                             "1 without an aliyun ecs call")


def test_script_auto_scaling_calls_take_region_as_the_steps_region(tmp_path: Path) -> None:
    text = ("aliyun ess CreateScalingConfiguration --region cn-hangzhou --ScalingGroupId asg-1 --ImageFamily app-a\n"
            'aliyun ess ModifyScalingConfiguration --region "$R" --ScalingConfigurationId asc-1 --ImageId m-1\n'
            "aliyun ess DescribeScalingGroups --region cn-hangzhou\n")
    plan = load_any_plan(write(tmp_path, "scale.sh", text), caller=M)
    assert [(s.action, s.region) for s in plan.steps] == [("CreateScalingConfiguration", "cn-hangzhou")]
    assert skipped_summary(plan.skipped) == (
        "skipped 2 lines: 1 with an aliyun ess call whose --region is known only when the script runs, "
        "1 without an aliyun ecs call")


def test_script_variable_a_rule_needs_is_unknown_and_the_created_image_is_known(tmp_path: Path) -> None:
    result = check(load_state(STATE), load_any_plan(write(tmp_path, "deploy.sh", SCRIPT), caller=M)).to_json()
    share = result["steps"][3]
    # $IMAGE_ID is the image the script created (no image-not-found); share-limit needs the unknown account
    assert [(v["rule"], "$SHAREE, line 10" in v["message"]) for v in share["violations"]] == [("share-limit", True)]
    launch = result["steps"][5]
    assert launch["decision"] == "deny"
    assert any(w["rule"] == "not-known-until-apply" and "$REGION, line 13" in w["message"]
               for w in launch["warnings"])


@pytest.mark.parametrize(("text", "message"), [
    ("aliyun ecs DeleteImage --RegionId r --ImageId 'm-1\n", "deploy.sh:1: unterminated single quote"),
    ("echo hi\naliyun ecs ModifyImageAtribute --RegionId r --ImageId m-1\n",
     "deploy.sh:2: unknown ecs action 'ModifyImageAtribute'; did you mean 'ModifyImageAttribute'?"),
    ("aliyun ecs delete-image --image-id m-1\n", "deploy.sh:1: imagefam reads the PascalCase form"),
    ("aliyun ecs DeleteImage --regoin r --ImageId m-1\n",
     "deploy.sh:1: unknown aliyun CLI flag '--regoin'; did you mean 'region'?"),
    ("aliyun ecs DeleteImage --region a --RegionId b --ImageId m-1\n", "deploy.sh:1: --region a and --RegionId b"),
    ("aliyun ecs DeleteImage --RegionId r --ImageId\n", "deploy.sh:1: --ImageId needs a value"),
    ("xargs -n1 aliyun ecs DeleteImage --RegionId r --ImageId < ids\n",
     "deploy.sh:1: an aliyun ecs call that is not at the start of a command"),
    ("aliyun ecs DeleteImage --RegionId r --ImageId m-1 extra\n", "deploy.sh:1: unexpected argument 'extra'"),
    ("\n\naliyun ecs DeleteImage --RegionId r\n", "deploy.sh:3: step 0 (DeleteImage): ImageId: required parameter"),
])
def test_script_errors_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        load_any_plan(write(tmp_path, "deploy.sh", text), caller=M)
    assert str(err.value).startswith(str(tmp_path / message.split(":")[0]) + message[len(message.split(":")[0]):])


def test_script_with_windows_line_ends(tmp_path: Path) -> None:
    text = "echo hi\r\naliyun ecs DeleteImage \\\r\n  --RegionId cn-hangzhou --ImageId m-x1\r\n"
    plan = load_any_plan(write(tmp_path, "deploy.sh", text), caller=M)
    assert [(s.line, s.request.model_dump()["ImageId"]) for s in plan.steps] == [(2, "m-x1")]


def test_script_here_document_text_is_not_a_command(tmp_path: Path) -> None:
    text = ("cat > notes.txt <<'EOF'\naliyun ecs DeleteImage --RegionId r --ImageId m-1\nEOF\n"
            "aliyun ecs DeleteImage --RegionId cn-hangzhou --ImageId m-x1\n")
    plan = load_any_plan(write(tmp_path, "deploy.sh", text), caller=M)
    assert [(s.line, s.request.model_dump()["ImageId"]) for s in plan.steps] == [(4, "m-x1")]


def test_script_unknown_parameter_is_an_input_error_from_the_plan_loader(tmp_path: Path) -> None:
    path = write(tmp_path, "deploy.sh", "aliyun ecs DeleteImage --RegionId r --ImageId m-1 --Forse true\n")
    with pytest.raises(InputError, match=r"deploy\.sh:1: step 0 \(DeleteImage\): unknown parameter 'Forse'; "
                                         r"did you mean 'Force'\?"):
        load_any_plan(path, caller=M)


def test_plan_format_flag_overrides_recognition(tmp_path: Path, capsys: Any) -> None:
    script = write(tmp_path, "steps.txt", "aliyun ecs DeleteImage --RegionId cn-hangzhou --ImageId m-b1\n")
    run = run_main(capsys, "check", script, "--state", STATE, "--caller", M, "--plan-format", "aliyun-cli")
    assert run.code == 1 and "unshare-before-delete" in run.out
    assert run_main(capsys, "check", script, "--state", STATE, "--caller", M).code == 1  # by content too
    assert_clean_error(run_main(capsys, "check", script, "--state", STATE, "--caller", M, "--plan-format",
                                "terraform"))


# ---------------------------------------------------------------- malformed inputs and the caller


def test_terraform_plan_requires_caller(capsys: Any) -> None:
    run = run_main(capsys, "check", DEMO_DIR / "terraform-plan.json", "--state", STATE)
    assert_clean_error(run)
    assert "--caller" in run.err
    assert_clean_error(run_main(capsys, "check", DEMO_DIR / "deprecate-shared.sh", "--state", STATE))


@pytest.mark.parametrize(("data", "path"), [
    ({"format_version": "2.0", "resource_changes": []}, "format_version: expected a 0.x or 1.x version"),
    ({"format_version": "1.2", "resource_changes": {}}, "resource_changes: expected a list"),
    ({"format_version": "1.2", "resource_changes": [{"address": "a.b", "type": "a", "name": "b",
                                                    "change": {"actions": ["destroy"]}}]},
     "resource_changes[0].change.actions: expected one of"),
    ({"format_version": "1.2", "resource_changes": [{"type": "a", "name": "b", "change": {"actions": ["create"]}}]},
     "resource_changes[0].address: required string is missing"),
    ({"format_version": "1.2", "resource_changes": [
        {"address": "alicloud_image.a", "type": "alicloud_image", "name": "a",
         "change": {"actions": ["create"], "before": None, "after": [], "after_unknown": {}}}]},
     "resource_changes[0].change.after: expected an object, got list"),
    ({"format_version": "1.2", "resource_changes": [
        {"address": "alicloud_image.a", "type": "alicloud_image", "name": "a",
         "change": {"actions": ["delete"], "before": {"image_name": "x"}, "after": None}}]},
     "resource_changes[0].change.before.id: the image to delete has no id"),
    ({"format_version": "1.2", "configuration": {"root_module": {"resources": {}}}, "resource_changes": []},
     "configuration.root_module.resources: expected a list"),
])
def test_malformed_terraform_plan_names_the_json_path(tmp_path: Path, capsys: Any, data: Any, path: str) -> None:
    p = write(tmp_path, "plan.json", json.dumps(data))
    run = run_main(capsys, "check", p, "--state", STATE, "--caller", M, "--plan-format", "terraform")
    assert_clean_error(run)
    assert f"{p}: {path}" in run.err


def test_invalid_request_names_the_resource_change(tmp_path: Path) -> None:
    plan = tf_plan(tmp_path, [change("alicloud_image_share_permission.s", ["delete"], {"image_id": "m-b1",
                                                                                       "account_id": None})])
    with pytest.raises(InputError, match=r"resource_changes\[0\] \(alicloud_image_share_permission.s\)"):
        load_any_plan(plan, caller=M)


def test_native_plan_takes_caller_from_the_flag(tmp_path: Path, capsys: Any) -> None:
    p = write(tmp_path, "plan.yaml", "steps:\n  - {Action: DeleteImage, RegionId: cn-hangzhou, ImageId: m-b1}\n")
    assert run_main(capsys, "check", p, "--state", STATE, "--caller", M).code == 1
    assert_clean_error(run_main(capsys, "check", p, "--state", STATE))
    q = write(tmp_path, "plan2.yaml", f"caller: '{N}'\nsteps: []\n")
    run = run_main(capsys, "check", q, "--state", STATE, "--caller", M)
    assert_clean_error(run)
    assert "--caller says 100001" in run.err


def test_inputs_are_not_modified(tmp_path: Path, capsys: Any) -> None:
    p = write(tmp_path, "deploy.sh", SCRIPT)
    before = p.read_bytes()
    run_main(capsys, "check", p, "--state", STATE, "--caller", M, "--format", "json")
    assert p.read_bytes() == before


# ---------------------------------------------------------------- robustness: never a traceback

EXAMPLES = int(os.environ.get("IMAGEFAM_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=5000, suppress_health_check=[HealthCheck.too_slow,
                                                                             HealthCheck.function_scoped_fixture])
JUNK = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8), st.lists(st.integers(), max_size=2),
                 st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@FUZZ
@given(data=st.data())
def test_mutated_terraform_plan_is_checked_or_an_input_error(data: Any) -> None:
    plan = json.loads((TF / "images.plan.json").read_text("utf-8"))
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p in _paths(plan) if p]
        path = data.draw(st.sampled_from(paths))
        target = plan
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = data.draw(JUNK)
    state = load_state(STATE)
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "plan.json"
        p.write_text(json.dumps(plan), "utf-8")
        try:
            check(state, load_any_plan(p, caller=M, plan_format="terraform"))
        except InputError as err:
            assert str(err).startswith(str(p))


SCRIPT_ALPHABET = st.sampled_from(["aliyun", " ", "ecs", "ess", "DeleteImage", "CreateImage", "--RegionId", "--region",
                                   "--ImageId", "--AddAccount.1", "--Force", "m-b1", "cn-hangzhou", "$X", "'", '"',
                                   "\\", "\n", ";", "&&", "|", "$(", ")", "`", "#", "<<EOF", "EOF", "=", "{", "}"])


@FUZZ
@given(words=st.lists(SCRIPT_ALPHABET, max_size=30))
def test_random_script_is_checked_or_an_input_error(words: list[str]) -> None:
    state = load_state(STATE)
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "deploy.sh"
        p.write_text("".join(words), "utf-8")
        try:
            check(state, load_any_plan(p, caller=M, plan_format="aliyun-cli"))
        except InputError as err:
            assert str(err).startswith(str(p))


def test_replacing_a_shared_image_unshares_deletes_creates_and_shares_again(tmp_path: Path) -> None:
    """A new build replaces alicloud_image.app; its share is replaced too (image_id is ForceNew).
    Terraform destroys the share, then the image, creates the image, then the share."""
    share_expr = {"image_id": {"references": ["alicloud_image.app.id", "alicloud_image.app"]}}
    plan = tf_plan(tmp_path, [
        change("alicloud_image.app", ["delete", "create"], {"id": "m-b1", "image_family": "app-a", "force": False},
               {"instance_id": "i-new", "image_family": "app-a", "image_name": "app-a-v4"}, {"id": True}),
        change("alicloud_image_share_permission.app", ["delete", "create"], {"image_id": "m-b1", "account_id": N},
               {"account_id": N}, {"image_id": True, "id": True}),
    ], resources=[
        {"address": "alicloud_image.app", "mode": "managed", "type": "alicloud_image", "name": "app",
         "provider_config_key": "alicloud", "expressions": {}},
        {"address": "alicloud_image_share_permission.app", "mode": "managed",
         "type": "alicloud_image_share_permission", "name": "app", "provider_config_key": "alicloud",
         "expressions": share_expr},
    ])
    result = checked(plan)
    assert [(s["action"], s["source"]["address"], s["decision"]) for s in result["steps"]] == [
        ("ModifyImageSharePermission", "alicloud_image_share_permission.app", "allow"),
        ("DeleteImage", "alicloud_image.app", "allow"),
        ("CreateImage", "alicloud_image.app", "allow"),
        ("ModifyImageSharePermission", "alicloud_image_share_permission.app", "allow"),
    ]
    assert result["steps"][3]["warnings"] == []  # the new image is the one created at step 2
    assert load_any_plan(plan, caller=M).steps[3].request.ImageId == "alicloud_image.app"  # type: ignore[attr-defined]


def test_sensitive_values_are_checked_but_not_shown(capsys: Any) -> None:
    """module.images' share has a sensitive account_id (300003): the share is checked with it, and
    no output format prints it."""
    plan = load_any_plan(TF / "images.plan.json", caller=M)
    assert plan.sensitive == ("300003",)
    share = plan.steps[-1]
    assert share.request.AddAccount == ("300003",)  # type: ignore[attr-defined]
    for fmt in ("text", "json", "junit", "sarif", "github"):
        run = run_main(capsys, "check", TF / "images.plan.json", "--state", STATE, "--caller", M, "--format", fmt)
        assert "300003" not in run.out, fmt
    text = run_main(capsys, "check", TF / "images.plan.json", "--state", STATE, "--caller", M).out
    assert "(sensitive)" in text  # the family change seen by the sensitive account


def test_yaml_plan_mentioning_aliyun_is_a_plan_file(tmp_path: Path) -> None:
    p = write(tmp_path, "plan.yaml", "# was: aliyun ecs DeleteImage --ImageId m-b1\ncaller: '100001'\nsteps:\n"
                                     "  - {Action: DeleteImage, RegionId: cn-hangzhou, ImageId: m-x1, "
                                     "name: 'aliyun ecs DeleteImage'}\n")
    plan = load_any_plan(p)
    assert plan.skipped is None and plan.steps[0].line == 4


@pytest.mark.parametrize("cond", [
    # tests of one string, joined into one closure by the compiler
    'request.LaunchTemplateName startswith "legacy-" and request.ImageFamily startswith "app-" '
    'and request.ImageFamily endswith "-old"',
    # a run of two-valued tests, joined into one closure
    'request.LaunchTemplateName startswith "legacy-" and request.ImageFamily == "app-old" and request.RegionId == "r1"',
])
def test_a_rule_decided_before_an_unknown_value_is_read_stands(cond: str) -> None:
    # The rule is false whatever ImageFamily turns out to be (the template is not a legacy one), and
    # in source order it is decided before ImageFamily is read: the compiler's fused tests must not
    # run ahead of it and read the unknown value, which would fail closed for nothing.
    from imagefam.engine.loader import plan_from_data
    from imagefam.engine.policy import load_policy
    from imagefam.engine.state import State
    from imagefam.rules.errors import Source

    policy = load_policy(sources=[Source("x.rules", f'rule no-legacy on RunInstances deny when {cond}\n  message "m"\n')],
                         default=False)
    plan = plan_from_data({"caller": "1", "steps": [{"Action": "RunInstances", "RegionId": "r1",
                                                       "LaunchTemplateName": "modern-1", "ImageFamily": "app-x"}]})
    plan.steps[0].unknown = {"ImageFamily": "known after apply"}
    step = check(State.of([]), plan, policy).to_json()["steps"][0]
    assert step["decision"] == "allow", step
