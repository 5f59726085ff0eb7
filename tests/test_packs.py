"""Policy packs (imagefam/policy/packs): off by default, enabled with --policy pack:<name>, their
definitions overridden by the team's own files; and the tag() and parse_time() builtins they use."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import ev, load, make_image, typecheck
from helpers_engine import assert_clean_error, img, run_main, write_plan, write_state

from imagefam.engine import policytest
from imagefam.engine.demo import run_demo
from imagefam.engine.policy import load_policy, pack_names


def test_packs_are_off_by_default() -> None:
    assert pack_names() == ["age", "promotion"]
    ids = {r.id for r in load_policy().rules}
    assert "promotion-unsoaked" not in ids and "family-image-too-old" not in ids
    with_packs = {r.id for r in load_policy(["pack:promotion", "pack:age"]).rules}
    assert {"promotion-unsoaked", "promotion-create-in-protected-family", "family-image-too-old",
            "image-deprecation-overdue"} <= with_packs


def test_unknown_pack_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = write_state(tmp_path, [img("m-1", family="web")])
    run = run_main(capsys, "report", "--state", state, "--policy", "pack:promotoin")
    assert_clean_error(run)
    assert "did you mean 'promotion'" in run.err


def _promote(tmp_path: Path, capsys: pytest.CaptureFixture[str], team: str, family: str,
             created: str = "2020-01-01T00:00:00Z", tags: dict[str, str] | None = None) -> list[str]:
    """Decision of moving a staging image of `family` into it, with the team's definitions."""
    state = write_state(tmp_path, [img("m-1", family=f"{family}-staging", created=created,
                                       Tags=tags if tags is not None else {"tested": "true"})],
                        taken_at="2020-02-01T00:00:00Z")
    plan = write_plan(tmp_path, [{"Action": "ModifyImageAttribute", "RegionId": "cn-hangzhou", "ImageId": "m-1",
                                  "ImageFamily": family}])
    rules = tmp_path / "team.rules"
    rules.write_text(team)
    run = run_main(capsys, "check", plan, "--state", state, "--policy", "pack:promotion", "--policy", rules,
                   "--format", "json")
    assert run.code in (0, 1), run.err
    return [v["message"] for v in run.json()["steps"][0]["violations"]]


def test_team_overrides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    team = 'def protected_families = ["api-*", "*-prod", "db"]\ndef soak_days = 40\n'
    for family in ("api-v2", "web-prod", "db"):
        (msg,) = _promote(tmp_path, capsys, team, family)  # 31 days old: not soaked for 40
        assert "images soak 40 days" in msg
    assert _promote(tmp_path, capsys, team, "dbx") == []  # not protected
    assert _promote(tmp_path, capsys, team, "web-prod-x") == []
    assert _promote(tmp_path, capsys, 'def soak_days = 30\n', "web-prod") == []  # default protection: *-prod
    staged = 'def staging_family_of(name: string) = "staging-" + name\n'
    (msg,) = _promote(tmp_path, capsys, staged, "web-prod")
    assert "not in the staging family staging-web-prod" in msg


def test_required_tags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    team = 'def required_tags = ["tested=true", "owner=team-a"]\n'
    (msg,) = _promote(tmp_path, capsys, team, "web-prod", tags={"tested": "true"})
    assert msg.endswith("it lacks the tags [owner=team-a]")
    assert _promote(tmp_path, capsys, team, "web-prod", tags={"tested": "true", "owner": "team-a"}) == []
    assert _promote(tmp_path, capsys, "", "web-prod", tags={}) != []  # no tags at all


def test_rules_test_runs_the_pack_tests(capsys: pytest.CaptureFixture[str]) -> None:
    files = [p.name for p in policytest.shipped_test_files()]
    assert "promotion.yaml" in files and "age.yaml" in files
    run = run_main(capsys, "rules", "test", "-v")
    assert run.code == 0, run.out
    assert "packs/tests/promotion.yaml" in run.out and "packs/tests/age.yaml" in run.out


def test_policy_test_file_keys_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "t.yaml"
    bad.write_text("pack: [promotion]\ncases: []\n")
    run = run_main(capsys, "rules", "test", bad)
    assert_clean_error(run)
    assert "unknown top-level key 'pack'" in run.err
    bad.write_text("packs: [nope]\ncases: []\n")
    assert_clean_error(run_main(capsys, "rules", "test", bad))


def test_a_failing_pack_case_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = tmp_path / "t.yaml"
    case.write_text("""packs: [promotion]
state:
  TakenAt: 2020-02-01T00:00:00Z
  Images:
    - {ImageId: m-1, RegionId: cn-hangzhou, ImageOwnerId: "100001", ImageFamily: web-dev, CreationTime: 2020-01-01T00:00:00Z, Status: Available}
cases:
  - name: wrongly expects a promotion that skips staging to pass
    caller: "100001"
    steps:
      - {Action: ModifyImageAttribute, RegionId: cn-hangzhou, ImageId: m-1, ImageFamily: web-prod}
    expect:
      - {decision: allow}
""")
    run = run_main(capsys, "rules", "test", case)
    assert run.code == 1
    assert "not in the staging family web-prod-staging" in run.out


def test_demo_promotion_scene() -> None:
    text = run_demo()
    scene8 = text[text.index("10. M protects app-a"):text.index("11. Six days later")]
    scene9 = text[text.index("11. Six days later"):]
    assert "m-d2 cannot be promoted into app-a: it is in family app-a-dev" in scene8
    assert "m-c2 cannot be promoted into app-a: it is 2d old" in scene8
    assert "m-c2 cannot be promoted" not in scene9 and "--at 2020-02-16" in scene9
    assert "app-a             100001  m-a1      m-c2" in scene9


# ---- tag() and parse_time() ----


def test_tag_and_parse_time() -> None:
    tagged = make_image(Tags={"imagefam:deprecate-after": "2020-03-01", "k": "v"})
    assert ev('tag(image, "k")', image=tagged) == "v"
    assert ev('tag(image, "missing")', image=tagged) is None
    assert ev('tag(image, "k")', image=make_image()) is None  # no tags at all
    assert ev('tag(image, "k")', image=None) is None
    assert ev('parse_time(tag(image, "imagefam:deprecate-after"))', image=tagged) == datetime(2020, 3, 1, tzinfo=UTC)
    assert ev('parse_time("2020-03-01T08:00:00+08:00")') == datetime(2020, 3, 1, tzinfo=UTC)
    assert ev('parse_time("soon")') is None
    assert str(typecheck('parse_time("2020-01-01")')[1]) == "time?"
    assert str(typecheck('tag(image, "k")')[1]) == "string?"
    assert [d.message for d in typecheck('tag("m-1", "k")')[2]] == ["tag() needs an Image, found string"]
    assert load('def t(i: Image) = tag(i, "a") == "b"\n').rules == []



def test_coverage_includes_the_packs_test_files_ask_for(tmp_path: Path) -> None:
    policy = load_policy()
    _, coverage = policytest.run([], policy)
    assert policytest.uncovered(policy, coverage) == []
    assert {"promotion-unsoaked", "image-deprecation-overdue"} <= set(coverage.pack_rules)
    thin = tmp_path / "thin.yaml"
    thin.write_text("packs: [age]\nstate: {TakenAt: 2020-01-01T00:00:00Z, Images: []}\n"
                    "cases: [{name: empty, report: true, expect: {findings: []}}]\n")
    _, coverage = policytest.run([thin], policy)
    missing = policytest.uncovered(policy, coverage)
    assert "image-deprecation-overdue: no case where it fires" in missing
