"""Closure combinators the compiler builds rules from: three-valued ``and``/``or``, the
per-element filter of ``where`` and index keys. Runtime code: every function here returns a
closure over a :class:`~imagefam.rules.runtime.Ctx`. (Fused two-valued tests and element tests
are generated code: :mod:`.codegen`.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .runtime import Context as Ctx
from .runtime import Fn


def kleene(fns: tuple[Fn, ...], stop: bool) -> Fn:
    """n-ary three-valued ``and`` (stop at False) or ``or`` (stop at True); null if undecided."""

    def kleene(c: Ctx) -> Any:
        unknown = False
        for f in fns:
            v = f(c)
            if v is stop:
                return stop
            if v is None:
                unknown = True
        return None if unknown else not stop

    return kleene


def bucket_filter(c: Ctx, items: Any, cond: Fn) -> tuple[Any, ...] | None:
    """The elements for which ``cond`` holds; None (unknown) if it is null for any element."""
    saved = c.it
    out = []
    unknown = False
    try:
        for item in items:
            c.it = item
            v = cond(c)
            if v:
                out.append(item)
            elif v is None:
                unknown = True
    finally:
        c.it = saved
    return None if unknown else tuple(out)


def key_builder(keyfns: list[Fn | None]) -> Callable[[Ctx], tuple[Any, ...]]:
    """The index key of a lookup from its key closures, without a generator for common sizes.
    (A None slot, for an ``in`` field, is filled by the caller and never built here.)"""
    fns = [f for f in keyfns if f is not None]
    if len(fns) == 1:
        (a,) = fns
        return lambda c: (a(c),)
    if len(fns) == 2:
        a, b = fns
        return lambda c: (a(c), b(c))
    if len(fns) == 3:
        a, b, d = fns
        return lambda c: (a(c), b(c), d(c))
    return lambda c: tuple(f(c) for f in fns)
