"""The command line at the edges pipelines live on (issue "Fail closed at every edge", output half):
exit codes when stdout's reader goes away, ``-o`` onto links, devices, FIFOs and the command's own
inputs, ``demo --write`` all or nothing, several PLAN files in one ``check``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers_engine import (
    ROOT,
    M,
    assert_check_json,
    assert_clean_error,
    img,
    run_cli,
    run_main,
    write_plan,
    write_state,
)


@pytest.fixture
def demo(tmp_path: Path, capsys: Any) -> Path:
    folder = tmp_path / "demo"
    run = run_main(capsys, "demo", "--write", folder)
    assert run.code == 0, run.err
    return folder


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _run_into_closed_pipe(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI with stdout a pipe whose reader is already gone (``... | true``, deterministically)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([sys.executable, "-m", "imagefam.cli", *map(str, args)], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, env=_env(), timeout=120, check=False)
    finally:
        os.close(write_end)


# ---------------------------------------------------------------- exit codes and pipes


def test_a_denied_plan_keeps_exit_1_when_stdouts_reader_is_gone(demo: Path) -> None:
    proc = _run_into_closed_pipe("check", demo / "rollback-denied.yaml", "--state", demo / "state.yaml")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr


def test_an_allowed_plan_keeps_exit_0_when_stdouts_reader_is_gone(demo: Path) -> None:
    proc = _run_into_closed_pipe("check", demo / "rollback-fixed.yaml", "--state", demo / "state.yaml",
                                 "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_shell_pipe_case(demo: Path) -> None:
    cmd = (f"{shlex.quote(sys.executable)} -m imagefam.cli check {shlex.quote(str(demo / 'rollback-denied.yaml'))} "
           f"--state {shlex.quote(str(demo / 'state.yaml'))} | true; echo \"status=${{PIPESTATUS[0]}}\"")
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=_env(), timeout=120, check=False)
    assert "status=1" in proc.stdout, (proc.stdout, proc.stderr)


@pytest.mark.parametrize(("plan", "status"), [("rollback-denied.yaml", 1), ("rollback-fixed.yaml", 0)])
def test_a_closed_stdout_keeps_the_real_status(demo: Path, plan: str, status: int) -> None:
    cmd = (f"{shlex.quote(sys.executable)} -m imagefam.cli check {shlex.quote(str(demo / plan))} "
           f"--state {shlex.quote(str(demo / 'state.yaml'))} >&-")
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=_env(), timeout=120, check=False)
    assert proc.returncode == status, proc.stderr
    assert "internal error" not in proc.stderr


# ---------------------------------------------------------------- -o PATH


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can make a device node (and could replace /dev/null)")
def test_output_to_a_device_leaves_it_a_device(tmp_path: Path, demo: Path) -> None:
    null = tmp_path / "null"  # a private null device: a regression must not destroy the system's
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    run = run_cli("check", demo / "rollback-denied.yaml", "--state", demo / "state.yaml", "-o", null)
    assert run.code == 1, run.err
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo", "null"]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root could replace /dev/null")
def test_output_to_dev_null_leaves_it_a_character_device(tmp_path: Path, demo: Path) -> None:
    null = tmp_path / "null"  # first on a private device: /dev/null is only tried when that is safe
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    probe = run_cli("check", demo / "rollback-denied.yaml", "--state", demo / "state.yaml", "-o", null)
    assert stat.S_ISCHR(os.lstat(null).st_mode), "a device was replaced: /dev/null is not tried"
    assert probe.code == 1
    run = run_cli("check", demo / "rollback-denied.yaml", "--state", demo / "state.yaml", "-o", "/dev/null")
    assert run.code == 1, run.err
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert not [p for p in Path("/dev").glob(".null.*")]


def test_output_through_a_symlink_writes_its_target(tmp_path: Path, demo: Path, capsys: Any) -> None:
    target = tmp_path / "real.json"
    target.write_text("old", "utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    run = run_main(capsys, "check", demo / "rollback-fixed.yaml", "--state", demo / "state.yaml",
                   "--format", "json", "-o", link)
    assert run.code == 0, run.err
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert json.loads(target.read_text("utf-8"))["allowed"] is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo", "link.json", "real.json"]


def test_output_through_a_dangling_symlink_creates_its_target(tmp_path: Path, demo: Path, capsys: Any) -> None:
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "new.json")
    run = run_main(capsys, "check", demo / "rollback-fixed.yaml", "--state", demo / "state.yaml",
                   "--format", "json", "-o", link)
    assert run.code == 0, run.err
    assert link.is_symlink()
    assert json.loads((tmp_path / "new.json").read_text("utf-8"))["allowed"] is True


def test_output_to_a_fifo_writes_in_place(tmp_path: Path, demo: Path) -> None:
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    run = run_cli("check", demo / "rollback-fixed.yaml", "--state", demo / "state.yaml", "--format", "json",
                  "-o", fifo)
    reader.join(timeout=60)
    assert run.code == 0, run.err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO is still a FIFO"
    assert json.loads(got[0])["allowed"] is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo", "out.fifo"]


def test_output_to_a_hard_linked_file_keeps_the_link(tmp_path: Path, demo: Path, capsys: Any) -> None:
    first = tmp_path / "out.json"
    first.write_text("x" * 100_000, "utf-8")  # longer than the output: the rest must go
    second = tmp_path / "other-name.json"
    os.link(first, second)
    run = run_main(capsys, "check", demo / "rollback-fixed.yaml", "--state", demo / "state.yaml",
                   "--format", "json", "-o", first)
    assert run.code == 0, run.err
    assert os.stat(first).st_ino == os.stat(second).st_ino, "both names are still one file"
    assert json.loads(second.read_text("utf-8"))["allowed"] is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo", "other-name.json", "out.json"]


def test_output_to_dev_stdout_is_stdout(demo: Path) -> None:
    plain = run_cli("check", demo / "rollback-fixed.yaml", "--state", demo / "state.yaml", "--format", "json")
    run = run_cli("check", demo / "rollback-fixed.yaml", "--state", demo / "state.yaml", "--format", "json",
                  "-o", "/dev/stdout")
    assert run.code == 0, run.err
    assert run.out == plain.out


@pytest.mark.parametrize("which", ["state", "plan", "policy-file", "policy-folder"])
def test_output_onto_an_input_is_refused(tmp_path: Path, demo: Path, capsys: Any, which: str) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "mine.rules").write_text('rule r\n  on DeleteImage\n  warn when true\n  message "m"\n  cites "c"\n',
                                      "utf-8")
    policy = rules if which == "policy-folder" else rules / "mine.rules"
    out = {"state": demo / "state.yaml", "plan": demo / "rollback-fixed.yaml",
           "policy-file": rules / "mine.rules", "policy-folder": rules / "mine.rules"}[which]
    before = out.read_bytes()
    run = run_main(capsys, "check", demo / "rollback-fixed.yaml", "--state", demo / "state.yaml",
                   "--policy", policy, "-o", out)
    assert_clean_error(run)
    assert "input" in run.err
    assert out.read_bytes() == before


def test_output_onto_an_input_through_another_name_is_refused(tmp_path: Path, demo: Path, capsys: Any) -> None:
    link = tmp_path / "alias.yaml"
    link.symlink_to(demo / "state.yaml")
    before = (demo / "state.yaml").read_bytes()
    run = run_main(capsys, "report", "--state", demo / "state.yaml", "-o", link)
    assert_clean_error(run)
    assert (demo / "state.yaml").read_bytes() == before


def test_output_path_ending_in_a_slash_is_refused(tmp_path: Path, demo: Path, capsys: Any) -> None:
    run = run_main(capsys, "check", demo / "rollback-fixed.yaml", "--state", demo / "state.yaml",
                   "-o", f"{tmp_path}/newdir/")
    assert_clean_error(run)
    assert not (tmp_path / "newdir").exists()


# ---------------------------------------------------------------- demo --write


def test_demo_write_is_all_or_nothing(tmp_path: Path, capsys: Any) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "sharee.yaml").mkdir()  # the last file cannot be written
    run = run_main(capsys, "demo", "--write", folder)
    assert_clean_error(run)
    assert sorted(p.name for p in folder.iterdir()) == ["sharee.yaml"], "no half set, no .tmp"


def test_demo_write_failure_removes_temp_files(tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from imagefam import output

    calls = {"n": 0}
    real = os.replace

    def flaky(src: str, dst: str) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(output.os, "replace", flaky)
    folder = tmp_path / "new"
    run = run_main(capsys, "demo", "--write", folder)
    assert_clean_error(run)
    assert not folder.exists(), "the folder this call created is removed with its partial content"


# ---------------------------------------------------------------- several plans


def _two_plans(demo: Path) -> list[Path]:
    return [demo / "rollback-fixed.yaml", demo / "rollback-denied.yaml"]


def test_one_plan_output_is_unchanged_by_several_plan_support(demo: Path, capsys: Any) -> None:
    run = run_main(capsys, "check", demo / "rollback-fixed.yaml", "--state", demo / "state.yaml", "--format", "json")
    doc = run.json()
    assert "plans" not in doc and "plan" not in doc
    assert_check_json(doc)


def test_several_plans_json(demo: Path, capsys: Any) -> None:
    plans = _two_plans(demo)
    run = run_main(capsys, "check", *plans, "--state", demo / "state.yaml", "--format", "json")
    assert run.code == 1, run.err
    doc = run.json()
    assert doc["allowed"] is False
    assert [p["plan"] for p in doc["plans"]] == [str(p) for p in plans]
    for p, path in zip(doc["plans"], plans, strict=True):
        assert_check_json(p)
        single = run_main(capsys, "check", path, "--state", demo / "state.yaml", "--format", "json").json()
        assert {k: v for k, v in p.items() if k != "plan"} == single
    assert [p["allowed"] for p in doc["plans"]] == [True, False]


def test_several_plans_exit_is_the_worst(demo: Path, capsys: Any) -> None:
    ok = demo / "rollback-fixed.yaml"
    assert run_main(capsys, "check", ok, ok, "--state", demo / "state.yaml").code == 0
    assert run_main(capsys, "check", ok, demo / "rollback-denied.yaml", "--state", demo / "state.yaml").code == 1
    bad = demo.parent / "bad.yaml"
    bad.write_text("steps: 3\n", "utf-8")
    assert_clean_error(run_main(capsys, "check", ok, bad, "--state", demo / "state.yaml"))


def test_several_plans_text_shows_each_plan(demo: Path, capsys: Any) -> None:
    plans = _two_plans(demo)
    run = run_main(capsys, "check", *plans, "--state", demo / "state.yaml")
    for p in plans:
        single = run_main(capsys, "check", p, "--state", demo / "state.yaml").out
        assert f"plan {p}:\n{single}" in run.out


def test_several_plans_sarif_is_one_run_with_results_in_their_files(demo: Path, capsys: Any) -> None:
    import jsonschema

    plans = [demo / "rollback-denied.yaml", demo / "sharee.yaml"]
    doc = run_main(capsys, "check", *plans, "--state", demo / "state.yaml", "--format", "sarif").json()
    schema = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text("utf-8"))
    jsonschema.validate(doc, schema)
    assert len(doc["runs"]) == 1
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"]
            for r in doc["runs"][0]["results"] for loc in r["locations"]}
    assert uris == {str(p) for p in plans}


def test_several_plans_junit_and_github(demo: Path, capsys: Any) -> None:
    from xml.etree import ElementTree as ET

    plans = _two_plans(demo)
    junit = run_main(capsys, "check", *plans, "--state", demo / "state.yaml", "--format", "junit").out
    root = ET.fromstring(junit)
    assert [s.get("name") for s in root.iter("testsuite")] == [f"imagefam check {p}" for p in plans]
    gh = run_main(capsys, "check", *plans, "--state", demo / "state.yaml", "--format", "github").out
    assert f"file={plans[1]}".replace(":", "%3A") in gh


def test_the_pre_commit_hook_command_line_with_two_files(demo: Path) -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text("utf-8"))
    hook = next(h for h in hooks if h["id"] == "imagefam-check")
    assert shlex.split(hook["entry"])[0] == "imagefam"
    entry = [sys.executable, "-m", "imagefam.cli", *shlex.split(hook["entry"])[1:]]
    args = ["--state", str(demo / "state.yaml")]  # what the hook's doc says to pass with args
    # pre-commit runs: entry, args, then the changed files that match `files`
    plans = demo / "plans"
    plans.mkdir()
    a, b = plans / "a.yaml", plans / "b.yaml"
    a.write_text((demo / "rollback-fixed.yaml").read_text("utf-8"), "utf-8")
    b.write_text((demo / "rollback-denied.yaml").read_text("utf-8"), "utf-8")
    assert all(re.search(hook["files"], f"plans/{p.name}") for p in (a, b))
    proc = subprocess.run([*entry, *args, str(a), str(b)], capture_output=True, text=True, env=_env(),
                          timeout=120, check=False)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"plan {a}:" in proc.stdout and f"plan {b}:" in proc.stdout
    proc = subprocess.run([*entry, *args, str(a), str(a)], capture_output=True, text=True, env=_env(),
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr



# ---------------------------------------------------------------- control characters in values

EVIL_FAMILY = "fam\n::error file=x::pwned\x1b]0;title\x07\x85"
EVIL_NAME = "evil\x1b[31mred\r::warning::also"
CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")


@pytest.fixture
def evil(tmp_path: Path) -> dict[str, Path]:
    state = write_state(tmp_path, [
        img("m-1", family=EVIL_FAMILY, ImageName=EVIL_NAME),
        img("m-2", family=EVIL_FAMILY, created="2020-01-02T00:00:00Z", ImageName=EVIL_NAME),
    ], taken_at="2020-02-01T00:00:00Z")
    plan = write_plan(tmp_path, [
        {"Action": "CreateImage", "RegionId": "cn-hangzhou", "InstanceId": "i-1", "ImageName": EVIL_NAME,
         "ImageFamily": EVIL_FAMILY},
        {"Action": "RunInstances", "RegionId": "cn-hangzhou", "ImageFamily": EVIL_FAMILY},
    ])
    return {"state": state, "plan": plan}


def _assert_no_injection(text: str) -> None:
    assert not CONTROLS.search(text), repr(text[:2000])
    for line in text.splitlines():
        assert "pwned" not in line or not line.lstrip().startswith("::error file=x"), line
        assert not line.startswith("::warning::also"), line


def _text_outputs(evil: dict[str, Path], capsys: Any) -> list[str]:
    s, p = evil["state"], evil["plan"]
    runs = [
        run_main(capsys, "check", p, "--state", s),
        run_main(capsys, "check", p, p, "--state", s),
        run_main(capsys, "report", "--state", s),
        run_main(capsys, "report", "--state", s, "--format", "markdown"),
        run_main(capsys, "resolve", "--state", s, "--family", EVIL_FAMILY, "--region", "cn-hangzhou", "--caller", M),
        run_main(capsys, "resolve", "--state", s, "--family", EVIL_FAMILY, "--all-regions", "--caller", M),
    ]
    for r in runs:
        assert r.code in (0, 1), r.err
        assert "pwned" in r.out or "evil" in r.out, "the value is shown (escaped), not dropped"
    return [r.out for r in runs]


def test_text_markdown_and_tables_escape_control_characters(evil: dict[str, Path], capsys: Any) -> None:
    for out in _text_outputs(evil, capsys):
        _assert_no_injection(out)
    assert "fam\\n::error" in _text_outputs(evil, capsys)[0]


def test_json_and_sarif_keep_the_values_exactly(evil: dict[str, Path], capsys: Any) -> None:
    s, p = evil["state"], evil["plan"]
    for args in (["check", p, "--state", s, "--format", "json"], ["check", p, "--state", s, "--format", "sarif"],
                 ["report", "--state", s, "--format", "json"], ["report", "--state", s, "--format", "sarif"],
                 ["resolve", "--state", s, "--family", EVIL_FAMILY, "--region", "cn-hangzhou", "--caller", M,
                  "--format", "json"]):
        run = run_main(capsys, *args)
        assert "\x1b" not in run.out and "\n::" not in run.out, args
        assert any(EVIL_FAMILY in v for v in _strings(run.json())), args


def _strings(doc: Any) -> list[str]:
    if isinstance(doc, str):
        return [doc]
    if isinstance(doc, dict):
        return [s for k, v in doc.items() for s in _strings(k) + _strings(v)]
    if isinstance(doc, list):
        return [s for v in doc for s in _strings(v)]
    return []


def test_junit_and_github_escape_control_characters(evil: dict[str, Path], capsys: Any) -> None:
    from xml.etree import ElementTree as ET

    s, p = evil["state"], evil["plan"]
    for args in (["check", p, "--state", s], ["report", "--state", s]):
        junit = run_main(capsys, *args, "--format", "junit").out
        ET.fromstring(junit)
        _assert_no_injection(junit)
        gh = run_main(capsys, *args, "--format", "github").out
        _assert_no_injection(gh)
        assert gh and all(re.match(r"::(error|warning|notice) file=", line) for line in gh.splitlines()), gh


def test_stderr_escapes_control_characters(tmp_path: Path, capsys: Any) -> None:
    state = write_state(tmp_path, [img("m-1", **{"Status\x1b[2J": "x"})])
    run = run_main(capsys, "report", "--state", state)
    assert_clean_error(run)
    assert "\x1b" not in run.err


def test_sensitive_values_are_redacted_in_their_escaped_forms_too() -> None:
    """Outputs escape control characters, so a sensitive value with a newline appears escaped:
    redaction must find it in that form as well (text, JSON and annotation escapes)."""
    from types import SimpleNamespace

    from imagefam.cli import _sensitive_forms
    from imagefam.engine.ci import _escape_data
    from imagefam.engine.planformats import redact
    from imagefam.engine.render import printable

    secret = "line1\nsecret\x1b-2"
    forms = _sensitive_forms([SimpleNamespace(sensitive=(secret,))])
    for shown in (secret, printable(secret), json.dumps(secret)[1:-1], _escape_data(secret)):
        assert redact(f"before {shown} after", forms) == "before (sensitive) after", shown


def test_standard_input_is_given_to_one_plan_at_most(demo: Path, capsys: Any) -> None:
    run = run_main(capsys, "check", "-", "-", "--state", demo / "state.yaml")
    assert_clean_error(run)
    assert "standard input" in run.err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_stdout_on_a_full_device_is_exit_2_with_a_message(demo: Path) -> None:
    cmd = (f"{shlex.quote(sys.executable)} -m imagefam.cli check {shlex.quote(str(demo / 'rollback-fixed.yaml'))} "
           f"--state {shlex.quote(str(demo / 'state.yaml'))} > /dev/full")
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=_env(), timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "cannot write the output to stdout: No space left on device" in proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
