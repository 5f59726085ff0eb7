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

from typing import TYPE_CHECKING, Any

from . import ast
from .codegen import StrTest, is_path, string_predicate
from .regex import searcher
from .runtime import Fn

if TYPE_CHECKING:
    from .compiler import Compiler

#: A two-valued test of a non-null string (see :data:`.codegen.StrTest`).
Pred = tuple[str, StrTest]  # (the operand's path, the test)
Guard = tuple[str, str, Any]  # (the operand's path, "is" | "is not" | "==" | "!=", constant)


#: At most this many string tests in one generated predicate (a rule joining thousands of tests
#: of one operand is compiled the usual way, a closure per test, not into one huge expression).
MAX_TESTS = 64


def _join(tests: list[StrTest], stop: bool) -> StrTest:
    return tests[0] if len(tests) == 1 else ("or" if stop else "and", tests)


def _size(t: StrTest) -> int:
    op, arg = t
    return 1 if op not in ("not", "and", "or") else _size(arg) if op == "not" else sum(map(_size, arg))


def string_pred(comp: Compiler, e: ast.Expr, depth: int = 0) -> Pred | None:
    """``e`` as a predicate of one string operand, or None if it is not one."""
    if depth > 32:
        return None
    if isinstance(e, ast.Unary) and e.op == "not":
        inner = string_pred(comp, e.operand, depth + 1)
        return None if inner is None else (inner[0], ("not", inner[1]))
    if isinstance(e, ast.BoolOp):
        preds = [p for p in (string_pred(comp, p, depth + 1) for p in e.parts) if p is not None]
        if not preds or len(preds) != len(e.parts) or len({p[0] for p in preds}) != 1:
            return None
        joined = _join([p[1] for p in preds], e.op == "or")
        return (preds[0][0], joined) if _size(joined) <= MAX_TESTS else None
    if not (isinstance(e, ast.Compare) and e.op in ("startswith", "endswith", "contains", "matches")):
        return None
    rhs = comp.fold(e.right)
    ty = comp.types.get(e.left)
    if not (isinstance(rhs, ast.Literal) and isinstance(rhs.value, str) and ty is not None and ty.is_text):
        return None
    path = comp.getter_path(e.left)
    if path is None or not is_path(path):
        return None
    return path, (e.op, searcher(rhs.value) if e.op == "matches" else rhs.value)


def guard_of(comp: Compiler, e: ast.Expr, stop: bool) -> Guard | None:
    """``x != null`` / ``x != ""`` in an ``and`` (``x == null`` / ``x == ""`` in an ``or``) as
    (path, operator, constant): the two-valued tests that may run before a predicate of ``x``."""
    if not (isinstance(e, ast.Compare) and e.op == ("==" if stop else "!=")):
        return None
    rhs = comp.fold(e.right)
    if not (isinstance(rhs, ast.Literal) and rhs.value in (None, "")):
        return None
    path = comp.getter_path(e.left)
    if path is None or not is_path(path):
        return None
    if rhs.value is None:
        return path, ("is" if stop else "is not"), None
    return path, ("==" if stop else "!="), ""


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
        tests = [q[1] for q, _ in (kinds[i] for i in at) if q is not None]
        if not tests or len(at) < 2 or sum(map(_size, tests)) > MAX_TESTS:
            continue
        checks = [(g[1], g[2]) for _, g in (kinds[i] for i in at) if g is not None]
        joined[at[0]] = string_predicate(path, checks, _join(tests, stop), stop)
        dropped.update(at[1:])
    return [joined.get(i, p) for i, p in enumerate(parts) if i not in dropped]


def single(comp: Compiler, e: ast.Expr) -> Fn | None:
    """A whole predicate (``not (x matches k)``, ``x startswith a or x contains b``) as one closure."""
    q = string_pred(comp, e)
    return None if q is None else string_predicate(q[0], [], q[1], False)
