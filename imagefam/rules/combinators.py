"""Closure combinators the compiler builds rules from: three-valued ``and``/``or``, fused
two-valued tests, and the per-element filter of ``where``. Runtime code: every function here
returns a closure over a :class:`~imagefam.rules.runtime.Ctx`."""

from __future__ import annotations

from collections.abc import Callable
from itertools import compress, repeat
from typing import Any

from .runtime import Context as Ctx
from .runtime import Fn

Test = tuple[Fn, Callable[[Any, Any], bool], Any]  # (getter, operator, constant)


def tests_then(tests: tuple[Test, ...], then: Fn, stop: bool) -> Fn:
    """``t1 and t2 and y`` (or ``t1 or t2 or y``) with two-valued tests inline: when the tests do not
    decide, the result is ``y``'s value (Kleene: ``true and y`` is ``y``, ``false or y`` is ``y``)."""
    if len(tests) == 1:
        ((g1, o1, k1),) = tests
        if stop:
            return lambda c: True if o1(g1(c), k1) else then(c)
        return lambda c: then(c) if o1(g1(c), k1) else False
    if len(tests) == 2 and not stop:
        (g1, o1, k1), (g2, o2, k2) = tests

        def both_then(c: Ctx) -> Any:
            if o1(g1(c), k1) and o2(g2(c), k2):
                return then(c)
            return False

        return both_then
    fused = fused_tests(tests, stop)

    def tests_then(c: Ctx) -> Any:
        return stop if fused(c) is stop else then(c)

    return tests_then


def fused_tests(tests: tuple[Test, ...], stop: bool) -> Fn:
    """Two-valued getter tests joined by ``and`` (stop at the first False) or ``or`` (first True)."""
    if stop:
        def any_test(c: Ctx) -> bool:
            return any(op(get(c), k) for get, op, k in tests)

        return any_test

    if len(tests) == 2:
        (g1, o1, k1), (g2, o2, k2) = tests

        def both(c: Ctx) -> Any:
            return o1(g1(c), k1) and o2(g2(c), k2)

        return both

    def all_tests(c: Ctx) -> bool:
        for get, op, k in tests:  # noqa: SIM110 - faster than all() over a generator, on a hot path
            if not op(get(c), k):
                return False
        return True

    return all_tests


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


def matcher(tests: list[tuple[Callable[[Any], Any], Callable[[Any, Any], bool], Fn]]
            ) -> Callable[[Ctx, Any], list[Any]]:
    """Filter images by two-valued ``Field ==/!= value`` tests: the values are computed once per
    call, and each image is tested with C-level getters and operators (no closure per image)."""
    if len(tests) == 1:
        ((g1, o1, v1),) = tests

        def one(c: Ctx, items: Any) -> list[Any]:  # C-level: no Python frame per image
            return list(compress(items, map(o1, map(g1, items), repeat(v1(c)))))

        return one
    if len(tests) == 2:
        (g1, o1, v1), (g2, o2, v2) = tests

        def two(c: Ctx, items: Any) -> list[Any]:
            k1, k2 = v1(c), v2(c)
            return [i for i in items if o1(g1(i), k1) and o2(g2(i), k2)]

        return two

    def many(c: Ctx, items: Any) -> list[Any]:
        ks = [(g, o, v(c)) for g, o, v in tests]
        return [i for i in items if all(o(g(i), k) for g, o, k in ks)]

    return many
