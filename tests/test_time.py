"""Time in the rule language: `now`, durations, days()/hours()/age(), time arithmetic and
comparison, and `--at` on check, resolve and report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ev, load, load_errors, make_image, typecheck
from helpers_engine import M, img, run_main, write_plan, write_state

from imagefam.engine.environment import format_value as render
from imagefam.engine.loader import state_from_data
from imagefam.engine.state import State
from imagefam.rules.timefns import render_duration

NOW = datetime(2020, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(("text", "ty"), [
    ("now", "time"),
    ("days(7)", "duration"),
    ("hours(12) + days(1)", "duration"),
    ("now - days(7)", "time"),
    ("days(7) + now", "time"),
    ("now - image.CreationTime", "duration?"),
    ("age(image)", "duration?"),
    ("now - image.CreationTime - days(1) + hours(2)", "duration?"),
    ("-days(1)", "duration"),
    ("age(image) >= days(7)", "bool?"),
    ("now > @2020-01-01", "bool"),
    ("max([days(1), hours(3)])", "duration?"),
])
def test_types(text: str, ty: str) -> None:
    _, found, diags = typecheck(text)
    assert not diags, [d.render() for d in diags]
    assert str(found) == ty


@pytest.mark.parametrize(("text", "message"), [
    ("now + now", "cannot compute time + time"),
    ("days(1) - now", "cannot compute duration - time"),
    ("now + 1", "cannot compute time + int"),
    ("days(\"7\")", "days() needs int, found string"),
    ("age(\"m-1\")", "age() needs Image, found string"),
    ("days(1) < 5", "cannot order duration against int"),
    ("days(1, 2)", "days() takes 1 argument, got 2"),
])
def test_type_errors(text: str, message: str) -> None:
    _, _, diags = typecheck(text)
    assert message in [d.message for d in diags], [d.render() for d in diags]


def test_evaluation() -> None:
    image = make_image(CreationTime=NOW - timedelta(days=8, hours=1))
    assert ev("age(image)", image=image, now=NOW) == timedelta(days=8, hours=1)
    assert ev("age(image) >= days(7)", image=image, now=NOW) is True
    assert ev("age(image) >= days(9)", image=image, now=NOW) is False
    assert ev("now - days(1) + hours(6)", now=NOW) == datetime(2020, 1, 9, 6, tzinfo=UTC)
    assert ev("now - @2020-01-01", now=NOW) == timedelta(days=9)
    assert ev("-hours(3)", now=NOW) == timedelta(hours=-3)
    assert ev("max([days(1), hours(30)])") == timedelta(hours=30)


def test_null_and_out_of_range_are_null() -> None:
    assert ev("age(image)", image=None, now=NOW) is None
    assert ev("age(image)", image=make_image(), now=None) is None  # embedding code that sets no `now`
    assert ev("days(1000000000000)") is None  # beyond the range of durations
    assert ev("now + days(3000000)", now=NOW) is None  # beyond year 9999
    assert ev("image.CreationTime - days(1)", image=None) is None


def test_rendering() -> None:
    assert render_duration(timedelta(days=7)) == "7d"
    assert render_duration(timedelta(days=1, hours=12, seconds=5)) == "1d 12h 5s"
    assert render_duration(timedelta(hours=-3, minutes=-20)) == "-3h 20m"
    assert render_duration(timedelta(0)) == "0s"
    assert render(timedelta(minutes=90)) == "1h 30m"


def test_now_is_a_reserved_name_and_visible_in_definitions() -> None:
    assert any("built-in name" in d.message for d in load_errors("def now = 1\n"))
    policy = load("""
def soak = days(7)
def soaked(img: Image) = now - img.CreationTime >= soak
audit soaked-image for each image info when soaked(image)
  message "{image.ImageId} is {age(image)} old (now {now})"
  cites "test"
""")
    assert policy.rules[0].id == "soaked-image"


def test_state_now_precedence() -> None:
    at, taken = datetime(2021, 1, 1, tzinfo=UTC), datetime(2020, 6, 1, tzinfo=UTC)
    assert State.of([], taken, at).now == at
    assert State.of([], taken).now == taken
    clocked = State.of([])
    assert clocked.now == clocked.now  # read once: fixed for the command
    assert abs(clocked.now - datetime.now(UTC)) < timedelta(minutes=5)
    assert clocked.copy().now == clocked.now


def test_as_of_leaves_out_later_images() -> None:
    st = state_from_data({"Images": [img("m-1", family="web", created="2020-01-01T00:00:00Z"),
                                     img("m-2", family="web", created="2020-01-05T00:00:00Z")]}, Path("s"))
    past = st.as_of(datetime(2020, 1, 3, tzinfo=UTC))
    assert [i.ImageId for i in past.images] == ["m-1"]
    assert past.now == datetime(2020, 1, 3, tzinfo=UTC)
    assert len(st.images) == 2  # the original is untouched


# ---- the command line ----

AGE_RULES = """
rule young-image
  on RunInstances
  deny when image != null and age(image) < days(7)
  message "{image.ImageId} is only {age(image)} old at {now}; launch images at least 7 days old"
  cites "test"

audit old-image
  for each image warn when age(image) > days(30)
  message "{image.ImageId} is {age(image)} old"
  cites "test"
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    state = write_state(tmp_path, [img("m-1", family="web", created="2020-01-01T00:00:00Z"),
                                   img("m-2", family="web", created="2020-01-05T00:00:00Z")],
                        name="state.json", taken_at="2020-01-06T00:00:00Z")
    plan = write_plan(tmp_path, [{"Action": "RunInstances", "RegionId": "cn-hangzhou", "ImageId": "m-1"}])
    rules = tmp_path / "age.rules"
    rules.write_text(AGE_RULES)
    return {"state": state, "plan": plan, "rules": rules}


def test_check_at(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    base = ["check", files["plan"], "--state", files["state"], "--policy", files["rules"], "--format", "json"]
    run = run_main(capsys, *base)  # now = TakenAt: m-1 is 5 days old
    assert run.code == 1
    assert run.json()["steps"][0]["violations"][0]["message"] == (
        "m-1 is only 5d old at 2020-01-06T00:00:00Z; launch images at least 7 days old")
    assert run_main(capsys, *base, "--at", "2020-01-08T00:00:00Z").code == 0
    assert run_main(capsys, *base, "--at", "2020-01-07T23:59:59+00:00").code == 1
    assert run_main(capsys, *base, "--at", "2020-01-08T08:00:00+08:00").code == 0  # zones are converted


def test_report_at(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    base = ["report", "--state", files["state"], "--policy", files["rules"], "--format", "json",
            "--no-default-policy"]
    assert run_main(capsys, *base).json()["findings"] == []
    found = run_main(capsys, *base, "--at", "2020-02-02").json()["findings"]
    assert [f["message"] for f in found] == ["m-1 is 32d old"]


def test_resolve_at_ignores_later_images(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    base = ["resolve", "--state", files["state"], "--family", "web", "--region", "cn-hangzhou", "--caller", M,
            "--format", "json"]
    assert run_main(capsys, *base).json()["image_id"] == "m-2"
    past = run_main(capsys, *base, "--at", "2020-01-03").json()
    assert past["image_id"] == "m-1"
    assert [c["image_id"] for c in past["candidates"]] == ["m-1"]
    assert run_main(capsys, *base, "--at", "2019-12-31").code == 1  # nothing existed yet


@pytest.mark.parametrize("value", ["yesterday", "2020-13-01", "", "2020-01-01T25:00"])
def test_bad_at_is_exit_2(files: dict[str, Path], capsys: pytest.CaptureFixture[str], value: str) -> None:
    run = run_main(capsys, "report", "--state", files["state"], "--at", value)
    assert run.code == 2 and "--at" in run.err


def test_without_taken_at_now_is_the_clock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = write_state(tmp_path, [img("m-1", family="web", created="2020-01-01T00:00:00Z")])
    rules = tmp_path / "r.rules"
    rules.write_text(AGE_RULES)
    run = run_main(capsys, "report", "--state", state, "--policy", rules, "--no-default-policy", "--format", "json")
    (finding,) = run.json()["findings"]
    days = int(finding["message"].split(" is ")[1].split("d")[0])
    assert days == (datetime.now(UTC) - datetime(2020, 1, 1, tzinfo=UTC)).days


def test_steps_with_values_known_only_at_apply_see_now() -> None:
    from imagefam.engine.environment import EcsContext as Ctx
    from imagefam.engine.loader import plan_from_data
    from imagefam.engine.unknowns import UnknownValues

    step = plan_from_data({"caller": M, "steps": [{"Action": "CreateImage", "RegionId": "cn-hangzhou"}]}).steps[0]
    step.unknown = {"ImageFamily": "known after apply"}
    base = Ctx((), caller=M, channel="api", action="CreateImage", now=NOW)
    assert UnknownValues(base, step).ctx.now == NOW
