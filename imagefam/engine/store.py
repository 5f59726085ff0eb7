"""The images of a state, with hash indexes built on first use and kept current as effects apply.

Images are keyed by (ImageId, RegionId): ECS image IDs are regional, and a public image carries
the same ImageId in every region. ``get(image_id, region)`` finds the image a request names.

``lookup(("ImageFamily", "RegionId"), ("web", "cn-hangzhou"))`` answers from an index on those
fields; the first lookup on a field tuple builds it in one pass, later changes (``put``,
``remove``) update every index built so far in O(1) per index. ``stats`` counts lookups and
how many images they served, so tests can show a filter touched only its bucket.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from .models import Image

Key = tuple[str, str]  # (ImageId, RegionId)


@dataclass
class IndexStats:
    lookups: int = 0
    served: int = 0  # images returned by lookups
    builds: int = 0
    scans: int = 0  # full iterations over all images


class ImageStore:
    """Images by id, plus lazily built hash indexes over field tuples."""

    __slots__ = ("_by_id", "_indexes", "_keyfns", "_regions", "newest", "stats")

    def __init__(self, images: Iterable[Image] = ()) -> None:
        self._by_id: dict[Key, Image] = {}
        self._regions: dict[str, list[str]] = {}  # ImageId -> regions, for ids in several regions
        self._indexes: dict[tuple[str, ...], dict[tuple[Any, ...], dict[Key, Image]]] = {}
        self._keyfns: dict[tuple[str, ...], Any] = {}
        self.stats = IndexStats()
        self.newest: datetime | None = None
        self._by_id = {(img.ImageId, img.RegionId): img for img in images}  # in bulk: fast for 1M
        for image_id, region in self._by_id:
            self._regions.setdefault(image_id, []).append(region)
        if self._by_id:
            self.newest = max(img.CreationTime for img in self._by_id.values())

    def _add(self, img: Image) -> None:
        key = (img.ImageId, img.RegionId)
        if key not in self._by_id:
            self._regions.setdefault(img.ImageId, []).append(img.RegionId)
        self._by_id[key] = img
        if self.newest is None or img.CreationTime > self.newest:
            self.newest = img.CreationTime

    def copy(self) -> ImageStore:
        """An independent store with the same images (indexes are rebuilt on demand)."""
        other = ImageStore()
        other._by_id = dict(self._by_id)
        other._regions = {k: list(v) for k, v in self._regions.items()}
        other.newest = self.newest
        return other

    def __iter__(self) -> Iterator[Image]:
        self.stats.scans += 1
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def by_key(self) -> Mapping[Key, Image]:
        """Every image by (ImageId, RegionId), read-only (no copy, not counted as a scan)."""
        return MappingProxyType(self._by_id)

    def __contains__(self, image_id: object) -> bool:
        """Whether an image with this ImageId exists in any region."""
        return image_id in self._regions

    def get(self, image_id: str | None, region: str | None = None) -> Image | None:
        """The image with ``image_id`` in ``region``; without a region, the image if its id is
        in one region only (a request that names no region cannot pick among several)."""
        if image_id is None:
            return None
        if region is not None:
            return self._by_id.get((image_id, region))
        regions = self._regions.get(image_id)
        if not regions or len(regions) != 1:
            return None
        return self._by_id.get((image_id, regions[0]))

    def _keyfn(self, fields: tuple[str, ...]) -> Any:
        fn = self._keyfns.get(fields)
        if fn is None:
            getter = operator.attrgetter(*fields)
            fn = getter if len(fields) > 1 else (lambda img: (getter(img),))
            self._keyfns[fields] = fn
        return fn

    def _index(self, fields: tuple[str, ...]) -> dict[tuple[Any, ...], dict[Key, Image]]:
        index = self._indexes.get(fields)
        if index is None:
            self.stats.builds += 1
            key = self._keyfn(fields)
            index = {}
            for k, img in self._by_id.items():
                index.setdefault(key(img), {})[k] = img
            self._indexes[fields] = index
        return index

    def lookup(self, fields: tuple[str, ...], key: tuple[Any, ...]) -> Iterable[Image]:
        """The images whose ``fields`` equal ``key`` (fields sorted by name, as the compiler asks)."""
        bucket = self._index(fields).get(key)
        self.stats.lookups += 1
        if not bucket:
            return ()
        self.stats.served += len(bucket)
        return bucket.values()

    def put(self, img: Image) -> Image | None:
        """Add or replace an image (same ImageId and RegionId); returns the one it replaced."""
        key = (img.ImageId, img.RegionId)
        old = self._by_id.get(key)
        if old is not None:
            self._unindex(old)
        self._add(img)
        for fields, index in self._indexes.items():
            index.setdefault(self._keyfn(fields)(img), {})[key] = img
        return old

    def remove(self, image_id: str, region: str | None = None) -> Image | None:
        """Remove the image ``image_id`` of ``region`` (optional when the id is in one region only)."""
        if region is None:
            found = self.get(image_id)
            if found is None:
                return None
            region = found.RegionId
        old = self._by_id.pop((image_id, region), None)
        if old is not None:
            self._unindex(old)
            regions = self._regions[image_id]
            regions.remove(region)
            if not regions:
                del self._regions[image_id]
        return old

    def _unindex(self, img: Image) -> None:
        key = (img.ImageId, img.RegionId)
        for fields, index in self._indexes.items():
            k = self._keyfn(fields)(img)
            bucket = index.get(k)
            if bucket is not None:
                bucket.pop(key, None)
                if not bucket:
                    del index[k]
