"""CI output formats: SARIF 2.1.0 (code scanning) and GitHub workflow-command annotations.

For ``check``, each result points at the line of its step in the plan file, so a code-scanning
upload shows it on the pull request. For ``report``, results point at the state file(s) and name
the family or image as a logical location.
"""

from __future__ import annotations

from typing import Any

from ..rules.compiled import Policy
from .evaluation import Finding
from .preflight import CheckResult
from .render import printable

LEVEL = {"deny": "error", "warn": "warning", "info": "note"}
GITHUB = {"deny": "error", "warn": "warning", "info": "notice"}
SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URI = "https://github.com/imagefam/imagefam"


def _driver(policy: Policy, kinds: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, int]]:
    rules = [r for r in policy.rules if r.kind in kinds]
    descriptors = []
    for r in rules:
        d: dict[str, Any] = {
            "id": r.id,
            "shortDescription": {"text": r.cites or r.id},
            "defaultConfiguration": {"level": LEVEL[r.severity]},
            "properties": {"severity": r.severity, "source": r.file},
        }
        if r.code:
            d["properties"]["errorCode"] = r.code
        descriptors.append(d)
    driver = {"name": "imagefam", "version": "0.1.0", "informationUri": INFO_URI, "rules": descriptors}
    return driver, {r.id: i for i, r in enumerate(rules)}


def _result(f: Finding, index: dict[str, int], locations: list[dict[str, Any]]) -> dict[str, Any]:
    res: dict[str, Any] = {"ruleId": f.rule, "level": LEVEL.get(f.severity, "warning"),
                           "message": {"text": f.message}, "locations": locations}
    if f.rule in index:
        res["ruleIndex"] = index[f.rule]
    props: dict[str, Any] = {}
    if f.error_code:
        props["errorCode"] = f.error_code
    if f.evidence:
        props["evidence"] = dict(f.evidence)
    if props:
        res["properties"] = props
    return res


def check_sarif(result: CheckResult, policy: Policy, *more: CheckResult) -> dict[str, Any]:
    """One SARIF run; with several plans, each result is located in its own plan file."""
    driver, index = _driver(policy, ("action",))
    results = []
    for r in (result, *more):
        for s in r.steps:
            uri, line = _where(r, s.step)
            phys: dict[str, Any] = {"artifactLocation": {"uri": uri}}
            if line:
                phys["region"] = {"startLine": line}
            logical: list[dict[str, Any]] = [{"name": f"step {s.step.index} {s.step.action}", "kind": "object"}]
            if s.step.source and s.step.source.get("kind") == "terraform":  # the resource address
                address = str(s.step.source["address"])
                logical.insert(0, {"name": address, "fullyQualifiedName": address, "kind": "resource"})
            loc = [{"physicalLocation": phys, "logicalLocations": logical}]
            for f in s.violations + s.warnings + s.notes:
                results.append(_result(f, index, loc))
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [{"tool": {"driver": driver}, "results": results}]}


def _where(result: CheckResult, step: Any) -> tuple[str, int | None]:
    """The file and line a step's findings point at: the plan file at the step's line (a script's
    line), or a Terraform resource block when the configuration was given."""
    src = step.source or {}
    if src.get("kind") == "terraform" and src.get("file"):
        return str(src["file"]), src.get("line")
    return result.plan_source, step.line


def report_sarif(rep: Any, policy: Policy, sources: list[str]) -> dict[str, Any]:
    driver, index = _driver(policy, ("audit",))
    results = []
    for f in rep.findings:
        s = f.subject
        name = "/".join(str(s[k]) for k in ("owner", "region", "family", "image_id") if k in s)
        loc = {"physicalLocation": {"artifactLocation": {"uri": sources[0] if sources else "state"}},
               "logicalLocations": [{"fullyQualifiedName": name, "kind": "resource"}]}
        results.append(_result(f, index, [loc]))
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [{"tool": {"driver": driver}, "results": results}]}


def _escape_data(text: str) -> str:
    """Workflow-command escaping (``%``, CR, LF), then any other control character as ``\\xNN``."""
    return printable(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _escape_prop(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(severity: str, file: str, line: int | None, title: str, message: str) -> str:
    props = f"file={_escape_prop(file)}" + (f",line={line}" if line else "") + f",title={_escape_prop(title)}"
    return f"::{GITHUB.get(severity, 'warning')} {props}::{_escape_data(message)}"


def check_github(result: CheckResult) -> str:
    lines = []
    for s in result.steps:
        uri, line = _where(result, s.step)
        src = s.step.source or {}
        label = f"{src['address']}: " if src.get("kind") == "terraform" else ""
        for f in s.violations + s.warnings + s.notes:
            code = f" [{f.error_code}]" if f.error_code else ""
            lines.append(_annotation(f.severity, uri, line, f"imagefam {f.rule}",
                                     f"{label}step {s.step.index} {s.step.action}: {f.message}{code}"))
        for w in s.step.warnings:
            lines.append(_annotation("warn", uri, line, "imagefam unknown-parameter", f"{label}{w}"))
    return "".join(line + "\n" for line in lines)


def report_github(rep: Any, sources: list[str]) -> str:
    return "".join(_annotation(f.severity, sources[0] if sources else "state", None, f"imagefam {f.rule}",
                               f.message) + "\n" for f in rep.findings)
