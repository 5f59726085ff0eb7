"""Fuzzing the output side: control characters in every value a state, plan or rule can carry, and
``-o`` pointed at every kind of path (links, devices, folders, the command's own inputs).

Whatever the input: exit 0, 1 or 2, never a traceback, an internal error (exit 3) or a hang; text,
markdown, table, JUnit and annotation outputs hold no raw control character and no line a CI log
would take as a command; JSON keeps the values; nothing but the output file changes on disk.
The example count scales with IMAGEFAM_FUZZ_EXAMPLES (``make fuzz`` runs a long campaign).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagefam.cli import main

EXAMPLES = int(os.environ.get("IMAGEFAM_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=10_000,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

RAW_CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
INJECTIONS = ["\n::error file=x::pwned", "\r::warning::x", "\x1b[2J", "\x1b]0;title\x07", "\x85", "\u2028",
              "\x00", "\t", "\x9b31m", "%0A::error::x"]


def _evil_text() -> st.SearchStrategy[str]:
    """Short strings dense in control characters and CI/terminal injection attempts."""
    controls = st.characters(codec="utf-8", categories=["Cc", "Zl", "Zp"])
    plain = st.sampled_from(["a", "web", "acs:", "-", ":", " ", "一", "%", "::"])
    piece = st.one_of(controls, plain, st.sampled_from(INJECTIONS))
    return st.lists(piece, min_size=1, max_size=8).map("".join)


def _state(family: str, name: str, desc: str, tag: str) -> dict[str, Any]:
    return {"TakenAt": "2020-02-01T00:00:00Z", "Images": [
        {"ImageId": "m-1", "RegionId": "r1", "ImageOwnerId": "1", "ImageFamily": family, "ImageName": name,
         "Description": desc, "CreationTime": "2020-01-01T00:00:00Z", "Status": "Available",
         "Tags": {tag: tag}, "SharedWith": ["2"]},
        {"ImageId": "m-2", "RegionId": "r1", "ImageOwnerId": "1", "ImageFamily": family,
         "CreationTime": "2020-01-02T00:00:00Z", "Status": "Deprecated"}]}


def _plan(family: str, name: str, desc: str) -> dict[str, Any]:
    return {"caller": "1", "steps": [
        {"Action": "CreateImage", "RegionId": "r1", "InstanceId": "i-1", "ImageFamily": family,
         "ImageName": name, "Description": desc},
        {"Action": "RunInstances", "RegionId": "r1", "ImageFamily": family},
        {"Action": "ModifyImageAttribute", "RegionId": "r1", "ImageId": "m-1", "Status": "Deprecated"},
        {"Action": "DeleteImage", "RegionId": "r1", "ImageId": "m-1"}]}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as exc:  # a usage error (argparse): exit 2 with its message
        code = exc.code if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err and "internal error" not in err, err
    return code, out, err


def _no_injection(text: str, fmt: str) -> None:
    assert not RAW_CONTROLS.search(text), (fmt, repr(text[:500]))
    for line in text.splitlines():
        if fmt == "github":
            assert re.match(r"::(error|warning|notice) file=", line), line
        else:
            assert not line.lstrip().startswith("::"), (fmt, line)


def _argv(run: str, state: Path, plan: Path, family: str) -> tuple[str, list[str]]:
    command, _, fmt = run.partition(":")
    fam = f"--family={family}"  # the = form: a value may start with '-'
    argv = {"check": ["check", str(plan), "--state", str(state)],
            "check2": ["check", str(plan), str(plan), "--state", str(state)],
            "report": ["report", "--state", str(state)],
            "resolve": ["resolve", "--state", str(state), fam, "--region", "r1", "--caller", "1"],
            "resolve-all": ["resolve", "--state", str(state), fam, "--all-regions", "--caller", "1"]}[command]
    return fmt, [*argv, "--format", fmt]


RUNS = [f"check:{f}" for f in ("text", "json", "junit", "sarif", "github")]
RUNS += [f"check2:{f}" for f in ("text", "json", "junit", "sarif", "github")]
RUNS += [f"report:{f}" for f in ("text", "markdown", "json", "junit", "sarif", "github")]
RUNS += ["resolve:text", "resolve:json", "resolve:api", "resolve-all:text", "resolve-all:json"]


@FUZZ
@given(run=st.sampled_from(RUNS), family=_evil_text(), name=_evil_text(), desc=_evil_text(), tag=_evil_text())
def test_control_characters_in_values_never_reach_text_outputs(capsys: pytest.CaptureFixture[str], run: str,
                                                               family: str, name: str, desc: str, tag: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        state, plan = Path(d) / "state.json", Path(d) / "plan.json"
        state.write_text(json.dumps(_state(family, name, desc, tag)), "utf-8")
        plan.write_text(json.dumps(_plan(family, name, desc)), "utf-8")
        fmt, argv = _argv(run, state, plan, family or "x")
        code, out, err = _run(capsys, *argv)
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", err), repr(err[:300])
        if code == 2:
            return
        if fmt in ("json", "sarif", "api"):
            json.loads(out)
        else:
            _no_injection(out, fmt)
        if fmt == "junit":
            ET.fromstring(out)


# ---------------------------------------------------------------- special output paths

KINDS = ["new", "existing", "symlink", "dangling-symlink", "symlink-to-input", "dir", "trailing-slash",
         "missing-folder", "state", "plan", "policy", "device", "symlink-to-device", "dev-stdout", "dash", "empty"]
#: Root can make a private null device (so a regression never touches the system's /dev/null).
CAN_MKNOD = os.geteuid() == 0


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _target(kind: str, d: Path, state: Path, plan: Path, policy: Path) -> str:
    out = d / "out.txt"
    if kind == "existing":
        out.write_text("old", "utf-8")
    elif kind == "symlink":
        (d / "real.txt").write_text("old", "utf-8")
        out.symlink_to(d / "real.txt")
    elif kind == "dangling-symlink":
        out.symlink_to(d / "nowhere.txt")
    elif kind == "symlink-to-input":
        out.symlink_to(state)
    elif kind == "dir":
        out.mkdir()
    elif kind in ("device", "symlink-to-device"):
        os.mknod(d / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        if kind == "symlink-to-device":
            out.symlink_to(d / "null")
        else:
            return str(d / "null")
    return {"trailing-slash": f"{d}/sub/", "missing-folder": str(d / "no" / "out.txt"), "state": str(state),
            "plan": str(plan), "policy": str(policy), "dev-stdout": "/dev/stdout",
            "dash": "-", "empty": ""}.get(kind, str(out))


@FUZZ
@given(kind=st.sampled_from(KINDS if CAN_MKNOD else [k for k in KINDS if "device" not in k]), command=st.sampled_from(["check", "report", "resolve", "check2"]),
       fmt=st.sampled_from(["text", "json", "sarif"]))
def test_special_output_paths_never_destroy(capsys: pytest.CaptureFixture[str], kind: str, command: str,
                                            fmt: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        state, plan, policy = d / "state.json", d / "plan.json", d / "mine.rules"
        state.write_text(json.dumps(_state("web", "n", "d", "t")), "utf-8")
        plan.write_text(json.dumps(_plan("web", "n", "d")), "utf-8")
        policy.write_text('rule mine\n  on DeleteImage\n  warn when true\n  message "m"\n  cites "c"\n', "utf-8")
        inputs = {p: _sha(p) for p in (state, plan, policy)}
        target = _target(kind, d, state, plan, policy)
        argv = {"check": ["check", str(plan), "--state", str(state), "--format", fmt],
                "check2": ["check", str(plan), str(plan), "--state", str(state), "--format", fmt],
                "report": ["report", "--state", str(state), "--format", fmt],
                "resolve": ["resolve", "--state", str(state), "--family", "web", "--region", "r1", "--caller", "1",
                            "--format", "json" if fmt == "sarif" else fmt]}[command]
        code, _, err = _run(capsys, *argv, "--policy", str(policy), "-o", target)
        if not command.startswith("check"):
            del inputs[plan]  # not an input of report and resolve: an ordinary output file for them
        assert {p: _sha(p) for p in inputs} == inputs, "inputs are never modified"
        if "device" in kind:
            assert stat.S_ISCHR(os.lstat(d / "null").st_mode), "a device is written in place, never replaced"
            assert code in (0, 1), err
        out = d / "out.txt"
        if kind in ("symlink", "dangling-symlink", "symlink-to-input", "symlink-to-device"):
            assert out.is_symlink()
        if kind == "dir":
            assert out.is_dir() and not list(out.iterdir())
        if kind in ("state", "policy", "symlink-to-input", "dir", "trailing-slash", "missing-folder", "empty") or (
                kind == "plan" and plan in inputs):
            assert code == 2 and err.strip()
        if kind in ("symlink", "dangling-symlink"):
            assert code in (0, 1), err
            written = (d / ("real.txt" if kind == "symlink" else "nowhere.txt")).read_text("utf-8")
            assert written and written != "old"
        assert not [p for p in d.rglob("*") if p.name.endswith(".tmp")], "no temp file is left"
