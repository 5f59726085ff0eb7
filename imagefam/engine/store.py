"""The images of a state, indexed for the questions rules ask, and a copy-on-write view for checks.

Images are keyed by (ImageId, RegionId): ECS image IDs are regional, and a public image carries
the same ImageId in every region. ``get(image_id, region)`` finds the image a request names.

``lookup(("ImageFamily", "RegionId"), ("web", "cn-hangzhou"))`` answers an equality filter
(fields sorted by name, as the compiler asks). Every rule and resolution asks per region, and
most per account, so an :class:`ImageStore` partitions its images once, when it is built, by
(RegionId, ImageOwnerAlias, ImageOwnerId): a lookup goes to the partitions its key selects and
builds, on first use and only there, a small index on its remaining fields. A lookup that would
have to visit more than ``FANOUT`` partitions (one that names neither region nor owner) uses an
index over all images instead, also built on first use. Changes (``put``, ``remove``) update
every index built so far in O(1) per index. ``stats`` counts lookups and how many images they
served, so tests can show a filter touched only its bucket.

``value_counts(fields, key, field)`` is how many images of a bucket have each value of
``field`` (the families of an account in a region), computed once and then kept current as
images change: a rule counting distinct families does not re-read the account's images.

An :class:`Overlay` is what a check simulates on: the loaded snapshot plus the changes of the
allowed steps so far, recorded on the side. The snapshot is never modified or copied; a bucket
a change touches is copied the first time (O(bucket)), every other lookup goes to the snapshot.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import operator
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from types import MappingProxyType
from typing import Any

from .models import Image

Key = tuple[str, str]  # (ImageId, RegionId)
Fields = tuple[str, ...]
Bucket = dict[Key, Image]
Index = dict[tuple[Any, ...], Bucket]

#: The fields an ImageStore partitions by, outermost first (each level few values per parent).
PARTITION: Fields = ("RegionId", "ImageOwnerAlias", "ImageOwnerId", "ImageFamily")
#: A lookup that would walk more partitions than this to reach a level it names (one that names
#: neither the owner nor the alias, say) uses an index over all images instead.
FANOUT = 64
_UNPLANNED: Any = object()


@dataclass
class IndexStats:
    lookups: int = 0
    served: int = 0  # images returned by lookups
    builds: int = 0  # field tuples indexed (over all images, or partition by partition on demand)
    scans: int = 0  # full iterations over all images


@cache
def _keyfn(fields: Fields) -> Any:
    """image -> the tuple of its ``fields``."""
    getter = operator.attrgetter(*fields)
    return getter if len(fields) > 1 else (lambda img: (getter(img),))


def _key(img: Image) -> Key:
    return (img.ImageId, img.RegionId)


@cache
def _by_key(fields: Fields) -> tuple[int, int, Any, Any] | None:
    """For fields naming ImageId and RegionId (at most one image matches): their key positions, and
    getters of the other fields from an image and from a key; else None."""
    if "ImageId" not in fields or "RegionId" not in fields:
        return None
    others = tuple(f for f in fields if f not in ("ImageId", "RegionId"))
    if not others:
        return fields.index("ImageId"), fields.index("RegionId"), None, None
    return (fields.index("ImageId"), fields.index("RegionId"), _keyfn(others),
            _picker(tuple(fields.index(f) for f in others)))


def _one(img: Image | None, fields: Fields, key: tuple[Any, ...]) -> tuple[Image, ...]:
    """``img`` if its ``fields`` equal ``key``: the lookup of a key naming ImageId and RegionId."""
    if img is None:
        return ()
    _, _, mine, wanted = _by_key(fields)  # type: ignore[misc]
    return (img,) if mine is None or mine(img) == wanted(key) else ()


class OutOfReach(BaseException):
    """A read that a pruned store (:class:`~.prune.PrunedStore`) cannot answer as the whole state
    would: one that names no region, or a region it left out. A check that meets it starts again
    on the whole state. Not an ``Exception``: rules fail closed on errors, and this is not one."""


class Images:
    """What rules, resolution and simulation read and change: an :class:`ImageStore` or an
    :class:`Overlay` on one. Subclasses provide the storage; the counts are kept here."""

    __slots__ = ("_counts", "newest", "stats")

    def __init__(self) -> None:
        self.stats = IndexStats()
        self.newest: datetime | None = None
        self._counts: dict[tuple[Fields, str], dict[tuple[Any, ...], Counter[Any]]] = {}

    # ---- storage (subclasses)
    def __iter__(self) -> Iterator[Image]:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def __contains__(self, image_id: object) -> bool:
        """Whether an image with this ImageId exists in any region."""
        return isinstance(image_id, str) and (self._elsewhere(image_id) or any(
            self.get(image_id, r) is not None for r in self._regions_of(image_id)))

    def _elsewhere(self, image_id: str) -> bool:
        """Whether an image with this ImageId is held but not indexed (a pruned store's other
        regions: :mod:`imagefam.engine.prune`)."""
        return False

    def _read_all(self, what: str) -> None:
        """Called before a read of every image: a pruned store raises :class:`OutOfReach`."""

    def _regions_of(self, image_id: str) -> Iterable[str]:
        raise NotImplementedError

    def in_regions(self, regions: Collection[str]) -> Iterator[Image]:
        """The images of ``regions`` (``imagefam report --region``), in no promised order."""
        return (img for img in self if img.RegionId in regions)

    def region_names(self) -> frozenset[str]:
        """Every region with an image (of the whole state: a pruned store's left out included)."""
        raise NotImplementedError

    def _at(self, key: Key) -> Image | None:
        raise NotImplementedError

    def get(self, image_id: str | None, region: str | None = None) -> Image | None:
        """The image with ``image_id`` in ``region``; without a region, the image if its id is
        in one region only (a request that names no region cannot pick among several)."""
        if image_id is None:
            return None
        if region is not None:
            return self._at((image_id, region))
        if self._elsewhere(image_id):
            raise OutOfReach("an image named by ImageId without a region")  # its id is not said (--verbose)
        found = [img for r in self._regions_of(image_id) if (img := self._at((image_id, r))) is not None]
        return found[0] if len(found) == 1 else None

    def _region_of(self, image_id: str, region: str | None) -> str | None:
        """``region``, or the one region ``image_id`` is in when none is named (``get``'s rule)."""
        if region is not None:
            return region
        found = self.get(image_id)
        return found.RegionId if found is not None else None

    def lookup(self, fields: Fields, key: tuple[Any, ...]) -> Collection[Image]:
        raise NotImplementedError

    def put(self, img: Image) -> Image | None:
        raise NotImplementedError

    def remove(self, image_id: str, region: str | None = None) -> Image | None:
        raise NotImplementedError

    def copy(self) -> ImageStore:
        raise NotImplementedError

    def by_key(self) -> Mapping[Key, Image]:
        """Every image by (ImageId, RegionId), read-only (not counted as a scan)."""
        raise NotImplementedError

    # ---- maintained aggregates
    def value_counts(self, fields: Fields, key: tuple[Any, ...], field: str) -> Mapping[Any, int]:
        """How many images of ``lookup(fields, key)`` have each value of ``field`` (values with
        none are absent). Counted once per bucket, then kept current by ``put``/``remove``."""
        group = self._counts.get((fields, field))
        if group is None:
            group = self._counts[(fields, field)] = {}
        counts = group.get(key)
        if counts is None:
            counts = group[key] = Counter(map(operator.attrgetter(field), self.lookup(fields, key)))
        return counts

    def _recount(self, before: Image | None, after: Image | None) -> None:
        for (fields, field), group in self._counts.items():
            keyfn = _keyfn(fields)
            if before is not None and (counts := group.get(keyfn(before))) is not None:
                value = getattr(before, field)
                if counts.get(value, 0) > 1:
                    counts[value] -= 1
                else:
                    counts.pop(value, None)
            if after is not None and (counts := group.get(keyfn(after))) is not None:
                counts[getattr(after, field)] += 1

    def _note_newest(self, img: Image) -> None:
        if self.newest is None or img.CreationTime > self.newest:
            self.newest = img.CreationTime


class _Partition:
    """The images of one value of the partition fields, with indexes on other fields."""

    __slots__ = ("images", "indexes", "key")

    def __init__(self, key: tuple[Any, ...]) -> None:
        self.key = key
        self.images: Bucket = {}
        self.indexes: dict[Fields, Index] = {}

    def index(self, fields: Fields) -> Index:
        index = self.indexes.get(fields)
        if index is None:
            keyfn = _keyfn(fields)
            index = self.indexes[fields] = {}
            for k, img in self.images.items():
                index.setdefault(keyfn(img), {})[k] = img
        return index

    def add(self, k: Key, img: Image) -> None:
        self.images[k] = img
        for fields, index in self.indexes.items():
            index.setdefault(_keyfn(fields)(img), {})[k] = img

    def discard(self, k: Key, img: Image) -> None:
        self.images.pop(k, None)
        for fields, index in self.indexes.items():
            _drop(index, _keyfn(fields)(img), k)


#: A partition answers a lookup on other fields by reading its images this many times before it
#: builds an index on them: most partitions a check reads in a big state are read once or twice
#: (an index costs a dict per value, ~20 µs for a family of 50 images), a busy one is indexed.
FILTER_READS = 4


class _Filtered:
    """A partition's stand-in for its index on ``fields`` until it has been read ``FILTER_READS``
    times: ``get`` finds the images in C, then builds the index and puts it in its slot of the
    lookup's selection, so later lookups read the index directly."""

    __slots__ = ("at", "fields", "keyfn", "part", "reads", "slot")

    def __init__(self, part: _Partition, fields: Fields, slot: list[Any], at: int) -> None:
        self.part, self.fields, self.keyfn, self.slot, self.at = part, fields, _keyfn(fields), slot, at
        self.reads = 0

    def get(self, value: tuple[Any, ...]) -> Bucket | None:
        self.reads += 1
        if self.reads >= FILTER_READS or self.fields in self.part.indexes:
            index = self.slot[self.at] = self.part.index(self.fields)
            return index.get(value)
        images = self.part.images
        found = dict(itertools.compress(images.items(), map(functools.partial(operator.eq, value),
                                                            map(self.keyfn, images.values()))))
        return found or None


def _drop(index: Index, value: tuple[Any, ...], k: Key) -> None:
    bucket = index.get(value)
    if bucket is not None:
        bucket.pop(k, None)
        if not bucket:
            del index[value]


def _picker(positions: tuple[int, ...]) -> Any:
    """key -> the tuple of its items at ``positions`` (C-level)."""
    if len(positions) == 1:
        (i,) = positions
        return lambda key: (key[i],)
    return operator.itemgetter(*positions)


@dataclass
class _Plan:
    """How a lookup on ``fields`` is answered: the key positions of the partition fields (None:
    not in the lookup, every value is visited), and the fields left for per-partition indexes."""

    levels: tuple[int | None, ...]
    bound: Any  # key -> the values of the partition fields the lookup names
    rest: Fields
    rest_key: Any  # key -> the values of the other fields
    # the values ``bound`` gives -> the per-partition indexes (or images) they select, or None for
    # the index over all images; forgotten when a partition is added
    selected: dict[tuple[Any, ...], list[Any] | None] = dataclasses.field(default_factory=dict)


class ImageStore(Images):
    """Images by id, partitioned by region and owner, with indexes built on first use."""

    __slots__ = ("_built", "_by_id", "_indexes", "_partition", "_parts", "_plans", "_regions", "_tree")

    def __init__(self, images: Iterable[Image] = (), partition: Fields = PARTITION) -> None:
        """``partition=()`` turns partitioning off: every lookup uses an index over all images."""
        super().__init__()
        self._by_id: Bucket = {(img.ImageId, img.RegionId): img for img in images}  # in bulk: fast for 1M
        self._partition = partition
        self._parts: dict[tuple[Any, ...], _Partition] = {}
        self._tree: dict[Any, Any] = {}  # partition values, nested by level; the last level holds the partitions
        self._indexes: dict[Fields, Index] = {}
        self._plans: dict[Fields, _Plan | None] = {}
        self._built: set[Fields] = set()  # field tuples indexed partition by partition
        self._regions: set[str] = set()
        if self._by_id:
            self.newest = max(map(operator.attrgetter("CreationTime"), self._by_id.values()))
        if partition:  # one pass; the nesting directory is built from the partition keys afterwards
            parts, keyfn = self._parts, _keyfn(partition)
            for k, img in self._by_id.items():
                part = parts.get(pk := keyfn(img))
                if part is None:
                    part = parts[pk] = _Partition(pk)
                part.images[k] = img
            for pk, part in parts.items():
                self._file(pk, part)
        if partition[:1] != ("RegionId",):
            self._regions.update(region for _, region in self._by_id)

    def _file(self, pk: tuple[Any, ...], part: _Partition) -> None:
        node = self._tree
        for value in pk[:-1]:
            node = node.setdefault(value, {})
        node[pk[-1]] = part
        if self._partition[0] == "RegionId":
            self._regions.add(pk[0])

    def copy(self) -> ImageStore:
        """An independent store with the same images (indexes are rebuilt on demand)."""
        return ImageStore(self._by_id.values(), self._partition)

    def groups(self, fields: Fields, regions: Collection[str] | None = None,
               ) -> Iterator[tuple[tuple[Any, ...], Collection[Image]]] | None:
        """The images grouped by the values of ``fields``, which must be partition fields: each
        partition's values of ``fields`` and its images (several partitions can give the same
        values); with ``regions``, only the partitions of those regions. None if the store is not
        partitioned by every one of ``fields`` (and by region, when ``regions`` is given)."""
        if not set(fields) <= set(self._partition) or (regions is not None and self._partition[:1] != ("RegionId",)):
            return None
        pick = operator.itemgetter(*(self._partition.index(f) for f in fields))
        one = len(fields) == 1
        parts = self._parts.items() if regions is None else self._parts_in(regions)
        return (((pick(pk),) if one else pick(pk), part.images.values()) for pk, part in parts)

    def _parts_in(self, regions: Collection[str]) -> Iterator[tuple[tuple[Any, ...], _Partition]]:
        """The partitions of ``regions`` (the store is partitioned by region first)."""
        return ((pk, part) for pk, part in self._parts.items() if pk[0] in regions)

    def in_regions(self, regions: Collection[str]) -> Iterator[Image]:
        if self._partition[:1] != ("RegionId",):
            return super().in_regions(regions)
        self.stats.scans += 1
        return itertools.chain.from_iterable(part.images.values() for _, part in self._parts_in(regions))

    def __iter__(self) -> Iterator[Image]:
        self.stats.scans += 1
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def _regions_of(self, image_id: str) -> Iterable[str]:
        return self._regions  # every region with an image (a few dozen at most): probed by key

    def region_names(self) -> frozenset[str]:
        return frozenset(self._regions)

    def by_key(self) -> Mapping[Key, Image]:
        """Every image by (ImageId, RegionId), read-only (no copy, not counted as a scan)."""
        return MappingProxyType(self._by_id)

    def _at(self, key: Key) -> Image | None:
        return self._by_id.get(key)

    # ---- lookups
    def _plan(self, fields: Fields) -> _Plan | None:
        plan = None
        levels = tuple(fields.index(f) if f in fields else None for f in self._partition)
        if any(pos is not None for pos in levels):
            rest = tuple(f for f in fields if f not in self._partition)
            plan = _Plan(levels, _picker(tuple(pos for pos in levels if pos is not None)), rest,
                         _picker(tuple(fields.index(f) for f in rest)) if rest else None)
        self._plans[fields] = plan
        return plan

    def _partitions(self, plan: _Plan, key: tuple[Any, ...]) -> list[_Partition] | None:
        """The partitions a key selects, or None when there are more than FANOUT."""
        nodes: list[Any] = [self._tree]
        named = [i for i, pos in enumerate(plan.levels) if pos is not None]
        for level, pos in enumerate(plan.levels):
            if pos is None:
                nodes = [child for node in nodes for child in node.values()]
                if len(nodes) > FANOUT and level < named[-1]:  # walking many to reach a named level
                    return None
            else:
                value = key[pos]
                nodes = [child for node in nodes if (child := node.get(value)) is not None]
        return nodes

    def _select(self, fields: Fields, plan: _Plan, key: tuple[Any, ...]) -> list[Any] | None:
        parts = self._partitions(plan, key)
        selected: list[Any] | None
        if parts is None:
            selected = None
        elif plan.rest:
            if plan.rest not in self._built:  # a field tuple's first per-partition index counts as a build
                self._built.add(plan.rest)
                self.stats.builds += 1
            selected = []
            for part in parts:  # the partition's index if it has one, else a stand-in that reads it
                index = part.indexes.get(plan.rest)
                selected.append(index if index is not None else _Filtered(part, plan.rest, selected, len(selected)))
        else:
            selected = [part.images for part in parts]
        plan.selected[plan.bound(key)] = selected
        return selected

    def _global(self, fields: Fields) -> Index:
        index = self._indexes.get(fields)
        if index is None:
            self.stats.builds += 1
            keyfn = _keyfn(fields)
            index = {}
            for k, img in self._by_id.items():
                index.setdefault(keyfn(img), {})[k] = img
            self._indexes[fields] = index
        return index

    def lookup(self, fields: Fields, key: tuple[Any, ...]) -> Collection[Image]:
        """The images whose ``fields`` equal ``key`` (fields sorted by name, as the compiler asks)."""
        self.stats.lookups += 1
        if (pk := _by_key(fields)) is not None:  # one image at most: the id dict answers
            found_one = _one(self._by_id.get((key[pk[0]], key[pk[1]])), fields, key)
            self.stats.served += len(found_one)
            return found_one
        plan = self._plans.get(fields, _UNPLANNED)
        if plan is _UNPLANNED:
            plan = self._plan(fields)
        if plan is None:
            selected = None
        else:
            selected = plan.selected.get(plan.bound(key), _UNPLANNED)
            if selected is _UNPLANNED:
                selected = self._select(fields, plan, key)
        if selected is None:
            found = self._global(fields).get(key)
        elif plan.rest_key is None:  # the partitions themselves
            if len(selected) == 1:
                found = selected[0]
            else:
                out = [img for b in selected for img in b.values()]
                self.stats.served += len(out)
                return out
        else:
            rest = plan.rest_key(key)
            if len(selected) == 1:
                found = selected[0].get(rest)
            else:
                out = [img for index in selected if (b := index.get(rest)) for img in b.values()]
                self.stats.served += len(out)
                return out
        if not found:
            return ()
        self.stats.served += len(found)
        return found.values()

    def value_counts(self, fields: Fields, key: tuple[Any, ...], field: str) -> Mapping[Any, int]:
        """As :meth:`Images.value_counts`; when the key selects whole partitions, from the
        partitions' indexes on ``field`` (shared with lookups on it): O(values), not O(images)."""
        group = self._counts.get((fields, field))
        counts = group.get(key) if group is not None else None
        if counts is not None:
            return counts
        plan = self._plans.get(fields, _UNPLANNED)
        if plan is _UNPLANNED:
            plan = self._plan(fields)
        parts = self._partitions(plan, key) if plan is not None and not plan.rest else None
        if parts is None:
            return super().value_counts(fields, key, field)
        counts = Counter()
        if field in self._partition:  # one value per partition
            at = self._partition.index(field)
            for part in parts:
                if part.images:
                    counts[part.key[at]] += len(part.images)
        else:
            for part in parts:
                for (value,), bucket in part.index((field,)).items():
                    counts[value] += len(bucket)
        self._counts.setdefault((fields, field), {})[key] = counts
        return counts

    # ---- changes
    def put(self, img: Image) -> Image | None:
        """Add or replace an image (same ImageId and RegionId); returns the one it replaced."""
        k = _key(img)
        old = self._by_id.get(k)
        if old is not None:
            self._unindex(k, old)
        self._by_id[k] = img
        self._note_newest(img)
        if self._partition:
            pk = _keyfn(self._partition)(img)
            part = self._parts.get(pk)
            if part is None:
                part = self._parts[pk] = _Partition(pk)
                self._file(pk, part)
                for plan in self._plans.values():
                    if plan is not None:
                        plan.selected.clear()
            part.add(k, img)
        self._regions.add(img.RegionId)
        for fields, index in self._indexes.items():
            index.setdefault(_keyfn(fields)(img), {})[k] = img
        self._recount(old, img)
        return old

    def remove(self, image_id: str, region: str | None = None) -> Image | None:
        """Remove the image ``image_id`` of ``region`` (optional when the id is in one region only)."""
        region = self._region_of(image_id, region)
        if region is None:
            return None
        old = self._by_id.pop((image_id, region), None)
        if old is not None:
            self._unindex((image_id, region), old)
            self._recount(old, None)
        return old

    def _unindex(self, k: Key, img: Image) -> None:
        if self._partition:
            part = self._parts.get(_keyfn(self._partition)(img))
            if part is not None:
                part.discard(k, img)
        for fields, index in self._indexes.items():
            _drop(index, _keyfn(fields)(img), k)


class Overlay(Images):
    """A store's images plus changes recorded on the side: what a check simulates on.

    Reads see the changes; the base store is never modified (it must not change while the overlay
    is in use). Iteration order is the base's with replacements in place, then new images in the
    order they were added, as a copied dict would give.
    """

    __slots__ = ("_len", "_new_regions", "_over", "_own", "_pending", "_tail", "base")

    def __init__(self, base: ImageStore) -> None:
        super().__init__()
        self.base = base
        self.newest = base.newest
        self._len = len(base)
        self._over: dict[Key, Image | None] = {}  # base images replaced in place, or removed (None)
        self._tail: Bucket = {}  # images not at a base position: new ones, or removed and added again
        self._new_regions: set[str] = set()  # regions of added images the base has none in
        self._own: dict[Fields, Index] = {}  # per field tuple: buckets changes touched, copied when read
        # per field tuple: buckets changes touched but nobody read yet: (base keys gone, images added)
        self._pending: dict[Fields, dict[tuple[Any, ...], tuple[set[Key], Bucket]]] = {}

    def __iter__(self) -> Iterator[Image]:
        self.stats.scans += 1
        self.base._read_all("every image")
        if not self._over and not self._tail:
            return iter(self.base._by_id.values())
        return self._iter()

    def _iter(self) -> Iterator[Image]:
        over = self._over
        for k, img in self.base._by_id.items():
            if k in over:
                changed = over[k]
                if changed is not None:
                    yield changed
            else:
                yield img
        yield from list(self._tail.values())

    def __len__(self) -> int:
        return self._len

    def copy(self) -> ImageStore:
        """An independent store with the current images."""
        return ImageStore(list(self), self.base._partition)

    def by_key(self) -> Mapping[Key, Image]:
        """Every current image by (ImageId, RegionId), read-only (the base's own mapping while
        nothing changed, else a copy)."""
        if not self._over and not self._tail:
            return self.base.by_key()
        self.base._read_all("every image")
        return MappingProxyType({_key(img): img for img in self._iter()})

    def _regions_of(self, image_id: str) -> Iterable[str]:
        return self._regions

    def _elsewhere(self, image_id: str) -> bool:
        return self.base._elsewhere(image_id)

    def region_names(self) -> frozenset[str]:
        return self.base.region_names() | self._new_regions

    @property
    def _regions(self) -> set[str]:
        return self.base._regions | self._new_regions if self._new_regions else self.base._regions

    def _at(self, key: Key) -> Image | None:
        if key in self._tail:
            return self._tail[key]
        if key in self._over:
            return self._over[key]
        return self.base._at(key)

    def _changed(self) -> Iterator[tuple[Image | None, Image | None]]:
        """(base image, current image) of every key a change touched."""
        base = self.base._by_id
        for k in dict.fromkeys([*self._over, *self._tail]):
            orig, now = base.get(k), self._at(k)
            if orig is not now:
                yield orig, now

    def lookup(self, fields: Fields, key: tuple[Any, ...]) -> Collection[Image]:
        self.stats.lookups += 1
        if (pk := _by_key(fields)) is not None:  # one image at most
            found_one = _one(self._at((key[pk[0]], key[pk[1]])), fields, key)
            self.stats.served += len(found_one)
            return found_one
        own = self._own.get(fields)
        if own is None:
            if not self._over and not self._tail:
                found = self.base.lookup(fields, key)
                self.stats.served += len(found)
                return found
            own = self._register(fields)
        bucket = own.get(key)
        if bucket is None:
            pending = self._pending[fields].pop(key, None)
            if pending is None:
                found = self.base.lookup(fields, key)
                self.stats.served += len(found)
                return found
            gone, new = pending  # first read of a bucket changes touched: copy it from the base
            bucket = own[key] = {k: i for i in self.base.lookup(fields, key) if (k := _key(i)) not in gone}
            bucket.update(new)
        self.stats.served += len(bucket)
        return bucket.values()

    def _register(self, fields: Fields) -> Index:
        """Start tracking changes for lookups on ``fields``: the changes so far become pending."""
        own = self._own[fields] = {}
        self._pending[fields] = {}
        for before, after in self._changed():
            self._move(fields, before, after)
        return own

    def value_counts(self, fields: Fields, key: tuple[Any, ...], field: str) -> Mapping[Any, int]:
        """The base's counts (shared, kept in the base) corrected by the changes to this bucket."""
        group = self._counts.get((fields, field))
        if group is None:
            group = self._counts[(fields, field)] = {}
        counts = group.get(key)
        if counts is not None:
            return counts
        if fields not in self._own and (self._over or self._tail):
            self._register(fields)
        own = self._own.get(fields)
        bucket = own.get(key) if own is not None else None
        get = operator.attrgetter(field)
        if bucket is not None:  # copied already: count it
            counts = Counter(map(get, bucket.values()))
        else:
            counts = Counter(self.base.value_counts(fields, key, field))
            gone, new = self._pending[fields].get(key) or ((), {}) if own is not None else ((), {})
            for k in gone:
                counts[get(self.base._by_id[k])] -= 1
            counts.update(map(get, new.values()))
            counts = +counts  # drop values no image has left
        group[key] = counts
        return counts

    def _move(self, fields: Fields, before: Image | None, after: Image | None) -> None:
        """Apply a change to the buckets of ``fields``: in place in copied buckets, else as a
        pending difference from the base's bucket (copied only if a lookup asks for it)."""
        keyfn, own, pending = _keyfn(fields), self._own[fields], self._pending[fields]
        for img, add in ((before, False), (after, True)):
            if img is None:
                continue
            value, k = keyfn(img), _key(img)
            bucket = own.get(value)
            if bucket is not None:
                if add:
                    bucket[k] = img
                else:
                    bucket.pop(k, None)
                continue
            gone, new = pending.get(value) or pending.setdefault(value, (set(), {}))
            if add:
                new[k] = img
            elif k in new:  # an image changes made (a base image of this bucket is in gone already)
                del new[k]
            else:  # the base's image
                gone.add(k)

    def _change(self, before: Image | None, after: Image | None) -> None:
        for fields in self._own:
            self._move(fields, before, after)
        self._recount(before, after)

    def put(self, img: Image) -> Image | None:
        """Add or replace an image (same ImageId and RegionId); returns the one it replaced."""
        k = _key(img)
        old = self._at(k)
        if k in self._tail:
            self._tail[k] = img
        elif k in self.base._by_id and self._over.get(k, img) is not None:  # still at its base position
            self._over[k] = img
        else:
            self._tail[k] = img
        if img.RegionId not in self.base._regions:
            self._new_regions.add(img.RegionId)
        if old is None:
            self._len += 1
        self._note_newest(img)
        self._change(old, img)
        return old

    def remove(self, image_id: str, region: str | None = None) -> Image | None:
        """Remove the image ``image_id`` of ``region`` (optional when the id is in one region only)."""
        region = self._region_of(image_id, region)
        if region is None:
            return None
        k = (image_id, region)
        old = self._at(k)
        if old is None:
            return None
        if k in self._tail:
            del self._tail[k]
        if k in self.base._by_id:
            self._over[k] = None
        self._len -= 1
        self._change(old, None)
        return old
