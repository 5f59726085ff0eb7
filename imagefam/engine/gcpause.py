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
def gc_paused() -> Iterator[None]:
    """No cycle collection inside the block (re-enabled after it, if it was enabled)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
