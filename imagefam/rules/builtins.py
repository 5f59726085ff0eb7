"""The builtin functions, each declared once: name, arity, doc line, type rule and implementation.

The type checker calls a builtin's :attr:`Builtin.type_of` with the argument types; the compiler
calls its :attr:`Builtin.compile` to build the closure. docs/rules.md section 6 lists exactly
these names (a test checks it). Host functions (``resolve`` in the ECS environment) are
``Builtin`` values too, made with :func:`host_function` and injected by the environment.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import ast
from .codegen import element_quantifier
from .regex import substituter
from .runtime import sort_key
from .timefns import ORDERED, TIME_BUILTINS, TimeBuiltin
from .timefns import apply as apply_time
from .types import ANY, BOOL, INT, STRING, Ty, assignable, list_of, unify

if TYPE_CHECKING:
    from .compiler import Compiler
    from .runtime import Fn


class CallTyping:
    """A builtin call being type-checked: its arguments, their types, and a way to report."""

    def __init__(self, call: ast.Call, tys: list[Ty], report: Callable[..., None],
                 check_regex: Callable[[ast.Expr], None]) -> None:
        self.call = call
        self.tys = tys
        self.report = report
        self.check_regex = check_regex

    @property
    def nullable(self) -> bool:
        return any(t.nullable for t in self.tys)

    def need(self, i: int, kinds: Iterable[str], what: str) -> None:
        t = self.tys[i]
        if t.kind not in ("any", "null") and t.base() not in kinds:
            self.report(self.call.args[i].span, f"{self.call.func}() needs {what}, found {t}")

    def elem(self, i: int) -> Ty:
        t = self.tys[i]
        return t.elem if t.kind == "list" and t.elem else ANY


TypeRule = Callable[[CallTyping], Ty]
CompileRule = Callable[["Compiler", ast.Call], "Fn"]


@dataclass(frozen=True)
class Builtin:
    name: str
    min_args: int
    max_args: int
    doc: str  # "count(list) -> int: number of elements": the hint of an arity error
    type_of: TypeRule
    compile: CompileRule
    binds_it: bool = False  # the last argument is evaluated per element, with ``it`` bound
    #: Implemented by resolving a family with the policy's ``resolve`` block: an error without
    #: one, and not callable from inside it.
    uses_resolution: bool = False
    #: A host function: the compiled call reads its implementation from the context attribute of
    #: the same name (see :func:`host_function`).
    host: bool = False
    #: Context names the compiled call reads besides its arguments (a time builtin's clock).
    reads: frozenset[str] = frozenset()


# ---- type rules ----


def _list_to(result: Ty) -> TypeRule:
    def rule(t: CallTyping) -> Ty:
        t.need(0, ["list"], "a list")
        return result.opt(t.nullable)

    return rule


def _quantifier_type(t: CallTyping) -> Ty:
    return BOOL.opt(t.tys[0].nullable)  # the checker typed the condition per element


def _distinct_type(t: CallTyping) -> Ty:
    t.need(0, ["list"], "a list")
    elem = t.elem(0)
    if elem.kind == "record":
        t.report(t.call.args[0].span, "distinct() takes a list of values; project a field first, "
                                      "e.g. distinct(ImageFamily of images)")
    return list_of(elem).opt(t.nullable)


def _extreme_type(t: CallTyping) -> Ty:
    t.need(0, ["list"], "a list")
    elem = t.elem(0)
    if elem.kind not in ("any", "null") and elem.base() not in ORDERED:
        t.report(t.call.args[0].span, f"{t.call.func}() needs a list of ints, times, durations or strings, "
                                      f"found list[{elem}]")
    return elem.opt()


def _first_type(t: CallTyping) -> Ty:
    t.need(0, ["list"], "a list")
    t.need(1, ["int"], "a count (int)")
    return t.tys[0].opt(t.nullable) if t.tys[0].kind == "list" else ANY


def _len_type(t: CallTyping) -> Ty:
    t.need(0, ["string", "list"], "a string or a list")
    return INT.opt(t.nullable)


def _case_type(t: CallTyping) -> Ty:
    t.need(0, ["string"], "a string")
    return STRING.opt(t.nullable)


def _coalesce_type(t: CallTyping) -> Ty:
    u = unify(t.tys[0], t.tys[1])
    if u is None:
        t.report(t.call.span, f"coalesce() arguments differ in type: {t.tys[0]} and {t.tys[1]}")
        return ANY
    return u.opt(t.tys[1].nullable)


def _replace_regex_type(t: CallTyping) -> Ty:
    t.need(0, ["string"], "a string")
    t.check_regex(t.call.args[1])
    t.need(2, ["string"], "a replacement string")
    return STRING.opt(t.tys[0].nullable or t.tys[2].nullable)


def _days_between_type(t: CallTyping) -> Ty:
    t.need(0, ["time"], "a time")
    t.need(1, ["time"], "a time")
    return INT.opt(t.nullable)


# ---- implementations ----


def _unary(fn: Callable[[Any], Any]) -> CompileRule:
    """A one-argument builtin that gives null for null."""

    def build(comp: Compiler, e: ast.Call) -> Fn:
        f = comp.compile(e.args[0])
        return lambda c: None if (v := f(c)) is None else fn(v)

    return build


def _exists(comp: Compiler, e: ast.Call) -> Fn:
    f = comp.compile(e.args[0])
    return lambda c: None if (v := f(c)) is None else len(v) > 0


def _extreme_of(pick: Callable[..., Any]) -> CompileRule:
    """``max``/``min``: null for a null or empty list, or one holding a null."""

    def build(comp: Compiler, e: ast.Call) -> Fn:
        f = comp.compile(e.args[0])

        def ext(c: Any) -> Any:
            items = f(c)
            if not items or any(i is None for i in items):
                return None
            return pick(items)

        return ext

    return build


def _count(comp: Compiler, e: ast.Call) -> Fn:
    if isinstance(e.args[0], ast.Where):
        counter = comp.count_where(e.args[0])
        if counter is not None:
            return counter
    f = comp.compile(e.args[0])
    return lambda c: None if (v := f(c)) is None else len(v)


def _quantifier(want: bool) -> CompileRule:
    def build(comp: Compiler, e: ast.Call) -> Fn:
        fast = comp.element_filter(e.args[0], e.args[1])
        if fast is not None:  # all(xs, Field == v and ...): never null, two-valued, generated code
            src = comp.compile(e.args[0])
            quantify = element_quantifier(fast, want)

            def quant_test(c: Any) -> Any:
                items = src(c)
                return None if items is None else quantify(c, items)

            return quant_test
        src, cond = comp.compile(e.args[0]), comp.compile(e.args[1])

        def quant(c: Any) -> Any:
            items = src(c)
            if items is None:
                return None
            saved = c.it
            unknown = False
            try:
                for item in items:
                    c.it = item
                    v = cond(c)
                    if v is want:
                        return want
                    if v is None:
                        unknown = True
            finally:
                c.it = saved
            return None if unknown else not want

        return quant

    return build


def _distinct(comp: Compiler, e: ast.Call) -> Fn:
    f = comp.compile(e.args[0])

    def plain(c: Any) -> tuple[Any, ...] | None:
        return None if (v := f(c)) is None else tuple(sorted(dict.fromkeys(v), key=sort_key))

    arg = e.args[0]
    if isinstance(arg, ast.Project) and isinstance(arg.source, ast.Where):  # counted per bucket
        return comp.distinct_counted(arg.field_name, arg.source, plain) or plain
    return plain


def _first(comp: Compiler, e: ast.Call) -> Fn:
    items, n = comp.compile(e.args[0]), comp.compile(e.args[1])

    def first(c: Any) -> tuple[Any, ...] | None:
        v, k = items(c), n(c)
        if v is None or k is None:
            return None
        return tuple(v[: max(k, 0)])

    return first


def _str(comp: Compiler, e: ast.Call) -> Fn:
    return _unary(comp.format_value)(comp, e)


def _coalesce(comp: Compiler, e: ast.Call) -> Fn:
    a, b = comp.compile(e.args[0]), comp.compile(e.args[1])
    return lambda c: b(c) if (v := a(c)) is None else v


def _replace_regex(comp: Compiler, e: ast.Call) -> Fn:
    s, repl = comp.compile(e.args[0]), comp.compile(e.args[2])
    pattern = e.args[1]
    assert isinstance(pattern, ast.Literal)  # the type rule insists on a literal
    sub = substituter(str(pattern.value))

    def replace(c: Any) -> str | None:
        v, r = s(c), repl(c)
        if v is None or r is None:
            return None
        return sub(v, r)

    return replace


def _days_between(comp: Compiler, e: ast.Call) -> Fn:
    a, b = comp.compile(e.args[0]), comp.compile(e.args[1])

    def days(c: Any) -> int | None:
        x, y = a(c), b(c)
        if not isinstance(x, datetime) or not isinstance(y, datetime):
            return None
        return int((y - x).total_seconds() // 86400)

    return days


def host_function(name: str, params: Sequence[tuple[str, Ty]], returns: Ty, doc: str, *,
                  uses_resolution: bool = False) -> Builtin:
    """A builtin the embedding program implements: the compiled call reads the implementation from
    the context attribute ``name`` and gives null when it is absent or an argument is null."""
    kinds = [t.base() for _, t in params]
    what = ", ".join(n for n, _ in params)

    def type_of(t: CallTyping) -> Ty:
        for i, kind in enumerate(kinds):
            t.need(i, [kind], f"{kind}s: {what}" if len(set(kinds)) == 1 else f"{kind} ({params[i][0]})")
        return returns

    def build(comp: Compiler, e: ast.Call) -> Fn:
        fns = [comp.compile(a) for a in e.args]

        def call(c: Any) -> Any:
            args = [f(c) for f in fns]
            impl = getattr(c, name)
            if impl is None or any(a is None for a in args):
                return None
            return impl(*args)

        return call

    return Builtin(name, len(params), len(params), doc, type_of, build, uses_resolution=uses_resolution, host=True)


def time_builtin(tb: TimeBuiltin, clock: str | None = None) -> Builtin:
    """A builtin of :mod:`.timefns` (one row: parameter types, result, doc, implementation); one
    that ``needs_now`` reads the current instant from the context attribute ``clock``, which the
    environment that adds it names (and declares time-dependent)."""
    n = len(tb.params)
    if tb.needs_now and clock is None:
        raise TypeError(f"{tb.name}() needs the name of the context's clock")

    def type_of(t: CallTyping) -> Ty:
        for i, want in enumerate(tb.params):
            if not assignable(t.tys[i], want):
                t.report(t.call.args[i].span, f"{tb.name}() needs {want}, found {t.tys[i]}", tb.doc)
        return tb.result.opt(t.nullable or tb.result.nullable)

    def build(comp: Compiler, e: ast.Call) -> Fn:
        fns = [comp.compile(a) for a in e.args]
        impl = tb.impl
        (one,) = fns
        if clock is not None and tb.needs_now:  # the environment's context has the clock
            now = operator.attrgetter(clock)
            return lambda c: None if (v := one(c)) is None or (t := now(c)) is None else apply_time(impl, t, v)
        return lambda c: None if (v := one(c)) is None else impl(v)

    return Builtin(tb.name, n, n, tb.doc, type_of, build,
                   reads=frozenset({clock}) if clock is not None and tb.needs_now else frozenset())


BUILTINS: dict[str, Builtin] = {b.name: b for b in [
    Builtin("count", 1, 1, "count(list) -> int: number of elements", _list_to(INT), _count),
    Builtin("exists", 1, 1, "exists(list) -> bool: the list is not empty", _list_to(BOOL), _exists),
    Builtin("all", 2, 2, "all(list, cond) -> bool: cond holds for every element (as `it`)", _quantifier_type,
            _quantifier(False), binds_it=True),
    Builtin("any", 2, 2, "any(list, cond) -> bool: cond holds for some element (as `it`)", _quantifier_type,
            _quantifier(True), binds_it=True),
    Builtin("distinct", 1, 1, "distinct(list) -> list: unique values, sorted", _distinct_type, _distinct),
    Builtin("first", 2, 2, "first(list, n) -> list: the first n elements (all when fewer)", _first_type, _first),
    Builtin("len", 1, 1, "len(string or list) -> int", _len_type, _unary(len)),
    Builtin("lower", 1, 1, "lower(string) -> string", _case_type, _unary(str.lower)),
    Builtin("upper", 1, 1, "upper(string) -> string", _case_type, _unary(str.upper)),
    Builtin("str", 1, 1, "str(value) -> string: the value as text", lambda t: STRING.opt(t.nullable), _str),
    Builtin("max", 1, 1, "max(list of int/time/string) -> the largest, null when empty", _extreme_type,
            _extreme_of(max)),
    Builtin("min", 1, 1, "min(list of int/time/string) -> the smallest, null when empty", _extreme_type,
            _extreme_of(min)),
    Builtin("coalesce", 2, 2, "coalesce(a, b) -> a unless a is null, else b", _coalesce_type, _coalesce),
    Builtin("replace_regex", 3, 3, "replace_regex(string, \"pattern\", string) -> string", _replace_regex_type,
            _replace_regex),
    Builtin("days_between", 2, 2, "days_between(time, time) -> int: whole days from the first to the second",
            _days_between_type, _days_between),
    *(time_builtin(tb) for tb in TIME_BUILTINS.values()),
]}
