"""Renderers: decisions and traces are data; these only format them (text, JSON, API body)."""

from __future__ import annotations

import json
from typing import Any

from ..rules.runtime import format_time
from .models import Consumer, Image
from .preflight import CheckResult, FamilyChange, StepResult
from .resolver import Trace

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: C0 controls, DEL, C1 controls and the Unicode line/paragraph separators, shown as escapes.
_CONTROLS = {c: _NAMED.get(chr(c), f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}")
             for c in [*range(0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029]}


def printable(value: object) -> str:
    """``value`` as text with every control character escaped (``\\n``, ``\\x1b``, ...): values from
    states, plans and rules never start a new line (a CI log would obey ``::error``) nor reach a
    terminal as an escape sequence. For text, markdown and table outputs; JSON escapes its own."""
    return str(value).translate(_CONTROLS)


def keep_lines(text: str) -> str:
    """Like :func:`printable`, but the text's own line breaks stay (for multi-line messages)."""
    return "\n".join(printable(line) for line in text.split("\n"))


_p = printable


def tabulate(*args: Any, **kwargs: Any) -> str:
    """tabulate's table, imported on first use (a JSON output never needs it), and not at all for
    a ``simple`` table of plain cells (see :mod:`.simpletable`; start-up time)."""
    if len(args) == 1 and kwargs.keys() == {"headers", "tablefmt"} and kwargs["tablefmt"] == "simple":
        from .simpletable import simple_table

        text = simple_table(args[0], kwargs["headers"])
        if text is not None:
            return text
    from tabulate import tabulate as table

    return str(table(*args, **kwargs))


def to_json_text(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _day(img: Image) -> str:
    return img.CreationTime.strftime("%Y-%m-%d")


def check_text(result: CheckResult) -> str:
    from .planformats import skipped_summary

    out = [_steps_table(result)]
    for s in result.steps:
        if s.allowed and not s.warnings and not s.step.warnings:
            continue
        out.extend(_step_findings(s))
    notes = sorted({_p(f.message) for s in result.steps for f in s.notes})
    if notes:
        out.append("")
        out.extend(f"note: {n}" for n in notes)
    if result.family_changes:
        out.extend(_family_changes_text(result.family_changes))
    consumers = [(s.step.index, c) for s in result.steps for c in s.consumers]
    if consumers:  # another account's: its account and a count, never ids
        rows = [[i, c.Kind, c.Id if c.Id is not None else f"{c.Count} of account {c.OwnerId}", c.RegionId,
                 c.ImageFamily or "", c.Before or "(none)", c.After or "(none)"] for i, c in consumers]
        out.append("\nwho launches from another image after the step (scaling configurations and instances):")
        out.append(tabulate(rows, headers=["step", "kind", "id", "region", "family", "before", "after"],
                            tablefmt="simple"))
    denied = sum(not s.allowed for s in result.steps)
    out.append(f"\n{len(result.steps)} steps: {len(result.steps) - denied} allowed, {denied} denied")
    summary = skipped_summary(result.skipped)
    if summary:
        out.append(summary)
    return "\n".join(out) + "\n"


def _steps_table(result: CheckResult) -> str:
    """One row per step: action, target, caller, decision, the rules that fired, the image."""
    from .planformats import describe

    sourced = any(s.step.source for s in result.steps)
    rows = []
    for s in result.steps:
        fired = [_p(f.rule) for f in s.violations] + [f"{_p(f.rule)} (warn)" for f in s.warnings]
        fired += ["unknown-parameter (warn)"] * len(s.step.warnings)
        target = getattr(s.step.request, "ImageId", None) or getattr(s.step.request, "ImageFamily", None) or ""
        rows.append([s.step.index, _p(s.step.action), _p(target), _p(s.step.caller), "ALLOW" if s.allowed else "DENY",
                     "\n".join(fired) or "-", _p(s.resolved_image_id or s.created_image_id or "")]
                    + ([_p(describe(s.step.source))] if sourced else []))
    return tabulate(rows, headers=["step", "action", "target", "caller", "decision", "rules", "image"]
                    + (["from"] if sourced else []), tablefmt="simple")


def _step_findings(s: StepResult) -> list[str]:
    """A denied or warned step's lines: each denial with its evidence and citation, each warning."""
    from .planformats import describe

    where = f" (line {s.step.line})" if s.step.line else ""
    if s.step.source and s.step.source.get("kind") == "terraform":
        where = f" ({_p(describe(s.step.source))})"
    out = [f"\nstep {s.step.index} {_p(s.step.action)}{where}: "
           f"{'denied' if not s.allowed else 'allowed with warnings'}"]
    for f in s.violations:
        code = f" [{_p(f.error_code)}]" if f.error_code else ""
        out.append(f"  DENY {_p(f.rule)}{code}: {_p(f.message)}")
        for text, value in f.evidence:
            out.append(f"       {_p(text)} = {_p(value)}")
        if f.cites:
            out.append(f"       cites: {_p(f.cites)}")
    for f in s.warnings:
        out.append(f"  WARN {_p(f.rule)}: {_p(f.message)}")
    for w in s.step.warnings:
        out.append(f"  WARN unknown-parameter: {_p(w)}")
    return out


def _family_changes_text(changes: list[FamilyChange]) -> list[str]:
    """The family resolution changes table, and what a tie means when there is one."""
    ties = any(c.tie for c in changes)
    rows = [[c.step, _p(c.region), _p(c.family), _p(c.viewer or c.owner or ""), _p(c.before or "(none)"),
             _p(c.after or "(none)")] + (["tie" if c.tie else ""] if ties else [])
            for c in changes]
    out = ["\nfamily resolution changes:",
           tabulate(rows, headers=["step", "region", "family", "seen by", "before", "after"]
                    + (["tie"] if ties else []), tablefmt="simple")]
    if ties:
        out.append("tie: before or after the step, several Available images share the newest CreationTime; "
                   "ECS documents no tie rule, so the server's pick may differ")
    return out


def consumers_text(consumers: list[Consumer]) -> str:
    """``resolve``'s text lines for who launches from the resolved image (empty when nobody)."""
    if not consumers:
        return ""
    out = ["launched from by (scaling configurations and instances):"]
    out += [f"  {c.Label}" for c in consumers]
    return "\n".join(out) + "\n"


def trace_text(trace: Trace) -> str:
    head = f"family {_p(trace.family)} in {_p(trace.region)} for caller {_p(trace.caller)}: "
    out = [head + (f"{_p(trace.image.ImageId)} ({_p(trace.image.ImageName or 'no name')}, created "
                   f"{format_time(trace.image.CreationTime)})" if trace.image else "no image")]
    if not trace.candidates:
        out.append(f"  no image in {_p(trace.region)} has family {_p(repr(trace.family))} (by its own name)")
    rows = []
    for c in trace.candidates:
        if c.verdict == "excluded":
            why = f"excluded: {c.requirement} — {c.reason}"
        else:
            why = f"{c.verdict}: {c.reason}"
        rows.append([_p(c.image.ImageId), _day(c.image), _p(c.image.Status), _p(why)])
    if rows:
        out.append(tabulate(rows, tablefmt="plain"))
    out.append(_p(f"order: {trace.order}; requirements: {', '.join(trace.requirements)}"))
    if trace.tie:
        out.append(f"warning: tie: more than one eligible image shares the newest {_p(trace.order.split(' ')[0])}; "
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
        "ImageOwnerAlias": alias, "CreationTime": format_time(img.CreationTime), "Status": img.Status,
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
    regions = getattr(rep, "regions", None)
    where = "" if regions is None else f" in {'region' if len(regions) == 1 else 'regions'} {', '.join(map(_p, regions))}"
    head = (f"{s['images']} images, {s['families']} families, {s['accounts']} account-regions{where}: "
            f"{sev['deny']} deny, {sev['warn']} warn, {sev['info']} info")
    out = [f"## imagefam compliance report\n\n{head}\n" if markdown else f"imagefam compliance report: {head}\n"]
    if rep.findings:
        out.append(tabulate([[_p(r[0]), *r[1:]] for r in _summary_rows(rep)], headers=["rule", "deny", "warn", "info"],
                            tablefmt=fmt))
    groups: dict[tuple[str, str, str], list[Any]] = {}
    for f in rep.findings:
        groups.setdefault(_group_key(f), []).append(f)
    for (owner, region, family), items in groups.items():
        title = f"account {_p(owner)} / region {_p(region)} / family {_p(family)}"
        out.append(f"\n### {title}\n" if markdown else f"\n{title}")
        for f in items:
            subject = f" ({_p(f.subject['image_id'])})" if "image_id" in f.subject else ""
            if markdown:
                out.append(f"- **{f.severity.upper()}** `{_p(f.rule)}`{subject}: {_p(f.message)}")
            else:
                out.append(f"  {f.severity.upper():4} {_p(f.rule)}{subject}: {_p(f.message)}")
    if not rep.findings:
        out.append("no findings")
    if getattr(rep, "consumers", None):
        out.append("\n### Who launches from each family\n" if markdown else "\nwho launches from each family:")
        rows = [[c["owner"], c["region"], c["family"], c["scaling_configurations"], c["active"], c["instances"]]
                for c in rep.consumers]
        out.append(tabulate(rows, headers=["owner", "region", "family", "scaling configurations", "active",
                                           "instances"], tablefmt=fmt))
    return "\n".join(out) + "\n"


def junit_xml(suite: str, cases: list[tuple[str, str, list[tuple[str, str]]]],
              *more: tuple[str, list[tuple[str, str, list[tuple[str, str]]]]]) -> str:
    """JUnit XML: ``cases`` are (classname, name, [(severity, message)]); deny -> failure, others -> system-out.
    ``more`` adds further (suite, cases) test suites."""
    from xml.etree import ElementTree as ET

    suites = [(suite, cases), *more]

    def failed(cs: list[tuple[str, str, list[tuple[str, str]]]]) -> int:
        return sum(1 for _, _, msgs in cs if any(s == "deny" for s, _ in msgs))

    root = ET.Element("testsuites", name="imagefam", tests=str(sum(len(cs) for _, cs in suites)),
                      failures=str(sum(failed(cs) for _, cs in suites)))
    for name_, cs in suites:
        ts = ET.SubElement(root, "testsuite", name=name_, tests=str(len(cs)), failures=str(failed(cs)),
                           errors="0", skipped="0")
        for classname, name, msgs in cs:
            tc = ET.SubElement(ts, "testcase", classname=classname, name=printable(name))
            denies = [printable(m) for s, m in msgs if s == "deny"]  # XML 1.0 has no place for controls
            if denies:
                fail = ET.SubElement(tc, "failure", message=denies[0][:200], type="deny")
                fail.text = "\n".join(denies)
            others = [f"{s}: {printable(m)}" for s, m in msgs if s != "deny"]
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


def check_junit(result: CheckResult, *more: CheckResult) -> str:
    """One test case per plan step: failed when the step is denied. With several results, one
    test suite per plan, named after its file."""
    from .planformats import describe

    def cases(r: CheckResult) -> list[tuple[str, str, list[tuple[str, str]]]]:
        out = []
        for s in r.steps:
            msgs = [("deny", f"{f.rule}: {f.message}" + (f" [{f.error_code}]" if f.error_code else ""))
                    for f in s.violations]
            msgs += [("warn", f"{f.rule}: {f.message}") for f in s.warnings]
            where = f" ({describe(s.step.source)})" if s.step.source else ""
            out.append(("imagefam.check", f"step {s.step.index} {s.step.action}{where}", msgs))
        return out

    if not more:
        return junit_xml("imagefam check", cases(result))
    return junit_xml(f"imagefam check {result.plan_source}", cases(result),
                     *((f"imagefam check {r.plan_source}", cases(r)) for r in more))


# ---- diffs ----


def _cell(value: str | None, markdown: bool) -> str:
    text = "(none)" if value is None else printable(value)
    return text.replace("|", "\\|") if markdown else text


def diff_text(d: Any, markdown: bool = False) -> str:
    """A :class:`~imagefam.engine.diff.Diff` as text, or as markdown for a pull request or chat."""
    fmt = "github" if markdown else "simple"
    counts = (f"{len(d.resolution_changes)} resolution changes; images: {len(d.added)} added, "
              f"{len(d.removed)} removed, {len(d.status)} status, {len(d.family)} family, "
              f"{len(d.sharing)} sharing changes")
    title = f"{_p(d.old_source)} -> {_p(d.new_source)}"
    out = [f"## imagefam diff\n\n`{title}`: {counts}" if markdown else f"imagefam diff {title}: {counts}"]
    if d.empty:
        out.append("\nno changes")
        return "\n".join(out) + "\n"

    def section(name: str) -> None:
        out.append(f"\n### {name}\n" if markdown else f"\n{name}:")

    def ids(values: list[str]) -> str:
        return ", ".join(f"`{_p(v)}`" if markdown else _p(v) for v in values)

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
