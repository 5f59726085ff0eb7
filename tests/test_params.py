"""The parameter catalogue: generated from the SDK's request models, and enforced on plan steps
(an unknown key is exit 2 with a did-you-mean; real parameters imagefam does not model pass)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers_engine import ROOT, M, assert_clean_error, img, run_main, write_plan, write_state

from imagefam import InputError
from imagefam.engine.actions import REQUESTS as ACTIONS
from imagefam.engine.loader import plan_from_data
from imagefam.engine.params import catalogue

sys.path.insert(0, str(ROOT / "tools"))
import gen_params


def _step(action: str, **params: Any) -> Any:
    (step,) = plan_from_data({"caller": M, "steps": [{"Action": action, **params}]}).steps
    return step


def _error(action: str, **params: Any) -> str:
    with pytest.raises(InputError) as info:
        _step(action, **params)
    return str(info.value)


def test_every_action_and_every_modelled_field_is_in_the_catalogue() -> None:
    cat = catalogue()
    assert set(cat) == set(ACTIONS)
    for action, model in ACTIONS.items():
        roots = {n.split(".")[0] for n in cat[action].names}
        assert set(model.model_fields) <= roots, (action, set(model.model_fields) - roots)


def test_the_catalogue_has_nested_names_documented_extras_and_extensions() -> None:
    cat = catalogue()
    run = cat["RunInstances"].names
    assert {"SystemDisk.Category", "Tag.N.Key", "Tag.N.Value", "DataDisk.N.Size", "SecurityGroupIds.N",
            "NetworkInterface.N.VSwitchId", "InstanceType", "VSwitchId"} <= run
    assert {"StorageLocationArn", "ImageFeatures.NvmeSupport", "DiskDeviceMapping.N.SnapshotId"} <= \
        cat["CreateImage"].names
    assert "RegionId" in cat["ReplaceSystemDisk"].names
    assert {"AddAccount.N", "RemoveAccount.N"} <= cat["ModifyImageSharePermission"].names


def test_the_committed_catalogue_matches_the_installed_sdk() -> None:
    pytest.importorskip("alibabacloud_ecs20140526")
    from importlib.metadata import version

    recorded = json.loads(gen_params.OUT.read_text("utf-8"))["sdk"]["alibabacloud-ecs20140526"]
    installed = version("alibabacloud-ecs20140526")
    if installed != recorded:  # another SDK release: its models may differ; regenerating is a code change
        pytest.skip(f"SDK {installed} installed, catalogue generated from {recorded}: run tools/gen_params.py")
    assert gen_params.main(["--check"]) == 0, "imagefam/engine/params.json is stale: run tools/gen_params.py"


def test_the_generator_covers_auto_scaling_under_both_api_versions_names() -> None:
    if importlib.util.find_spec("alibabacloud_ess20220222") is None:
        pytest.skip("the Auto Scaling SDK is not installed")
    for action in ("CreateScalingConfiguration", "ModifyScalingConfiguration"):
        package, model = gen_params.SOURCES[action]
        names = set(gen_params.action_params(action, package, model))
        assert {"DataDisk.N.Size", "DataDisks.N.Size", "DataDisk.N.Category", "SystemDisk.Category",
                "ImageFamily", "ScalingConfigurationId" if action.startswith("Modify") else "ScalingGroupId"} <= names


@pytest.mark.parametrize(("action", "params"), [
    ("RunInstances", {"InstanceType": "ecs.g7.large", "SecurityGroupId": "sg-1", "VSwitchId": "vsw-1",
                      "SystemDisk.Category": "cloud_essd", "DataDisk.1.Size": 40, "DataDisk.2.Category": "x",
                      "Tag.1.Key": "team", "Tag.1.Value": "web", "SecurityGroupIds.3": "sg-3"}),
    ("RunInstances", {"SystemDisk": {"Category": "cloud_essd", "Size": 40},
                      "Tag": [{"Key": "team", "Value": "web"}], "DataDisk": [{"Size": 40}]}),
    ("CreateImage", {"StorageLocationArn": "arn", "ImageFeatures.NvmeSupport": "supported",
                     "DiskDeviceMapping.1.SnapshotId": "s-1", "InstanceId": "i-1"}),
    ("ReplaceSystemDisk", {"InstanceId": "i-1", "ImageId": "m-1", "SystemDisk.Size": 40}),
])
def test_real_parameters_imagefam_does_not_model_pass_silently(action: str, params: dict[str, Any]) -> None:
    step = _step(action, RegionId="cn-hangzhou", **params)
    assert step.warnings == []


@pytest.mark.parametrize(("key", "needle"), [
    ("SystemDisk.Categroy", "did you mean 'SystemDisk.Category'?"),
    ("Tag.1.Kye", "did you mean 'Tag.1.Key'?"),
    ("instanceType", "did you mean 'InstanceType'?"),
    ("Imagefamily", "did you mean 'ImageFamily'?"),
    ("ImageFamily ", "unknown parameter 'ImageFamily '"),
])
def test_mistyped_parameters_are_errors(key: str, needle: str) -> None:
    msg = _error("RunInstances", RegionId="r1", **{key: "x"})
    assert "step 0 (RunInstances)" in msg and repr(key) in msg and needle in msg, msg


def test_mistyped_keys_inside_an_object_value_are_errors() -> None:
    msg = _error("RunInstances", RegionId="r1", SystemDisk={"Categroy": "cloud_essd"})
    assert "'SystemDisk'" in msg and "'Categroy'" in msg and "did you mean 'Category'?" in msg, msg
    msg = _error("RunInstances", RegionId="r1", Tag={"team": "web"})
    assert "Tag is a list" in msg, msg


@pytest.mark.parametrize(("key", "needle"), [
    ("AddAccount.0", "start at 1"),
    ("AddAccount.x", "not a positive integer"),
    ("AddAccount.12345678901234567890", "out of range"),
    ("AddAccount.01", "leading zero"),
    ("AddAccount.-1", "not a positive integer"),
])
def test_bad_indexes_are_errors(key: str, needle: str) -> None:
    msg = _error("ModifyImageSharePermission", RegionId="r1", ImageId="m-1", **{key: "200002"})
    assert repr(key) in msg and needle in msg, msg
    assert len(msg) < 300


def test_an_index_beyond_the_apis_range_keeps_the_documented_warning(tmp_path: Path, capsys: Any) -> None:
    state = write_state(tmp_path, [img("m-1", family="web")])
    accounts = {f"AddAccount.{i}": str(300000 + i) for i in range(1, 13)}
    plan = write_plan(tmp_path, [{"Action": "ModifyImageSharePermission", "RegionId": "cn-hangzhou",
                                  "ImageId": "m-1", **accounts}])
    run = run_main(capsys, "check", plan, "--state", state, "--format", "json")
    assert run.code == 0, run.err
    (step,) = run.json()["steps"]
    assert any("first 10" in w["message"] for w in step["warnings"]), step


@pytest.mark.parametrize("amount", [-5, 0, 101, 10**30])
def test_absurd_amounts_are_errors(amount: int) -> None:
    msg = _error("RunInstances", RegionId="r1", ImageFamily="web", Amount=amount)
    assert "Amount" in msg and "1 to 100" in msg, msg


def test_amount_in_range_is_accepted() -> None:
    assert _step("RunInstances", RegionId="r1", ImageFamily="web", Amount=100).request.Amount == 100


def test_an_unknown_parameter_through_the_cli_names_file_line_step_and_key(tmp_path: Path, capsys: Any) -> None:
    state = write_state(tmp_path, [img("m-1", family="web")])
    plan = write_plan(tmp_path, [{"Action": "RunInstances", "RegionId": "cn-hangzhou", "ImageFamily": "web"},
                                 {"Action": "RunInstances", "RegionId": "cn-hangzhou", "imageFamily": "web"}])
    run = run_main(capsys, "check", plan, "--state", state)
    assert_clean_error(run)
    assert f"{plan}:" in run.err and "step 1 (RunInstances)" in run.err and "'imageFamily'" in run.err
    assert "did you mean 'ImageFamily'?" in run.err
