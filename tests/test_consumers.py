"""Consumers: scaling configurations and instances in the state, the ``consumers`` of each step of
``check --format json``, the Auto Scaling actions' region, and what a caller learns of another
account's consumers (only the account and counts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers_engine import assert_clean_error, run_main
from hypothesis import given, settings
from hypothesis import strategies as st

from imagefam.engine.consumers import ConsumerStore
from imagefam.engine.loader import plan_from_data, state_from_data
from imagefam.engine.parsing import InputError
from imagefam.engine.policy import load_policy
from imagefam.engine.preflight import check
from imagefam.rules.errors import Source

M, N, P = "100001", "200002", "300003"
IMAGES = [
    {"ImageId": "m-w1", "RegionId": "r1", "ImageOwnerId": M, "ImageFamily": "web",
     "CreationTime": "2020-01-01T00:00:00Z", "Status": "Available"},
    {"ImageId": "m-w2", "RegionId": "r1", "ImageOwnerId": M, "ImageFamily": "web",
     "CreationTime": "2020-01-02T00:00:00Z", "Status": "Available", "SharedWith": [N]},
    {"ImageId": "m-pin", "RegionId": "r1", "ImageOwnerId": M, "CreationTime": "2020-01-01T00:00:00Z",
     "Status": "Available"},
]
CONFIGS = [
    {"ScalingConfigurationId": "asc-m", "ScalingGroupId": "asg-m", "RegionId": "r1", "OwnerId": M,
     "ImageFamily": "web"},
    {"ScalingConfigurationId": "asc-secret-1", "ScalingGroupId": "asg-secret", "RegionId": "r1", "OwnerId": N,
     "ImageFamily": f"acs:{M}:web", "ScalingConfigurationName": "secret-name"},
    {"ScalingConfigurationId": "asc-secret-2", "ScalingGroupId": "asg-secret", "RegionId": "r1", "OwnerId": N,
     "ImageFamily": f"acs:{M}:web", "LifecycleState": "Inactive"},
    {"ScalingConfigurationId": "asc-pin", "ScalingGroupId": "asg-pin", "RegionId": "r1", "OwnerId": M,
     "ImageId": "m-pin"},
]
INSTANCES = [
    {"InstanceId": "i-secret", "RegionId": "r1", "OwnerId": N, "ImageId": "m-w2", "Status": "Running"},
    {"InstanceId": "i-m", "RegionId": "r1", "OwnerId": M, "ImageId": "m-w2"},
]


def _state(**extra: Any) -> Any:
    return state_from_data({"TakenAt": "2020-02-01T00:00:00Z", "Images": IMAGES, "ScalingConfigurations": CONFIGS,
                            "Instances": INSTANCES, **extra}, Path("s.yaml"))


def _json(steps: list[dict[str, Any]], caller: str = M) -> dict[str, Any]:
    return check(_state(), plan_from_data({"caller": caller, "steps": steps})).to_json()


# ---------------------------------------------------------------- the state format


@pytest.mark.parametrize(("extra", "message"), [
    ({"ScalingConfigurations": [CONFIGS[0], CONFIGS[0]]}, "ScalingConfigurations[1] (asc-m): duplicate "
                                                          "ScalingConfigurationId (first at ScalingConfigurations[0])"),
    ({"Instances": [INSTANCES[0], INSTANCES[0]]}, "Instances[1] (i-secret): duplicate InstanceId"),
    ({"ScalingConfigurations": [{**CONFIGS[0], "ImageFamily": None}]}, "ImageFamily or ImageId is required"),
    ({"ScalingConfigurations": [{**CONFIGS[0], "ImageFamly": "web"}]}, "did you mean 'ImageFamily'?"),
    ({"ScalingConfigurations": [{k: v for k, v in CONFIGS[0].items() if k != "OwnerId"}]},
     "ScalingConfigurations[0].OwnerId: required field is missing"),
    ({"Instances": [{k: v for k, v in INSTANCES[0].items() if k != "ImageId"}]},
     "Instances[0].ImageId: required field is missing"),
    ({"ScalingConfigurations": [{**CONFIGS[0], "LifecycleState": "active"}]}, "did you mean 'Active'?"),
    ({"Instance": []}, "did you mean 'Instances'?"),
])
def test_consumer_input_errors_name_the_entry_and_field(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as err:
        _state(**extra)
    assert message in str(err.value)
    assert "s.yaml" in str(err.value)


def test_consumers_are_optional_and_a_state_without_them_checks_as_before() -> None:
    state = state_from_data({"Images": IMAGES}, Path("s.yaml"))
    assert not state.consumers
    out = check(state, plan_from_data({"caller": M, "steps": [
        {"Action": "DeleteImage", "RegionId": "r1", "ImageId": "m-pin"}]})).to_json()
    assert out["steps"][0]["decision"] == "allow" and out["steps"][0]["consumers"] == []


def test_the_store_finds_consumers_by_image_and_family_without_scanning() -> None:
    store = _state().consumers
    assert [c.ScalingConfigurationId for c in store.configs_for_family("r1", "web", M)] == [
        "asc-m", "asc-secret-1", "asc-secret-2"]
    assert store.configs_for_family("r1", "web", P) == []
    assert [c.ScalingConfigurationId for c in store.configs_for_image("r1", "m-pin")] == ["asc-pin"]
    assert sorted(i.InstanceId for i in store.instances_for_image("r1", "m-w2")) == ["i-m", "i-secret"]
    assert store.group_region("asg-secret") == "r1" and store.group_region("asg-x") is None
    assert ConsumerStore().configs_for_image("r1", "m-pin") == []


# ---------------------------------------------------------------- check --format json: consumers


def test_a_switch_lists_the_configuration_with_before_and_after() -> None:
    out = _json([{"Action": "ModifyScalingConfiguration", "ScalingConfigurationId": "asc-pin", "ImageFamily": "web"}])
    assert out["steps"][0]["consumers"] == [{"kind": "ScalingConfiguration", "id": "asc-pin", "region": "r1",
                                             "owner": M, "family": "web", "before": "m-pin", "after": "m-w2"}]


def test_a_new_image_moves_every_consumer_of_the_family_and_others_are_counted() -> None:
    out = _json([{"Action": "CreateImage", "RegionId": "r1", "ImageFamily": "web", "creates": "m-w3"},
                 {"Action": "ModifyImageAttribute", "RegionId": "r1", "ImageId": "m-w3", "Status": "Deprecated"}])
    assert out["steps"][0]["consumers"] == [{"kind": "ScalingConfiguration", "id": "asc-m", "region": "r1",
                                             "owner": M, "family": "web", "before": "m-w2", "after": "m-w3"}]
    step = out["steps"][1]  # m-w3 is not shared: N's configurations do not move
    assert step["decision"] == "allow"
    assert step["consumers"] == [{"kind": "ScalingConfiguration", "id": "asc-m", "region": "r1", "owner": M,
                                  "family": "web", "before": "m-w3", "after": "m-w2"}]


def test_unsharing_counts_the_other_accounts_consumers_and_names_none() -> None:
    out = _json([{"Action": "ModifyImageSharePermission", "RegionId": "r1", "ImageId": "m-w2",
                  "RemoveAccount": [N]}])
    step = out["steps"][0]
    assert step["decision"] == "deny"
    assert step["consumers"] == []  # denied steps change nothing
    [violation] = step["violations"]
    assert violation["rule"] == "scaling-family-unresolvable"
    assert f"1 scaling configuration of account {N} in r1" in violation["message"]
    assert [w["rule"] for w in step["warnings"]] == ["unshare-image-of-instances"]
    text = json.dumps(out)
    for secret in ("asc-secret", "asg-secret", "secret-name", "i-secret"):
        assert secret not in text


def test_other_accounts_entries_carry_a_null_id_and_a_count() -> None:
    out = _json([{"Action": "CreateImage", "RegionId": "r1", "ImageFamily": "web", "creates": "m-w3"},
                 {"Action": "ModifyImageSharePermission", "RegionId": "r1", "ImageId": "m-w3", "AddAccount": [N]}])
    assert [s["decision"] for s in out["steps"]] == ["allow", "allow"]
    assert out["steps"][0]["consumers"] == [{"kind": "ScalingConfiguration", "id": "asc-m", "region": "r1",
                                             "owner": M, "family": "web", "before": "m-w2", "after": "m-w3"}]
    # N's Active and Inactive configurations: one entry, counted; no id, name or group
    assert out["steps"][1]["consumers"] == [{"kind": "ScalingConfiguration", "id": None, "region": "r1", "owner": N,
                                             "family": f"acs:{M}:web", "before": "m-w2", "after": "m-w3",
                                             "count": 2}]


def test_a_step_on_someone_elses_image_lists_no_consumers() -> None:
    out = _json([{"Action": "DeleteImage", "RegionId": "r1", "ImageId": "m-w2"}], caller=N)
    step = out["steps"][0]
    assert step["decision"] == "deny" and step["consumers"] == []
    assert [v["rule"] for v in step["violations"]] == ["owner-only"]


def test_delete_honours_force() -> None:
    out = _json([{"Action": "DeleteImage", "RegionId": "r1", "ImageId": "m-pin", "Force": True}])
    assert [v["rule"] for v in out["steps"][0]["violations"]] == ["scaling-image-removed"]
    state = state_from_data({"Images": IMAGES, "Instances": [{"InstanceId": "i-1", "RegionId": "r1", "OwnerId": M,
                                                              "ImageId": "m-pin"}]}, Path("s.yaml"))
    plain = check(state, plan_from_data({"caller": M, "steps": [
        {"Action": "DeleteImage", "RegionId": "r1", "ImageId": "m-pin"}]})).to_json()["steps"][0]
    assert plain["violations"][0]["error_code"] == "ImageUsingByInstance"
    forced = check(state, plan_from_data({"caller": M, "steps": [
        {"Action": "DeleteImage", "RegionId": "r1", "ImageId": "m-pin", "Force": "true"}]})).to_json()["steps"][0]
    assert forced["decision"] == "allow"
    assert forced["consumers"] == [{"kind": "Instance", "id": "i-1", "region": "r1", "owner": M, "family": None,
                                    "before": "m-pin", "after": None}]
    assert "i-1" in forced["warnings"][0]["message"]


# A user's policy that says a Deprecated image cannot be launched by its id (ECS says it can).
STRICT_VISIBLE = Source("mine.rules", """
def visible(img: Image, viewer: string) =
    img.Status != "Deprecated" and (is_public(img) or owns(img, viewer) or viewer in img.SharedWith or img.IsPublic)
""")


def test_what_a_consumer_launches_from_follows_the_policys_visible() -> None:
    deprecate = {"Action": "ModifyImageAttribute", "RegionId": "r1", "ImageId": "m-pin", "Status": "Deprecated"}
    plan = plan_from_data({"caller": M, "steps": [deprecate]})
    shipped = check(_state(), plan).to_json()["steps"][0]
    assert shipped["consumers"] == []  # a Deprecated image still launches by ImageId
    assert [w["rule"] for w in shipped["warnings"]] == ["scaling-image-deprecated"]
    strict = check(_state(), plan, load_policy(sources=[STRICT_VISIBLE])).to_json()["steps"][0]
    assert strict["consumers"] == [{"kind": "ScalingConfiguration", "id": "asc-pin", "region": "r1", "owner": M,
                                    "family": None, "before": "m-pin", "after": None}]


def test_consumers_need_a_visible_definition_and_say_so() -> None:
    bare = load_policy(default=False, sources=[Source("bare.rules", "def limit = 3\n")])
    plan = plan_from_data({"caller": M, "steps": [{"Action": "DeleteImage", "RegionId": "r1", "ImageId": "m-pin"}]})
    with pytest.raises(InputError, match=r"the policy has no definition 'visible' .*visibility\.rules"):
        check(_state(), plan, bare)
    without_consumers = state_from_data({"Images": IMAGES}, Path("s.yaml"))
    assert check(without_consumers, plan, bare).to_json()["steps"][0]["decision"] == "allow"


# ---------------------------------------------------------------- region of the Auto Scaling actions


def test_the_region_key_wins_over_the_state_and_creates_names_the_configuration() -> None:
    out = _json([{"Action": "CreateScalingConfiguration", "ScalingGroupId": "asg-m", "ImageFamily": "web",
                  "creates": "asc-new"},
                 {"Action": "CreateScalingConfiguration", "ScalingGroupId": "asg-m", "ImageFamily": "web",
                  "region": "r2"}])
    assert out["steps"][0]["consumers"][0]["id"] == "asc-new"
    assert out["steps"][0]["consumers"][0]["after"] == "m-w2"
    assert out["steps"][1]["decision"] == "deny"
    assert [v["rule"] for v in out["steps"][1]["violations"]] == ["scaling-config-family"]


@pytest.mark.parametrize(("step", "message"), [
    ({"Action": "CreateScalingConfiguration", "ScalingGroupId": "g", "ImageId": "m", "RegionId": "r1"},
     "RegionId"),
    ({"Action": "DeleteImage", "RegionId": "r1", "ImageId": "m", "region": "r1"}, "'region' applies only to"),
    ({"Action": "ModifyScalingConfiguration", "ScalingConfigurationId": "c", "region": 5},
     "'region' must be a region id"),
    ({"Action": "ModifyScalingConfiguration", "ScalingConfigurationId": "c", "creates": "x"},
     "'creates' applies only to"),
    ({"Action": "CreateScalingConfiguration", "ImageId": "m"}, "ScalingGroupId: required parameter is missing"),
])
def test_scaling_step_input_errors(step: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as err:
        plan_from_data({"caller": M, "steps": [step]})
    assert message in str(err.value)


def test_every_real_auto_scaling_parameter_is_accepted() -> None:
    plan = plan_from_data({"caller": M, "steps": [
        {"Action": "CreateScalingConfiguration", "ScalingGroupId": "asg-m", "ImageId": "m-pin",
         "InstanceType": "ecs.g7.large", "SecurityGroupId": "sg-1", "DataDisk.1.Size": 40,
         "SystemDisk.Category": "cloud_essd"}]})
    assert plan.steps[0].action == "CreateScalingConfiguration"


def test_cli_check_json_has_consumers_on_every_step(tmp_path: Path, capsys: Any) -> None:
    state = tmp_path / "s.json"
    state.write_text(json.dumps({"Images": IMAGES, "ScalingConfigurations": CONFIGS, "Instances": INSTANCES}))
    plan = tmp_path / "p.yaml"
    plan.write_text(f'caller: "{M}"\nsteps:\n  - {{Action: DeleteImage, RegionId: r1, ImageId: m-w1}}\n'
                    "  - {Action: ModifyScalingConfiguration, ScalingConfigurationId: asc-pin, ImageFamily: web}\n")
    run = run_main(capsys, "check", plan, "--state", state, "--format", "json")
    out = json.loads(run.out)
    assert all("consumers" in s for s in out["steps"])
    assert out["steps"][1]["consumers"][0]["id"] == "asc-pin"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"Images": IMAGES, "Instances": [{"InstanceId": "i", "RegionId": "r1"}]}))
    assert_clean_error(run_main(capsys, "check", plan, "--state", bad))


# ---------------------------------------------------------------- isolation property

SECRETS = ("asc-hidden", "asg-hidden", "hidden-name", "i-hidden")


@settings(max_examples=60, deadline=None)
@given(action=st.sampled_from(["delete", "deprecate", "unshare", "family", "force"]),
       owner=st.sampled_from([M, N]), family=st.sampled_from(["web", f"acs:{M}:web"]),
       active=st.booleans(), n_instances=st.integers(0, 3), caller=st.sampled_from([M, N, P]))
def test_a_caller_never_learns_the_ids_or_names_of_another_accounts_consumers(
        action: str, owner: str, family: str, active: bool, n_instances: int, caller: str) -> None:
    """Whatever the step, the text of every finding and every consumers entry names another
    account's consumers only by account and count."""
    configs = [{"ScalingConfigurationId": "asc-hidden", "ScalingGroupId": "asg-hidden", "RegionId": "r1",
                "OwnerId": owner, "ImageFamily": family, "ScalingConfigurationName": "hidden-name",
                "LifecycleState": "Active" if active else "Inactive"},
               {"ScalingConfigurationId": "asc-hidden-pin", "ScalingGroupId": "asg-hidden", "RegionId": "r1",
                "OwnerId": owner, "ImageId": "m-w2"}]
    instances = [{"InstanceId": f"i-hidden-{k}", "RegionId": "r1", "OwnerId": owner, "ImageId": "m-w2"}
                 for k in range(n_instances)]
    state = state_from_data({"Images": IMAGES, "ScalingConfigurations": configs, "Instances": instances},
                            Path("s.yaml"))
    step = {"delete": {"Action": "DeleteImage", "RegionId": "r1", "ImageId": "m-w2"},
            "force": {"Action": "DeleteImage", "RegionId": "r1", "ImageId": "m-w2", "Force": True},
            "deprecate": {"Action": "ModifyImageAttribute", "RegionId": "r1", "ImageId": "m-w2",
                          "Status": "Deprecated"},
            "unshare": {"Action": "ModifyImageSharePermission", "RegionId": "r1", "ImageId": "m-w2",
                        "RemoveAccount": [N]},
            "family": {"Action": "ModifyImageAttribute", "RegionId": "r1", "ImageId": "m-w2",
                       "ImageFamily": "other"}}[action]
    out = check(state, plan_from_data({"caller": caller, "steps": [step]})).to_json()
    text = json.dumps(out)
    if owner != caller:
        for secret in SECRETS:
            assert secret not in text, (secret, text)
    for s in out["steps"]:
        for c in s["consumers"]:
            assert (c["id"] is None) == (c["owner"] != caller)
            assert (c["id"] is None) == ("count" in c)


# ---------------------------------------------------------------- resolve, report and diff


def _files(tmp_path: Path) -> Path:
    state = tmp_path / "s.json"
    state.write_text(json.dumps({"Images": IMAGES, "ScalingConfigurations": CONFIGS, "Instances": INSTANCES}))
    return state


def test_resolve_lists_who_launches_from_the_resolved_image(tmp_path: Path, capsys: Any) -> None:
    state = _files(tmp_path)
    out = json.loads(run_main(capsys, "resolve", "--state", state, "--family", "web", "--region", "r1",
                              "--caller", M, "--format", "json").out)
    assert out["image_id"] == "m-w2"
    assert out["consumers"] == [
        {"kind": "Instance", "id": "i-m", "region": "r1", "owner": M, "family": None},
        {"kind": "ScalingConfiguration", "id": "asc-m", "region": "r1", "owner": M, "family": "web"},
        {"kind": "Instance", "id": None, "region": "r1", "owner": N, "family": None, "count": 1},
        {"kind": "ScalingConfiguration", "id": None, "region": "r1", "owner": N, "family": f"acs:{M}:web",
         "count": 2},
    ]
    text = run_main(capsys, "resolve", "--state", state, "--family", "web", "--region", "r1", "--caller", M).out
    assert "scaling configuration asc-m (group asg-m, family web) in r1" in text
    assert f"1 scaling configuration of account {N} in r1" in text  # Active and Inactive: one line each
    # a sharee sees its own consumers only, and nothing of the owner's or anyone else's
    sharee = json.loads(run_main(capsys, "resolve", "--state", state, "--family", f"acs:{M}:web", "--region", "r1",
                                 "--caller", N, "--format", "json").out)
    assert {c["id"] for c in sharee["consumers"]} == {"i-secret", "asc-secret-1", "asc-secret-2"}
    assert all(c["owner"] == N for c in sharee["consumers"])


def test_report_counts_consumers_per_family(tmp_path: Path, capsys: Any) -> None:
    state = _files(tmp_path)
    out = json.loads(run_main(capsys, "report", "--state", state, "--format", "json").out)
    assert out["consumers_by_family"] == [{"owner": M, "region": "r1", "family": "web", "scaling_configurations": 3,
                                           "active": 2, "instances": 2}]
    text = run_main(capsys, "report", "--state", state, "--format", "markdown").out
    assert "### Who launches from each family" in text


def test_diff_names_the_configurations_a_resolution_change_moves(tmp_path: Path, capsys: Any) -> None:
    old = _files(tmp_path)
    new = tmp_path / "new.json"
    images = [{**i, "Status": "Deprecated"} if i["ImageId"] == "m-w2" else i for i in IMAGES]
    new.write_text(json.dumps({"Images": images, "ScalingConfigurations": CONFIGS}))
    out = json.loads(run_main(capsys, "diff", old, new, "--format", "json").out)
    moved = {(c["family"], c["viewer"]): c["consumers"] for c in out["resolution_changes"]}
    assert moved[("web", M)] == ["asc-m"]
    assert moved[(f"acs:{M}:web", N)] == ["asc-secret-1", "asc-secret-2"]


def test_report_on_one_region_counts_that_regions_consumers_only(tmp_path: Path, capsys: Any) -> None:
    # The same estate in r1 and (other ids) in r2: a report on r1 says what a report of r1's data alone says.
    def moved(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
        return [{**r, key: r[key] + "-2", "RegionId": "r2"} for r in rows]

    both, alone = tmp_path / "both.json", tmp_path / "r1.json"
    both.write_text(json.dumps({"Images": IMAGES + moved(IMAGES, "ImageId"),
                                "ScalingConfigurations": CONFIGS + moved(CONFIGS, "ScalingConfigurationId"),
                                "Instances": INSTANCES + [{**i, "InstanceId": i["InstanceId"] + "-2", "RegionId": "r2",
                                                           "ImageId": i["ImageId"] + "-2"} for i in INSTANCES]}))
    alone.write_text(json.dumps({"Images": IMAGES, "ScalingConfigurations": CONFIGS, "Instances": INSTANCES}))
    regional = tmp_path / "regional.rules"  # the shipped cross-region audit would see r2 from r1
    regional.write_text('audit family-region-drift\n  for each family info when count(family.Images) > 1000\n'
                        '  message "off"\n')
    args = ["--format", "json", "--policy", str(regional)]
    cut = json.loads(run_main(capsys, "report", "--state", str(both), "--region", "r1", *args).out)
    whole = json.loads(run_main(capsys, "report", "--state", str(alone), *args).out)
    assert cut.pop("regions") == ["r1"] and cut == whole
    assert [c["region"] for c in cut["consumers_by_family"]] == ["r1"]
    assert json.loads(run_main(capsys, "report", "--state", str(both), *args).out)["consumers_by_family"][1]["region"] == "r2"
