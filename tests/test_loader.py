"""State and plan loading: every input-error kind with its message (file, image id and field
named, did-you-mean for near misses), in JSON and YAML, and the loose inputs that are accepted."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers_engine import (
    M,
    N,
    assert_clean_error,
    img,
    run_main,
    sha,
    write_data,
    write_plan,
    write_state,
)
from hypothesis import given, settings
from hypothesis import strategies as st

import imagefam
from imagefam import InputError

FORMATS = ["state.json", "state.yaml"]


def _state_error(tmp_path: Path, images: list[dict[str, Any]], name: str, **kw: Any) -> str:
    path = write_state(tmp_path, images, name=name, **kw)
    with pytest.raises(InputError) as info:
        imagefam.load_state(path)
    return str(info.value)


def _raw_state_error(tmp_path: Path, data: Any, name: str) -> str:
    path = write_data(tmp_path / name, data)
    with pytest.raises(InputError) as info:
        imagefam.load_state(path)
    return str(info.value)


def _plan_error(tmp_path: Path, data: Any, name: str = "plan.yaml") -> str:
    path = write_data(tmp_path / name, data)
    with pytest.raises(InputError) as info:
        imagefam.load_plan(path)
    return str(info.value)


# ---------------------------------------------------------------- state: errors


@pytest.mark.parametrize("name", FORMATS)
def test_unknown_image_key_names_image_field_and_did_you_mean(tmp_path: Path, name: str) -> None:
    bad = img("m-1")
    bad["Statuss"] = bad.pop("Status")
    msg = _state_error(tmp_path, [img("m-0"), bad], name)
    assert name in msg
    assert "Images[1] (m-1)" in msg
    assert "Statuss" in msg and "unknown key" in msg
    assert "did you mean 'Status'?" in msg


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize(("typo", "right"), [("ImageFamly", "ImageFamily"), ("imagefamily", "ImageFamily"),
                                             ("SharedWit", "SharedWith"), ("Ispublic", "IsPublic"),
                                             ("ImageOwnerID", "ImageOwnerId")])
def test_near_miss_image_keys(tmp_path: Path, name: str, typo: str, right: str) -> None:
    msg = _state_error(tmp_path, [img("m-7", **{typo: "x"})], name)
    assert "Images[0] (m-7)" in msg and typo in msg
    assert f"did you mean '{right}'?" in msg


@pytest.mark.parametrize("name", FORMATS)
def test_unknown_top_level_key(tmp_path: Path, name: str) -> None:
    msg = _raw_state_error(tmp_path, {"Images": [], "Taken": "2020-01-01T00:00:00Z"}, name)
    assert "Taken" in msg and "did you mean 'TakenAt'?" in msg
    msg = _raw_state_error(tmp_path, {"Imagess": []}, name)
    assert "Imagess" in msg and "did you mean 'Images'?" in msg


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("field", ["ImageId", "RegionId", "CreationTime", "Status"])
def test_missing_required_field(tmp_path: Path, name: str, field: str) -> None:
    bad = img("m-2")
    del bad[field]
    msg = _state_error(tmp_path, [img("m-1"), bad], name)
    assert f"Images[1]{' (m-2)' if field != 'ImageId' else ''}" in msg
    assert field in msg and "missing" in msg


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize(("field", "value"), [
    ("Status", "Ready"), ("Status", "available"), ("CreationTime", "yesterday"), ("IsPublic", "maybe"),
    ("ImageOwnerAlias", "self"), ("ImageOwnerAlias", "others"), ("SharedWith", "200002"), ("ImageOwnerId", True),
    ("Tags", [{"Key": "a"}]),
])
def test_bad_value_names_image_and_field(tmp_path: Path, name: str, field: str, value: Any) -> None:
    msg = _state_error(tmp_path, [img("m-3", **{field: value})], name)
    assert "Images[0] (m-3)" in msg and field in msg
    assert name in msg


@pytest.mark.parametrize("name", FORMATS)
def test_bad_status_lists_the_allowed_values(tmp_path: Path, name: str) -> None:
    msg = _state_error(tmp_path, [img("m-3", status="Ready")], name)
    assert "Ready" in msg and "Available" in msg and "Deprecated" in msg


@pytest.mark.parametrize("name", FORMATS)
def test_duplicate_image_id(tmp_path: Path, name: str) -> None:
    msg = _state_error(tmp_path, [img("m-1"), img("m-2"), img("m-1", region="cn-shanghai")], name)
    assert "Images[2] (m-1)" in msg and "duplicate ImageId" in msg and "Images[0]" in msg


@pytest.mark.parametrize("name", FORMATS)
def test_owner_required_for_custom_images(tmp_path: Path, name: str) -> None:
    msg = _state_error(tmp_path, [img("m-1", owner=None)], name)
    assert "Images[0] (m-1)" in msg and "ImageOwnerId" in msg
    # system and marketplace images may omit it
    path = write_state(tmp_path, [img("m-s", owner=None, ImageOwnerAlias="system"),
                                  img("m-k", owner=None, ImageOwnerAlias="marketplace")], name=name)
    state = imagefam.load_state(path)
    assert {i.ImageId: i.ImageOwnerId for i in state.images} == {"m-s": None, "m-k": None}


@pytest.mark.parametrize("name", FORMATS)
def test_every_problem_is_reported_at_once(tmp_path: Path, name: str) -> None:
    msg = _state_error(tmp_path, [img("m-1", status="Ready"), img("m-2", created="soon"), img("m-3", Foo=1)], name)
    assert "Images[0] (m-1)" in msg and "Images[1] (m-2)" in msg and "Images[2] (m-3)" in msg


@pytest.mark.parametrize(("name", "data", "needle"), [
    ("state.json", [], "got list"),
    ("state.yaml", [], "got list"),
    ("state.json", "text", "got str"),
    ("state.yaml", {"TakenAt": "2020-01-01T00:00:00Z"}, "Images"),
    ("state.json", {"Images": {"Image": "x"}}, "Images"),
])
def test_wrong_shapes(tmp_path: Path, name: str, data: Any, needle: str) -> None:
    assert needle in _raw_state_error(tmp_path, data, name)


def test_empty_yaml_file(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("", "utf-8")
    with pytest.raises(InputError, match=r"s\.yaml"):
        imagefam.load_state(tmp_path / "s.yaml")


def test_invalid_json_names_file_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text('{"Images": [\n  {"ImageId": "m-1",}\n]}\n', "utf-8")
    with pytest.raises(InputError) as info:
        imagefam.load_state(tmp_path / "s.json")
    assert str(info.value).startswith(f"{tmp_path / 's.json'}:2:")
    assert "invalid JSON" in str(info.value)


def test_invalid_yaml_names_file_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("Images:\n  - {ImageId: m-1,\n  - x: [\n", "utf-8")
    with pytest.raises(InputError) as info:
        imagefam.load_state(tmp_path / "s.yaml")
    msg = str(info.value)
    assert msg.startswith(f"{tmp_path / 's.yaml'}:") and "invalid YAML" in msg
    line = int(msg[len(str(tmp_path / "s.yaml")) + 1:].split(":")[0])
    assert 2 <= line <= 4


def test_not_utf8_and_missing_and_directory(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_bytes(b'{"Images": [\xff]}')
    with pytest.raises(InputError, match="UTF-8"):
        imagefam.load_state(tmp_path / "s.json")
    with pytest.raises(InputError, match="cannot read"):
        imagefam.load_state(tmp_path / "nosuch.json")
    with pytest.raises(InputError, match="cannot read"):
        imagefam.load_state(tmp_path)
    with pytest.raises(InputError, match="cannot read"):
        imagefam.load_plan(tmp_path / "nosuch.yaml")


@pytest.mark.parametrize("name", FORMATS)
def test_state_errors_exit_2_through_the_cli(tmp_path: Path, capsys: Any, name: str) -> None:
    bad = img("m-1", Statuss="Available")
    del bad["Status"]
    path = write_state(tmp_path, [bad], name=name)
    run = run_main(capsys, "resolve", "--state", path, "--family", "web", "--region", "cn-hangzhou", "--caller", M)
    assert_clean_error(run)
    assert "m-1" in run.err and "Statuss" in run.err and "did you mean 'Status'?" in run.err


# ---------------------------------------------------------------- state: loose inputs accepted


@pytest.mark.parametrize("name", FORMATS)
def test_numbers_as_uids_and_empty_family(tmp_path: Path, name: str) -> None:
    path = write_state(tmp_path, [img("m-1", owner=100001, family="", SharedWith=[200002, "300003"])],  # type: ignore[arg-type]
                       name=name)
    (image,) = list(imagefam.load_state(path).images)
    assert image.ImageOwnerId == "100001"
    assert image.SharedWith == ("200002", "300003")
    assert image.ImageFamily is None


def test_naive_times_are_utc_and_offsets_are_converted(tmp_path: Path) -> None:
    path = write_state(tmp_path, [img("m-1", created="2020-01-02T03:04:05"),
                                  img("m-2", created="2020-01-02T11:04:05+08:00"),
                                  img("m-3", created="2020-01-02")], taken_at="2020-02-01T00:00:00")
    state = imagefam.load_state(path)
    times = {i.ImageId: i.CreationTime for i in state.images}
    assert times["m-1"] == datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert times["m-2"] == datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert times["m-3"] == datetime(2020, 1, 2, tzinfo=UTC)
    assert all(t.utcoffset().total_seconds() == 0 for t in times.values())  # type: ignore[union-attr]
    assert state.taken_at == datetime(2020, 2, 1, tzinfo=UTC)


def test_yaml_unquoted_times_and_numbers(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "TakenAt: 2020-02-01 00:00:00\n"
        "Images:\n"
        "  - {ImageId: m-1, RegionId: r1, CreationTime: 2020-01-01 10:00:00, Status: Available,\n"
        "     ImageOwnerId: 100001, ImageFamily: web, SharedWith: [200002]}\n"
        "  - {ImageId: m-2, RegionId: r1, CreationTime: 2020-01-01T12:00:00+02:00, Status: Available,\n"
        "     ImageOwnerId: 100001, ImageFamily: web}\n", "utf-8")
    state = imagefam.load_state(tmp_path / "s.yaml")
    by_id = {i.ImageId: i for i in state.images}
    assert by_id["m-1"].CreationTime == datetime(2020, 1, 1, 10, tzinfo=UTC)
    assert by_id["m-2"].CreationTime == datetime(2020, 1, 1, 10, tzinfo=UTC)
    assert by_id["m-1"].ImageOwnerId == "100001" and by_id["m-1"].SharedWith == ("200002",)
    assert state.taken_at == datetime(2020, 2, 1, tzinfo=UTC)
    # the two share the newest time: a tie, broken by ImageId
    image, trace = imagefam.resolve(state, "web", "r1", "100001")
    assert image is not None and image.ImageId == "m-2" and trace.tie


def test_tags_in_api_form(tmp_path: Path) -> None:
    path = write_state(tmp_path, [img("m-1", Tags=[{"TagKey": "env", "TagValue": "prod"}]),
                                  img("m-2", Tags={"Tag": [{"TagKey": "a", "TagValue": "b"}]}),
                                  img("m-3", Tags={"k": "v"})])
    tags = {i.ImageId: i.Tags for i in imagefam.load_state(path).images}
    assert tags == {"m-1": {"env": "prod"}, "m-2": {"a": "b"}, "m-3": {"k": "v"}}


def test_yml_extension_and_upper_case_suffix(tmp_path: Path) -> None:
    for name in ("s.yml", "s.YAML"):
        (tmp_path / name).write_text("Images:\n  - {ImageId: m-1, RegionId: r1, CreationTime: 2020-01-01, "
                                     "Status: Available, ImageOwnerId: '1'}\n", "utf-8")
        assert [i.ImageId for i in imagefam.load_state(tmp_path / name).images] == ["m-1"]


def test_loading_never_modifies_the_file(tmp_path: Path) -> None:
    path = write_state(tmp_path, [img("m-1", family="web", created="2020-01-01T00:00:00")], name="s.yaml")
    before = sha(path)
    imagefam.load_state(path)
    assert sha(path) == before


# ---------------------------------------------------------------- plans: errors


def test_unknown_action_is_named_with_did_you_mean(tmp_path: Path) -> None:
    msg = _plan_error(tmp_path, {"caller": M, "steps": [
        {"Action": "RunInstances", "RegionId": "r1", "ImageFamily": "web"},
        {"Action": "ModifyImageAtribute", "RegionId": "r1", "ImageId": "m-1"}]})
    assert "step 1" in msg and "ModifyImageAtribute" in msg
    assert "did you mean 'ModifyImageAttribute'?" in msg
    assert "plan.yaml:" in msg


def test_unknown_action_without_near_miss_lists_the_supported_ones(tmp_path: Path) -> None:
    msg = _plan_error(tmp_path, {"caller": M, "steps": [{"Action": "StopInstance", "InstanceId": "i-1"}]})
    assert "StopInstance" in msg and "RunInstances" in msg


def test_unknown_action_cli_exit_2(tmp_path: Path, capsys: Any) -> None:
    state = write_state(tmp_path, [img("m-1", family="web")])
    plan = write_plan(tmp_path, [{"Action": "RunInstance", "RegionId": "cn-hangzhou", "ImageFamily": "web"}])
    run = run_main(capsys, "check", plan, "--state", state)
    assert_clean_error(run)
    assert "'RunInstance'" in run.err and "did you mean 'RunInstances'?" in run.err


@pytest.mark.parametrize(("step", "needles"), [
    ({"RegionId": "r1"}, ["'Action'"]),
    ({"Action": "ModifyImageAttribute", "ImageId": "m-1"}, ["RegionId", "missing"]),
    ({"Action": "ModifyImageAttribute", "RegionId": "r1", "ImageId": "m-1", "Status": "Gone"}, ["Status"]),
    ({"Action": "RunInstances", "RegionId": "r1", "callr": N}, ["'callr'", "did you mean 'caller'?"]),
    ({"Action": "RunInstances", "RegionId": "r1", "chanel": "api"}, ["'chanel'", "did you mean 'channel'?"]),
    ({"Action": "RunInstances", "RegionId": "r1", "channel": "cli"}, ["channel", "'cli'"]),
    ({"Action": "RunInstances", "RegionId": "r1", "creates": "m-9"}, ["'creates'", "CreateImage"]),
    ({"Action": "RunInstances", "RegionId": "r1", "caller": True}, ["caller"]),
    ({"Action": "RunInstances", "RegionId": "r1", "caller": ""}, ["caller"]),
    ({"Action": "RunInstances", "RegionId": "r1", "Amount": "many"}, ["Amount"]),
])
def test_bad_steps(tmp_path: Path, step: dict[str, Any], needles: list[str]) -> None:
    msg = _plan_error(tmp_path, {"caller": M, "steps": [step]})
    assert "step 0" in msg
    for needle in needles:
        assert needle in msg, (needle, msg)


def test_step_line_is_named(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(f'caller: "{M}"\nsteps:\n  - {{Action: RunInstances, RegionId: r1}}\n'
                                     "  - {Action: Nope, RegionId: r1}\n", "utf-8")
    with pytest.raises(InputError) as info:
        imagefam.load_plan(tmp_path / "p.yaml")
    assert str(info.value).startswith(f"{tmp_path / 'p.yaml'}:4: step 1")


@pytest.mark.parametrize(("data", "needles"), [
    ({"caller": M, "step": []}, ["'step'", "did you mean 'steps'?"]),
    ({"caller": M}, ["steps"]),
    ({"caller": M, "steps": {"Action": "RunInstances"}}, ["steps"]),
    ([], ["caller", "steps"]),
    ({"steps": [{"Action": "RunInstances", "RegionId": "r1"}]}, ["no caller"]),
    ({"caller": M, "steps": ["RunInstances"]}, ["step 0"]),
])
def test_bad_plans(tmp_path: Path, data: Any, needles: list[str]) -> None:
    msg = _plan_error(tmp_path, data, name="plan.json")
    for needle in needles:
        assert needle in msg, (needle, msg)


def test_invalid_plan_yaml_names_line(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("caller: '1'\nsteps:\n  - {Action: RunInstances\n", "utf-8")
    with pytest.raises(InputError, match=r"p\.yaml:\d+:\d+: invalid YAML"):
        imagefam.load_plan(tmp_path / "p.yaml")


# ---------------------------------------------------------------- plans: accepted inputs


def test_unknown_pascal_case_parameter_is_an_input_error_with_did_you_mean(tmp_path: Path) -> None:
    msg = _plan_error(tmp_path, {"caller": M, "steps": [
        {"Action": "RunInstances", "RegionId": "r1", "ImageFamily": "web", "Amout": 2, "Bogus": 1}]})
    assert "plan.yaml:3: step 0 (RunInstances): unknown parameter 'Amout'; did you mean 'Amount'?" in msg, msg
    assert "unknown parameter 'Bogus'" in msg


@pytest.mark.parametrize(("typo", "right"), [("InstanceTyp", "InstanceType"), ("Caller", "caller"),
                                             ("imageFamily", "ImageFamily"), ("imagefamily", "ImageFamily"),
                                             ("IMAGEFAMILY", "ImageFamily"), ("ImageFamliy", "ImageFamily")])
def test_did_you_mean_covers_every_known_parameter(tmp_path: Path, typo: str, right: str) -> None:
    msg = _plan_error(tmp_path, {"caller": M, "steps": [
        {"Action": "RunInstances", "RegionId": "r1", "ImageFamily": "web", typo: "x"}]})
    assert f"{typo!r}" in msg and f"did you mean '{right}'?" in msg, msg


def test_a_mistyped_family_is_exit_2_not_an_allow(tmp_path: Path, capsys: Any) -> None:
    state = write_state(tmp_path, [img("m-1", family="web")])
    for typo in ("ImageFamly", "imageFamily", "imagefamily", "IMAGEFAMILY", "ImageFamliy"):
        plan = write_plan(tmp_path, [{"Action": "CreateImage", "RegionId": "cn-hangzhou", "InstanceId": "i-1",
                                      typo: "acs:100001:app-a"}])
        run = run_main(capsys, "check", plan, "--state", state, "--format", "json")
        assert_clean_error(run)
        assert typo in run.err and "ImageFamily" in run.err and "plan" in run.err, run.err


def test_known_api_parameters_are_accepted_silently(tmp_path: Path) -> None:
    plan = imagefam.load_plan(write_data(tmp_path / "p.yaml", {"caller": M, "steps": [
        {"Action": "RunInstances", "RegionId": "r1", "ImageFamily": "web", "InstanceType": "ecs.g7.large",
         "SecurityGroupId": "sg-1", "DryRun": True},
        {"Action": "DeleteImage", "RegionId": "r1", "ImageId": "m-1", "DryRun": True}]}))
    assert [s.warnings for s in plan.steps] == [[], []]


def test_indexed_account_keys(tmp_path: Path) -> None:
    plan = imagefam.load_plan(write_data(tmp_path / "p.yaml", {"caller": M, "steps": [
        {"Action": "ModifyImageSharePermission", "RegionId": "r1", "ImageId": "m-1",
         "AddAccount.2": 300003, "AddAccount.1": "200002", "AddAccount.10": "400004",
         "RemoveAccount.1": 500005},
        {"Action": "ModifyImageSharePermission", "RegionId": "r1", "ImageId": "m-1",
         "AddAccount": ["1"], "AddAccount.1": "2"}]}))
    first, second = (s.request for s in plan.steps)
    assert first.AddAccount == ("200002", "300003", "400004")  # type: ignore[attr-defined]
    assert first.RemoveAccount == ("500005",)  # type: ignore[attr-defined]
    assert second.AddAccount == ("1", "2")  # type: ignore[attr-defined]
    assert [s.warnings for s in plan.steps] == [[], []]


def test_numeric_callers_and_per_step_callers(tmp_path: Path) -> None:
    plan = imagefam.load_plan(write_data(tmp_path / "p.json", {"caller": 100001, "steps": [
        {"Action": "RunInstances", "RegionId": "r1", "ImageFamily": "web"},
        {"Action": "RunInstances", "RegionId": "r1", "ImageFamily": "web", "caller": 200002},
        {"Action": "CreateImage", "RegionId": "r1", "creates": "m-new", "channel": "console"}]}))
    assert [s.caller for s in plan.steps] == ["100001", "200002", "100001"]
    assert plan.steps[2].creates == "m-new" and plan.steps[2].channel == "console"
    assert [s.index for s in plan.steps] == [0, 1, 2]


def test_json_plan_lines(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"caller": M, "steps": [{"Action": "RunInstances", "RegionId": "r1"},
                                                       {"Action": "RunInstances", "RegionId": "r1"}]}, indent=2),
                    "utf-8")
    plan = imagefam.load_plan(path)
    assert [s.line for s in plan.steps] == [4, 8]


def test_creates_an_existing_image_is_an_input_error(tmp_path: Path, capsys: Any) -> None:
    state = write_state(tmp_path, [img("m-1", family="web")])
    plan = write_plan(tmp_path, [{"Action": "CreateImage", "RegionId": "cn-hangzhou", "creates": "m-1"}])
    run = run_main(capsys, "check", plan, "--state", state)
    assert_clean_error(run)
    assert "m-1" in run.err and "already exists" in run.err


# ---------------------------------------------------------------- regional image ids


@pytest.mark.parametrize("name", FORMATS)
def test_public_image_may_repeat_its_id_in_other_regions(tmp_path: Path, name: str) -> None:
    """A public image has the same ImageId in every region; a custom image id is unique."""
    pub = {"owner": None, "ImageOwnerAlias": "system", "family": "acs:ubuntu_24_04_x64"}
    path = write_state(tmp_path, [img("ubuntu-1", region="cn-hangzhou", **pub),  # type: ignore[arg-type]
                                  img("ubuntu-1", region="cn-shanghai", **pub)], name=name)  # type: ignore[arg-type]
    state = imagefam.load_state(path)
    assert sorted(i.RegionId for i in state.images) == ["cn-hangzhou", "cn-shanghai"]
    for region in ("cn-hangzhou", "cn-shanghai"):
        image, _ = imagefam.resolve(state, "acs:ubuntu_24_04_x64", region, N)
        assert image is not None and (image.ImageId, image.RegionId) == ("ubuntu-1", region)
    msg = _state_error(tmp_path, [img("ubuntu-1", **pub), img("ubuntu-1", **pub)], name)  # type: ignore[arg-type]
    assert "Images[1] (ubuntu-1)" in msg and "duplicate ImageId" in msg
    msg = _state_error(tmp_path, [img("m-1"), img("m-1", region="cn-shanghai")], name)
    assert "Images[1] (m-1)" in msg and "duplicate ImageId" in msg


def test_free_text_metadata_is_accepted_and_other_lower_case_keys_are_errors() -> None:
    from imagefam.engine.loader import plan_from_data
    from imagefam.engine.parsing import InputError

    step = {"Action": "DeleteImage", "RegionId": "r1", "ImageId": "m-1", "name": "clean up", "comment": "x"}
    (s,) = plan_from_data({"caller": "1", "steps": [step]}).steps
    assert s.warnings == []
    with pytest.raises(InputError, match=r"unknown key 'calller'; did you mean 'caller'\?"):
        plan_from_data({"caller": "1", "steps": [{**step, "calller": "2"}]})
    with pytest.raises(InputError, match=r"unknown key 'note'"):
        plan_from_data({"caller": "1", "steps": [{**step, "note": "2"}]})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["m-1", "m-2", "m-3"]), st.sampled_from(["r1", "r2"]),
                          st.sampled_from([None, "system"]), st.sampled_from([None, "100001"])), max_size=6))
def test_the_quick_id_check_agrees_with_the_one_that_names_problems(rows: list[tuple[Any, ...]]) -> None:
    """The loader's C-level pass over ids (taken for every valid state) says "plain" exactly when
    the loop that names problems finds none: ids repeat only for public images in other regions."""
    from imagefam.engine.loader import _image_problems, _plain_ids
    from imagefam.engine.models import Image

    images = [Image(ImageId=i, RegionId=r, CreationTime=datetime(2026, 1, 1, tzinfo=UTC), Status="Available",
                    ImageOwnerAlias=alias, ImageOwnerId=owner) for i, r, alias, owner in rows]
    plain = _plain_ids(images)
    assert (plain is not None) == (not _image_problems(images, Path("s.json")))
    assert plain is None or plain == {img.ImageId for img in images}
