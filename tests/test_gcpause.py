"""gc_paused: no collection inside the block; what a kept block made is moved out of the young
generation, without releasing objects someone else froze."""

from __future__ import annotations

import gc

from imagefam.engine.gcpause import gc_paused


def test_a_kept_block_leaves_nothing_young_and_nothing_frozen() -> None:
    gc.unfreeze()  # earlier tests in this process may have frozen objects (a pruned load does)
    with gc_paused(keep=True):
        assert not gc.isenabled()
        made = [[i] for i in range(1000)]
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert gc.get_count()[0] < 100  # the block's objects are not waiting in the young generation
    del made


def test_objects_frozen_before_stay_frozen_and_the_block_joins_them() -> None:
    before = [[i] for i in range(100)]
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with gc_paused(keep=True):
            made = [[i] for i in range(1000)]
        assert gc.get_freeze_count() >= frozen + 1000  # joined, and the earlier ones not released
    finally:
        gc.unfreeze()
    del before, made
