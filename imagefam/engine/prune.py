"""Pruning at load for ``imagefam check``: index only the regions a plan can reach.

Every rule and every resolution of a check asks per region (the store's lookups name a
``RegionId``; CopyImage names two), so a plan touching two regions of a ten-region estate needs a
fifth of the images indexed. :func:`plan_reach` derives the regions from the plan: the request
fields that name a region (``RegionId``, ``DestinationRegionId``: every request field whose name
ends in ``RegionId``, from the action models) and the ``region`` key of an Auto Scaling step. A
step whose region is missing or not known until apply gives no reach: no pruning.

What the policy reads is not assumed: a :class:`PrunedStore` answers a read only when it names a
region kept (a lookup whose index key holds ``RegionId`` with a kept value, an image by id and
region, counts of such a bucket). Any other read (a lookup with no region, or another region,
every image, an ImageId named without a region and held in a region left out) raises
:class:`~.store.OutOfReach`, and :func:`imagefam.engine.preflight.check` starts the check again
on the whole state. So the answer is always a full load's; pruning only decides how much is
indexed. Every image is still decoded and validated (a bad image anywhere is an error as before),
and the images of the regions left out are kept as decoded records (not indexed, not tracked by
the cycle collector) for that fallback.
"""

from __future__ import annotations

import dataclasses
import operator
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from itertools import compress
from typing import Any, TypeVar

from .loader import Plan, Step
from .models import Image
from .state import State
from .store import Fields, Images, ImageStore, Key, OutOfReach

T = TypeVar("T")


def step_regions(step: Step) -> set[str] | None:
    """The regions ``step`` names, or None when one is missing or not known until apply."""
    if step.region is not None:  # Auto Scaling: the endpoint's region (the `region` key)
        return {step.region}
    names = [f for f in type(step.request).model_fields if f.endswith("RegionId")]
    values = [getattr(step.request, f) for f in names]
    if not names or any(f in step.unknown for f in names) or not all(isinstance(v, str) and v for v in values):
        return None
    return set(values)


def plan_reach(plans: Iterable[Plan]) -> frozenset[str] | None:
    """Every region the steps of ``plans`` name, or None when a step's region is not known."""
    regions: set[str] = set()
    for plan in plans:
        for step in plan.steps:
            found = step_regions(step)
            if found is None:
                return None
            regions |= found
    return frozenset(regions)


class PrunedStore(ImageStore):
    """An :class:`ImageStore` of the images of the ``reach`` regions; reads that would need any
    other image raise :class:`OutOfReach` (see the module). ``len`` and ``newest`` are the whole
    state's; :meth:`whole` builds the full store (in file order) when a check needs it."""

    __slots__ = ("_all", "_elsewhere_ids", "_ids", "_reach", "_total", "_whole", "abandoned")

    def __init__(self, records: list[Any], reach: frozenset[str], ids: set[str] | None = None) -> None:
        """``records``: every image of the state (or the fast path's records), in file order;
        ``ids``: every ImageId among them, if known (the loader's duplicate check made the set)."""
        from .fastjson import images_of

        inside = list(map(reach.__contains__, map(operator.attrgetter("RegionId"), records)))
        super().__init__(images_of(list(compress(records, inside))))
        self._reach = reach
        self._all = records  # every image (or decoded record), in file order
        self._total = len(records)
        self._ids = ids
        self._elsewhere_ids: set[str] | None = None
        self._whole: ImageStore | None = None
        #: why a check gave up pruning (the first read out of reach), or None
        self.abandoned: str | None = None
        if records:
            self.newest = max(map(operator.attrgetter("CreationTime"), records))

    @property
    def kept(self) -> frozenset[str]:
        return self._reach

    @property
    def skipped(self) -> dict[str, int]:
        """How many images of each region left out were not indexed (counted when asked)."""
        reach = self._reach
        return dict(Counter(region for region in map(operator.attrgetter("RegionId"), self._all)
                            if region not in reach))

    def region_names(self) -> frozenset[str]:
        return super().region_names() | self.skipped.keys()

    def whole(self) -> ImageStore:
        """The full store of every image (built once)."""
        if self._whole is None:
            from .fastjson import images_of

            self._whole = ImageStore(images_of(self._all), self._partition)
        return self._whole

    # ---- reads that would need the images left out
    def _read_all(self, what: str) -> None:
        raise OutOfReach(f"a read of {what}")

    def _elsewhere(self, image_id: str) -> bool:
        if self._ids is not None and image_id not in self._ids:
            return False  # in no region (a step creating an image asks if its id is free)
        if self._elsewhere_ids is None:  # on first use
            outside = map(operator.not_, map(self._reach.__contains__, map(operator.attrgetter("RegionId"), self._all)))
            self._elsewhere_ids = set(compress(map(operator.attrgetter("ImageId"), self._all), outside))
        return image_id in self._elsewhere_ids

    def __iter__(self) -> Iterator[Image]:
        raise OutOfReach("a read of every image")

    def __len__(self) -> int:
        return self._total

    def by_key(self) -> Mapping[Key, Image]:
        raise OutOfReach("a read of every image")

    def copy(self) -> ImageStore:
        raise OutOfReach("a copy of every image")

    def groups(self, fields: Fields, regions: Collection[str] | None = None,
               ) -> Iterator[tuple[tuple[Any, ...], Collection[Image]]] | None:
        self._within(regions)
        return super().groups(fields, regions)

    def in_regions(self, regions: Collection[str]) -> Iterator[Image]:
        self._within(regions)
        return super().in_regions(regions)

    def _within(self, regions: Collection[str] | None) -> None:
        if regions is None:
            raise OutOfReach("a read of every image")
        if left_out := sorted(set(regions) - self._reach):
            raise OutOfReach(f"a read of every image in {left_out[0]}, a region left out")

    def _region(self, region: str | None, what: str) -> None:
        if region not in self._reach:
            raise OutOfReach(f"{what} in {region}, a region left out" if region is not None else
                             f"{what} naming no region")

    def _at(self, key: Key) -> Image | None:
        if key[1] not in self._reach:
            self._region(key[1], "an image")
        return self._by_id.get(key)

    def lookup(self, fields: Fields, key: tuple[Any, ...]) -> Collection[Image]:
        if "RegionId" not in fields:
            raise OutOfReach(f"a lookup on {', '.join(fields)} naming no region")
        self._region(key[fields.index("RegionId")], "a lookup")
        return super().lookup(fields, key)

    def value_counts(self, fields: Fields, key: tuple[Any, ...], field: str) -> Mapping[Any, int]:
        if "RegionId" not in fields:
            raise OutOfReach(f"counts of {field} by {', '.join(fields)} naming no region")
        self._region(key[fields.index("RegionId")], "counts")
        return super().value_counts(fields, key, field)

    # ---- changes: a check changes an overlay on the store, never the store
    def put(self, img: Image) -> Image | None:
        raise TypeError("a pruned store is read-only (a check simulates on an overlay of it)")

    def remove(self, image_id: str, region: str | None = None) -> Image | None:
        raise TypeError("a pruned store is read-only (a check simulates on an overlay of it)")


#: Why every image was loaded, by what names the regions: check's plan, or report's --region.
_WHOLE = {"the plan": "a step names no region or one known only at apply, or the state is not one native file",
          "--region": "no --region was given, or the state is not one native file"}


def describe(store: Images, by: str = "the plan") -> str:
    """What a load kept in memory and left out, for ``--verbose`` of check (``by`` the plan) and
    report (``by`` ``--region``); region names from the state escaped like every value in text
    output: a control character never starts a line."""
    from .render import printable

    if not isinstance(store, PrunedStore):
        return f"all {len(store):,} images were loaded: {_WHOLE[by]}"
    by_region = store.skipped
    skipped = sum(by_region.values())
    kept = sorted(store.kept)
    named = "the plan names" if by == "the plan" else f"named by {by}"
    text = (f"loaded the {store._total - skipped:,} images of the {len(kept)} region(s) {named} "
            f"({', '.join(map(printable, kept)) or 'none'}); left out {skipped:,} images of {len(by_region)} "
            "other region(s)"
            + (f" ({', '.join(f'{printable(r)} {n:,}' for r, n in sorted(by_region.items()))})" if by_region else "")
            + ", after checking that every image is valid")
    if store.abandoned is not None:
        command = "check" if by == "the plan" else "report"
        text += (f"; then a rule needed {printable(store.abandoned)}, so the {command} ran again with every image "
                 "loaded")
    return text


def in_reach(state: State, run: Callable[[State], T]) -> T:
    """``run(state)``; when ``state`` is pruned and ``run`` reads an image left out, ``run`` again
    on every image (said by ``--verbose``: the store keeps why). The answer is a full load's."""
    images = state.images
    if isinstance(images, PrunedStore) and images.abandoned is None:
        try:
            return run(state)
        except OutOfReach as why:
            images.abandoned = str(why)
    return run(whole_state(state))


def whole_state(state: State) -> State:
    """``state`` with every image indexed (itself unless its store is pruned)."""
    images = state.images
    return dataclasses.replace(state, images=images.whole()) if isinstance(images, PrunedStore) else state
