"""Renderers: decisions and traces are data; these only format them (text, JSON, API body)."""

from __future__ import annotations

import json
from typing import Any

from ..rules.runtime import render
from .checker import CheckResult
from .models import Image
from .resolver import Trace


def tabulate(*args: Any, **kwargs: Any) -> str:
    """tabulate's table, imported on first use (a JSON output never needs it; start-up time)."""
    from tabulate import tabulate as table

    return str(table(*args, **kwargs))


def to_json_text(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _day(img: Image) -> str:
    return img.CreationTime.strftime("%Y-%m-%d")


def check_text(result: CheckResult) -> str:
    from .planformats import describe, skipped_summary

    sourced = any(s.step.source for s in result.steps)
    rows = []
    for s in result.steps:
        fired = [f.rule for f in s.violations] + [f"{f.rule} (warn)" for f in s.warnings]
        fired += ["unknown-parameter (warn)"] * len(s.step.warnings)
        target = getattr(s.step.request, "ImageId", None) or getattr(s.step.request, "ImageFamily", None) or ""
        rows.append([s.step.index, s.step.action, target, s.step.caller, "ALLOW" if s.allowed else "DENY",
                     "\n".join(fired) or "-", s.resolved_image_id or s.created_image_id or ""]
                    + ([describe(s.step.source)] if sourced else []))
    out = [tabulate(rows, headers=["step", "action", "target", "caller", "decision", "rules", "image"]
                    + (["from"] if sourced else []), tablefmt="simple")]
    for s in result.steps:
        if s.allowed and not s.warnings and not s.step.warnings:
            continue
        where = f" (line {s.step.line})" if s.step.line else ""
        if s.step.source and s.step.source.get("kind") == "terraform":
            where = f" ({describe(s.step.source)})"
        out.append(f"\nstep {s.step.index} {s.step.action}{where}: {'denied' if not s.allowed else 'allowed with warnings'}")
        for f in s.violations:
            code = f" [{f.error_code}]" if f.error_code else ""
            out.append(f"  DENY {f.rule}{code}: {f.message}")
            for text, value in f.evidence:
                out.append(f"       {text} = {value}")
            if f.cites:
                out.append(f"       cites: {f.cites}")
        for f in s.warnings:
            out.append(f"  WARN {f.rule}: {f.message}")
        for w in s.step.warnings:
            out.append(f"  WARN unknown-parameter: {w}")
    notes = sorted({f.message for s in result.steps for f in s.notes})
    if notes:
        out.append("")
        out.extend(f"note: {n}" for n in notes)
    if result.family_changes:
        ties = any(c.tie for c in result.family_changes)
        rows = [[c.step, c.region, c.family, c.viewer or c.owner or "", c.before or "(none)", c.after or "(none)"]
                + (["tie" if c.tie else ""] if ties else [])
                for c in result.family_changes]
        out.append("\nfamily resolution changes:")
        out.append(tabulate(rows, headers=["step", "region", "family", "seen by", "before", "after"]
                            + (["tie"] if ties else []), tablefmt="simple"))
        if ties:
            out.append("tie: before or after the step, several Available images share the newest CreationTime; "
                       "ECS documents no tie rule, so the server's pick may differ")
    denied = sum(not s.allowed for s in result.steps)
    out.append(f"\n{len(result.steps)} steps: {len(result.steps) - denied} allowed, {denied} denied")
    summary = skipped_summary(result.skipped)
    if summary:
        out.append(summary)
    return "\n".join(out) + "\n"


def trace_text(trace: Trace) -> str:
    head = f"family {trace.family} in {trace.region} for caller {trace.caller}: "
    out = [head + (f"{trace.image.ImageId} ({trace.image.ImageName or 'no name'}, created "
                   f"{render(trace.image.CreationTime)})" if trace.image else "no image")]
    if not trace.candidates:
        out.append(f"  no image in {trace.region} has family {trace.family!r} (by its own name)")
    rows = []
    for c in trace.candidates:
        if c.verdict == "excluded":
            why = f"excluded: {c.requirement} — {c.reason}"
        else:
            why = f"{c.verdict}: {c.reason}"
        rows.append([c.image.ImageId, _day(c.image), c.image.Status, why])
    if rows:
        out.append(tabulate(rows, tablefmt="plain"))
    out.append(f"order: {trace.order}; requirements: {', '.join(trace.requirements)}")
    if trace.tie:
        out.append(f"warning: tie: more than one eligible image shares the newest {trace.order.split(' ')[0]}; "
                   "ECS documents no tie rule, so the server's pick may differ")
    return "\n".join(out) + "\n"


def api_body(trace: Trace) -> dict[str, Any]:
    """What DescribeImageFromFamily would return to the caller: ``{"Image": {...}}`` or ``{}``."""
    img = trace.image
    if img is None:
        return {}
    alias: str
    if img.ImageOwnerAlias is not None:
        alias = img.ImageOwnerAlias
    else:
        alias = "self" if img.ImageOwnerId == trace.caller else "others"
    body: dict[str, Any] = {
        "ImageId": img.ImageId, "ImageName": img.ImageName or "", "ImageFamily": trace.family,
        "ImageOwnerAlias": alias, "CreationTime": render(img.CreationTime), "Status": img.Status,
        "Description": img.Description or "",
        "Tags": {"Tag": [{"TagKey": k, "TagValue": v} for k, v in sorted((img.Tags or {}).items())]},
    }
    return {"Image": body}


# ---- reports ----


def _group_key(f: Any) -> tuple[str, str, str]:
    s = f.subject
    return (s.get("owner", "(public)"), s.get("region", "-"), s.get("family", "-"))


def _summary_rows(rep: Any) -> list[list[Any]]:
    counts: dict[str, dict[str, int]] = {}
    for f in rep.findings:
        counts.setdefault(f.rule, {"deny": 0, "warn": 0, "info": 0})[f.severity] += 1
    return [[rule, c["deny"], c["warn"], c["info"]] for rule, c in sorted(counts.items())]


def report_text(rep: Any, markdown: bool = False) -> str:
    fmt = "github" if markdown else "simple"
    s = rep.summary()
    sev = s["by_severity"]
    head = (f"{s['images']} images, {s['families']} families, {s['accounts']} account-regions: "
            f"{sev['deny']} deny, {sev['warn']} warn, {sev['info']} info")
    out = [f"## imagefam compliance report\n\n{head}\n" if markdown else f"imagefam compliance report: {head}\n"]
    if rep.findings:
        out.append(tabulate(_summary_rows(rep), headers=["rule", "deny", "warn", "info"], tablefmt=fmt))
    groups: dict[tuple[str, str, str], list[Any]] = {}
    for f in rep.findings:
        groups.setdefault(_group_key(f), []).append(f)
    for (owner, region, family), items in groups.items():
        title = f"account {owner} / region {region} / family {family}"
        out.append(f"\n### {title}\n" if markdown else f"\n{title}")
        for f in items:
            subject = f" ({f.subject['image_id']})" if "image_id" in f.subject else ""
            if markdown:
                out.append(f"- **{f.severity.upper()}** `{f.rule}`{subject}: {f.message}")
            else:
                out.append(f"  {f.severity.upper():4} {f.rule}{subject}: {f.message}")
    if not rep.findings:
        out.append("no findings")
    return "\n".join(out) + "\n"


def junit_xml(suite: str, cases: list[tuple[str, str, list[tuple[str, str]]]]) -> str:
    """JUnit XML: ``cases`` are (classname, name, [(severity, message)]); deny -> failure, others -> system-out."""
    from xml.etree import ElementTree as ET

    failures = sum(1 for _, _, msgs in cases if any(s == "deny" for s, _ in msgs))
    root = ET.Element("testsuites", name="imagefam", tests=str(len(cases)), failures=str(failures))
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(cases)), failures=str(failures),
                       errors="0", skipped="0")
    for classname, name, msgs in cases:
        tc = ET.SubElement(ts, "testcase", classname=classname, name=name)
        denies = [m for s, m in msgs if s == "deny"]
        if denies:
            fail = ET.SubElement(tc, "failure", message=denies[0][:200], type="deny")
            fail.text = "\n".join(denies)
        others = [f"{s}: {m}" for s, m in msgs if s != "deny"]
        if others:
            ET.SubElement(tc, "system-out").text = "\n".join(others)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def report_junit(rep: Any, rule_ids: list[str]) -> str:
    """One test case per audit rule: failed when it has deny findings."""
    by_rule: dict[str, list[tuple[str, str]]] = {r: [] for r in rule_ids}
    for f in rep.findings:
        by_rule.setdefault(f.rule, []).append((f.severity, f.message))
    return junit_xml("imagefam report", [("imagefam.audit", rule, msgs) for rule, msgs in by_rule.items()])


def check_junit(result: CheckResult) -> str:
    """One test case per plan step: failed when the step is denied."""
    from .planformats import describe

    cases = []
    for s in result.steps:
        msgs = [("deny", f"{f.rule}: {f.message}" + (f" [{f.error_code}]" if f.error_code else ""))
                for f in s.violations]
        msgs += [("warn", f"{f.rule}: {f.message}") for f in s.warnings]
        where = f" ({describe(s.step.source)})" if s.step.source else ""
        cases.append(("imagefam.check", f"step {s.step.index} {s.step.action}{where}", msgs))
    return junit_xml("imagefam check", cases)


# ---- diffs ----


def _cell(value: str | None, markdown: bool) -> str:
    text = "(none)" if value is None else value
    return text.replace("|", "\\|") if markdown else text


def diff_text(d: Any, markdown: bool = False) -> str:
    """A :class:`~imagefam.engine.diff.Diff` as text, or as markdown for a pull request or chat."""
    fmt = "github" if markdown else "simple"
    counts = (f"{len(d.resolution_changes)} resolution changes; images: {len(d.added)} added, "
              f"{len(d.removed)} removed, {len(d.status)} status, {len(d.family)} family, "
              f"{len(d.sharing)} sharing changes")
    title = f"{d.old_source} -> {d.new_source}"
    out = [f"## imagefam diff\n\n`{title}`: {counts}" if markdown else f"imagefam diff {title}: {counts}"]
    if d.empty:
        out.append("\nno changes")
        return "\n".join(out) + "\n"

    def section(name: str) -> None:
        out.append(f"\n### {name}\n" if markdown else f"\n{name}:")

    def ids(values: list[str]) -> str:
        return ", ".join(f"`{v}`" if markdown else v for v in values)

    if d.resolution_changes:
        section("what families resolve to")
        with_consumers = any(c.consumers is not None for c in d.resolution_changes)
        rows = [[_cell(c.region, markdown), _cell(c.family, markdown), _cell(c.viewer, markdown),
                 _cell(c.before, markdown), _cell(c.after, markdown)]
                + ([_cell(", ".join(c.consumers or ()) or "-", markdown)] if with_consumers else [])
                for c in d.resolution_changes]
        headers = ["region", "family", "seen by", "before", "after"] + (["moves"] if with_consumers else [])
        out.append(tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True))
        if any(c.viewer == "*" for c in d.resolution_changes):
            out.append(("\n" if markdown else "") + "seen by * means any other account (public and community images)")
    if d.added:
        section("added images")
        out.append(ids(d.added))
    if d.removed:
        section("removed images")
        out.append(ids(d.removed))
    for name, items in (("status changes", d.status), ("family changes", d.family)):
        if items:
            section(name)
            out.append(tabulate([[_cell(c.image_id, markdown), _cell(c.before, markdown), _cell(c.after, markdown)]
                                 for c in items], headers=["image", "before", "after"], tablefmt=fmt,
                                disable_numparse=True))
    if d.sharing:
        section("sharing changes")
        rows = [[_cell(c.image_id, markdown), _cell(", ".join(c.added) or "-", markdown),
                 _cell(", ".join(c.removed) or "-", markdown),
                 f"{'true' if c.public_before else 'false'} -> {'true' if c.public_after else 'false'}"]
                for c in d.sharing]
        out.append(tabulate(rows, headers=["image", "shared with", "unshared from", "community"], tablefmt=fmt,
                            disable_numparse=True))
    return "\n".join(out) + "\n"
