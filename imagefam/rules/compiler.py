"""Typed AST -> Python closures. No ``eval``/``exec``; field access only by names the checker allowed.

Each closure takes a :class:`~imagefam.rules.runtime.Ctx` and returns a value, ``None`` for null.
Logic is three-valued (Kleene): ``false and null`` is false, ``true or null`` is true, anything
else touching null is null; ``==``/``!=`` are two-valued. A ``where`` whose condition is null for
some element yields null (unknown), so a count over it is unknown and the rule fails closed.

Index plans: in ``images where F1 == e1 and F2 == e2 and rest``, conjuncts comparing a scalar image
field with an expression that does not mention the element are answered from a hash index on
(F1, F2); ``rest`` runs only on that bucket.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from . import ast, strpreds
from .codegen import (
    ElementTest,
    Ref,
    Test,
    element_count,
    element_select,
    fused_tests,
    is_path,
    tests_then,
)
from .combinators import bucket_filter, key_builder, kleene
from .environment import Environment
from .indexplan import (
    INLINE_DEPTH,
    INLINE_NODES,
    cheap,
    element_field,
    element_tests,
    guards,
    indexable,
    indexable_in,
    mentions_element,
    substitute,
)
from .regex import searcher
from .runtime import Context as Ctx
from .runtime import Fn, sort_key
from .timefns import apply as apply_time
from .typecheck import Typing, is_pascal

_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _const(v: Any) -> Fn:
    return lambda c: v


_UNSET: Any = object()  # a loop-invariant value not computed yet in this run of its loop
_OFF: Any = object()  # no run of its loop is under way


def _costly(e: ast.Expr, defs: dict[str, ast.Def]) -> bool:
    """Whether ``e`` reads a list or calls a definition or ``resolve`` (worth computing once)."""
    return any(isinstance(x, ast.Where | ast.Project) or (isinstance(x, ast.Call) and (x.func in defs or x.func == "resolve"))
               for x in ast.walk(e))


class Compiler:
    """Compiles expressions; ``defs`` maps definition names to their AST, compiled on first use.
    ``types`` is the typed result of every expression compiled (see :mod:`.typecheck`)."""

    def __init__(self, env: Environment, defs: dict[str, ast.Def], types: Typing) -> None:
        self.env = env
        self.builtins = env.builtins
        self.ctx_names = env.context_names
        self.format_value = env.format_value
        self.types = types
        self.defs = defs
        self._def_fns: dict[str, Fn] = {}
        self._params: dict[str, int] = {}  # parameter name -> index, while compiling a definition
        self._nonnull: frozenset[str] = frozenset()  # context names a guard has shown are not null
        self._hoisted: dict[int, list[Any]] = {}  # id of a loop-invariant node -> its memo cell

    # ---- definitions ----
    def precompile(self, order: list[str]) -> None:
        """Compile definitions callees first, so compiling one never recurses into another."""
        for name in order:
            if name in self.defs:
                self.def_fn(name)

    def def_fn(self, name: str) -> Fn:
        fn = self._def_fns.get(name)
        if fn is None:
            d = self.defs[name]
            saved = self._params
            self._params = {p.name: i for i, p in enumerate(d.params or [])}
            try:
                fn = self.compile(d.body)
            finally:
                self._params = saved
            self._def_fns[name] = fn
        return fn

    # ---- expressions ----
    def compile(self, e: ast.Expr) -> Fn:
        method: Callable[[Any], Fn] = getattr(self, "_" + type(e).__name__.lower())
        cell = self._hoisted.get(id(e)) if self._hoisted else None
        if cell is None:
            return method(e)
        inner = method(e)

        def invariant(c: Ctx) -> Any:  # computed once per run of the loop it is in (see _where)
            v = cell[0]
            if v is _UNSET:
                v = cell[0] = inner(c)
            elif v is _OFF:  # outside a run of its loop
                return inner(c)
            return v

        return invariant

    # ---- loop-invariant subexpressions ----
    def _hoist(self, cond: ast.Expr) -> list[list[Any]]:
        """Memo cells for the costly subexpressions of a ``where`` condition that do not read its
        element: ``xs where CreationTime == max(CreationTime of xs)`` computes the max once per
        run, not once per element. Expressions are pure, so the value is the same for every
        element; it is computed when first needed, as before (never for an empty list)."""
        cells: list[list[Any]] = []
        stack = [cond]
        while stack:
            x = stack.pop()
            if isinstance(x, ast.Call | ast.Where | ast.Project) and _costly(x, self.defs) and self._element_free(x):
                cell: list[Any] = [_OFF]
                self._hoisted[id(x)] = cell
                cells.append(cell)
                continue
            if isinstance(x, ast.Where):
                stack.append(x.source)  # its condition binds its own element
            elif isinstance(x, ast.Call) and x.func in ("all", "any") and x.args:
                stack.append(x.args[0])
            else:
                stack.extend(x.children())
        return cells

    def _element_free(self, e: ast.Expr) -> bool:
        """Whether ``e`` never reads the element of the loop it is in (``it`` or a bare field, also
        through the definitions it uses); parameters and context names do not change in a loop."""
        seen: set[str] = set()
        stack = [e]
        while stack:
            x = stack.pop()
            if isinstance(x, ast.Name) and x.name not in self._params:
                if x.name == "it":
                    return False
                if x.name in self.defs:
                    if x.name not in seen:
                        seen.add(x.name)
                        stack.append(self.defs[x.name].body)
                    continue
                if is_pascal(x.name):
                    return False
            if isinstance(x, ast.Call) and x.func in self.defs and x.func not in seen:
                seen.add(x.func)
                stack.append(self.defs[x.func].body)
            if isinstance(x, ast.Where):
                stack.append(x.source)
            elif isinstance(x, ast.Call) and x.func in ("all", "any") and x.args:
                stack.append(x.args[0])
            else:
                stack.extend(x.children())
        return True

    def _literal(self, e: ast.Literal) -> Fn:
        return _const(e.value)

    def _listlit(self, e: ast.ListLit) -> Fn:
        if all(isinstance(i, ast.Literal) for i in e.items):
            return _const(tuple(i.value for i in e.items if isinstance(i, ast.Literal)))
        fns = [self.compile(i) for i in e.items]
        return lambda c: tuple(f(c) for f in fns)

    def _name(self, e: ast.Name) -> Fn:
        name = e.name
        if name in self._params:
            i = self._params[name]
            return lambda c: c.args[i]
        if name == "it":
            return operator.attrgetter("it")
        if name in self.ctx_names:
            return operator.attrgetter(name)
        if name in self.defs:
            folded = self._fold(e)
            if isinstance(folded, ast.Literal):  # def family_limit = 100: the constant itself
                return _const(folded.value)
            body = self.def_fn(name)

            def const_def(c: Ctx) -> Any:
                saved = c.args
                c.args = ()
                try:
                    return body(c)
                finally:
                    c.args = saved

            return const_def
        if is_pascal(name):  # a bare field of the current element
            get = operator.attrgetter(name)
            return lambda c: None if c.it is None else get(c.it)
        raise AssertionError(f"unchecked name {name}")  # pragma: no cover - the checker rejects it

    def _attr(self, e: ast.Attr) -> Fn:
        dotted = self._safe_path(e)
        if dotted is not None:  # e.g. request.ImageFamily: nothing on the way can be null
            return operator.attrgetter(dotted)
        get = operator.attrgetter(e.name)
        if isinstance(e.obj, ast.Name) and e.obj.name in self.ctx_names and e.obj.name not in self._params:
            path = operator.attrgetter(e.obj.name)

            def ctx_attr(c: Ctx) -> Any:
                o = path(c)
                return None if o is None else get(o)

            return ctx_attr
        obj = self.compile(e.obj)

        def attr(c: Ctx) -> Any:
            o = obj(c)
            return None if o is None else get(o)

        return attr

    def _fold(self, e: ast.Expr) -> ast.Expr:
        """A constant definition whose body is a literal (``def family_limit = 100``) as that literal."""
        seen = 0
        while isinstance(e, ast.Name) and e.name in self.defs and e.name not in self._params and seen < 16:
            d = self.defs[e.name]
            if d.params is not None:
                break
            e = d.body
            seen += 1
        return e

    def _flatten(self, e: ast.BoolOp) -> list[ast.Expr]:
        """The operands of nested ``and``s (or ``or``s) as one list, looking through inlinable
        definitions: ``is_set(x) and y`` is ``x != null and x != "" and y``."""
        out: list[ast.Expr] = []
        stack: list[ast.Expr] = list(reversed(e.parts))
        while stack:
            p = stack.pop()
            if isinstance(p, ast.Call) and p.func in self.defs:
                p = self._inline(p) or p
            if isinstance(p, ast.BoolOp) and p.op == e.op:
                stack.extend(reversed(p.parts))
            else:
                out.append(p)
        return out

    def _getter(self, e: ast.Expr) -> Fn | None:
        """A C-level callable reading ``e`` from the context (a context name or a non-null path)."""
        dotted = self.getter_path(e)
        return operator.attrgetter(dotted) if dotted is not None else None

    def _simple_test(self, e: ast.Expr) -> Test | None:
        """(path, operator, constant) for ``path ==/!= constant``: two-valued, never null."""
        if not (isinstance(e, ast.Compare) and e.op in ("==", "!=")):
            return None
        for side, const in ((e.left, e.right), (e.right, e.left)):
            if isinstance(const, ast.Literal) and not isinstance(side, ast.Literal):
                where = self.getter_path(side)
                if where is None or not is_path(where):
                    return None
                if const.value is None:
                    return where, ("is" if e.op == "==" else "is not"), None
                return where, e.op, const.value
        # two context values (`image.ImageOwnerId == caller`): ==/!= are two-valued on nulls too
        left, right = self.getter_path(e.left), self.getter_path(e.right)
        if left is None or right is None or not (is_path(left) and is_path(right)):
            return None
        return left, e.op, Ref(right)

    def _safe_path(self, e: ast.Attr) -> str | None:
        """``root.A.B`` as one dotted path when the root is a context name and no step is nullable."""
        parts = [e.name]
        obj = e.obj
        while isinstance(obj, ast.Attr):
            ty = self.types.get(obj)
            if ty is None or ty.nullable:
                return None
            parts.append(obj.name)
            obj = obj.obj
        # the root: a context name, or the element `it` (set by where/all/any and the resolver;
        # typed nullable when its list can hold nulls)
        if not (isinstance(obj, ast.Name) and (obj.name in self.ctx_names or obj.name == "it")
                and obj.name not in self._params):
            return None
        root = self.types.get(obj)
        if root is None or root.kind != "record" or (root.nullable and obj.name not in self._nonnull):
            return None
        return ".".join([obj.name, *reversed(parts)])

    def fold(self, e: ast.Expr) -> ast.Expr:
        """``e``, or the literal a constant definition it names stands for."""
        return self._fold(e)

    def getter_path(self, e: ast.Expr) -> str | None:
        """The dotted path ``e`` is read by from the context (a context name, ``it``, or an
        attribute path on which no step is nullable), or None."""
        if isinstance(e, ast.Name) and (e.name in self.ctx_names or e.name == "it") and e.name not in self._params:
            return e.name
        return self._safe_path(e) if isinstance(e, ast.Attr) else None

    def _unary(self, e: ast.Unary) -> Fn:
        if e.op == "not" and (pred := strpreds.single(self, e)) is not None:  # not (x matches k)
            return pred
        f = self.compile(e.operand)
        if e.op == "not":
            return lambda c: None if (v := f(c)) is None else not v
        return lambda c: None if (v := f(c)) is None else -v

    def _boolop(self, e: ast.BoolOp) -> Fn:
        stop = e.op == "or"
        segments = self._segments(e, stop)
        fns = tuple(fn for fn, _ in segments)
        if len(fns) == 1:
            return fns[0]
        first_tests = segments[0][1]
        if len(fns) == 2 and first_tests is not None:  # tests, then one operand, in one closure
            return tests_then(first_tests, fns[1], stop)
        if e.op == "and" and len(fns) == 2:
            a, b = fns

            def and2(c: Ctx) -> bool | None:
                x = a(c)
                if x is False:
                    return False
                y = b(c)
                if y is False:
                    return False
                return None if x is None or y is None else True

            return and2

        return kleene(fns, stop=e.op == "or")

    def _segments(self, e: ast.BoolOp, stop: bool) -> list[tuple[Fn, tuple[Any, ...] | None]]:
        """The operands of ``e`` compiled in source order, with fewer Python frames: tests of one
        string (and its null/empty guards) read it once, in one closure placed where the first of
        them stands; a run of adjacent two-valued tests of a C-level getter against a constant
        (`request.Status == "x"`, `image != null`) is one closure. The order is kept because a
        step with values not known until apply judges a rule by what it reads before it is
        decided (engine/unknowns.py): moving a test forward could make it read one for nothing.
        Each operand comes with its tests when it is a fused run, else None."""
        parts = strpreds.group(self, self._flatten(e), stop)
        saved = self._nonnull
        out: list[tuple[Fn, tuple[Any, ...] | None]] = []
        try:
            i = 0
            while i < len(parts):
                p = parts[i]
                if not isinstance(p, ast.Expr):
                    out.append((p, None))
                    i += 1
                    continue
                run: list[ast.Expr] = []
                tests = []
                while i < len(parts) and isinstance(q := parts[i], ast.Expr) and (t := self._simple_test(q)) is not None:
                    run.append(q)
                    tests.append(t)
                    i += 1
                    # the run stops early: after `image != null` in an `and` (`image == null` in an
                    # `or`), the next tests of the run, and what follows the run, read `image` only
                    # when it is not null (added test by test: linear in the run's length)
                    if proven := guards([q], stop):
                        self._nonnull = self._nonnull | proven
                if not run:
                    out.append((self.compile(p), None))
                    i += 1
                    continue
                out.append((fused_tests(tuple(tests), stop), tuple(tests)))
        finally:
            self._nonnull = saved
        return out

    def _arith(self, e: ast.Arith) -> Fn:
        fns = [self.compile(p) for p in e.parts]
        ops = [operator.add if o == "+" else operator.sub for o in e.ops]
        first, rest = fns[0], list(zip(ops, fns[1:], strict=True))

        def arith(c: Ctx) -> Any:
            acc = first(c)
            if acc is None:
                return None
            for op, f in rest:
                v = f(c)
                if v is None:
                    return None
                acc = op(acc, v)
            return acc

        if any((t := self.types.get(p)) is not None and t.kind in ("time", "duration") for p in e.parts):
            def time_arith(c: Ctx) -> Any:  # out of the range of dates: null, so the rule fails closed
                acc = first(c)
                for op, f in rest:
                    if acc is None:
                        return None
                    v = f(c)
                    if v is None:
                        return None
                    acc = apply_time(op, acc, v)
                return acc

            return time_arith

        return arith

    def _if(self, e: ast.If) -> Fn:
        cond, a, b = self.compile(e.cond), self.compile(e.then), self.compile(e.orelse)

        def if_(c: Ctx) -> Any:
            v = cond(c)
            if v is None:
                return None
            return a(c) if v else b(c)

        return if_

    def _compare(self, e: ast.Compare) -> Fn:
        op = e.op
        lhs, rhs = self._fold(e.left), self._fold(e.right)
        if isinstance(lhs, ast.Literal) and lhs.kind == "null" and op in ("==", "!="):
            lhs, rhs = rhs, lhs  # null == x is x == null: an identity test
        if (isinstance(rhs, ast.Literal) and rhs.value is not None and op in ("startswith", "endswith", "contains")
                and isinstance(lhs, ast.Call) and lhs.func in ("lower", "upper") and lhs.func not in self.defs):
            return self._case_test(op, self.compile(lhs.args[0]), lhs.func, rhs.value)
        left = self.compile(lhs)
        if isinstance(rhs, ast.Literal) and op in ("==", "!=", "startswith", "endswith", "contains", "matches"):
            return self._compare_const(op, left, rhs.value)
        if isinstance(rhs, ast.Literal) and rhs.value is not None and op in _ORDER:
            test_k, k = _ORDER[op], rhs.value
            if isinstance(lhs, ast.Call) and lhs.func == "count" and lhs.func not in self.defs:
                items = self._getter(lhs.args[0])
                if items is not None:  # count(x) > k over a getter: one closure
                    return lambda c: None if (v := items(c)) is None else test_k(len(v), k)
            return lambda c: None if (v := left(c)) is None else test_k(v, k)
        right = self.compile(rhs)
        if op == "==":
            return lambda c: left(c) == right(c)
        if op == "!=":
            return lambda c: left(c) != right(c)
        if op in ("in", "not in"):  # x in [a, b] is x == a or x == b: two-valued in x
            negate = op == "not in"
            return lambda c: None if (b := right(c)) is None else (left(c) in b) is not negate
        test: Callable[[Any, Any], Any]
        if op in _ORDER:
            test = _ORDER[op]
        elif op == "startswith":
            def test(a: Any, b: Any) -> bool:
                return bool(a.startswith(b))
        elif op == "endswith":
            def test(a: Any, b: Any) -> bool:
                return bool(a.endswith(b))
        else:  # contains (string or list); matches always has a literal pattern
            def test(a: Any, b: Any) -> bool:
                return b in a

        def compare(c: Ctx) -> Any:
            a = left(c)
            if a is None:
                return None
            b = right(c)
            if b is None:
                return None
            return test(a, b)

        return compare

    @staticmethod
    def _case_test(op: str, arg: Fn, case: str, k: Any) -> Fn:
        """``lower(x) startswith k`` (and endswith/contains, upper) in one closure."""
        fold = str.lower if case == "lower" else str.upper
        if op == "startswith":
            return lambda c: None if (v := arg(c)) is None else fold(v).startswith(k)
        if op == "endswith":
            return lambda c: None if (v := arg(c)) is None else fold(v).endswith(k)
        return lambda c: None if (v := arg(c)) is None else k in fold(v)

    @staticmethod
    def _compare_const(op: str, left: Fn, k: Any) -> Fn:
        if k is None and op == "==":
            return lambda c: left(c) is None
        if k is None and op == "!=":
            return lambda c: left(c) is not None
        if op == "==":
            return lambda c: left(c) == k
        if op == "!=":
            return lambda c: left(c) != k
        if k is None:
            return lambda c: None
        if op == "startswith":
            return lambda c: None if (v := left(c)) is None else v.startswith(k)
        if op == "endswith":
            return lambda c: None if (v := left(c)) is None else v.endswith(k)
        if op == "contains":
            return lambda c: None if (v := left(c)) is None else k in v
        found = searcher(str(k))
        return lambda c: None if (v := left(c)) is None else found(v)

    # ---- collections ----
    def _where(self, e: ast.Where) -> Fn:
        before = set(self._hoisted)
        cells = self._hoist(e.cond)
        try:
            fn = self._where_each(e)
        finally:
            for k in set(self._hoisted) - before:
                del self._hoisted[k]
        if not cells:
            return fn

        def where_once(c: Ctx) -> Any:
            saved = [cell[0] for cell in cells]
            for cell in cells:
                cell[0] = _UNSET
            try:
                return fn(c)
            finally:
                for cell, v in zip(cells, saved, strict=True):
                    cell[0] = v

        return where_once

    def _where_each(self, e: ast.Where) -> Fn:
        plan = self._index_plan(e)
        src = self.compile(e.source)
        cond_fn = self.compile(e.cond)
        if plan is not None:
            fields, keyfns, multi, rest = plan
            coll = src  # an indexed global: a context attribute
            key_of = key_builder(keyfns)
            cond = self.compile(rest) if rest is not None else None
            if multi is not None:  # `Field in values`: the union of one bucket per value
                pos, values_fn = multi

                def indexed_in(c: Ctx) -> tuple[Any, ...] | None:
                    lookup = getattr(coll(c), "lookup", None)
                    if lookup is None:
                        return bucket_filter(c, coll(c), cond_fn)
                    values = values_fn(c)
                    if values is None:  # unknown values: exactly what a scan would give
                        return bucket_filter(c, coll(c), cond_fn)
                    key = [f(c) if f is not None else None for f in keyfns]
                    found: list[Any] = []
                    for v in dict.fromkeys(values):
                        key[pos] = v
                        found.extend(lookup(fields, tuple(key)))
                    return bucket_filter(c, found, cond) if cond is not None else tuple(found)

                return indexed_in

            fast = element_tests(rest) if rest is not None else None
            if fast is not None:  # `Field ==/!= value and ...`: C-level tests, no closure per image
                select = element_select([(f, o, self.compile(v)) for f, o, v in fast])

                def indexed_test(c: Ctx) -> tuple[Any, ...] | None:
                    lookup = getattr(coll(c), "lookup", None)
                    if lookup is None:
                        return bucket_filter(c, coll(c), cond_fn)
                    return tuple(select(c, lookup(fields, key_of(c))))

                return indexed_test

            def indexed(c: Ctx) -> tuple[Any, ...] | None:
                lookup = getattr(coll(c), "lookup", None)
                if lookup is None:  # a plain sequence (tests, embedding code): scan it
                    return bucket_filter(c, coll(c), cond_fn)
                bucket = lookup(fields, key_of(c))
                return bucket_filter(c, bucket, cond) if cond is not None else tuple(bucket)

            return indexed

        return self._scan(e, src, cond_fn)

    def _scan(self, e: ast.Where, src: Fn, cond_fn: Fn) -> Fn:
        """A ``where`` over a list that is not an indexed global: each element tested."""
        tests = self.element_filter(e.source, e.cond)
        if tests is not None:  # `xs where Field ==/!= value and ...` over elements never null: C-level tests
            select = element_select(tests)

            def scan_test(c: Ctx) -> tuple[Any, ...] | None:
                items = src(c)
                return None if items is None else tuple(select(c, items))

            return scan_test

        def scan(c: Ctx) -> tuple[Any, ...] | None:
            items = src(c)
            if items is None:
                return None
            return bucket_filter(c, items, cond_fn)

        return scan

    def element_filter(self, source: ast.Expr, cond: ast.Expr) -> list[ElementTest] | None:
        """``cond`` as two-valued ``Field ==/!= value`` tests (field, operator, value closure) when
        it is an ``and`` of them and ``source`` is a list whose elements are never null: then the
        elements can be tested by generated code (:mod:`.codegen`), giving exactly what the
        closure would."""
        ty = self.types.get(source)
        if ty is None or ty.elem is None or ty.elem.nullable:
            return None
        tests = element_tests(cond)
        return None if tests is None else [(f, o, self.compile(v)) for f, o, v in tests]

    def _index_plan(self, e: ast.Where) -> tuple[tuple[str, ...], list[Fn | None], tuple[int, Fn] | None,
                                                  ast.Expr | None] | None:
        """(fields, key closures, the position and values of one ``Field in values`` conjunct,
        remaining condition) when the source is an indexed global (the environment's ``indexed``)."""
        if not (isinstance(e.source, ast.Name) and e.source.name in self.env.indexed
                and e.source.name not in self._params):
            return None
        conjuncts = e.cond.parts if isinstance(e.cond, ast.BoolOp) and e.cond.op == "and" else [e.cond]
        keyed: dict[str, Fn] = {}
        member: tuple[str, ast.Expr] | None = None
        rest: list[ast.Expr] = []
        for part in conjuncts:
            field = indexable(part, self.types)
            if field is not None and field[0] not in keyed:
                keyed[field[0]] = self.compile(field[1])
                continue
            many = indexable_in(part, self.types)
            if many is not None and member is None:
                member = many
                continue
            rest.append(part)
        if member is not None and member[0] in keyed:  # the field is already keyed by ==: filter
            rest.append(next(p for p in conjuncts if indexable_in(p, self.types) == member))
            member = None
        if not keyed and member is None:
            return None
        names = set(keyed) | ({member[0]} if member else set())
        fields = tuple(sorted(names))
        multi = (fields.index(member[0]), self.compile(member[1])) if member else None
        remaining: ast.Expr | None
        if not rest:
            remaining = None
        elif len(rest) == 1:
            remaining = rest[0]
        else:
            remaining = ast.BoolOp(e.cond.span, "and", rest)
        return fields, [keyed.get(f) for f in fields], multi, remaining

    def _project(self, e: ast.Project) -> Fn:
        src = self.compile(e.source)
        get = operator.attrgetter(e.field_name)
        return lambda c: None if (items := src(c)) is None else tuple(None if i is None else get(i) for i in items)

    # ---- calls ----
    def _call(self, e: ast.Call) -> Fn:
        if e.func in self.defs:
            inlined = self._inline(e)
            if inlined is not None:
                return self.compile(inlined)
            body = self.def_fn(e.func)
            argfns = tuple(self.compile(a) for a in e.args)

            def call_def(c: Ctx) -> Any:
                args = tuple(f(c) for f in argfns)
                saved, saved_it = c.args, c.it
                c.args = args
                try:
                    return body(c)
                finally:
                    c.args, c.it = saved, saved_it

            return call_def
        return self.builtins[e.func].compile(self, e)

    def distinct_counted(self, name: str, w: ast.Where, plain: Fn) -> Fn | None:
        """``distinct(F of images where <index plan> [and F/G tests])`` from the collection's counts
        of F per bucket, kept current as images change (``value_counts``): O(distinct values), not
        O(bucket). ``F ==/!= v`` tests filter the values; one ``G != v`` on another field subtracts
        the bucket's images with ``G == v``. Same answers as the ``where`` (the tests are two-valued)."""
        plan = self._index_plan(w)
        if plan is None or plan[2] is not None:
            return None
        fields, keyfns, _, rest = plan
        parts = [] if rest is None else rest.parts if isinstance(rest, ast.BoolOp) and rest.op == "and" else [rest]
        on_value: list[tuple[Callable[[Any, Any], bool], Fn]] = []
        exclude: tuple[str, Fn] | None = None
        for part in parts:
            found = self._field_test(part)
            if found is None:
                return None
            field, value = found
            assert isinstance(part, ast.Compare)
            if field == name:
                on_value.append((operator.eq if part.op == "==" else operator.ne, self.compile(value)))
            elif part.op == "!=" and exclude is None and field not in fields:
                exclude = (field, self.compile(value))
            else:
                return None
        return _counted_values(self.compile(w.source), fields, key_builder(keyfns), name, on_value, exclude, plain)

    def _field_test(self, part: ast.Expr) -> tuple[str, ast.Expr] | None:
        """(field, value) of ``F ==/!= value`` with a scalar element field and an element-free value."""
        if not (isinstance(part, ast.Compare) and part.op in ("==", "!=")):
            return None
        for side, value in ((part.left, part.right), (part.right, part.left)):
            field = element_field(side)
            ty = self.types.get(side)
            if field is not None and not mentions_element(value) and ty is not None and ty.kind != "list":
                return field, value
        return None

    def _inline(self, e: ast.Call) -> ast.Expr | None:
        """The body of a small definition with its arguments substituted, when that is exactly
        equivalent to calling it: expressions are pure, so only cost and name capture matter."""
        d = self.defs[e.func]
        params = [p.name for p in d.params or []]
        if not params or d.body.depth > INLINE_DEPTH or len(e.args) != len(params):
            return None
        nodes = ast.walk(d.body)
        if len(nodes) > INLINE_NODES:
            return None
        uses = {p: 0 for p in params}
        for n in nodes:
            if isinstance(n, ast.Name):
                if n.name in uses:
                    uses[n.name] += 1
                elif n.name in self._params:  # a global the enclosing definition shadows
                    return None
        binds = any(isinstance(n, ast.Where) or (isinstance(n, ast.Call) and n.func in ("all", "any"))
                    for n in nodes)
        for arg, p in zip(e.args, params, strict=True):
            if binds and mentions_element(arg):  # the body's `where` would capture the argument's `it`
                return None
            if uses[p] > 1 and not cheap(arg):
                return None
        return substitute(d.body, dict(zip(params, e.args, strict=True)), self.types)

    def count_where(self, w: ast.Where) -> Fn | None:
        """``count(images where <index plan> [and Field ==/!= value])`` counted in place, without
        building the list (the quota rules): same answers as ``len`` of the ``where``."""
        plan = self._index_plan(w)
        if plan is None or plan[2] is not None:
            return None
        fields, keyfns, _, rest = plan
        coll = self.compile(w.source)  # an indexed global: a context attribute
        key_of = key_builder(keyfns)
        fast = element_tests(rest) if rest is not None else None
        if rest is not None and fast is None:
            return None
        scan = self._where(w)  # for a plain sequence without indexes

        def scanned(c: Ctx) -> int | None:
            v = scan(c)
            return None if v is None else len(v)

        if fast is None:
            def count_bucket(c: Ctx) -> int | None:
                lookup = getattr(coll(c), "lookup", None)
                if lookup is None:
                    return scanned(c)
                return len(lookup(fields, key_of(c)))

            return count_bucket
        count = element_count([(f, o, self.compile(v)) for f, o, v in fast])

        def count_test(c: Ctx) -> int | None:
            lookup = getattr(coll(c), "lookup", None)
            if lookup is None:
                return scanned(c)
            return count(c, lookup(fields, key_of(c)))

        return count_test


def _counted_values(coll: Fn, fields: tuple[str, ...], key_of: Callable[[Ctx], tuple[Any, ...]], name: str,
                    on_value: list[tuple[Callable[[Any, Any], bool], Fn]], exclude: tuple[str, Fn] | None,
                    plain: Fn) -> Fn:
    """The closure of :meth:`Compiler.distinct_counted`."""
    get = operator.attrgetter(name)
    xfields: tuple[str, ...] = ()
    at = 0
    if exclude is not None:
        xfields = tuple(sorted((*fields, exclude[0])))
        at = xfields.index(exclude[0])

    def distinct_counted(c: Ctx) -> tuple[Any, ...] | None:
        images = coll(c)
        counts_of = getattr(images, "value_counts", None)
        if counts_of is None:  # a plain sequence: filter it
            return plain(c)  # type: ignore[no-any-return]
        key = key_of(c)
        counts = counts_of(fields, key, name)
        if exclude is not None:
            xkey = list(key)
            xkey.insert(at, exclude[1](c))
            minus: dict[Any, int] = {}
            for img in images.lookup(xfields, tuple(xkey)):
                minus[get(img)] = minus.get(get(img), 0) + 1
            values = [v for v, n in counts.items() if n > minus.get(v, 0)]
        else:
            values = list(counts)
        for test, value_of in on_value:
            k = value_of(c)
            values = [v for v in values if test(v, k)]
        return tuple(sorted(values, key=sort_key))

    return distinct_counted
