"""What changed between two state snapshots: the images, and the image each family resolves to.

Images are matched by (ImageId, RegionId). A resolution is a (region, family name, viewer): the
name as the viewer uses it (its own name for the owner, ``acs:<owner>:<family>`` for a sharee) and
the viewer ``"*"`` for any other account, which sees public and community images only, as in
``check``'s ``family_changes``. Each is answered by the :class:`~imagefam.engine.resolver.Resolver`
of each snapshot, so ``diff`` and ``resolve`` cannot disagree about what a family resolves to.

Only resolutions that can have changed are computed. When the resolution policy's candidates are
``images where RegionId == region and ImageFamily == K and ...`` filters (a ``+`` of them, none
ever null) and nothing else in it reads the state or the time (the shipped one; see
:func:`~imagefam.rules.indexplan.family_keys`), a resolution can change only if an image its filters
pick was added, removed or changed and meets every requirement for that viewer (in either
snapshot). Otherwise every resolution of both snapshots is computed.

Consumers: ``diff_states(..., consumers=fn)``: ``fn(region, family, viewer)`` returns the
consumers a resolution change moves, and each change then carries them (and its JSON entry a
``consumers`` key). ``imagefam diff`` passes the new snapshot's scaling configurations that name
the family (:func:`~imagefam.engine.consumers.family_consumers`) when it lists any.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import progress
from ..rules.compiled import Policy, ReadKey
from ..rules.runtime import Fn
from .environment import EcsContext as Ctx
from .models import Image
from .preflight import COMMUNITY
from .resolver import Resolver
from .state import State

#: (region, family name as the viewer uses it, viewer)
View = tuple[str, str, str]
ConsumersOf = Callable[[str, str, str], Sequence[str]]


@dataclass(frozen=True)
class ResolutionChange:
    region: str
    family: str
    viewer: str
    before: str | None
    after: str | None
    consumers: tuple[str, ...] | None = None  # None: consumers unknown (not in the states)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"region": self.region, "family": self.family, "viewer": self.viewer,
                               "before": self.before, "after": self.after}
        if self.consumers is not None:
            out["consumers"] = list(self.consumers)
        return out


@dataclass(frozen=True)
class ValueChange:
    image_id: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class SharingChange:
    image_id: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    public_before: bool
    public_after: bool


@dataclass
class Diff:
    resolution_changes: list[ResolutionChange] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    status: list[ValueChange] = field(default_factory=list)
    family: list[ValueChange] = field(default_factory=list)
    sharing: list[SharingChange] = field(default_factory=list)
    old_source: str = ""
    new_source: str = ""

    @property
    def empty(self) -> bool:
        return not (self.resolution_changes or self.added or self.removed or self.status or self.family
                    or self.sharing)

    def to_json(self) -> dict[str, Any]:
        """The contract JSON of ``imagefam diff --format json``."""
        return {
            "resolution_changes": [c.to_json() for c in self.resolution_changes],
            "image_changes": {
                "added": list(self.added),
                "removed": list(self.removed),
                "status": [{"image_id": c.image_id, "before": c.before, "after": c.after} for c in self.status],
                "family": [{"image_id": c.image_id, "before": c.before, "after": c.after} for c in self.family],
                "sharing": [{"image_id": c.image_id, "added": list(c.added), "removed": list(c.removed),
                             "public_before": c.public_before, "public_after": c.public_after}
                            for c in self.sharing],
            },
        }


_GROUP = operator.attrgetter("RegionId", "ImageFamily", "ImageOwnerId", "ImageOwnerAlias")


def _all_views(states: Sequence[State]) -> set[View]:
    """Every resolution the images of the states take part in, named as each viewer names it: the
    owner's own name, ``acs:<owner>:<family>`` for each sharee and, with a community image, for
    ``*``; public images by their own name for ``*``. (Passes over all images stay in C where
    they can: a million images take a fraction of a second.)"""
    out: set[View] = set()
    for st in states:
        values = st.images.by_key().values()
        for region, fam, owner, alias in set(map(_GROUP, values)):
            if fam is None:
                continue
            out.add((region, fam, COMMUNITY if alias is not None or owner is None else owner))
        for img in [i for i in values if (i.SharedWith or i.IsPublic) and i.ImageFamily is not None
                    and i.ImageOwnerAlias is None and i.ImageOwnerId is not None]:
            shared = f"acs:{img.ImageOwnerId}:{img.ImageFamily}"
            for account in img.SharedWith:
                out.add((img.RegionId, shared, account))
            if img.IsPublic:
                out.add((img.RegionId, shared, COMMUNITY))
    return out


def _image_changes(old: State, new: State, out: Diff) -> list[Image]:
    """Fill the image changes; return both versions of every image that changed in any way."""
    before, after = old.images.by_key(), new.images.by_key()
    touched: list[Image] = []
    touch = touched.append
    added: set[str] = set()
    removed: set[str] = set()

    for key, a in before.items():
        b = after.get(key)
        if b is None:
            removed.add(a.ImageId)
            touch(a)
            continue
        if a is b or a == b:
            continue
        touch(a)
        touch(b)
        if a.Status != b.Status:
            out.status.append(ValueChange(a.ImageId, a.Status, b.Status))
        if a.ImageFamily != b.ImageFamily:
            out.family.append(ValueChange(a.ImageId, a.ImageFamily, b.ImageFamily))
        if set(a.SharedWith) != set(b.SharedWith) or a.IsPublic != b.IsPublic:
            out.sharing.append(SharingChange(a.ImageId, tuple(sorted(set(b.SharedWith) - set(a.SharedWith))),
                                             tuple(sorted(set(a.SharedWith) - set(b.SharedWith))),
                                             a.IsPublic, b.IsPublic))
    for key, b in after.items():
        if key not in before:
            added.add(b.ImageId)
            touch(b)
    out.added = sorted(added)
    out.removed = sorted(removed)
    out.status.sort(key=lambda c: (c.image_id, c.before or "", c.after or ""))
    out.family.sort(key=lambda c: (c.image_id, c.before or "", c.after or ""))
    out.sharing.sort(key=lambda c: (c.image_id, c.added, c.removed, c.public_before, c.public_after))
    return touched


class _Reads:
    """Which resolutions a change can move, when the resolution policy is local (its
    ``family_keys`` are known).

    A local resolution of a view reads only the images its keys pick, and its requirements and
    order keys read nothing but the candidate and the view. So the images eligible for a view
    differ between the snapshots only if a changed image (either version) is picked by the view's
    keys and meets every requirement for it; if none does, the eligible images are the same,
    and so is the image chosen among them."""

    def __init__(self, keys: list[ReadKey], requirements: list[Fn], touched: list[Image]) -> None:
        self.keys = keys
        self.requirements = requirements
        self.groups = {(img.RegionId, img.ImageFamily) for img in touched if img.ImageFamily is not None}
        # per key: its `==` field values -> its `in` field's value (None without one) -> changed images
        self.hit: list[dict[tuple[Any, ...], dict[Any, list[Image]]]] = []
        for k in keys:
            found: dict[tuple[Any, ...], dict[Any, list[Image]]] = {}
            for img in touched:
                by_member = found.setdefault(tuple(getattr(img, f) for f in k.fields), {})
                by_member.setdefault(getattr(img, k.member) if k.member else None, []).append(img)
            self.hit.append(found)
        self.ctx = Ctx(())
        self._families: dict[str, set[str]] = {}

    def families(self, name: str) -> set[str]:
        """The ImageFamily values a resolution of ``name`` can read."""
        found = self._families.get(name)
        if found is None:
            self.ctx.family = name
            found = self._families[name] = {f for f in (k.family(self.ctx) for k in self.keys) if isinstance(f, str)}
        return found

    def may_change(self, view: View) -> bool:
        ctx = self.ctx
        ctx.region, ctx.family, ctx.caller = view
        try:
            for k, hit in zip(self.keys, self.hit, strict=True):
                by_member = hit.get(tuple(fn(ctx) for fn in k.values))
                if not by_member:
                    continue
                allowed = k.member_values(ctx) if k.member_values is not None else None
                groups = by_member.values() if allowed is None else [
                    by_member[v] for v in dict.fromkeys(allowed) if v in by_member]
                for img in (i for g in groups for i in g):
                    ctx.it = img
                    if all(req(ctx) is True for req in self.requirements):
                        return True
            return False
        finally:
            ctx.it = None


def _views(policy: Policy, old: State, new: State, touched: list[Image]) -> list[View]:
    """The resolutions to compute in both states: those that can read a changed image, or every
    one when the policy may read anything."""
    assert policy.resolution is not None
    keys = policy.resolution.family_keys
    views = _all_views((old, new))
    if keys is None:
        return sorted(views)
    reads = _Reads(keys, [r.cond for r in policy.resolution.requirements], touched)
    groups = reads.groups
    out = [v for v in views if any((v[0], f) in groups for f in reads.families(v[1])) and reads.may_change(v)]
    return sorted(out)


def diff_states(old: State, new: State, policy: Policy, *, consumers: ConsumersOf | None = None) -> Diff:
    """What changed from ``old`` to ``new`` (neither is modified)."""
    out = Diff(old_source=old.source, new_source=new.source)
    if policy.resolution is None:
        Resolver(policy, old.images)  # raises: nothing says how families resolve
    touched = _image_changes(old, new, out)
    views = _views(policy, old, new, touched)
    resolvers = [Resolver(policy, st.images, st.taken_at, now=st.now) for st in (old, new)]
    for region, name, viewer in progress.track(views, "resolving the families that may have changed",
                                               unit="resolution"):
        b, a = (r.image(name, region, viewer) for r in resolvers)
        b_id, a_id = (b.ImageId if b else None), (a.ImageId if a else None)
        if b_id != a_id:
            moved = tuple(consumers(region, name, viewer)) if consumers is not None else None
            out.resolution_changes.append(ResolutionChange(region, name, viewer, b_id, a_id, moved))
    return out
