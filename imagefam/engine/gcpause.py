"""Pausing Python's cycle collector while large structures are built.

A million images (and a report's scopes over them) are made without a single reference cycle,
but every cycle collection still walks every container object made so far: at 1M images that was
a fifth of loading and of a report. Paused, the objects are collected as usual once it resumes.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused(keep: bool = False) -> Iterator[None]:
    """No cycle collection inside the block (re-enabled after it, if it was enabled).

    ``keep``: what the block made is kept (a loaded state), so it is moved to the oldest
    generation as it is (``gc.freeze()`` then ``gc.unfreeze()``): the collector's first young
    collection would otherwise walk every object made in the block (0.3-0.45 s at 1M images),
    and promote them to be walked again. When objects are frozen already (the command's entry
    freezes what exists at start-up), they join the frozen ones instead: unfreezing would release
    the caller's too. Frozen objects are still freed by reference counting when dropped."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if keep:
            frozen_before = gc.get_freeze_count()
            gc.freeze()
            if not frozen_before:
                gc.unfreeze()
        if enabled:
            gc.enable()
