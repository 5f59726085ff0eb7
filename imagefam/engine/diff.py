"""What changed between two state snapshots: the images, and the image each family resolves to.

Images are matched by (ImageId, RegionId). A resolution is a (region, family name, viewer): the
name as the viewer uses it (its own name for the owner, ``acs:<owner>:<family>`` for a sharee) and
the viewer ``"*"`` for any other account, which sees public and community images only, as in
``check``'s ``family_changes``. Each is answered by the :class:`~imagefam.engine.resolver.Resolver`
of each snapshot, so ``diff`` and ``resolve`` cannot disagree about what a family resolves to.

Only resolutions that can have changed are computed. When the resolution policy reads nothing but
``images where RegionId == region and ImageFamily == K`` (the shipped one does; see
:func:`~imagefam.rules.plans.family_keys`), a name can resolve differently only if an image of
its region whose family is one of its keys was added, removed or changed. Otherwise every
resolution of both snapshots is computed.

Consumers (instances and scaling groups that launch from a family) are not part of states yet:
``diff_states(..., consumers=fn)`` is where they plug in. ``fn(region, family, viewer)`` returns
the consumers a resolution change moves, and each change then carries them (and its JSON entry a
``consumers`` key).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..rules.policy import Policy
from ..rules.runtime import Ctx
from .checker import COMMUNITY
from .models import Image
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


def _is_public(img: Image) -> bool:
    return img.ImageOwnerAlias is not None


def _views_of(images: Iterable[Image]) -> set[View]:
    """The resolutions images of one (region, family) can take part in, named as each viewer names it."""
    out: set[View] = set()
    for img in images:
        fam = img.ImageFamily
        if fam is None:
            continue
        if _is_public(img) or img.ImageOwnerId is None:
            out.add((img.RegionId, fam, COMMUNITY))
            continue
        out.add((img.RegionId, fam, img.ImageOwnerId))
        shared = f"acs:{img.ImageOwnerId}:{fam}"
        for account in img.SharedWith:
            out.add((img.RegionId, shared, account))
        if img.IsPublic:
            out.add((img.RegionId, shared, COMMUNITY))
    return out


_GROUP = operator.attrgetter("RegionId", "ImageFamily", "ImageOwnerId", "ImageOwnerAlias")


def _names(states: Sequence[State]) -> dict[tuple[str, str], set[str]]:
    """(region, family) -> the names viewers use for it, over every image of the states."""
    out: dict[tuple[str, str], set[str]] = {}
    for st in states:
        for region, fam, owner, alias in set(map(_GROUP, st.images.by_key().values())):
            if fam is None:
                continue
            names = out.setdefault((region, fam), set())
            names.add(fam)
            if alias is None and owner is not None:
                names.add(f"acs:{owner}:{fam}")
    return out


def _image_changes(old: State, new: State, out: Diff) -> set[tuple[str, str]]:
    """Fill the image changes; return the (region, family) of every image that changed in any way."""
    before, after = old.images.by_key(), new.images.by_key()
    dirty: set[tuple[str, str]] = set()
    added: set[str] = set()
    removed: set[str] = set()

    def touch(img: Image) -> None:
        if img.ImageFamily is not None:
            dirty.add((img.RegionId, img.ImageFamily))

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
    return dirty


def _groups_to_resolve(policy: Policy, old: State, new: State, dirty: set[tuple[str, str]]) -> dict[
        tuple[str, str], set[str] | None]:
    """(region, family) -> the names of it to resolve again (None: every name)."""
    assert policy.resolution is not None
    keys = policy.resolution.family_keys
    names = _names((old, new))
    if keys is None:  # the policy may read anything: every resolution of both states
        return dict.fromkeys(names)
    ctx = Ctx(())
    deps: dict[str, set[str]] = {}
    out: dict[tuple[str, str], set[str] | None] = {}
    for (region, fam), group_names in names.items():
        for name in group_names:
            on = deps.get(name)
            if on is None:
                ctx.family = name
                on = deps[name] = {k for k in (key(ctx) for key in keys) if isinstance(k, str)}
            if any((region, k) in dirty for k in on):
                found = out.setdefault((region, fam), set())
                assert found is not None
                found.add(name)
    return out


def diff_states(old: State, new: State, policy: Policy, *, consumers: ConsumersOf | None = None) -> Diff:
    """What changed from ``old`` to ``new`` (neither is modified)."""
    out = Diff(old_source=old.source, new_source=new.source)
    resolvers = [Resolver(policy, st.images, st.taken_at) for st in (old, new)]  # no resolve block: an error
    dirty = _image_changes(old, new, out)
    groups = _groups_to_resolve(policy, old, new, dirty)
    views: set[View] = set()
    fields = ("ImageFamily", "RegionId")
    for (region, fam), wanted in groups.items():
        for st in (old, new):
            for view in _views_of(st.images.lookup(fields, (fam, region))):
                if wanted is None or view[1] in wanted:
                    views.add(view)
    for region, name, viewer in sorted(views):
        b, a = (r.image(name, region, viewer) for r in resolvers)
        b_id, a_id = (b.ImageId if b else None), (a.ImageId if a else None)
        if b_id != a_id:
            moved = tuple(consumers(region, name, viewer)) if consumers is not None else None
            out.resolution_changes.append(ResolutionChange(region, name, viewer, b_id, a_id, moved))
    return out
