"""A state snapshot: the images of one or more accounts across regions, as of ``taken_at``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .models import Image
from .store import ImageStore


@dataclass
class State:
    images: ImageStore
    taken_at: datetime | None = None
    source: str = "<memory>"
    notes: list[str] = field(default_factory=list)  # loader warnings (e.g. undercounted quotas)
    from_api: bool = False  # loaded from raw DescribeImages bodies

    @staticmethod
    def of(images: list[Image], taken_at: datetime | None = None) -> State:
        return State(ImageStore(images), taken_at)

    def copy(self) -> State:
        return State(self.images.copy(), self.taken_at, self.source, list(self.notes), self.from_api)

    def regions(self) -> list[str]:
        return sorted({img.RegionId for img in self.images})
