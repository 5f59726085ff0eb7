"""A state snapshot: the images of one or more accounts across regions, as of ``taken_at``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .models import Image
from .store import Images, ImageStore, Overlay


@dataclass
class State:
    images: Images
    taken_at: datetime | None = None
    source: str = "<memory>"
    notes: list[str] = field(default_factory=list)  # loader warnings (e.g. undercounted quotas)
    from_api: bool = False  # loaded from raw DescribeImages bodies

    @staticmethod
    def of(images: list[Image], taken_at: datetime | None = None) -> State:
        return State(ImageStore(images), taken_at)

    def copy(self) -> State:
        """An independent state with the same images (a full copy of the store)."""
        return State(self.images.copy(), self.taken_at, self.source, list(self.notes), self.from_api)

    def overlay(self) -> State:
        """A state whose changes are recorded on the side: this one is neither copied nor modified
        (and must not change while the overlay is in use)."""
        base = self.images if isinstance(self.images, ImageStore) else self.images.copy()
        return State(Overlay(base), self.taken_at, self.source, list(self.notes), self.from_api)

    def regions(self) -> list[str]:
        return sorted({img.RegionId for img in self.images})
