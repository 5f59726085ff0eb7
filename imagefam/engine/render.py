"""Renderers: decisions and traces are data; these only format them (text, JSON, API body)."""

from __future__ import annotations

import json
from typing import Any

from tabulate import tabulate

from ..rules.runtime import render
from .checker import CheckResult
from .models import Image
from .resolver import Trace


def to_json_text(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _day(img: Image) -> str:
    return img.CreationTime.strftime("%Y-%m-%d")


def check_text(result: CheckResult) -> str:
    rows = []
    for s in result.steps:
        fired = [f.rule for f in s.violations] + [f"{f.rule} (warn)" for f in s.warnings]
        fired += ["unknown-parameter (warn)"] * len(s.step.warnings)
        target = getattr(s.step.request, "ImageId", None) or getattr(s.step.request, "ImageFamily", None) or ""
        rows.append([s.step.index, s.step.action, target, s.step.caller, "ALLOW" if s.allowed else "DENY",
                     "\n".join(fired) or "-", s.resolved_image_id or s.created_image_id or ""])
    out = [tabulate(rows, headers=["step", "action", "target", "caller", "decision", "rules", "image"],
                    tablefmt="simple")]
    for s in result.steps:
        if s.allowed and not s.warnings and not s.step.warnings:
            continue
        where = f" (line {s.step.line})" if s.step.line else ""
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
        rows = [[c.step, c.region, c.family, c.viewer or c.owner or "", c.before or "(none)", c.after or "(none)"]
                for c in result.family_changes]
        out.append("\nfamily resolution changes:")
        out.append(tabulate(rows, headers=["step", "region", "family", "seen by", "before", "after"],
                            tablefmt="simple"))
    denied = sum(not s.allowed for s in result.steps)
    out.append(f"\n{len(result.steps)} steps: {len(result.steps) - denied} allowed, {denied} denied")
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
