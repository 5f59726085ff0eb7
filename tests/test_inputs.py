"""Strict input reading (issue 9): repeated keys, YAML 1.2 scalars, alias bombs, extreme times,
empty ids and flags, --account on native states, standard input and byte order marks. Each case
is exit 2 (or a correct reading), never exit 3, a traceback or last-wins."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from helpers_engine import (
    DEMO_DIR,
    FUZZ_EXAMPLES,
    M,
    N,
    assert_clean_error,
    img,
    run_main,
    write_plan,
    write_state,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import imagefam
from imagefam import InputError
from imagefam.engine import policytest
from imagefam.engine.policy import load_policy

FUZZ_SETTINGS = settings(max_examples=FUZZ_EXAMPLES, deadline=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture])

STATE_YAML = """\
TakenAt: 2020-02-01T00:00:00Z
Images:
  - {ImageId: m-1, RegionId: cn-hangzhou, ImageOwnerId: 0100001, ImageFamily: web,
     CreationTime: 2020-01-01T00:00:00Z, Status: Available, ImageName: on, Description: 1:20}
"""


def _err(fn: Any, *args: Any) -> str:
    with pytest.raises(InputError) as info:
        fn(*args)
    return str(info.value)


# ---------------------------------------------------------------- repeated keys


def test_repeated_steps_in_a_yaml_plan_is_an_error_with_line(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("caller: '1'\nsteps:\n  - {Action: DeleteImage, RegionId: r, ImageId: m-1}\n"
                    "steps:\n  - {Action: DeleteImage, RegionId: r, ImageId: m-2}\n", "utf-8")
    msg = _err(imagefam.load_plan, path)
    assert msg.startswith(f"{path}:4:") and "'steps' appears twice" in msg and "line 2" in msg, msg


def test_repeated_key_in_a_json_plan_step_is_an_error_with_line(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"caller": "1",\n "steps": [\n  {"Action": "RunInstances",\n   "ImageFamily": "web",\n'
                    '   "RegionId": "r1",\n   "ImageFamily": "acs:1:web"}]}', "utf-8")
    msg = _err(imagefam.load_plan, path)
    assert msg.startswith(f"{path}:6:") and "'ImageFamily' appears twice" in msg, msg


@pytest.mark.parametrize("name", ["s.json", "s.yaml"])
def test_repeated_key_in_a_state_is_an_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name.endswith(".json"):
        path.write_text('{"Images": [\n{"ImageId": "m-1", "RegionId": "r", "ImageOwnerId": "1", "Status": '
                        '"Available",\n "CreationTime": "2020-01-01T00:00:00Z", "Status": "Deprecated"}]}', "utf-8")
    else:
        path.write_text("Images:\n  - ImageId: m-1\n    RegionId: r\n    ImageOwnerId: '1'\n    Status: Available\n"
                        "    CreationTime: 2020-01-01T00:00:00Z\n    Status: Deprecated\n", "utf-8")
    msg = _err(imagefam.load_state, path)
    assert str(path) in msg and "'Status' appears twice" in msg, msg
    assert (":3 (object with ImageId m-1)" in msg) if name.endswith(".json") else ":7:" in msg, msg


def test_repeated_key_in_a_policy_test_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("state: {Images: []}\ncases: []\ncases: []\n", "utf-8")
    msg = _err(policytest.run_file, path, load_policy(), policytest.Coverage())
    assert f"{path}:3:" in msg and "'cases' appears twice" in msg, msg


def test_keys_overriding_a_merge_are_not_repeats(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "state: &s\n  Images:\n    - &img {ImageId: m-1, RegionId: cn-hangzhou, ImageOwnerId: '100001',\n"
        "             ImageFamily: web, CreationTime: 2020-01-01T00:00:00Z, Status: Available}\n"
        "cases:\n  - name: merged\n    state:\n      Images:\n        - *img\n"
        "        - {<<: *img, ImageId: m-2, CreationTime: 2020-01-02T00:00:00Z}\n"
        "    resolve: {family: web, region: cn-hangzhou, caller: '100001'}\n    expect: {image: m-2}\n", "utf-8")
    (result,) = policytest.run_file(path, load_policy(), policytest.Coverage())
    assert result.passed, result.failures


def test_the_shipped_policy_tests_and_the_docs_examples_still_load() -> None:
    results, _ = policytest.run([], load_policy())
    assert results and all(r.passed for r in results)


# ---------------------------------------------------------------- YAML 1.2 scalars


def test_yaml_scalars_follow_yaml_1_2(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(STATE_YAML, "utf-8")
    (image,) = imagefam.load_state(path).images
    assert image.ImageOwnerId == "0100001"  # not 32769 (YAML 1.1 octal), not 100001
    assert image.ImageName == "on" and image.Description == "1:20"  # not True, not 80 (sexagesimal)


@pytest.mark.parametrize(("value", "ok"), [(1577836800, True), ("1577836800", True),
                                           (1577836800000, False), (-10**13, False)])
def test_numeric_creation_time_is_unix_seconds_only(tmp_path: Path, value: Any, ok: bool) -> None:
    path = write_state(tmp_path, [{**img("m-1"), "CreationTime": value}])
    if ok:
        (image,) = imagefam.load_state(path).images
        assert image.CreationTime.isoformat() == "2020-01-01T00:00:00+00:00"
    else:
        msg = _err(imagefam.load_state, path)
        assert "Images[0] (m-1) field CreationTime" in msg and "unix timestamp" in msg, msg


# ---------------------------------------------------------------- alias bombs


def _bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + f"\nImages: [*a{levels - 1}]\ncaller: '1'\nsteps: [*a{levels - 1}]\n"


@pytest.mark.parametrize("command", ["check", "report", "rules-test"])
def test_an_alias_bomb_is_exit_2(tmp_path: Path, capsys: Any, command: str) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(_bomb(), "utf-8")
    assert len(bomb.read_bytes()) < 700
    state = write_state(tmp_path, [img("m-1")])
    args = {"check": ["check", bomb, "--state", state], "report": ["report", "--state", bomb],
            "rules-test": ["rules", "test", bomb]}[command]
    run = run_main(capsys, *args)
    assert_clean_error(run)
    assert "bomb.yaml" in run.err and "aliases expand" in run.err, run.err


def test_a_self_referring_alias_is_exit_2(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("Images: &a [*a]\n", "utf-8")
    run = run_main(capsys, "report", "--state", path)
    assert_clean_error(run)
    assert "s.yaml:1:" in run.err and "alias" in run.err


# ---------------------------------------------------------------- states: empty ids, extreme times


@pytest.mark.parametrize("field", ["ImageId", "RegionId"])
def test_an_empty_image_or_region_id_is_an_error(tmp_path: Path, field: str) -> None:
    path = write_state(tmp_path, [img("m-1"), {**img("m-2"), field: ""}])
    msg = _err(imagefam.load_state, path)
    assert "Images[1]" in msg and f"field {field}: must not be empty" in msg, msg


@pytest.mark.parametrize("time", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_outside_utc_range_is_exit_2_naming_file_image_and_field(tmp_path: Path, capsys: Any,
                                                                       time: str) -> None:
    state = write_state(tmp_path, [img("m-1", family="web"), {**img("m-2"), "CreationTime": time}])
    run = run_main(capsys, "report", "--state", state)
    assert_clean_error(run)
    assert "state.json" in run.err and "Images[1] (m-2) field CreationTime" in run.err, run.err


@pytest.mark.parametrize("taken_at", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"])
def test_extreme_but_valid_times_never_exit_3(tmp_path: Path, capsys: Any, taken_at: str) -> None:
    state = write_state(tmp_path, [img("m-1", family="web", created="9999-12-31T23:59:59Z", SharedWith=[N]),
                                   img("m-2", family="web", created="0001-01-01T00:00:00Z")], taken_at=taken_at)
    plan = write_plan(tmp_path, [{"Action": "ModifyImageAttribute", "RegionId": "cn-hangzhou", "ImageId": "m-2",
                                  "Status": "Deprecated"},
                                 {"Action": "RunInstances", "RegionId": "cn-hangzhou", "ImageFamily": "web"},
                                 {"Action": "CreateImage", "RegionId": "cn-hangzhou", "InstanceId": "i-1",
                                  "ImageFamily": "web"}])
    run = run_main(capsys, "check", plan, "--state", state)
    assert_clean_error(run)  # the CreateImage: no CreationTime after 9999-12-31T23:59:59Z exists
    assert f"{plan}:" in run.err and "step 2 (CreateImage)" in run.err and "CreationTime" in run.err, run.err
    for args in (["report", "--state", state],
                 ["resolve", "--state", state, "--family", "web", "--region", "cn-hangzhou", "--caller", M]):
        assert run_main(capsys, *args).code in (0, 1)


def test_a_duplicate_creates_error_names_the_plan_file(tmp_path: Path, capsys: Any) -> None:
    state = write_state(tmp_path, [img("m-1", family="web")])
    plan = write_plan(tmp_path, [{"Action": "CreateImage", "RegionId": "cn-hangzhou", "creates": "m-1"}])
    run = run_main(capsys, "check", plan, "--state", state)
    assert_clean_error(run)
    assert f"{plan}:" in run.err and "already exists" in run.err, run.err


# ---------------------------------------------------------------- flags


@pytest.mark.parametrize("flag", ["--caller", "--family", "--region"])
def test_empty_resolve_flags_are_errors(tmp_path: Path, capsys: Any, flag: str) -> None:
    state = write_state(tmp_path, [img("m-1", family="web")])
    args = {"--caller": M, "--family": "web", "--region": "cn-hangzhou", flag: ""}
    run = run_main(capsys, "resolve", "--state", state, *[x for kv in args.items() for x in kv])
    assert run.code == 2 and flag in run.err and "must not be empty" in run.err, run


def test_account_on_a_native_state_is_an_error(tmp_path: Path, capsys: Any) -> None:
    state = write_state(tmp_path, [img("m-1", family="web")])
    run = run_main(capsys, "report", "--state", state, "--account", M)
    assert_clean_error(run)
    assert "--account" in run.err and "native" in run.err
    raw = tmp_path / "di.json"
    raw.write_text(json.dumps({"Images": {"Image": [{"ImageId": "m-9", "RegionId": "cn-hangzhou",
                                                    "ImageOwnerAlias": "self", "CreationTime": "2020-01-01T00:00:00Z",
                                                    "Status": "Deprecated"}]}}), "utf-8")
    assert run_main(capsys, "report", "--state", state, raw, "--account", M).code in (0, 1)


# ---------------------------------------------------------------- standard input, BOM


def _stdin(monkeypatch: Any, data: bytes) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))


@pytest.mark.parametrize(("fmt", "flag"), [("json", []), ("yaml", []), ("yaml", ["--stdin-format", "yaml"]),
                                           ("json", ["--stdin-format", "json"])])
def test_dash_reads_the_state_from_stdin(tmp_path: Path, capsys: Any, monkeypatch: Any, fmt: str,
                                         flag: list[str]) -> None:
    path = write_state(tmp_path, [img("m-1", family="web")], name=f"s.{fmt}")
    _stdin(monkeypatch, path.read_bytes())
    run = run_main(capsys, "resolve", "--state", "-", *flag, "--family", "web", "--region", "cn-hangzhou",
                   "--caller", M)
    assert run.code == 0 and "m-1" in run.out, run


def test_dash_reads_the_plan_from_stdin(capsys: Any, monkeypatch: Any) -> None:
    _stdin(monkeypatch, (DEMO_DIR / "rollback-denied.yaml").read_bytes())
    run = run_main(capsys, "check", "-", "--state", DEMO_DIR / "state.yaml", "--format", "json")
    assert run.code == 1, run
    assert run.json()["steps"][0]["decision"] == "deny"
    _stdin(monkeypatch, b"caller: '1'\nsteps:\n  - {Action: RunInstances, RegionId: r, imageFamily: web}\n")
    run = run_main(capsys, "check", "-", "--state", DEMO_DIR / "state.yaml")
    assert_clean_error(run)
    assert "<stdin>:3: step 0" in run.err, run.err


def test_plan_and_state_cannot_both_be_stdin(capsys: Any, monkeypatch: Any) -> None:
    _stdin(monkeypatch, b"{}")
    run = run_main(capsys, "check", "-", "--state", "-")
    assert_clean_error(run)
    assert "standard input" in run.err, run.err


@pytest.mark.parametrize("name", ["s.json", "p.json"])
def test_a_utf8_bom_is_accepted_in_json(tmp_path: Path, capsys: Any, name: str) -> None:
    state = write_state(tmp_path, [img("m-1", family="web")])
    plan = write_plan(tmp_path, [{"Action": "RunInstances", "RegionId": "cn-hangzhou", "ImageFamily": "web"}],
                      name="p.json")
    target = state if name == "s.json" else plan
    if name == "s.json":
        state = tmp_path / "s.json"
        state.write_bytes(b"\xef\xbb\xbf" + (tmp_path / "state.json").read_bytes())
    else:
        target.write_bytes(b"\xef\xbb\xbf" + target.read_bytes())
    run = run_main(capsys, "check", plan, "--state", state)
    assert run.code == 0, run


# ---------------------------------------------------------------- the cheap repeated-key filter of JSON states

_OPTIONAL = {"ImageFamily": ["web", "", None], "IsPublic": [True, False],
             "SharedWith": [["200002"], []], "ImageName": ["n", None], "Description": ['a \\" b', "c:d", None],
             "Tags": [{"team": "web"}, {}, {"Tag": [{"TagKey": "k", "TagValue": "v"}]}, None],
             "ImageOwnerAlias": [None]}


@FUZZ_SETTINGS
@given(data=st.data(), n=st.integers(1, 4), indent=st.sampled_from([None, 1]),
       spaced=st.booleans())
def test_a_repeated_key_in_a_json_state_is_always_found(tmp_path_factory: Any, data: Any, n: int,
                                                       indent: int | None, spaced: bool) -> None:
    images = []
    for i in range(n):
        image: dict[str, Any] = {"ImageId": f"m-{i}", "RegionId": "r", "CreationTime": "2020-01-01T00:00:00Z",
                                 "Status": "Available", "ImageOwnerId": "100001"}
        for key, values in _OPTIONAL.items():
            if data.draw(st.booleans()):
                image[key] = data.draw(st.sampled_from(values))
        images.append(image)
    text = json.dumps({"Images": images}, indent=indent)
    if spaced:
        text = text.replace('": ', '" : ', 1)
    repeat = data.draw(st.booleans())
    if repeat:  # repeat one key of one image, with its own or another value
        i = data.draw(st.integers(0, n - 1))
        key = data.draw(st.sampled_from(sorted(images[i])))
        value = data.draw(st.sampled_from([images[i][key], "other"]))
        marker = json.dumps(f"m-{i}") + ","
        text = text.replace(marker, marker + f" {json.dumps(key)}: {json.dumps(value)},", 1)
    path = tmp_path_factory.mktemp("dup") / "s.json"
    path.write_text(text, "utf-8")
    if repeat:
        msg = _err(imagefam.load_state, path)
        assert "appears twice" in msg or "Images[" in msg, msg
    else:
        assert len(imagefam.load_state(path).images) == n


def test_dash_reads_an_aliyun_script_from_stdin(capsys: Any, monkeypatch: Any) -> None:
    _stdin(monkeypatch, b"aliyun ecs DeleteImage --RegionId cn-hangzhou --ImageId m-b1\n")
    run = run_main(capsys, "check", "-", "--state", DEMO_DIR / "state.yaml", "--caller", M)
    assert run.code == 1 and "unshare-before-delete" in run.out, run


def test_an_empty_caller_on_check_is_an_error(capsys: Any) -> None:
    run = run_main(capsys, "check", DEMO_DIR / "rollback-fixed.yaml", "--state", DEMO_DIR / "state.yaml",
                   "--caller", "")
    assert run.code == 2 and "--caller" in run.err and "must not be empty" in run.err, run
