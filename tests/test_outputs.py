"""Output formats: golden files for check and report in every format, SARIF validated against the
2.1.0 schema, JUnit parsed and counted, byte-identical repeat runs, atomic output files, and raw
DescribeImages input resolving exactly like the equivalent native state.

Regenerate the golden files after an intended change with ``IMAGEFAM_UPDATE_GOLDEN=1 pytest tests/test_outputs.py``.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from imagefam import load_state, resolve
from imagefam.cli import main
from imagefam.engine.loader import load_states

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
DATA = ROOT / "tests" / "data"
DEMO = "imagefam/engine/demo"
SCHEMA = json.loads((DATA / "sarif-schema-2.1.0.json").read_text("utf-8"))
UPDATE = os.environ.get("IMAGEFAM_UPDATE_GOLDEN") == "1"

CHECK_FORMATS = ["text", "json", "junit", "sarif", "github"]
REPORT_FORMATS = ["text", "markdown", "json", "junit", "sarif", "github"]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    cwd = os.getcwd()
    os.chdir(ROOT)  # golden files hold paths relative to the repository
    try:
        code = main(argv)
    finally:
        os.chdir(cwd)
    out = capsys.readouterr()
    return code, out.out, out.err


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE or not path.exists():
        path.write_text(text, "utf-8")
        if not UPDATE:
            pytest.fail(f"golden file {name} was missing and has been written; review and commit it")
    assert text == path.read_text("utf-8"), f"output differs from tests/golden/{name}"


@pytest.mark.parametrize("fmt", CHECK_FORMATS)
@pytest.mark.parametrize("plan", ["rollback-denied", "rollback-fixed", "sharee"])
def test_check_golden(plan: str, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["check", f"{DEMO}/{plan}.yaml", "--state", f"{DEMO}/state.yaml", "--format", fmt], capsys)
    assert code == (1 if plan in ("rollback-denied", "sharee") else 0)
    golden(f"check-{plan}.{fmt}", out)


@pytest.mark.parametrize("fmt", REPORT_FORMATS)
@pytest.mark.parametrize("state", [f"{DEMO}/state.yaml", "tests/data/report-state.yaml"])
def test_report_golden(state: str, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["report", "--state", state, "--format", fmt], capsys)
    assert code == (1 if "report-state" in state else 0)
    golden(f"report-{Path(state).stem}.{fmt}", out)


@pytest.mark.parametrize("argv", [
    ["check", f"{DEMO}/sharee.yaml", "--state", f"{DEMO}/state.yaml", "--format", "sarif"],
    ["check", f"{DEMO}/rollback-fixed.yaml", "--state", f"{DEMO}/state.yaml", "--format", "sarif"],
    ["report", "--state", "tests/data/report-state.yaml", "--format", "sarif"],
    ["report", "--state", f"{DEMO}/state.yaml", "--format", "sarif"],
])
def test_sarif_validates_against_the_schema(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(argv, capsys)
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    results = doc["runs"][0]["results"]
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]


def test_sarif_points_at_the_step_line(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(["check", f"{DEMO}/sharee.yaml", "--state", f"{DEMO}/state.yaml", "--format", "sarif"], capsys)
    lines = (ROOT / DEMO / "sharee.yaml").read_text("utf-8").splitlines()
    results = json.loads(out)["runs"][0]["results"]
    denied = [r for r in results if r["level"] == "error"]
    assert [r["ruleId"] for r in denied] == ["family-name-acs-prefix"]
    loc = denied[0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == f"{DEMO}/sharee.yaml"
    assert "CreateImage" in lines[loc["region"]["startLine"] - 1]


@pytest.mark.parametrize("argv,tests,failures", [
    (["check", f"{DEMO}/rollback-denied.yaml", "--state", f"{DEMO}/state.yaml", "--format", "junit"], 2, 1),
    (["check", f"{DEMO}/rollback-fixed.yaml", "--state", f"{DEMO}/state.yaml", "--format", "junit"], 6, 0),
    (["report", "--state", "tests/data/report-state.yaml", "--format", "junit"], None, 1),
])
def test_junit_parses_and_counts_match(argv: list[str], tests: int | None, failures: int,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(argv, capsys)
    root = ET.fromstring(out.split("\n", 1)[1])
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert int(suite.get("tests", "-1")) == len(cases) == (tests if tests is not None else len(cases))
    assert int(suite.get("failures", "-1")) == failures == sum(1 for c in cases if c.find("failure") is not None)


def test_github_annotations_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(["check", f"{DEMO}/sharee.yaml", "--state", f"{DEMO}/state.yaml", "--format", "github"], capsys)
    lines = out.splitlines()
    assert any(ln.startswith(f"::error file={DEMO}/sharee.yaml,line=") for ln in lines)
    assert all("\n" not in ln and ln.startswith("::") for ln in lines)
    title = lines[0].split("title=")[1].split("::")[0]
    assert ":" not in title and "," not in title


@pytest.mark.parametrize("argv", [
    ["check", f"{DEMO}/rollback-fixed.yaml", "--state", f"{DEMO}/state.yaml", "--format", "json"],
    ["report", "--state", "tests/data/report-state.yaml", "--format", "sarif"],
    ["resolve", "--state", f"{DEMO}/state.yaml", "--family", "app-a", "--region", "cn-hangzhou",
     "--caller", "100001", "--format", "json"],
])
def test_outputs_are_byte_identical_across_runs(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    outs = {run(argv, capsys)[1] for _ in range(3)}
    assert len(outs) == 1


def test_output_file_is_written_whole(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "out.json"
    target.write_text("previous", "utf-8")
    code, out, _ = run(["check", f"{DEMO}/rollback-fixed.yaml", "--state", f"{DEMO}/state.yaml", "--format", "json",
                        "--output", str(target)], capsys)
    assert code == 0 and out == ""
    assert json.loads(target.read_text("utf-8"))["allowed"] is True
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary file left behind


def test_failed_run_leaves_previous_output_untouched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "out.json"
    target.write_text("previous", "utf-8")
    code, _, err = run(["check", f"{DEMO}/rollback-fixed.yaml", "--state", str(tmp_path / "missing.json"),
                        "--output", str(target)], capsys)
    assert code == 2 and "missing.json" in err
    assert target.read_text("utf-8") == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_interrupted_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from imagefam import output

    target = tmp_path / "out.txt"
    target.write_text("previous", "utf-8")

    class Boom(KeyboardInterrupt):
        pass

    real_replace = os.replace

    def interrupted(src: str, dst: str) -> None:
        raise Boom()

    monkeypatch.setattr(output.os, "replace", interrupted)
    with pytest.raises(Boom):
        output.write_output("new text", str(target))
    monkeypatch.setattr(output.os, "replace", real_replace)
    assert target.read_text("utf-8") == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_describe_images_input_resolves_like_the_native_state() -> None:
    raw = load_states([DATA / "describe-images-page1.json", DATA / "describe-images-page2.json"],
                      account="1234567890")
    native = load_state(DATA / "describe-images-native.yaml")
    assert sorted(i.ImageId for i in raw.images) == sorted(i.ImageId for i in native.images)
    for family, caller in [("web", "1234567890"), ("db", "1234567890"), ("acs:5550001:db", "1234567890"),
                           ("acs:1234567890:web", "777"), ("db", "5550001")]:
        a, ta = resolve(raw, family, "cn-hangzhou", caller)
        b, tb = resolve(native, family, "cn-hangzhou", caller)
        assert (a.ImageId if a else None) == (b.ImageId if b else None)
        assert ta.to_json() == tb.to_json()
    assert not raw.notes  # page 2 holds a Deprecated image: no undercount warning


def test_describe_images_only_available_warns(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["report", "--state", "tests/data/describe-images-page1.json", "--account", "1234567890"],
                       capsys)
    assert code == 0
    assert "quotas may be undercounted" in err


def test_inputs_are_never_modified(capsys: pytest.CaptureFixture[str]) -> None:
    files = [ROOT / DEMO / n for n in ("state.yaml", "rollback-fixed.yaml")] + [DATA / "report-state.yaml"]
    before = [f.read_bytes() for f in files]
    run(["check", f"{DEMO}/rollback-fixed.yaml", "--state", f"{DEMO}/state.yaml"], capsys)
    run(["report", "--state", "tests/data/report-state.yaml"], capsys)
    assert [f.read_bytes() for f in files] == before


def test_public_images_share_an_id_across_regions(tmp_path: Path) -> None:
    """ECS image IDs are regional; a public image has one ImageId in every region."""
    state = tmp_path / "s.yaml"
    state.write_text(
        "Images:\n"
        "  - {ImageId: ubuntu_24.vhd, RegionId: r1, ImageOwnerAlias: system, ImageFamily: 'acs:ubuntu',"
        " CreationTime: 2020-01-01T00:00:00Z, Status: Available}\n"
        "  - {ImageId: ubuntu_24.vhd, RegionId: r2, ImageOwnerAlias: system, ImageFamily: 'acs:ubuntu',"
        " CreationTime: 2020-01-01T00:00:00Z, Status: Available}\n"
        "  - {ImageId: m-1, RegionId: r1, ImageOwnerId: '1', CreationTime: 2020-01-01T00:00:00Z, Status: Available}\n",
        "utf-8")
    s = load_state(state)
    assert len(s.images) == 3
    for region in ("r1", "r2"):
        img, _ = resolve(s, "acs:ubuntu", region, "1")
        assert img is not None and img.RegionId == region
    dup = tmp_path / "dup.yaml"
    dup.write_text(state.read_text("utf-8") +
                   "  - {ImageId: m-1, RegionId: r2, ImageOwnerId: '1', CreationTime: 2020-01-01T00:00:00Z,"
                   " Status: Available}\n", "utf-8")
    with pytest.raises(Exception, match=r"Images\[3\] \(m-1\): duplicate ImageId"):
        load_state(dup)


def test_an_image_in_another_region_is_not_found(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plan = tmp_path / "p.yaml"
    plan.write_text('caller: "100001"\nsteps:\n'
                    "  - {Action: ModifyImageAttribute, RegionId: cn-shanghai, ImageId: m-b1, ImageName: x1}\n"
                    "  - {Action: DeleteImage, RegionId: cn-shanghai, ImageId: m-b1}\n", "utf-8")
    code, out, _ = run(["check", str(plan), "--state", f"{DEMO}/state.yaml", "--format", "json"], capsys)
    assert code == 1
    modify, delete = json.loads(out)["steps"]
    assert [v["error_code"] for v in modify["violations"]] == ["InvalidImageId.NotFound"]
    # DeleteImage of an image that does not exist (there) is ignored by ECS, or answered NotFound
    assert delete["decision"] == "allow" and [w["rule"] for w in delete["warnings"]] == ["delete-missing-image"]
