"""The images of a state, with hash indexes built on first use and kept current as effects apply.

``lookup(("ImageFamily", "RegionId"), ("web", "cn-hangzhou"))`` answers from an index on those
fields; the first lookup on a field tuple builds it in one pass, later changes (``put``,
``remove``) update every index built so far in O(1) per index. ``stats`` counts lookups and
how many images they served, so tests can show a filter touched only its bucket.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .models import Image


@dataclass
class IndexStats:
    lookups: int = 0
    served: int = 0  # images returned by lookups
    builds: int = 0
    scans: int = 0  # full iterations over all images


class ImageStore:
    """Images by id, plus lazily built hash indexes over field tuples."""

    __slots__ = ("_by_id", "_indexes", "_keyfns", "newest", "stats")

    def __init__(self, images: Iterable[Image] = ()) -> None:
        self._by_id: dict[str, Image] = {}
        self._indexes: dict[tuple[str, ...], dict[tuple[Any, ...], dict[str, Image]]] = {}
        self._keyfns: dict[tuple[str, ...], Any] = {}
        self.stats = IndexStats()
        self.newest: datetime | None = None
        for img in images:
            self._by_id[img.ImageId] = img
            if self.newest is None or img.CreationTime > self.newest:
                self.newest = img.CreationTime

    def copy(self) -> ImageStore:
        """An independent store with the same images (indexes are rebuilt on demand)."""
        other = ImageStore()
        other._by_id = dict(self._by_id)
        other.newest = self.newest
        return other

    def __iter__(self) -> Iterator[Image]:
        self.stats.scans += 1
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, image_id: object) -> bool:
        return image_id in self._by_id

    def get(self, image_id: str | None) -> Image | None:
        return None if image_id is None else self._by_id.get(image_id)

    def _keyfn(self, fields: tuple[str, ...]) -> Any:
        fn = self._keyfns.get(fields)
        if fn is None:
            getter = operator.attrgetter(*fields)
            fn = getter if len(fields) > 1 else (lambda img: (getter(img),))
            self._keyfns[fields] = fn
        return fn

    def _index(self, fields: tuple[str, ...]) -> dict[tuple[Any, ...], dict[str, Image]]:
        index = self._indexes.get(fields)
        if index is None:
            self.stats.builds += 1
            key = self._keyfn(fields)
            index = {}
            for img in self._by_id.values():
                index.setdefault(key(img), {})[img.ImageId] = img
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
        """Add or replace an image; returns the one it replaced."""
        old = self._by_id.get(img.ImageId)
        if old is not None:
            self._unindex(old)
        self._by_id[img.ImageId] = img
        for fields, index in self._indexes.items():
            index.setdefault(self._keyfn(fields)(img), {})[img.ImageId] = img
        if self.newest is None or img.CreationTime > self.newest:
            self.newest = img.CreationTime
        return old

    def remove(self, image_id: str) -> Image | None:
        old = self._by_id.pop(image_id, None)
        if old is not None:
            self._unindex(old)
        return old

    def _unindex(self, img: Image) -> None:
        for fields, index in self._indexes.items():
            k = self._keyfn(fields)(img)
            bucket = index.get(k)
            if bucket is not None:
                bucket.pop(img.ImageId, None)
                if not bucket:
                    del index[k]
