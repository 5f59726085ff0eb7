"""Policy tests, in the spirit of ``opa test``: YAML files of cases run by ``imagefam rules test``.

A file holds an optional shared ``state``, optional ``packs`` (policy packs its cases run with,
e.g. ``[promotion]``) and a list of ``cases``. A case is either a plan
(``caller``, ``steps``, and ``expect``: one entry per step) or a resolution (``resolve`` and
``expect``) or a report (``report: true`` and ``expect: {findings: [...]}``). See
docs/policy-tests.md for the format.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..rules.compiled import Policy, Rule
from .loader import parse_data, plan_from_data, state_from_data
from .parsing import InputError
from .preflight import check
from .resolver import Resolver
from .state import State

PACK_FILES = "imagefam/policy/packs/"
STEP_KEYS = {"decision", "violations", "warnings", "notes", "resolved", "codes", "created"}


@dataclass
class CaseResult:
    file: str
    name: str
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class Coverage:
    fires: set[str] = field(default_factory=set)
    quiet: set[str] = field(default_factory=set)  # shown not to fire on one of its actions
    pack_rules: dict[str, Rule] = field(default_factory=dict)  # rules of the packs test files asked for


def shipped_test_files() -> list[Path]:
    """The shipped policy's tests, then the policy packs' tests."""
    out: list[Path] = []
    for folder in ("tests", "packs/tests"):
        found = resources.files("imagefam.policy").joinpath(folder)
        out += sorted(Path(str(p)) for p in found.iterdir() if p.name.endswith((".yaml", ".yml")))
    return out


#: Builds the policy a test file with ``packs`` runs with: the policy in force plus those packs.
WithPacks = Callable[[list[str]], Policy]


def collect(paths: Sequence[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(x for x in p.rglob("*") if x.suffix in (".yaml", ".yml"))
        elif p.is_file():
            out.append(p)
        else:
            raise InputError(f"{p}: no such file or folder")
    return out


def _ids(value: Any, where: str) -> set[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{where}: expected a list of rule ids")
    return set(value)


def run_file(path: Path, policy: Policy, coverage: Coverage, with_packs: WithPacks | None = None) -> list[CaseResult]:
    data = parse_data(path.read_bytes(), path)
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise InputError(f"{path}: a policy test file has 'cases' (a list) and optionally 'state' and 'packs'")
    unknown = set(data) - {"cases", "state", "packs"}
    if unknown:
        raise InputError(f"{path}: unknown top-level key {sorted(unknown)[0]!r}; expected cases, state, packs")
    packs = data.get("packs")
    if packs is not None:
        if not isinstance(packs, list) or not all(isinstance(p, str) for p in packs):
            raise InputError(f"{path}: 'packs' must be a list of policy pack names, e.g. [promotion]")
        if packs:
            if with_packs is None:
                raise InputError(f"{path}: its cases need the policy packs {packs}")
            policy = with_packs(packs)
            coverage.pack_rules.update((r.id, r) for r in policy.rules if r.file.startswith(PACK_FILES))
    shared = data.get("state")
    results = []
    for i, case in enumerate(data["cases"]):
        if not isinstance(case, dict):
            raise InputError(f"{path}: cases[{i}] must be an object")
        name = str(case.get("name", f"case {i}"))
        where = f"{path}: case {name!r}"
        state_data = case.get("state", shared)
        if state_data is None:
            raise InputError(f"{where}: no state (give one on the case or the file)")
        state = state_from_data(state_data, path)
        result = CaseResult(str(path), name)
        if "resolve" in case:
            _run_resolve(case, state, policy, result, where)
        elif "report" in case:
            _run_report(case, state, policy, result, coverage, where)
        else:
            _run_plan(case, state, policy, result, coverage, where)
        results.append(result)
    return results


def _run_resolve(case: dict[str, Any], state: State, policy: Policy, result: CaseResult, where: str) -> None:
    q = case["resolve"]
    if not isinstance(q, dict) or not {"family", "region", "caller"} <= set(q):
        raise InputError(f"{where}: resolve needs family, region and caller")
    expect = case.get("expect") or {}
    trace = Resolver(policy, state.images, state.taken_at, now=state.now).trace(str(q["family"]), str(q["region"]), str(q["caller"]))
    got = trace.image.ImageId if trace.image else None
    if "image" in expect and expect["image"] != got:
        result.failures.append(f"resolved {got}, expected {expect['image']}")
    if "tie" in expect and bool(expect["tie"]) != trace.tie:
        result.failures.append(f"tie is {trace.tie}, expected {expect['tie']}")
    verdicts = {c.image.ImageId: c.requirement or c.verdict for c in trace.candidates}
    for image_id, want in (expect.get("excluded") or {}).items():
        if verdicts.get(image_id) != want:
            result.failures.append(f"{image_id}: {verdicts.get(image_id)}, expected excluded by {want}")


def _run_report(case: dict[str, Any], state: State, policy: Policy, result: CaseResult, coverage: Coverage,
                where: str) -> None:
    """``report: true`` and ``expect: {findings: [{rule, <subject keys>...}]}``: the exact findings."""
    from .report import report

    expect = case.get("expect") or {}
    wanted = expect.get("findings")
    if not isinstance(wanted, list) or not all(isinstance(w, dict) and "rule" in w for w in wanted):
        raise InputError(f"{where}: a report case expects 'findings': a list of {{rule, subject keys...}}")
    rep = report(state, policy)
    got = [(f.rule, f.subject) for f in rep.findings]
    unmatched = list(got)
    for w in wanted:
        keys = {k: str(v) for k, v in w.items() if k != "rule"}
        hit = next((g for g in unmatched if g[0] == w["rule"] and all(g[1].get(k) == v for k, v in keys.items())),
                   None)
        if hit is None:
            result.failures.append(f"expected finding {w} did not occur")
        else:
            unmatched.remove(hit)
    for rule, subject in unmatched:
        result.failures.append(f"unexpected finding {rule} on {subject}")
    fired = {rule for rule, _ in got}
    coverage.fires |= fired
    coverage.quiet |= {r.id for r in policy.rules if r.kind == "audit" and r.id not in fired}


def _run_plan(case: dict[str, Any], state: State, policy: Policy, result: CaseResult, coverage: Coverage,
              where: str) -> None:
    plan = plan_from_data({"caller": case.get("caller"), "steps": case.get("steps")}, where)
    expects = case.get("expect")
    if not isinstance(expects, list) or len(expects) != len(plan.steps):
        raise InputError(f"{where}: 'expect' needs one entry per step ({len(plan.steps)})")
    outcome = check(state, plan, policy)
    for s, exp in zip(outcome.steps, expects, strict=True):
        if not isinstance(exp, dict) or not set(exp) <= STEP_KEYS:
            raise InputError(f"{where}: step {s.step.index}: expectation keys are {', '.join(sorted(STEP_KEYS))}")
        got = {"violations": {f.rule for f in s.violations}, "warnings": {f.rule for f in s.warnings},
               "notes": {f.rule for f in s.notes}}
        decision = "allow" if s.allowed else "deny"
        if "decision" in exp and exp["decision"] != decision:
            why = "; ".join(f.message for f in s.violations) or "no rule denied"
            result.failures.append(f"step {s.step.index}: {decision}, expected {exp['decision']} ({why})")
        for key, severity in (("violations", "deny"), ("warnings", "warn"), ("notes", "info")):
            fired = got[key]
            coverage.fires |= fired
            if key in exp:
                want = _ids(exp[key], f"{where}: step {s.step.index}: {key}")
                if want != fired:
                    result.failures.append(f"step {s.step.index}: {key} {sorted(fired)}, expected {sorted(want)}")
                coverage.quiet |= {r.id for r in policy.by_action.get(s.step.action, ())
                                   if r.severity == severity and r.id not in fired}
        if "codes" in exp:
            codes = sorted(f.error_code for f in s.violations if f.error_code)
            if sorted(exp["codes"]) != codes:
                result.failures.append(f"step {s.step.index}: error codes {codes}, expected {sorted(exp['codes'])}")
        if "resolved" in exp and exp["resolved"] != s.resolved_image_id:
            result.failures.append(f"step {s.step.index}: resolved {s.resolved_image_id}, expected {exp['resolved']}")
        if "created" in exp and exp["created"] != s.created_image_id:
            result.failures.append(f"step {s.step.index}: created {s.created_image_id}, expected {exp['created']}")


def run(paths: Sequence[str | Path], policy: Policy,
        with_packs: WithPacks | None = None) -> tuple[list[CaseResult], Coverage]:
    """Run test files (default: the shipped ones). ``with_packs`` builds the policy for files that
    name policy packs (default: the shipped policy plus those packs)."""
    coverage = Coverage()
    results: list[CaseResult] = []
    if with_packs is None:
        from .policy import load_policy

        def with_packs(packs: list[str]) -> Policy:
            return load_policy([f"pack:{p}" for p in packs])

    for f in collect(paths) if paths else shipped_test_files():
        results += run_file(f, policy, coverage, with_packs)
    return results, coverage


def uncovered(policy: Policy, coverage: Coverage, shipped_only: bool = True) -> list[str]:
    """Rules lacking a case where they fire or a case where they stay quiet: the policy's, and
    those of the policy packs the test files ran with."""
    out = []
    rules = list(policy.rules)
    rules += [r for rid, r in coverage.pack_rules.items() if policy.rule(rid) is None]
    for r in rules:
        if shipped_only and not r.shipped:
            continue
        missing = [w for w, ok in (("fires", r.id in coverage.fires), ("does not fire", r.id in coverage.quiet))
                   if not ok]
        if missing:
            out.append(f"{r.id}: no case where it {' / '.join(missing)}")
    return out
