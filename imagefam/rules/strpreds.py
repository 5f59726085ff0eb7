"""String predicates over one operand, compiled into one closure that reads the operand once.

``request.ImageFamily != null and request.ImageFamily != "" and request.ImageFamily startswith "acs"``,
``x startswith "aliyun" or x contains "http://"``, ``not (x matches "...")``: tests of one string
a C-level getter reads (a context name, or a path on which nothing can be null), against literal
strings. Each test of a null operand is null, so a predicate built from them with ``and``, ``or``
and ``not`` is null exactly when the operand is null, and two-valued otherwise: the closure reads
the operand, answers null for null, and runs plain Python string tests for the rest. The two-valued
guards ``x != null`` / ``x != ""`` (``==`` in an ``or``) of the same operand join in front.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import ast
from .regex import searcher
from .runtime import Context as Ctx
from .runtime import Fn

if TYPE_CHECKING:
    from .compiler import Compiler

StrTest = Callable[[str], bool]  # a two-valued test of a non-null string
Pred = tuple[str, Fn, StrTest]  # (the operand's path, its getter, the test)
Guard = tuple[str, Callable[[Any, Any], bool], Any]  # (the operand's path, operator, constant)


def _base(op: str, k: str) -> StrTest:
    if op == "startswith":
        return lambda v: v.startswith(k)
    if op == "endswith":
        return lambda v: v.endswith(k)
    if op == "contains":
        return lambda v: k in v
    return searcher(k)  # matches


def _join(tests: list[StrTest], stop: bool) -> StrTest:
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        t1, t2 = tests
        return (lambda v: t1(v) or t2(v)) if stop else (lambda v: t1(v) and t2(v))
    if len(tests) == 3:
        t1, t2, t3 = tests
        return (lambda v: t1(v) or t2(v) or t3(v)) if stop else (lambda v: t1(v) and t2(v) and t3(v))
    frozen = tuple(tests)
    return (lambda v: any(t(v) for t in frozen)) if stop else (lambda v: all(t(v) for t in frozen))


def string_pred(comp: Compiler, e: ast.Expr, depth: int = 0) -> Pred | None:
    """``e`` as a predicate of one string operand, or None if it is not one."""
    if depth > 32:
        return None
    if isinstance(e, ast.Unary) and e.op == "not":
        inner = string_pred(comp, e.operand, depth + 1)
        if inner is None:
            return None
        t = inner[2]
        return inner[0], inner[1], lambda v: not t(v)
    if isinstance(e, ast.BoolOp):
        preds = [string_pred(comp, p, depth + 1) for p in e.parts]
        if not preds or any(p is None for p in preds) or len({p[0] for p in preds if p is not None}) != 1:
            return None
        first = preds[0]
        assert first is not None
        return first[0], first[1], _join([p[2] for p in preds if p is not None], e.op == "or")
    if not (isinstance(e, ast.Compare) and e.op in ("startswith", "endswith", "contains", "matches")):
        return None
    rhs = comp.fold(e.right)
    ty = comp.types.get(e.left)
    if not (isinstance(rhs, ast.Literal) and isinstance(rhs.value, str) and ty is not None and ty.is_text):
        return None
    path = comp.getter_path(e.left)
    if path is None:
        return None
    return path, operator.attrgetter(path), _base(e.op, rhs.value)


def guard_of(comp: Compiler, e: ast.Expr, stop: bool) -> Guard | None:
    """``x != null`` / ``x != ""`` in an ``and`` (``x == null`` / ``x == ""`` in an ``or``) as
    (path, operator, constant): the two-valued tests that may run before a predicate of ``x``."""
    if not (isinstance(e, ast.Compare) and e.op == ("==" if stop else "!=")):
        return None
    rhs = comp.fold(e.right)
    if not (isinstance(rhs, ast.Literal) and rhs.value in (None, "")):
        return None
    path = comp.getter_path(e.left)
    if path is None:
        return None
    if rhs.value is None:
        return path, (operator.is_ if stop else operator.is_not), None
    return path, (operator.eq if stop else operator.ne), ""


def group(comp: Compiler, parts: list[ast.Expr], stop: bool) -> list[ast.Expr | Fn]:
    """``parts`` of an ``and`` (``or`` when ``stop``) with the predicates of one operand, and the
    null/empty guards of that operand, joined into one closure per operand when that saves a call.
    The closure stands where the first of them stood (it reads the operand there, as they would)."""
    kinds: list[tuple[Pred | None, Guard | None]] = []
    by_path: dict[str, list[int]] = {}  # operand -> positions in parts of its tests and guards
    for i, p in enumerate(parts):
        q = string_pred(comp, p)
        g = guard_of(comp, p, stop) if q is None else None
        kinds.append((q, g))
        path = q[0] if q is not None else g[0] if g is not None else None
        if path is not None:
            by_path.setdefault(path, []).append(i)
    joined: dict[int, Fn] = {}
    dropped: set[int] = set()
    for path, at in by_path.items():
        tests = [q[2] for q, _ in (kinds[i] for i in at) if q is not None]
        if not tests or len(at) < 2:
            continue
        checks = [(g[1], g[2]) for _, g in (kinds[i] for i in at) if g is not None]
        joined[at[0]] = _closure(operator.attrgetter(path), checks, _join(tests, stop), stop)
        dropped.update(at[1:])
    return [joined.get(i, p) for i, p in enumerate(parts) if i not in dropped]


def _closure(get: Fn, guards: list[tuple[Callable[[Any, Any], bool], Any]], test: StrTest, stop: bool) -> Fn:
    """Guards first (two-valued: decide the ``and`` on False, the ``or`` on True), then the test."""
    if not guards:
        return lambda c: None if (v := get(c)) is None else test(v)
    if len(guards) == 2 and not stop:
        (o1, k1), (o2, k2) = guards

        def guarded2(c: Ctx) -> bool | None:
            v = get(c)
            if o1(v, k1) and o2(v, k2):
                return None if v is None else test(v)
            return False

        return guarded2
    frozen = tuple(guards)

    def guarded(c: Ctx) -> bool | None:
        v = get(c)
        for o, k in frozen:
            if o(v, k) is stop:
                return stop
        return None if v is None else test(v)

    return guarded


def single(comp: Compiler, e: ast.Expr) -> Fn | None:
    """A whole predicate (``not (x matches k)``, ``x startswith a or x contains b``) as one closure."""
    q = string_pred(comp, e)
    return None if q is None else _closure(q[1], [], q[2], False)
