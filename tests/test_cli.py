"""The imagefam command line: every command's exit codes (0 ok, 1 denied / no image, 2 bad input),
clean errors without tracebacks, --output written whole, and inputs never modified.

Most cases run ``imagefam.cli.main`` in-process (fast); the error cases and a few end-to-end ones
run ``python -m imagefam.cli`` in a subprocess to see the real exit code and stderr.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers_engine import (
    DEMO_DIR,
    M,
    N,
    P,
    assert_check_json,
    assert_clean_error,
    assert_trace_json,
    img,
    run_cli,
    run_main,
    shipped_rule_ids,
    tree_hashes,
    write_plan,
    write_state,
)

DEMO_FILES = ("state.yaml", "rollback-denied.yaml", "rollback-fixed.yaml", "sharee.yaml", "terraform-plan.json",
              "deprecate-shared.sh", "promotion-state.yaml", "promotion-team.rules", "promotion.yaml",
              "scaling-state.yaml", "scale-out-denied.yaml", "scale-out-fixed.yaml")


@pytest.fixture
def demo(tmp_path: Path, capsys: Any) -> Path:
    """The demo's state and plans, written by ``imagefam demo --write``."""
    folder = tmp_path / "demo"
    run = run_main(capsys, "demo", "--write", folder)
    assert run.code == 0, run.err
    return folder


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """A small hand-made state (JSON) with M's family web in two regions and a tie in r2."""
    write_state(tmp_path, [
        img("m-w1", family="web", created="2020-01-01T00:00:00Z"),
        img("m-w2", family="web", created="2020-01-02T00:00:00Z", SharedWith=[N]),
        img("m-w3", family="web", created="2020-01-03T00:00:00Z", status="Deprecated"),
        img("m-t1", region="r2", family="web", created="2020-01-05T00:00:00Z"),
        img("m-t2", region="r2", family="web", created="2020-01-05T00:00:00Z"),
    ], taken_at="2020-02-01T00:00:00Z")
    return tmp_path / "state.json"


# ---------------------------------------------------------------- demo


def test_demo_runs_and_tells_the_story() -> None:
    run = run_cli("demo")
    assert run.code == 0, run.err
    assert "m-b1" in run.out and "ImageUseShared" in run.out
    assert "acs:100001:app-a" in run.out
    assert "Traceback" not in run.err


def test_demo_write_files_are_accepted_by_check_and_resolve(tmp_path: Path) -> None:
    folder = tmp_path / "out" / "nested"
    run = run_cli("demo", "--write", folder)
    assert run.code == 0, run.err
    assert sorted(p.name for p in folder.iterdir()) == sorted([*DEMO_FILES, "report.html"])
    for name in DEMO_FILES:
        assert f"wrote {folder / name}" in run.out
        assert (folder / name).read_bytes() == (DEMO_DIR / name).read_bytes()
    state = folder / "state.yaml"
    assert run_cli("check", folder / "rollback-fixed.yaml", "--state", state).code == 0
    assert run_cli("check", folder / "rollback-denied.yaml", "--state", state).code == 1
    assert run_cli("check", folder / "sharee.yaml", "--state", state).code == 1
    assert run_cli("check", folder / "terraform-plan.json", "--state", state, "--caller", M).code == 1
    assert run_cli("check", folder / "deprecate-shared.sh", "--state", state, "--caller", M).code == 1
    res = run_cli("resolve", "--state", state, "--family", "app-a", "--region", "cn-hangzhou", "--caller", M)
    assert res.code == 0 and res.out.startswith("family app-a in cn-hangzhou for caller 100001: m-b1")
    promote = ["check", folder / "promotion.yaml", "--state", folder / "promotion-state.yaml", "--policy",
               "pack:promotion", "--policy", folder / "promotion-team.rules", "--format", "json"]
    early, late = run_cli(*promote), run_cli(*promote, "--at", "2020-02-16")
    assert [s["decision"] for s in early.json()["steps"]] == ["deny", "deny", "allow"]
    assert [s["decision"] for s in late.json()["steps"]] == ["deny", "allow", "allow"]
    assert late.json()["steps"][2]["resolved_image_id"] == "m-c2"


def test_demo_write_into_a_file_is_an_input_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", "utf-8")
    assert_clean_error(run_cli("demo", "--write", blocker))
    assert blocker.read_text("utf-8") == "x"


# ---------------------------------------------------------------- check


def test_check_exit_codes(demo: Path, capsys: Any) -> None:
    state = demo / "state.yaml"
    assert run_main(capsys, "check", demo / "rollback-fixed.yaml", "--state", state).code == 0
    denied = run_main(capsys, "check", demo / "rollback-denied.yaml", "--state", state)
    assert denied.code == 1
    assert "DENY" in denied.out and "unshare-before-deprecate" in denied.out and "ImageUseShared" in denied.out


@pytest.mark.parametrize(("plan", "code", "given", "after"), [
    ("rollback-fixed.yaml", 0, None, "__all__"), ("rollback-denied.yaml", 1, None, "__all__"),
    ("rollback-fixed.yaml", 0, "", ""), ("rollback-fixed.yaml", 0, "some-plugin", "some-plugin")])
def test_the_command_entry(demo: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, plan: str, code: int,
                           given: str | None, after: str) -> None:
    """``run`` (the console script and ``python -m imagefam.cli``) is ``main`` with pydantic's plugin
    scan skipped unless the caller set PYDANTIC_DISABLE_PLUGINS (even empty: plugins on), and its
    objects frozen for the cycle collector (start-up time); the exit status is main's, given to
    ``os._exit`` once stdout and stderr are flushed (a million objects are not freed one by one)."""
    import gc

    from imagefam.cli import run

    def fake_exit(status: int) -> None:  # the real one would end this test process
        raise SystemExit(status)

    monkeypatch.setattr(os, "_exit", fake_exit)

    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", given or "")  # restored after the test, whatever run sets
    if given is None:
        monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS")
    monkeypatch.setattr(sys, "argv", ["imagefam", "check", str(demo / plan), "--state", str(demo / "state.yaml")])
    try:
        with pytest.raises(SystemExit) as exit_:
            run()
        assert exit_.value.code == code
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # this test process goes on: let its collector see everything again
    assert os.environ["PYDANTIC_DISABLE_PLUGINS"] == after
    assert "ALLOW" in capsys.readouterr().out


def test_check_warnings_alone_exit_0(tmp_path: Path, capsys: Any, small: Path) -> None:
    plan = write_plan(tmp_path, [
        {"Action": "CopyImage", "RegionId": "cn-hangzhou", "ImageId": "m-w2", "DestinationRegionId": "r2"},
        {"Action": "RunInstances", "RegionId": "cn-hangzhou", "ImageFamily": "web", "Amount": 2},
    ])
    run = run_main(capsys, "check", plan, "--state", small, "--format", "json")
    assert run.code == 0, run.out
    doc = run.json()
    assert_check_json(doc)
    assert doc["allowed"] is True
    assert [w["rule"] for w in doc["steps"][0]["warnings"]] == ["copy-drops-family"]
    assert doc["steps"][1]["warnings"] == []
    text = run_main(capsys, "check", plan, "--state", small)
    assert text.code == 0 and "WARN copy-drops-family" in text.out and "allowed with warnings" in text.out


@pytest.mark.parametrize("fmt", ["text", "json", "junit", "sarif", "github"])
def test_check_every_format_keeps_the_exit_code(demo: Path, capsys: Any, fmt: str) -> None:
    state = demo / "state.yaml"
    ok = run_main(capsys, "check", demo / "rollback-fixed.yaml", "--state", state, "--format", fmt)
    bad = run_main(capsys, "check", demo / "rollback-denied.yaml", "--state", state, "--format", fmt)
    assert (ok.code, bad.code) == (0, 1)
    assert bad.out and (ok.out or fmt == "github")  # github: annotations only, none when clean
    if fmt in ("json", "sarif"):
        json.loads(ok.out)
        json.loads(bad.out)


def test_check_with_user_policy(tmp_path: Path, capsys: Any, demo: Path) -> None:
    rules = tmp_path / "mine.rules"
    rules.write_text('rule no-launch\n  on RunInstances\n  deny when true\n  message "no launches today"\n'
                     '  cites "house rule"\n', "utf-8")
    run = run_main(capsys, "check", demo / "rollback-fixed.yaml", "--state", demo / "state.yaml",
                   "--policy", rules, "--format", "json")
    assert run.code == 1
    assert {v["rule"] for s in run.json()["steps"] for v in s["violations"]} == {"no-launch"}


# ---------------------------------------------------------------- resolve


def test_resolve_exit_codes_and_formats(demo: Path, capsys: Any) -> None:
    state = demo / "state.yaml"
    base: list[str | Path] = ["resolve", "--state", state, "--region", "cn-hangzhou"]
    ok = run_main(capsys, *base, "--family", "app-a", "--caller", M, "--format", "json")
    assert ok.code == 0
    assert_trace_json(ok.json())
    assert ok.json()["image_id"] == "m-b1"
    none = run_main(capsys, *base, "--family", "nope", "--caller", M, "--format", "json")
    assert none.code == 1 and none.json()["image_id"] is None and none.json()["candidates"] == []
    # P does not see the shared m-b1, only the community m-a1
    p_view = run_main(capsys, *base, "--family", f"acs:{M}:app-a", "--caller", P, "--format", "json")
    assert p_view.code == 0 and p_view.json()["image_id"] == "m-a1"
    api = run_main(capsys, *base, "--family", "app-a", "--caller", M, "--format", "api")
    assert api.code == 0 and api.json()["Image"]["ImageId"] == "m-b1"
    empty = run_main(capsys, *base, "--family", "nope", "--caller", M, "--format", "api")
    assert empty.code == 1 and empty.json() == {}


def test_resolve_text_trace(demo: Path, capsys: Any) -> None:
    run = run_main(capsys, "resolve", "--state", demo / "state.yaml", "--family", "app-a", "--region",
                   "cn-hangzhou", "--caller", M)
    assert run.code == 0
    lines = run.out.splitlines()
    assert lines[0].startswith("family app-a in cn-hangzhou for caller 100001: m-b1")
    assert re.match(r"m-b1\s+2020-01-03\s+Available\s+chosen: ", lines[1])
    assert re.search(r"^m-a1\s+2020-01-01\s+Available\s+eligible: ", run.out, re.M)
    assert re.search(r"^m-x1\s+2020-01-02\s+Deprecated\s+excluded: available — status is Deprecated, "
                     r"only Available images launch$", run.out, re.M)
    assert "order: CreationTime desc, ImageId desc" in run.out
    assert "tie" not in run.out


def test_resolve_text_tie_warning(small: Path, capsys: Any) -> None:
    run = run_main(capsys, "resolve", "--state", small, "--family", "web", "--region", "r2", "--caller", M)
    assert run.code == 0
    assert run.out.splitlines()[0].startswith("family web in r2 for caller 100001: m-t2")
    assert re.search(r"^warning: tie", run.out, re.M)
    doc = run_main(capsys, "resolve", "--state", small, "--family", "web", "--region", "r2", "--caller", M,
                   "--format", "json").json()
    assert doc["tie"] is True and [c["verdict"] for c in doc["candidates"]] == ["chosen", "eligible"]


def test_resolve_all_regions(small: Path, capsys: Any) -> None:
    text = run_main(capsys, "resolve", "--state", small, "--family", "web", "--all-regions", "--caller", M)
    assert text.code == 0
    rows = [line.split()[0] for line in text.out.splitlines() if re.match(r"^(cn-hangzhou|r2)\s", line)]
    assert rows == ["cn-hangzhou", "r2"]
    doc = run_main(capsys, "resolve", "--state", small, "--family", "web", "--all-regions", "--caller", M,
                   "--format", "json").json()
    assert [(r["region"], r["image_id"], r["tie"]) for r in doc["regions"]] == [
        ("cn-hangzhou", "m-w2", False), ("r2", "m-t2", True)]
    # N sees only the shared image, in one region; the other region has none for N
    doc = run_main(capsys, "resolve", "--state", small, "--family", f"acs:{M}:web", "--all-regions", "--caller", N,
                   "--format", "json").json()
    assert [(r["region"], r["image_id"]) for r in doc["regions"]] == [("cn-hangzhou", "m-w2"), ("r2", None)]
    none = run_main(capsys, "resolve", "--state", small, "--family", "nope", "--all-regions", "--caller", M)
    assert none.code == 1


@pytest.mark.parametrize("args", [
    ["--family", "web", "--caller", M],                                              # no region
    ["--family", "web", "--caller", M, "--region", "r2", "--all-regions"],           # both
    ["--family", "web", "--caller", M, "--all-regions", "--format", "api"],          # api + all
    ["--family", "web", "--region", "r2"],                                           # no caller
    ["--family", "web", "--region", "r2", "--caller", M, "--format", "xml"],         # bad format
])
def test_resolve_bad_arguments(small: Path, capsys: Any, args: list[str]) -> None:
    run = run_main(capsys, "resolve", "--state", small, *args)
    assert run.code == 2 and run.err.strip()


# ---------------------------------------------------------------- input errors: exit 2, no traceback


def _bad_inputs(tmp: Path) -> dict[str, Path]:
    (tmp / "bad.json").write_text('{"Images": [\n  {"ImageId": "m-1",}\n]}\n', "utf-8")
    (tmp / "bad.yaml").write_text("Images:\n  - {ImageId: m-1\n  - x\n", "utf-8")
    (tmp / "badplan.yaml").write_text("caller: '1'\nsteps:\n  - [\n", "utf-8")
    (tmp / "badplan.json").write_text('{"caller": "1",\n "steps": [}\n', "utf-8")
    (tmp / "adir").mkdir()
    return {"missing": tmp / "nosuch.json", "dir": tmp / "adir", "json": tmp / "bad.json",
            "yaml": tmp / "bad.yaml", "planyaml": tmp / "badplan.yaml", "planjson": tmp / "badplan.json"}


@pytest.mark.parametrize(("kind", "where"), [
    ("missing", "state"), ("dir", "state"), ("json", "state"), ("yaml", "state"),
    ("missing", "plan"), ("dir", "plan"), ("planyaml", "plan"), ("planjson", "plan"),
])
def test_check_input_errors(tmp_path: Path, demo: Path, capsys: Any, kind: str, where: str) -> None:
    bad = _bad_inputs(tmp_path)[kind]
    plan, state = demo / "rollback-fixed.yaml", demo / "state.yaml"
    if where == "state":
        state = bad
    else:
        plan = bad
    run = run_main(capsys, "check", plan, "--state", state)
    assert_clean_error(run)
    assert bad.name in run.err
    if kind == "json":
        assert f"{bad}:2:" in run.err and "invalid JSON" in run.err
    if kind == "planjson":
        assert f"{bad}:2:" in run.err and "invalid JSON" in run.err
    if kind in ("yaml", "planyaml"):
        assert re.search(rf"{re.escape(str(bad))}:\d+:\d+: invalid YAML", run.err)


@pytest.mark.parametrize("kind", ["missing", "dir", "json", "yaml"])
def test_resolve_input_errors(tmp_path: Path, capsys: Any, kind: str) -> None:
    bad = _bad_inputs(tmp_path)[kind]
    run = run_main(capsys, "resolve", "--state", bad, "--family", "web", "--region", "r1", "--caller", M)
    assert_clean_error(run)
    assert bad.name in run.err


@pytest.mark.parametrize(("command", "kind"), [("check", "missing"), ("check", "planyaml"), ("resolve", "dir"),
                                               ("resolve", "json")])
def test_input_errors_in_a_real_process(tmp_path: Path, command: str, kind: str) -> None:
    """The same errors through ``python -m imagefam.cli``: exit 2, one message, no traceback."""
    bad = _bad_inputs(tmp_path)[kind]
    if command == "check":
        run = run_cli("check", bad, "--state", DEMO_DIR / "state.yaml")
    else:
        run = run_cli("resolve", "--state", bad, "--family", "web", "--region", "r1", "--caller", M)
    assert_clean_error(run)
    assert run.err.startswith("imagefam: ") and bad.name in run.err
    assert run.out == ""


@pytest.mark.parametrize("argv", [
    ["check", "--bogus"],
    ["check", "plan.yaml"],                                   # --state missing
    ["resolve", "--state", "s.json", "--family", "web", "--region", "r1", "--caller", M, "--nope"],
    ["rules", "lint", "--bogus"],
    ["rules", "list", "--format", "xml"],
    ["rules", "frobnicate"],
    ["demo", "--bogus"],
    ["frobnicate"],
    [],
])
def test_bad_flags_exit_2_without_traceback(capsys: Any, argv: list[str]) -> None:
    run = run_main(capsys, *argv)
    assert run.code == 2, (run.code, run.err)
    assert "usage:" in run.err
    assert "Traceback" not in run.err


def test_bad_flag_in_a_real_process() -> None:
    run = run_cli("check", "--bogus")
    assert run.code == 2 and "usage:" in run.err and "Traceback" not in run.err


def test_version_and_help() -> None:
    assert run_cli("--version").out.strip() == "imagefam 0.1.0"
    run = run_cli("check", "--help")
    assert run.code == 0 and "--state" in run.out


def test_bad_state_content_exit_2(tmp_path: Path, capsys: Any) -> None:
    state = write_state(tmp_path, [img("m-1", Statuss="Available")], name="s.yaml")
    run = run_main(capsys, "resolve", "--state", state, "--family", "web", "--region", "r1", "--caller", M)
    assert_clean_error(run)
    assert "m-1" in run.err and "did you mean 'Status'?" in run.err
    run = run_main(capsys, "check", DEMO_DIR / "sharee.yaml", "--state", state)
    assert_clean_error(run)


# ---------------------------------------------------------------- --output


@pytest.mark.parametrize("argv", [
    ["check", "{d}/rollback-fixed.yaml", "--state", "{d}/state.yaml", "--format", "json"],
    ["check", "{d}/rollback-denied.yaml", "--state", "{d}/state.yaml"],
    ["resolve", "--state", "{d}/state.yaml", "--family", "app-a", "--region", "cn-hangzhou", "--caller", M],
    ["resolve", "--state", "{d}/state.yaml", "--family", "app-a", "--all-regions", "--caller", M, "--format", "json"],
    ["resolve", "--state", "{d}/state.yaml", "--family", "nope", "--region", "cn-hangzhou", "--caller", M,
     "--format", "api"],
])
def test_output_file_is_written_whole(tmp_path: Path, demo: Path, capsys: Any, argv: list[str]) -> None:
    args = [a.replace("{d}", str(demo)) for a in argv]
    printed = run_main(capsys, *args)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "result.txt"
    target.write_text("old content that is much longer than nothing " * 100, "utf-8")
    written = run_main(capsys, *args, "--output", target)
    assert written.code == printed.code
    assert written.out == ""
    assert target.read_text("utf-8") == printed.out
    assert [p.name for p in out_dir.iterdir()] == ["result.txt"], "no temp file is left behind"
    dash = run_main(capsys, *args, "--output", "-")
    assert dash.out == printed.out


def test_output_into_a_missing_folder_is_an_input_error(tmp_path: Path, demo: Path) -> None:
    run = run_cli("check", demo / "rollback-fixed.yaml", "--state", demo / "state.yaml", "--output",
                  tmp_path / "no" / "such" / "out.json")
    assert_clean_error(run)
    assert not (tmp_path / "no").exists()


def test_no_output_file_on_input_errors(tmp_path: Path, demo: Path, capsys: Any) -> None:
    target = tmp_path / "out.json"
    run = run_main(capsys, "check", demo / "rollback-fixed.yaml", "--state", tmp_path / "nosuch.yaml",
                   "--output", target)
    assert_clean_error(run)
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]


def test_output_onto_a_directory_is_an_input_error(tmp_path: Path, demo: Path) -> None:
    target = tmp_path / "outdir"
    target.mkdir()
    run = run_cli("resolve", "--state", demo / "state.yaml", "--family", "app-a", "--region", "cn-hangzhou",
                  "--caller", M, "--output", target)
    assert_clean_error(run)
    assert list(target.iterdir()) == []
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_output_file_gets_normal_permissions(tmp_path: Path, demo: Path, capsys: Any) -> None:
    old = os.umask(0o022)
    try:
        target = tmp_path / "report.json"
        run = run_main(capsys, "check", demo / "rollback-fixed.yaml", "--state", demo / "state.yaml",
                       "--format", "json", "--output", target)
    finally:
        os.umask(old)
    assert run.code == 0
    assert target.stat().st_mode & 0o777 == 0o644


# ---------------------------------------------------------------- inputs are never modified


def test_commands_never_modify_their_inputs(tmp_path: Path, demo: Path, capsys: Any) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "mine.rules").write_text('rule r\n  on DeleteImage\n  warn when true\n  message "m"\n  cites "c"\n',
                                      "utf-8")
    before = {**tree_hashes(demo), **{f"rules/{k}": v for k, v in tree_hashes(rules).items()}}
    mtimes = {p: p.stat().st_mtime_ns for p in demo.iterdir()}
    out = tmp_path / "out.txt"
    state = demo / "state.yaml"
    for plan in ("rollback-fixed.yaml", "rollback-denied.yaml", "sharee.yaml"):
        for fmt in ("text", "json", "sarif"):
            run_main(capsys, "check", demo / plan, "--state", state, "--format", fmt, "--policy", rules,
                     "--output", out)
    for fmt in ("text", "json", "api"):
        run_main(capsys, "resolve", "--state", state, "--family", "app-a", "--region", "cn-hangzhou",
                 "--caller", M, "--format", fmt, "--output", out)
    run_main(capsys, "resolve", "--state", state, "--family", "app-a", "--all-regions", "--caller", M)
    run_main(capsys, "rules", "lint", rules)
    run_main(capsys, "rules", "list", "--policy", rules)
    after = {**tree_hashes(demo), **{f"rules/{k}": v for k, v in tree_hashes(rules).items()}}
    assert after == before
    assert {p: p.stat().st_mtime_ns for p in demo.iterdir()} == mtimes
    assert sorted(p.name for p in demo.iterdir()) == sorted([*DEMO_FILES, "report.html"])


def test_shipped_files_are_not_modified_by_the_demo() -> None:
    before = tree_hashes(DEMO_DIR)
    assert run_cli("demo").code == 0
    assert tree_hashes(DEMO_DIR) == before


# ---------------------------------------------------------------- rules lint / list / test

GOOD_RULES = '''# a user rule
rule no-delete-prod
  on DeleteImage
  warn when image != null and image.ImageName startswith "prod"
  message "deleting prod image {image.ImageId}"
  cites "house rule"
'''

BAD_RULES = '''rule r1
  on DeleteImage
  deny when image.Statsu == "x"
  message "m"
  cites "c"

rule r2
  on CreateImg
  deny when true
  message "m"
  cites "c"
'''


def test_rules_lint_good_file(tmp_path: Path) -> None:
    path = tmp_path / "good.rules"
    path.write_text(GOOD_RULES, "utf-8")
    run = run_cli("rules", "lint", path)
    assert run.code == 0, run.err
    assert run.out.startswith("ok: ")
    n_shipped = len(shipped_rule_ids())
    assert f"ok: {n_shipped + 1} rules" in run.out
    alone = run_cli("rules", "lint", "--no-default-policy", path)
    assert alone.code == 0 and alone.out.startswith("ok: 1 rules in 1 files")


def test_rules_lint_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.rules"
    path.write_text(BAD_RULES, "utf-8")
    run = run_cli("rules", "lint", path)
    assert run.code == 2
    assert "Traceback" not in run.err
    assert f"{path}:3:" in run.err and re.search(rf"{re.escape(str(path))}:3:\d+: error: .*Statsu", run.err)
    assert "did you mean 'Status'?" in run.err
    assert re.search(rf"{re.escape(str(path))}:8:\d+: error: .*CreateImg", run.err), "every error is listed"
    assert "2 errors" in run.err


def test_rules_lint_shipped_policy_and_folder(tmp_path: Path, capsys: Any) -> None:
    assert run_main(capsys, "rules", "lint").code == 0
    (tmp_path / "a.rules").write_text(GOOD_RULES, "utf-8")
    assert run_main(capsys, "rules", "lint", tmp_path).code == 0
    assert_clean_error(run_main(capsys, "rules", "lint", tmp_path / "nosuch.rules"))


def test_bad_policy_on_check_exit_2(tmp_path: Path, demo: Path) -> None:
    path = tmp_path / "bad.rules"
    path.write_text(BAD_RULES, "utf-8")
    run = run_cli("check", demo / "rollback-fixed.yaml", "--state", demo / "state.yaml", "--policy", path)
    assert_clean_error(run)
    assert f"{path}:3:" in run.err


def test_rules_list_shows_every_shipped_rule(capsys: Any) -> None:
    ids = shipped_rule_ids()
    assert len(ids) > 30
    run = run_main(capsys, "rules", "list")
    assert run.code == 0
    listed = {line.split()[0] for line in run.out.splitlines()[2:] if line and not line.startswith(" ")}
    assert set(ids) <= listed
    doc = json.loads(run_main(capsys, "rules", "list", "--format", "json").out)
    assert [r["id"] for r in doc] == ids or sorted(r["id"] for r in doc) == sorted(ids)
    for r in doc:
        assert {"id", "on", "severity", "error_code", "citation", "file"} <= set(r)
        assert r["severity"] in ("deny", "warn", "info")


def test_rules_list_with_user_policy(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "good.rules"
    path.write_text(GOOD_RULES, "utf-8")
    doc = json.loads(run_main(capsys, "rules", "list", "--policy", path, "--format", "json").out)
    assert "no-delete-prod" in {r["id"] for r in doc}
    doc = json.loads(run_main(capsys, "rules", "list", "--policy", path, "--no-default-policy",
                              "--format", "json").out)
    assert [r["id"] for r in doc] == ["no-delete-prod"]


POLICY_TEST = f'''state:
  Images:
    - {{ImageId: m-1, RegionId: r1, ImageOwnerId: "{M}", ImageFamily: web, CreationTime: 2020-01-01T00:00:00Z,
       Status: Available, SharedWith: ["{N}"]}}
cases:
  - name: deprecating a shared image is denied
    caller: "{M}"
    steps:
      - {{Action: ModifyImageAttribute, RegionId: r1, ImageId: m-1, Status: Deprecated}}
    expect:
      - {{decision: deny, codes: [ImageUseShared]}}
  - name: the sharee resolves the family
    resolve: {{family: "acs:{M}:web", region: r1, caller: "{N}"}}
    expect: {{image: m-1, tie: false}}
'''


def test_rules_test_user_file(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "cases.yaml"
    path.write_text(POLICY_TEST, "utf-8")
    run = run_cli("rules", "test", path, "-v")
    assert run.code == 0, run.out + run.err
    assert "2 passed, 0 failed" in run.out
    failing = tmp_path / "failing.yaml"
    failing.write_text(POLICY_TEST.replace("decision: deny", "decision: allow"), "utf-8")
    run = run_main(capsys, "rules", "test", failing)
    assert run.code == 1
    assert "FAIL" in run.out and "1 passed, 1 failed" in run.out
    broken = tmp_path / "broken.yaml"
    broken.write_text("cases: 3\n", "utf-8")
    assert_clean_error(run_main(capsys, "rules", "test", broken))
    assert_clean_error(run_main(capsys, "rules", "test", tmp_path / "nosuch.yaml"))


def test_rules_test_shipped_cases_pass(capsys: Any) -> None:
    run = run_main(capsys, "rules", "test", "--coverage")
    assert run.code == 0, run.out
    assert re.search(r"^\d+ passed, 0 failed$", run.out, re.M)


def test_module_entry_point_matches_main(capsys: Any, demo: Path) -> None:
    """``python -m imagefam.cli`` and ``imagefam.cli.main`` print the same thing."""
    args = ["check", str(demo / "sharee.yaml"), "--state", str(demo / "state.yaml"), "--format", "json"]
    sub = run_cli(*args)
    inproc = run_main(capsys, *args)
    assert (sub.code, sub.out) == (inproc.code, inproc.out)
