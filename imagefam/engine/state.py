"""A state snapshot: the images of one or more accounts across regions, as of ``taken_at``.

``now`` is the instant rules see as ``now`` (and ``age()`` measures from): ``at`` (the ``--at``
flag) when set, else ``taken_at``, else the clock as read once when the state was made, so it
never changes during one command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from .consumers import ConsumerStore
from .models import Image
from .store import Images, ImageStore, Overlay


@dataclass
class State:
    images: Images
    taken_at: datetime | None = None
    source: str = "<memory>"
    notes: list[str] = field(default_factory=list)  # loader warnings (e.g. undercounted quotas)
    from_api: bool = False  # loaded from raw DescribeImages bodies
    at: datetime | None = None  # evaluate as of this time (--at)
    clock: datetime = field(default_factory=lambda: datetime.now(UTC))  # read once, when made
    #: who launches from the images: scaling configurations and instances
    consumers: ConsumerStore = field(default_factory=ConsumerStore)

    @property
    def now(self) -> datetime:
        return self.at or self.taken_at or self.clock

    @staticmethod
    def of(images: list[Image], taken_at: datetime | None = None, at: datetime | None = None) -> State:
        return State(ImageStore(images), taken_at, at=at)

    def copy(self) -> State:
        """An independent state with the same images (a full copy of the store)."""
        return State(self.images.copy(), self.taken_at, self.source, list(self.notes), self.from_api, self.at,
                     self.clock, self.consumers.copy())

    def as_of(self, at: datetime) -> State:
        """The state as it stood at ``at``: images created after it left out, ``now`` set to it."""
        kept = ImageStore(img for img in self.images.by_key().values() if img.CreationTime <= at)
        return State(kept, self.taken_at, self.source, list(self.notes), self.from_api, at, self.clock,
                     self.consumers)

    def overlay(self) -> State:
        """A state whose changes are recorded on the side: this one is neither copied nor modified
        (and must not change while the overlay is in use)."""
        base = self.images if isinstance(self.images, ImageStore) else self.images.copy()
        return State(Overlay(base), self.taken_at, self.source, list(self.notes), self.from_api, self.at,
                     self.clock, self.consumers.copy())

    def regions(self) -> list[str]:
        return sorted({img.RegionId for img in self.images})
