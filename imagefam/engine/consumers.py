"""Who launches from an image: scaling configurations and instances, indexed by image and family.

A :class:`ConsumerStore` holds the state's ``ScalingConfigurations`` and ``Instances`` with hash
indexes by (RegionId, ImageId) and (RegionId, ImageFamily), so a step finds the consumers of the
images it changes without scanning. :func:`impact` answers, for one step, which consumers launch
from another image (or from none) afterwards: it applies the step's image changes to the store,
resolves again and reverts, so rules see ``before`` and ``after`` before the step is decided.
:func:`caller_view` is what a caller may learn of them: its own consumers by id, another
account's only as that account and a count.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

from ..rules.compiled import DefinitionError, Policy
from .models import Consumer, Image, Instance, ScalingConfiguration
from .parsing import InputError
from .store import Images

Resolve = Callable[[str, str, str], Image | None]
#: Whether an account can launch from an image by its id: the policy's ``visible(img, viewer)``.
Visible = Callable[[Image, str], Any]
LAUNCHABLE = ("Available", "Deprecated")  # a Deprecated image still launches by ImageId


@dataclass(frozen=True, slots=True)
class Affected:
    """One consumer a step touches, with the ImageId it launches from before and after."""

    kind: str  # "ScalingConfiguration" | "Instance"
    id: str
    region: str
    owner: str
    group: str | None
    family: str | None
    image: str | None
    active: bool
    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _short(family: str) -> tuple[str | None, str]:
    """(owner UID, family) of ``acs:<UID>:<family>``; (None, name) otherwise."""
    if family.startswith("acs:") and family.count(":") >= 2:
        _, owner, rest = family.split(":", 2)
        return owner, rest
    return None, family


class ConsumerStore:
    """Scaling configurations by id and instances by id, with indexes by image and by family."""

    __slots__ = ("_by_family", "_by_image", "_by_name", "_configs", "_groups", "_inst_by_image", "_instances")

    def __init__(self, configs: Iterable[ScalingConfiguration] = (), instances: Iterable[Instance] = ()) -> None:
        self._configs: dict[str, ScalingConfiguration] = {}
        self._instances: dict[str, Instance] = {i.InstanceId: i for i in instances}
        # (RegionId, raw family, family owner or None for "the config's own account") -> config ids
        self._by_family: dict[tuple[str, str, str | None], dict[str, None]] = {}
        self._by_image: dict[tuple[str, str], dict[str, None]] = {}
        self._by_name: dict[tuple[str, str], dict[str, None]] = {}  # ImageName-only configurations
        self._groups: dict[str, str] = {}  # ScalingGroupId -> RegionId
        self._inst_by_image: dict[tuple[str, str], dict[str, None]] = {}
        for inst in self._instances.values():
            self._inst_by_image.setdefault((inst.RegionId, inst.ImageId), {})[inst.InstanceId] = None
        for cfg in configs:
            self.put(cfg)

    def __bool__(self) -> bool:
        return bool(self._configs or self._instances)

    @property
    def configs(self) -> dict[str, ScalingConfiguration]:
        return self._configs

    @property
    def instances(self) -> dict[str, Instance]:
        return self._instances

    def copy(self) -> ConsumerStore:
        other = ConsumerStore()
        other._configs = dict(self._configs)
        other._instances = self._instances  # instances never change during a check
        other._by_family = {k: dict(v) for k, v in self._by_family.items()}
        other._by_image = {k: dict(v) for k, v in self._by_image.items()}
        other._by_name = {k: dict(v) for k, v in self._by_name.items()}
        other._groups = dict(self._groups)
        other._inst_by_image = self._inst_by_image
        return other

    def _keys(self, cfg: ScalingConfiguration) -> tuple[Any, Any, Any]:
        fam = None
        if cfg.ImageFamily is not None:
            owner, raw = _short(cfg.ImageFamily)
            fam = (cfg.RegionId, raw, owner)
        img = (cfg.RegionId, cfg.ImageId) if cfg.ImageId is not None else None
        name = ((cfg.RegionId, cfg.ImageName) if cfg.ImageName is not None and img is None and fam is None
                else None)
        return fam, img, name

    def put(self, cfg: ScalingConfiguration) -> None:
        old = self._configs.get(cfg.ScalingConfigurationId)
        if old is not None:
            self._drop(old)
        self._configs[cfg.ScalingConfigurationId] = cfg
        self._groups.setdefault(cfg.ScalingGroupId, cfg.RegionId)
        for index, key in zip(self._indexes(), self._keys(cfg), strict=True):
            if key is not None:
                index.setdefault(key, {})[cfg.ScalingConfigurationId] = None

    def _indexes(self) -> tuple[dict[Any, dict[str, None]], ...]:
        return self._by_family, self._by_image, self._by_name

    def _drop(self, cfg: ScalingConfiguration) -> None:
        for index, key in zip(self._indexes(), self._keys(cfg), strict=True):
            bucket = index.get(key) if key is not None else None
            if bucket is not None:
                bucket.pop(cfg.ScalingConfigurationId, None)
                if not bucket:
                    del index[key]

    def group_region(self, group: str) -> str | None:
        """The region the state records for a scaling group (from any of its configurations)."""
        return self._groups.get(group)

    def configs_for_image(self, region: str, image_id: str) -> list[ScalingConfiguration]:
        return [self._configs[c] for c in self._by_image.get((region, image_id), ())]

    def configs_for_family(self, region: str, family: str, owner: str) -> list[ScalingConfiguration]:
        """Configurations that may launch from ``owner``'s family ``family`` in ``region``: the
        owner's own (by the raw name) and other accounts' (by ``acs:<owner>:<family>``)."""
        own = [self._configs[c] for c in self._by_family.get((region, family, None), ())]
        return ([c for c in own if c.OwnerId == owner]
                + [self._configs[c] for c in self._by_family.get((region, family, owner), ())])

    def configs_for_name(self, region: str, name: str) -> list[ScalingConfiguration]:
        return [self._configs[c] for c in self._by_name.get((region, name), ())]

    def instances_for_image(self, region: str, image_id: str) -> list[Instance]:
        return [self._instances[i] for i in self._inst_by_image.get((region, image_id), ())]

    def count_by_family(self) -> dict[tuple[str, str, str | None], tuple[int, int]]:
        """(region, family as written, owner) -> (configurations, Active configurations)."""
        out: dict[tuple[str, str, str | None], tuple[int, int]] = {}
        for cfg in self._configs.values():
            if cfg.ImageFamily is None:
                continue
            key = (cfg.RegionId, cfg.ImageFamily, cfg.OwnerId)
            n, active = out.get(key, (0, 0))
            out[key] = (n + 1, active + (cfg.LifecycleState == "Active"))
        return out


def policy_visible(policy: Policy) -> Visible:
    """The policy's ``visible(img: Image, viewer: string)`` (the shipped one is in visibility.rules):
    who can launch from an image by its id. A policy without it cannot say what a consumer launches
    from: an input error naming what is missing."""
    try:
        return policy.function("visible", ("Image", "string"))
    except DefinitionError as err:
        raise InputError(f"{err}: the state lists scaling configurations or instances, and telling which image "
                         "they launch from needs visible(img: Image, viewer: string) (the shipped "
                         "imagefam/policy/visibility.rules defines it)") from None


def pinned_image(images: Images, image_id: str, region: str, viewer: str, visible: Visible) -> str | None:
    """``image_id`` when ``viewer`` can launch from it (null from ``visible`` counts as cannot)."""
    img = images.get(image_id, region)
    return image_id if img is not None and img.Status in LAUNCHABLE and visible(img, viewer) is True else None


def by_name(images: Images, name: str, region: str, viewer: str, visible: Visible) -> str | None:
    """The image ``name`` designates in ``region`` for ``viewer`` (ImageName is unique per region)."""
    found = [img for img in images.lookup(("ImageName", "RegionId"), (name, region))
             if img.Status in LAUNCHABLE and visible(img, viewer) is True]
    return found[0].ImageId if len(found) == 1 else None


def launch_image(cfg: ScalingConfiguration, images: Images, resolve: Resolve | None,
                 visible: Visible) -> str | None:
    """The ImageId a configuration's next scale-out launches from (None: it would fail).
    ImageId wins; then ImageFamily (the family's newest Available image); then ImageName."""
    if cfg.ImageId is not None:
        return pinned_image(images, cfg.ImageId, cfg.RegionId, cfg.OwnerId, visible)
    if cfg.ImageFamily is not None:
        if resolve is None:
            return None
        img = resolve(cfg.ImageFamily, cfg.RegionId, cfg.OwnerId)
        return img.ImageId if img is not None else None
    if cfg.ImageName is not None:
        return by_name(images, cfg.ImageName, cfg.RegionId, cfg.OwnerId, visible)
    return None


def instance_image(inst: Instance, images: Images, visible: Visible) -> str | None:
    """The image an instance's system disk is re-initialised from, if it still exists for its owner."""
    img = images.get(inst.ImageId, inst.RegionId)
    return inst.ImageId if img is not None and visible(img, inst.OwnerId) is True else None


def touched(store: ConsumerStore, changes: list[tuple[Image | None, Image | None]]
            ) -> tuple[list[ScalingConfiguration], list[Instance]]:
    """The consumers of the images ``changes`` touch (by image and by family; no scan)."""
    configs: dict[str, ScalingConfiguration] = {}
    instances: dict[str, Instance] = {}
    for img in (i for pair in changes for i in pair if i is not None):
        for cfg in store.configs_for_image(img.RegionId, img.ImageId):
            configs[cfg.ScalingConfigurationId] = cfg
        if img.ImageFamily and img.ImageOwnerId:
            for cfg in store.configs_for_family(img.RegionId, img.ImageFamily, img.ImageOwnerId):
                configs[cfg.ScalingConfigurationId] = cfg
        if img.ImageName:
            for cfg in store.configs_for_name(img.RegionId, img.ImageName):
                configs[cfg.ScalingConfigurationId] = cfg
        for inst in store.instances_for_image(img.RegionId, img.ImageId):
            instances[inst.InstanceId] = inst
    return list(configs.values()), list(instances.values())


def _affected_config(cfg: ScalingConfiguration, before: str | None, after: str | None) -> Affected:
    return Affected("ScalingConfiguration", cfg.ScalingConfigurationId, cfg.RegionId, cfg.OwnerId,
                    cfg.ScalingGroupId, cfg.ImageFamily, cfg.ImageId, cfg.LifecycleState == "Active",
                    before, after)


class _After:
    """The images as they would be after ``changes``, for lookups by id (nothing is applied)."""

    def __init__(self, images: Images, changes: list[tuple[Image | None, Image | None]]) -> None:
        self.images = images
        self.changed: dict[tuple[str, str], Image | None] = {}
        for before, after in changes:
            if before is not None:
                self.changed[(before.ImageId, before.RegionId)] = after
            if after is not None:
                self.changed[(after.ImageId, after.RegionId)] = after

    def get(self, image_id: str | None, region: str | None = None) -> Image | None:
        key = (image_id or "", region or "")
        return self.changed[key] if key in self.changed else self.images.get(image_id, region)


def image_impact(store: ConsumerStore, images: Images, changes: list[tuple[Image | None, Image | None]],
                 resolve: Resolve | None, apply: Callable[[list[Any]], None], revert: Callable[[list[Any]], None],
                 visible: Visible, resolve_after: Resolve | None = None) -> list[Affected]:
    """The consumers an image change touches, with their launch image before and after it.
    ``apply`` and ``revert`` change the images; ``resolve_after`` (default ``resolve``) answers
    while they are changed (a separate memo keeps ``resolve``'s answers about the unchanged state)."""
    configs, instances = touched(store, changes)
    if not configs and not instances:
        return []
    before_c = [launch_image(c, images, resolve, visible) for c in configs]
    before_i = [instance_image(i, images, visible) for i in instances]
    if all(c.ImageId is not None for c in configs):  # only images by id: read the changes directly
        after_view = _After(images, changes)
        after_c = [pinned_image(after_view, c.ImageId, c.RegionId, c.OwnerId, visible)  # type: ignore[arg-type]
                   for c in configs]
        after_i = [instance_image(i, after_view, visible) for i in instances]  # type: ignore[arg-type]
    else:  # a family or a name: resolve over the changed state
        apply(changes)
        try:
            after_c = [launch_image(c, images, resolve_after or resolve, visible) for c in configs]
            after_i = [instance_image(i, images, visible) for i in instances]
        finally:
            revert(changes)
    out = [_affected_config(c, b, a) for c, b, a in zip(configs, before_c, after_c, strict=True)]
    out += [Affected("Instance", i.InstanceId, i.RegionId, i.OwnerId, None, None, i.ImageId, True, b, a)
            for i, b, a in zip(instances, before_i, after_i, strict=True)]
    return out


def config_impact(old: ScalingConfiguration | None, new: ScalingConfiguration, images: Images,
                  resolve: Resolve | None, visible: Visible) -> list[Affected]:
    """A created or modified configuration: what it launched from before and launches from after."""
    before = launch_image(old, images, resolve, visible) if old is not None else None
    return [_affected_config(new, before, launch_image(new, images, resolve, visible))]


def modified(cfg: ScalingConfiguration, request: Any) -> ScalingConfiguration:
    """A configuration after ``ModifyScalingConfiguration``. ImageId and ImageFamily exclude each
    other (the Auto Scaling reference: "If you have set the ImageId parameter, you cannot set this
    parameter"), so setting one clears the other."""
    changes: dict[str, Any] = {}
    if request.ImageId is not None:
        changes.update(ImageId=request.ImageId or None, ImageFamily=None)
    if request.ImageFamily is not None:
        changes.update(ImageFamily=request.ImageFamily or None, ImageId=None)
    if request.ImageName is not None:
        changes["ImageName"] = request.ImageName or None
    if request.ScalingConfigurationName is not None:
        changes["ScalingConfigurationName"] = request.ScalingConfigurationName
    return dataclasses.replace(cfg, **changes) if changes else cfg


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def caller_view(affected: list[Affected], caller: str) -> list[Consumer]:
    """The consumers as ``caller`` may see them: its own by id; another account's grouped by
    (kind, account, region, family, before, after) with no id, name or group."""
    own: list[Consumer] = []
    groups: dict[tuple[Any, ...], list[Affected]] = {}
    for a in affected:
        if a.owner == caller:
            what = "scaling configuration" if a.kind == "ScalingConfiguration" else "instance"
            where = (f" (group {a.group}, " + (f"family {a.family})" if a.family else f"image {a.image})")
                     if a.kind == "ScalingConfiguration" else f" (image {a.image})")
            own.append(Consumer(a.kind, a.id, 1, a.region, a.owner, a.group, a.family, a.image,  # type: ignore[arg-type]
                                a.active, a.before, a.after, f"{what} {a.id}{where} in {a.region}"))
        else:
            key = (a.kind, a.owner, a.region, a.family, a.image, a.active, a.before, a.after)
            groups.setdefault(key, []).append(a)
    others = []
    for (kind, owner, region, family, image, active, before, after), members in groups.items():
        word = "scaling configuration" if kind == "ScalingConfiguration" else "instance"
        label = f"{_plural(len(members), word)} of account {owner} in {region}"
        others.append(Consumer(kind, None, len(members), region, owner, None, family, image, active,
                               before, after, label))
    return sorted(own, key=_order) + sorted(others, key=_order)


def _order(c: Consumer) -> tuple[str, ...]:
    return (c.Kind, c.OwnerId, c.RegionId, c.Id or "", c.ImageFamily or "", c.Before or "", c.After or "")


def to_json(consumers: list[Consumer], with_change: bool = True) -> list[dict[str, Any]]:
    """The ``consumers`` entries of ``check --format json`` (and, without before/after, of resolve)."""
    out: list[dict[str, Any]] = []
    grouped: dict[tuple[Any, ...], dict[str, Any]] = {}  # another account's entries alike in every key
    for c in consumers:
        entry: dict[str, Any] = {"kind": c.Kind, "id": c.Id, "region": c.RegionId, "owner": c.OwnerId,
                                 "family": c.ImageFamily}
        if with_change:
            entry["before"], entry["after"] = c.Before, c.After
        if c.Id is None:
            key = tuple(entry.values())
            if key in grouped:
                grouped[key]["count"] += c.Count
                continue
            entry["count"] = c.Count
            grouped[key] = entry
        out.append(entry)
    return out


def launching_from(store: ConsumerStore, images: Images, image: Image, resolve: Resolve | None,
                   viewer: str, visible: Visible) -> list[Consumer]:
    """The consumers whose next launch (or system disk re-initialisation) uses ``image``, as
    ``viewer`` may see them: its own by id; other accounts' counted only when ``viewer`` owns the
    image (the owner knows whom it shares with; anyone else learns nothing of them)."""
    region, image_id = image.RegionId, image.ImageId
    configs = {c.ScalingConfigurationId: c for c in store.configs_for_image(region, image_id)}
    if image.ImageFamily and image.ImageOwnerId:
        configs |= {c.ScalingConfigurationId: c for c in store.configs_for_family(region, image.ImageFamily,
                                                                                   image.ImageOwnerId)}
    if image.ImageName:
        configs |= {c.ScalingConfigurationId: c for c in store.configs_for_name(region, image.ImageName)}
    affected = [_affected_config(c, image_id, image_id) for c in configs.values()
                if launch_image(c, images, resolve, visible) == image_id]
    affected += [Affected("Instance", i.InstanceId, i.RegionId, i.OwnerId, None, None, i.ImageId, True, image_id,
                          image_id) for i in store.instances_for_image(region, image_id)]
    if image.ImageOwnerId != viewer:
        affected = [a for a in affected if a.owner == viewer]
    return caller_view(affected, viewer)


def consumer_counts(store: ConsumerStore, images: Images, regions: Collection[str] | None = None,
                    ) -> list[dict[str, Any]]:
    """Per family (owner, region, name): the scaling configurations that name it (and how many are
    Active) and the instances created from its images (of ``regions`` only, when given). For the
    snapshot holder (``report``)."""
    counts: dict[tuple[str, str, str], list[int]] = {}
    for cfg in store.configs.values():
        if cfg.ImageFamily is None or (regions is not None and cfg.RegionId not in regions):
            continue
        owner, raw = _short(cfg.ImageFamily)
        row = counts.setdefault((owner or cfg.OwnerId, cfg.RegionId, raw), [0, 0, 0])
        row[0] += 1
        row[1] += cfg.LifecycleState == "Active"
    for inst in store.instances.values():
        if regions is not None and inst.RegionId not in regions:
            continue
        img = images.get(inst.ImageId, inst.RegionId)
        if img is not None and img.ImageFamily is not None:
            key = (img.ImageOwnerId or img.ImageOwnerAlias or "", img.RegionId, img.ImageFamily)
            counts.setdefault(key, [0, 0, 0])[2] += 1
    return [{"owner": o, "region": r, "family": f, "scaling_configurations": n, "active": a, "instances": i}
            for (o, r, f), (n, a, i) in sorted(counts.items())]


def family_consumers(store: ConsumerStore, region: str, name: str, viewer: str) -> list[str]:
    """The scaling configurations in ``region`` that launch from family ``name`` as ``viewer`` names it
    (``viewer`` ``*``: any account's configuration naming it). For ``imagefam diff``: the snapshot
    holder's view, ids included."""
    owner, raw = _short(name)
    found = [store.configs[c] for c in store._by_family.get((region, raw, owner), ())]
    return sorted(c.ScalingConfigurationId for c in found if viewer == "*" or c.OwnerId == viewer)
