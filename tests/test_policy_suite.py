"""The shipped policy tests (imagefam/policy/tests/*.yaml) pass and cover every shipped rule,
through the Python API and through ``imagefam rules test``; a wrong expectation fails (exit 1)
and a malformed test file is bad input (exit 2, the message names the file)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from imagefam.engine import policytest
from imagefam.engine.policy import load_policy
from imagefam.rules.compiled import Policy

RULE_FILES = ("naming", "quotas", "lifecycle", "launch", "resolution", "audit")

STATE = """\
state:
  TakenAt: 2020-02-01T00:00:00Z
  Images:
    - {ImageId: m-w1, RegionId: cn-hangzhou, ImageOwnerId: "100001", ImageFamily: web,
       CreationTime: 2020-01-01T00:00:00Z, Status: Available}
    - {ImageId: m-w2, RegionId: cn-hangzhou, ImageOwnerId: "100001", ImageFamily: web,
       CreationTime: 2020-01-02T00:00:00Z, Status: Available}
"""


@pytest.fixture(scope="module")
def shipped() -> Policy:
    return load_policy()


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "imagefam.cli", "rules", "test", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- the shipped suite


def test_every_rule_file_has_a_test_file() -> None:
    names = {p.stem for p in policytest.shipped_test_files()}
    assert set(RULE_FILES) <= names


def test_shipped_policy_tests_pass_and_cover_every_rule(shipped: Policy) -> None:
    results, coverage = policytest.run([], shipped)
    assert len(results) >= 60
    failed = [f"{Path(r.file).name}: {r.name}: {'; '.join(r.failures)}" for r in results if not r.passed]
    assert failed == []
    assert policytest.uncovered(shipped, coverage) == []
    shipped_ids = {r.id for r in shipped.rules if r.shipped}
    assert shipped_ids <= coverage.fires
    assert shipped_ids <= coverage.quiet


def test_each_test_file_runs_on_its_own(shipped: Policy) -> None:
    for path in policytest.shipped_test_files():
        results, _ = policytest.run([path], shipped)
        assert results, path
        assert all(r.file == str(path) for r in results)


def test_cli_runs_the_shipped_suite_with_coverage() -> None:
    proc = _cli("--coverage")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "FAIL" not in proc.stdout
    assert "UNCOVERED" not in proc.stdout
    assert " passed, 0 failed" in proc.stdout


def test_cli_verbose_lists_every_case() -> None:
    proc = _cli("-v", ROOT / "imagefam" / "policy" / "tests" / "naming.yaml")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(("PASS ", "FAIL "))]
    assert len(lines) >= 5
    assert any("seed Example 4" in ln for ln in lines)


# ---------------------------------------------------------------- failures are reported


def test_a_wrong_expectation_fails_with_exit_1(tmp_path: Path) -> None:
    path = _write(tmp_path, "wrong.yaml", STATE + """\
cases:
  - name: right
    caller: "100001"
    steps:
      - {Action: RunInstances, RegionId: cn-hangzhou, ImageFamily: web}
    expect:
      - {decision: allow, violations: [], resolved: m-w2}
  - name: deliberately wrong
    caller: "100001"
    steps:
      - {Action: RunInstances, RegionId: cn-hangzhou, ImageFamily: web}
      - {Action: CreateImage, RegionId: cn-hangzhou, InstanceId: i-1, ImageFamily: acs-web}
    expect:
      - {decision: deny, resolved: m-w1}
      - {decision: allow, violations: []}
  - name: wrong resolution
    resolve: {family: web, region: cn-hangzhou, caller: "100001"}
    expect: {image: m-w1, tie: true}
""")
    proc = _cli(path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert f"FAIL {path}: deliberately wrong" in out
    assert f"FAIL {path}: wrong resolution" in out
    assert "PASS" not in out  # passing cases are listed with -v only
    assert "step 0: allow, expected deny" in out
    assert "step 0: resolved m-w2, expected m-w1" in out
    assert "step 1: violations ['family-name-acs-prefix'], expected []" in out
    assert "resolved m-w2, expected m-w1" in out
    assert "tie is False, expected True" in out
    assert "1 passed, 2 failed" in out


def test_a_wrong_expectation_fails_through_the_api(tmp_path: Path, shipped: Policy) -> None:
    path = _write(tmp_path, "wrong.yaml", STATE + """\
cases:
  - name: wrong code
    caller: "100001"
    steps:
      - {Action: ModifyImageAttribute, RegionId: cn-hangzhou, ImageId: m-w1, ImageFamily: aliyun-web}
    expect:
      - {decision: deny, codes: [ImageUseShared]}
""")
    results, _ = policytest.run([path], shipped)
    assert [r.passed for r in results] == [False]
    assert results[0].failures == [
        "step 0: error codes ['InvalidImageFamily.Malformed'], expected ['ImageUseShared']"]


def test_coverage_flags_a_rule_without_cases(tmp_path: Path) -> None:
    """Running only one file with --coverage leaves the other files' rules uncovered: exit 1."""
    proc = _cli("--coverage", ROOT / "imagefam" / "policy" / "tests" / "naming.yaml")
    assert proc.returncode == 1
    assert "UNCOVERED share-limit: no case where it fires / does not fire" in proc.stdout


@pytest.mark.parametrize(("text", "message"), [
    ("cases: [\n  - {name: x\n", "invalid YAML"),
    (STATE, "'cases' (a list)"),
    (STATE + "cases:\n  - name: no state anywhere\n    state: null\n    caller: '1'\n    steps: []\n    expect: []\n",
     "no state"),
    (STATE + "cases:\n  - name: short\n    caller: '100001'\n    steps:\n"
             "      - {Action: RunInstances, RegionId: cn-hangzhou, ImageId: m-w1}\n    expect: []\n",
     "one entry per step"),
    (STATE + "cases:\n  - name: bad key\n    caller: '100001'\n    steps:\n"
             "      - {Action: RunInstances, RegionId: cn-hangzhou, ImageId: m-w1}\n"
             "    expect:\n      - {decison: allow}\n", "expectation keys are"),
    (STATE + "cases:\n  - name: bad action\n    caller: '100001'\n    steps:\n"
             "      - {Action: RunInstance, RegionId: cn-hangzhou}\n    expect: [{}]\n", "unknown Action"),
    (STATE + "cases:\n  - name: bad resolve\n    resolve: {family: web}\n    expect: {}\n",
     "resolve needs family, region and caller"),
    ("cases:\n  - name: bad state\n    state: {Images: [{ImageId: m-1}]}\n"
     "    resolve: {family: web, region: r, caller: '1'}\n", "required field is missing"),
])
def test_a_malformed_test_file_exits_2_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, "broken.yaml", text)
    proc = _cli(path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert str(path) in proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_missing_path_exits_2(tmp_path: Path) -> None:
    proc = _cli(tmp_path / "nope.yaml")
    assert proc.returncode == 2
    assert "nope.yaml: no such file or folder" in proc.stderr


# ---------------------------------------------------------------- users' own rules


def test_users_test_their_own_rules_with_policy(tmp_path: Path) -> None:
    rules = _write(tmp_path, "team.rules", """\
rule no-prod-deprecation
  on ModifyImageAttribute
  deny when request.Status == "Deprecated" and image != null and image.ImageFamily startswith "prod-"
  message "{image.ImageId} is in production family {image.ImageFamily}; deprecate it through the release process"
  cites "Team policy."
""")
    tests = _write(tmp_path, "team.yaml", """\
state:
  Images:
    - {ImageId: m-p1, RegionId: cn-hangzhou, ImageOwnerId: "100001", ImageFamily: prod-web,
       CreationTime: 2020-01-01T00:00:00Z, Status: Available}
    - {ImageId: m-p2, RegionId: cn-hangzhou, ImageOwnerId: "100001", ImageFamily: prod-web,
       CreationTime: 2020-01-02T00:00:00Z, Status: Available}
    - {ImageId: m-d1, RegionId: cn-hangzhou, ImageOwnerId: "100001", ImageFamily: dev-web,
       CreationTime: 2020-01-01T00:00:00Z, Status: Available}
cases:
  - name: production images are not deprecated by hand
    caller: "100001"
    steps:
      - {Action: ModifyImageAttribute, RegionId: cn-hangzhou, ImageId: m-p2, Status: Deprecated}
      - {Action: ModifyImageAttribute, RegionId: cn-hangzhou, ImageId: m-d1, Status: Deprecated}
    expect:
      - {decision: deny, violations: [no-prod-deprecation]}
      - {decision: allow, violations: [], warnings: [deprecate-last-available]}
""")
    proc = _cli(tests, "--policy", rules)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed, 0 failed" in proc.stdout
    # without the user's rule the first step is allowed, so the case fails
    proc = _cli(tests)
    assert proc.returncode == 1
    assert "step 0: allow, expected deny" in proc.stdout
    # and with the shipped policy left out, the shipped warning is gone
    proc = _cli(tests, "--policy", rules, "--no-default-policy")
    assert proc.returncode == 1
    assert "step 1: warnings [], expected ['deprecate-last-available']" in proc.stdout
