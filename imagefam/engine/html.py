"""The HTML report: one self-contained page with a timeline per family and region.

The page is built from Jinja2 templates (``templates/``, autoescaping on) out of plain view data
computed here: per (account, family) one SVG timeline with a row per region on a shared time axis,
a mark per image whose shape and colour say its status, the image the family resolves to for its
owner ringed and labelled (the same :class:`~.resolver.Resolver` as ``resolve`` and the audit rules),
ties flagged, and what sharees and the community launch noted where it differs.

The page fetches nothing (a Content-Security-Policy forbids it) and runs no script. Every value
from the state is text: autoescaping turns markup into entities, and control and bidirectional
characters are shown as ``\\xNN`` / ``\\uNNNN`` escapes (see :func:`visible_text`).

Large states: timelines are drawn for at most ``MARK_BUDGET`` images (families with deny findings
first, then warn, then the largest); the other families get one table row each with their counts
and what they resolve to. Only the first ``OPEN_FAMILIES`` timelines are expanded.
"""

from __future__ import annotations

import gc
import operator
import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from markupsafe import Markup

from .. import progress
from ..rules.ast import SEVERITIES
from ..rules.compiled import Policy
from ..rules.runtime import format_time
from .evaluation import Finding
from .models import Image
from .policy import load_policy
from .report import Report
from .resolver import Resolver
from .state import State

#: At most this many image marks are drawn in timelines over the whole page.
MARK_BUDGET = 40_000
#: Timelines beyond the first this many families start collapsed.
OPEN_FAMILIES = 25
#: At most this many findings are listed (deny first, then warn, then info); all are counted.
FINDINGS_CAP = 20_000
#: With at most this many findings every group of findings is open; beyond, only those with deny.
FINDINGS_OPEN = 30
#: At most this many sharees' views are worked out per region row.
SHAREE_VIEWS = 10
#: At most this many notes on what sharees or the community launch, per family.
VIEW_NOTES = 6
#: Families named in the summary per severity.
SUMMARY_LINKS = 50

STATUSES = ("Available", "Deprecated", "Creating", "Waiting", "UnAvailable", "CreateFailed")
STATUS_CLASS = {"Available": "av", "Deprecated": "dp", "Creating": "cr", "Waiting": "wt",
                "UnAvailable": "un", "CreateFailed": "cf"}
STATUS_SHAPE = {"Available": "filled circle", "Deprecated": "cross", "Creating": "hollow triangle",
                "Waiting": "hollow triangle", "UnAvailable": "filled square", "CreateFailed": "diamond"}
COMMUNITY = "(anyone else)"  # the caller standing for every account the image is not shared with

# geometry of a timeline (SVG user units)
GUTTER, PLOT, RIGHT, ROW, TOP = 150, 680, 50, 40, 26
LABEL_CHARS, CHAR_WIDTH = 110, 7.4  # label length limit; average width of a 12px bold character

_STATUS = operator.attrgetter("Status")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def _escape_char(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible_text(value: Any) -> Any:
    """Control, zero-width and bidirectional characters as visible escapes (other values unchanged)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return _CONTROL.sub(_escape_char, value)
    return value


@cache
def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("imagefam.engine", "templates"), autoescape=True,
                      finalize=visible_text, undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True)
    return env


@dataclass
class Mark:
    x: str
    image: Image
    cls: str
    chosen: bool = False
    tied: bool = False

    @property
    def created(self) -> str:
        return self.image.CreationTime.strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass
class Row:
    region: str
    anchor: str
    y: int
    marks: list[Mark]
    counts: dict[str, int]
    chosen: Image | None
    chosen_x: float | None = None
    tie: list[str] = field(default_factory=list)  # the other images tied with the chosen one
    views: list[tuple[str, Image | None]] = field(default_factory=list)  # (viewer, what it launches)
    views_skipped: int = 0
    label: str = ""
    label_x: str = ""
    label_anchor: str = "start"


@dataclass
class FamilyView:
    anchor: str
    owner: str | None
    owner_label: str
    name: str
    images: int
    rows: list[Row]
    counts: dict[str, int]  # findings by severity
    findings_anchor: str | None
    sharees: list[str]
    community: bool
    detailed: bool = False
    open: bool = False
    shared_unknown: bool = False  # shared with accounts the snapshot does not list (IsSelfShared)
    ticks: list[tuple[str, str]] = field(default_factory=list)  # (x, date)
    height: int = 0

    @property
    def views_skipped(self) -> int:
        return sum(r.views_skipped for r in self.rows)

    @property
    def sharee_views(self) -> int:
        return SHAREE_VIEWS

    def view_notes(self) -> list[tuple[Row, str, Image | None]]:
        """Where a sharee or the community launches another image than the owner, row by row."""
        return [(r, viewer, got) for r in self.rows for viewer, got in r.views]

    @property
    def worst(self) -> str | None:
        return next((s for s in SEVERITIES if self.counts.get(s)), None)


@dataclass
class FindingGroup:
    anchor: str
    title: str
    target: str | None  # anchor of the family (or account) it is about
    findings: list[Finding]

    @property
    def counts(self) -> dict[str, int]:
        return _counts(self.findings)


def _owner_label(owner: str | None, images: Iterable[Image]) -> str:
    if owner is not None:
        return f"account {owner}"
    aliases = sorted({i.ImageOwnerAlias or "public" for i in images})
    return "public images (" + ", ".join(aliases) + ")"


def _ticks(t0: datetime, span: float) -> list[tuple[str, str]]:
    fmt = "%Y-%m-%d" if span >= 8 * 86400 else "%m-%d %H:%M"
    out = []
    for k in range(5):
        t = t0 + timedelta(seconds=span * k / 4)
        out.append((f"{GUTTER + PLOT * k / 4:.1f}", t.strftime(fmt)))
    return out


def _clip(text: str, n: int = LABEL_CHARS) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _label(row: Row, x: float) -> None:
    """The chosen image's label: its text, and where it fits (an estimate: SVG text has no width
    until a browser lays it out, and the page runs no script)."""
    img = row.chosen
    assert img is not None
    text = f"launches {img.ImageId}" + (f" ({img.ImageName})" if img.ImageName else "")
    if row.tie:
        text += " · tie with " + ", ".join(row.tie)
    row.label = _clip(text)
    width = CHAR_WIDTH * len(row.label)
    if x - 6 + width <= GUTTER + PLOT + RIGHT:
        row.label_x, row.label_anchor = f"{x - 6:.1f}", "start"
    elif x + 6 - width >= 0:
        row.label_x, row.label_anchor = f"{x + 6:.1f}", "end"
    else:
        row.label_x, row.label_anchor = "4", "start"


def _region_rows(fam: FamilyView, by_region: dict[str, list[Image]], resolver: Resolver,
                 owner_caller: str) -> None:
    imgs = [i for v in by_region.values() for i in v]
    fam.sharees = sorted({s for i in imgs for s in i.SharedWith})
    fam.community = any(i.IsPublic for i in imgs)
    fam.shared_unknown = any(i.SharedWithUnknown for i in imgs)
    t0 = min(i.CreationTime for i in imgs)
    t1 = max(i.CreationTime for i in imgs)
    if t1 == t0:  # one instant: centre it on a two-day axis
        t0, t1 = t0 - timedelta(days=1), t1 + timedelta(days=1)
    span = (t1 - t0).total_seconds()
    fam.ticks = _ticks(t0, span)
    for n, (_region, images) in enumerate(sorted(by_region.items())):
        row = fam.rows[n]
        row.y = TOP + n * ROW
        chosen = row.chosen
        marks = []
        for img in sorted(images, key=lambda i: (i.CreationTime, i.ImageId)):
            x = GUTTER + PLOT * (img.CreationTime - t0).total_seconds() / span
            m = Mark(f"{x:.1f}", img, STATUS_CLASS.get(img.Status, "un"), chosen=img is chosen,
                     tied=img.ImageId in row.tie)
            if m.chosen:
                row.chosen_x = x
                _label(row, x)
            marks.append(m)
        # the chosen mark is drawn last, so nothing covers it
        marks.sort(key=lambda m: m.chosen)
        row.marks = marks
        if chosen is not None and fam.owner is not None:
            _views(fam, row, images, resolver, owner_caller)
    fam.height = TOP + len(fam.rows) * ROW + 4


def _views(fam: FamilyView, row: Row, images: list[Image], resolver: Resolver, owner: str) -> None:
    """What sharees and the community launch from ``acs:<owner>:<family>``, where it differs."""
    sharees = sorted({s for i in images for s in i.SharedWith if s != owner})
    public = any(i.IsPublic for i in images)
    name = f"acs:{owner}:{fam.name}"
    viewers = sharees[:SHAREE_VIEWS] + ([COMMUNITY] if public else [])
    row.views_skipped = max(0, len(sharees) - SHAREE_VIEWS)
    for viewer in viewers:
        got = resolver.image(name, row.region, viewer)
        if got is not row.chosen:
            row.views.append((viewer, got))


def _tie(resolver: Resolver, family: str, region: str, caller: str, chosen: Image,
         images: list[Image]) -> list[str]:
    """The images tied with ``chosen``, confirmed by the resolver's trace (only traced when the
    family has another Available image with the same CreationTime)."""
    when = chosen.CreationTime
    if sum(1 for i in images if i.CreationTime == when and i.Status == "Available") < 2:
        return []
    trace = resolver.trace(family, region, caller)
    if not trace.tie:
        return []
    return [c.image.ImageId for c in trace.candidates
            if c.verdict == "eligible" and c.image.CreationTime == chosen.CreationTime]


def _counts(items: Iterable[Finding]) -> dict[str, int]:
    """Findings by severity, every severity present."""
    c: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
    for f in items:
        c[f.severity] = c.get(f.severity, 0) + 1
    return c


#: (owner, family) -> region -> images
Groups = defaultdict[tuple[str | None, str], dict[str, list[Image]]]
#: The findings about a family, about an account, and about neither.
FindingsBySubject = tuple[dict[tuple[str | None, str], list[Finding]], dict[str, list[Finding]], list[Finding]]


def _group_images(state: State, regions: Collection[str] | None = None) -> tuple[Groups, int]:
    """The images of each family by region (of ``regions`` only, when given), and how many images
    are in no family."""
    flat: defaultdict[tuple[str | None, str, str], list[Image]] = defaultdict(list)
    no_family = 0
    for img in state.images if regions is None else state.images.in_regions(regions):
        if img.ImageFamily is None:
            no_family += 1
            continue
        flat[(img.ImageOwnerId, img.ImageFamily, img.RegionId)].append(img)
    groups: Groups = defaultdict(dict)
    for (owner, name, region), imgs in flat.items():
        groups[(owner, name)][region] = imgs
    return groups, no_family


def _by_subject(findings: Iterable[Finding]) -> FindingsBySubject:
    fam_findings: dict[tuple[str | None, str], list[Finding]] = {}
    acct_findings: dict[str, list[Finding]] = {}
    loose: list[Finding] = []
    for f in findings:
        s = f.subject
        if "family" in s:
            fam_findings.setdefault((s.get("owner"), s["family"]), []).append(f)
        elif "owner" in s:
            acct_findings.setdefault(s["owner"], []).append(f)
        else:
            loose.append(f)
    return fam_findings, acct_findings, loose


def _family_views(groups: Groups, fam_findings: dict[tuple[str | None, str], list[Finding]]) -> list[FamilyView]:
    """One view a family, most denied first, with its anchor (rows not laid out yet)."""
    fams: list[FamilyView] = []
    for (owner, name), by_region in groups.items():
        fc = _counts(fam_findings.get((owner, name), []))
        size = sum(len(v) for v in by_region.values())
        label = _owner_label(owner, () if owner is not None else (i for v in by_region.values() for i in v))
        fams.append(FamilyView("", owner, label, name, size, [], fc, None, [], False))
    fams.sort(key=lambda f: (-f.counts["deny"], -f.counts["warn"], -f.images, f.owner or "", f.name))
    for n, fam in enumerate(fams):
        fam.anchor = f"family-{n + 1}"
    return fams


def _lay_out(fams: list[FamilyView], groups: Groups, resolver: Resolver | None, mark_budget: int) -> int:
    """A row a region for every family; families drawn image by image while the budget of marks
    lasts. Returns the marks drawn."""
    budget = mark_budget
    opened = 0
    bar = progress.Bar("laying out the page", sum(f.images for f in fams), unit="image")
    for fam in fams:
        by_region = groups[(fam.owner, fam.name)]
        caller = fam.owner or ""
        for m, (region, images) in enumerate(sorted(by_region.items())):
            chosen = resolver.image(fam.name, region, caller) if resolver else None
            c = dict.fromkeys(STATUSES, 0)
            c.update(Counter(map(_STATUS, images)))
            row = Row(region, f"{fam.anchor}-r{m + 1}", 0, [], c, chosen)
            if chosen is not None and resolver is not None:
                row.tie = _tie(resolver, fam.name, region, caller, chosen, images)
            fam.rows.append(row)
        if fam.images <= budget and resolver is not None:
            budget -= fam.images
            fam.detailed = True
            fam.open = opened < OPEN_FAMILIES
            opened += 1
            _region_rows(fam, by_region, resolver, caller)
        bar.update(fam.images)
    bar.close()
    return mark_budget - budget


def _finding_groups(all_findings: list[Finding], subjects: FindingsBySubject,
                    fams: list[FamilyView]) -> tuple[list[FindingGroup], dict[str, int]]:
    """Findings grouped as the text report groups them, deny groups first, capped (the omitted
    counted by severity); each family view gets the anchor of its group."""
    fam_findings, acct_findings, loose = subjects
    by_key = {(f.owner, f.name): f for f in fams}
    anchors = {k: f.anchor for k, f in by_key.items()}
    ordered = sorted(all_findings, key=lambda f: SEVERITIES.index(f.severity))
    listed_ids = {id(f) for f in ordered[:FINDINGS_CAP]}
    omitted = _counts(ordered[FINDINGS_CAP:])
    fgroups: list[FindingGroup] = []
    for key, items in sorted(fam_findings.items(), key=lambda kv: (
            -_counts(kv[1])["deny"], -_counts(kv[1])["warn"], kv[0][0] or "", kv[0][1])):
        shown = [f for f in items if id(f) in listed_ids]
        if not shown:
            continue
        owner, name = key
        g = FindingGroup(f"findings-{len(fgroups) + 1}", f"{_owner_label(owner, [])} · family {name}",
                         anchors.get(key), shown)
        fgroups.append(g)
        if key in by_key:
            by_key[key].findings_anchor = g.anchor
    for owner, items in sorted(acct_findings.items()):
        shown = [f for f in items if id(f) in listed_ids]
        if shown:
            fgroups.append(FindingGroup(f"findings-{len(fgroups) + 1}", f"account {owner}", None, shown))
    if loose:
        shown = [f for f in loose if id(f) in listed_ids]
        if shown:
            fgroups.append(FindingGroup(f"findings-{len(fgroups) + 1}", "other", None, shown))
    return fgroups, omitted


def build(state: State, rep: Report, policy: Policy, *, title: str = "imagefam report",
          sources: Iterable[str] = (), mark_budget: int = MARK_BUDGET) -> dict[str, Any]:
    """The view data of the page (plain values; the template formats them)."""
    # the report's resolver when it answered about these very images (a report that ran again on
    # every image holds one over them, not over ``state``'s pruned store)
    resolver = rep.resolver if isinstance(rep.resolver, Resolver) and rep.resolver.images is state.images else (
        Resolver(policy, state.images, state.taken_at, memo=True, now=state.now) if policy.resolution else None)
    groups, no_family = _group_images(state, rep.regions)
    subjects = _by_subject(rep.findings)
    fams = _family_views(groups, subjects[0])
    drawn = _lay_out(fams, groups, resolver, mark_budget)
    fgroups, omitted = _finding_groups(rep.findings, subjects, fams)
    deny_fams = [f for f in fams if f.counts["deny"]]
    warn_fams = [f for f in fams if not f.counts["deny"] and f.counts["warn"]]
    compact = [f for f in fams if not f.detailed]
    return {
        "title": title,
        "sources": list(sources),
        "regions": list(rep.regions) if rep.regions is not None else None,
        "taken_at": format_time(state.taken_at) if state.taken_at else None,
        "summary": rep.summary(),
        "severities": SEVERITIES,
        "no_family": no_family,
        "deny_families": deny_fams[:SUMMARY_LINKS], "deny_more": max(0, len(deny_fams) - SUMMARY_LINKS),
        "warn_families": warn_fams[:SUMMARY_LINKS], "warn_more": max(0, len(warn_fams) - SUMMARY_LINKS),
        "families": [f for f in fams if f.detailed],
        "compact": compact,
        "compact_groups": _compact_groups(compact),
        "drawn": drawn, "mark_budget": mark_budget, "open_families": OPEN_FAMILIES,
        "finding_groups": fgroups, "findings_open_all": len(rep.findings) <= FINDINGS_OPEN, "omitted": omitted,
        "omitted_total": sum(omitted.values()),
        "statuses": [(s, STATUS_CLASS[s], STATUS_SHAPE[s]) for s in STATUSES],
        "geometry": {"gutter": GUTTER, "plot": PLOT, "right": RIGHT, "row": ROW, "top": TOP,
                     "width": GUTTER + PLOT + RIGHT, "mid": GUTTER + PLOT / 2},
        "community": COMMUNITY, "view_notes": VIEW_NOTES,
        "has_resolution": resolver is not None,
        "consumers": rep.consumers,  # per family: scaling configurations (Active) and instances
    }


def _compact_groups(fams: list[FamilyView]) -> list[tuple[str, int, int, str, list[tuple[Any, ...]]]]:
    """The families without a timeline by account, in the order of their first family:
    (account, families, images, findings text, rows). Each account's table starts collapsed, so
    a browser lays out only what is opened."""
    by_owner: dict[str, list[FamilyView]] = {}
    for f in fams:
        by_owner.setdefault(f.owner_label, []).append(f)
    out = []
    for label, items in by_owner.items():
        sev = {s: sum(f.counts.get(s, 0) for f in items) for s in SEVERITIES}
        found = ", ".join(f"{n:,} {s}" for s, n in sev.items() if n)
        out.append((label, len(items), sum(f.images for f in items), found, _compact_rows(items)))
    return out


def _compact_rows(fams: list[FamilyView]) -> list[tuple[Any, ...]]:
    """The table of families without a timeline, one plain tuple per region (fast to render):
    (anchor, account, family, region, images, Available, Deprecated, other, launches, tie,
    findings anchor, findings text)."""
    out = []
    for f in fams:
        found = " ".join(f"{f.counts[s]} {s}" for s in SEVERITIES if f.counts.get(s))
        for n, r in enumerate(f.rows):
            total = sum(r.counts.values())
            av, dp = r.counts.get("Available", 0), r.counts.get("Deprecated", 0)
            out.append((f.anchor if n == 0 else None, f.owner_label, f.name, r.region, total, av, dp,
                        total - av - dp, r.chosen.ImageId if r.chosen else None, bool(r.tie),
                        f.findings_anchor if n == 0 else None, found if n == 0 else ""))
    return out


def report_html(state: State, rep: Report, policy: Policy | None = None, *, sources: Iterable[str] = (),
                mark_budget: int = MARK_BUDGET) -> str:
    """The HTML report of ``rep`` over ``state``: one self-contained page. At most ``mark_budget``
    images are drawn; the other families get a row each in a table."""
    # The page allocates a few million small objects and frees none until the end: without the
    # cycle collector's repeated passes over the state's million images it takes half the time.
    paused = gc.isenabled()
    gc.disable()
    try:
        view = build(state, rep, policy or load_policy(), sources=sources, mark_budget=mark_budget)
        with progress.stage("writing the page"):
            return str(_environment().get_template("report.html.j2").render(**view))
    finally:
        if paused:
            gc.enable()
