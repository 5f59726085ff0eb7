"""Static checking: the AST against an environment (record types, the names of each target,
globals, host functions) and the builtins.

The checker types every expression of a scope into a typed result of its own (a map from node to
type), leaving the AST untouched: a rule on several actions is checked once per action, and the
compiler gets the join of those results. It reports every problem it finds, never only the first:
unknown fields, actions, functions, definitions and names (each with a did-you-mean), wrong arity,
type mismatches, string literals that are not a value of the enum they are compared with, request
fields an action's request lacks, recursion among definitions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from . import ast
from .builtins import CallTyping
from .environment import Environment
from .errors import Reporter, Span, did_you_mean
from .regex import RegexError, compile_regex
from .timefns import ARITH_RULES, ORDERED, arith_type, involves_time
from .types import (
    ANY,
    BOOL,
    INT,
    NULL,
    STRING,
    TIME,
    TYPE_NAMES,
    Ty,
    assignable,
    join,
    list_of,
    record,
    unify,
)

COMPARE_OPS = ("==", "!=", "<", "<=", ">", ">=")
#: Bound on expression depth plus the depth of the definitions it calls, so evaluation can never
#: exhaust Python's stack.
MAX_CALL_DEPTH = 150

#: A typed result: the type of every expression node of one scope.
Typing = dict[ast.Expr, Ty]


@dataclass
class Scope:
    """What names mean at a point of an expression."""

    vars: dict[str, Ty]
    it: Ty | None = None  # the element type inside ``where``/``all``/``any``
    where: str = ""  # describes the context for messages, e.g. "rule acs on CreateImage"
    unavailable: dict[str, str] = field(default_factory=dict)  # name -> why it is not here

    def with_it(self, ty: Ty) -> Scope:
        return Scope({**self.vars, "it": ty}, ty, self.where, self.unavailable)


def is_pascal(name: str) -> bool:
    return name[:1].isupper()


def join_typings(typings: list[Typing]) -> Typing:
    """One typed result covering several scopes (see :func:`~imagefam.rules.types.join`)."""
    if len(typings) == 1:
        return typings[0]
    out: Typing = {}
    for typing in typings:
        for node, ty in typing.items():
            seen = out.get(node)
            out[node] = ty if seen is None else join(seen, ty)
    return out


class Checker:
    """Types expressions for one policy. ``defs`` holds every definition in force (all files)."""

    def __init__(self, env: Environment, defs: dict[str, ast.Def], reporters: dict[str, Reporter],
                 has_resolve: bool) -> None:
        self.env = env
        self.records = env.records
        self.builtins = env.builtins
        self.defs = defs
        self.reporters = reporters
        self.has_resolve = has_resolve
        self.def_types: dict[str, Ty] = {}
        self.def_param_types: dict[str, list[Ty]] = {}
        self._seen: set[tuple[int, int, int, str]] = set()
        self.globals: dict[str, Ty] = dict(env.globals)
        self.reporter: Reporter | None = None
        self.def_order: list[str] = []
        #: The typed result being filled (one per scope); definitions share one.
        self.typing: Typing = {}
        self.def_typing: Typing = {}

    # ---- reporting ----
    def _rep(self, node_source: object) -> Reporter:
        name = getattr(node_source, "name", "")
        return self.reporters[name]

    def error(self, span: Span, message: str, hint: str | None = None) -> None:
        assert self.reporter is not None
        key = (id(self.reporter), span.line, span.col, message)
        if key in self._seen:
            return
        self._seen.add(key)
        self.reporter.error(span, message, hint)

    # ---- scopes ----
    def rule_scopes(self, decl: ast.RuleDecl) -> list[Scope]:
        """The scopes a rule's condition and message are checked in: one per action it names (or
        its audit scope); unknown or repeated targets are reported and skipped."""
        if decl.kind == "audit":
            scope_name, span = decl.targets[0]
            target = self.env.audits.get(scope_name)
            if target is None:
                self.error(span, f"unknown audit scope {scope_name!r}", did_you_mean(scope_name, self.env.audits)
                           or "scopes: " + ", ".join(self.env.audits))
                return []
            return [Scope({**self.globals, **target.variables}, None, f"audit {decl.id}", dict(target.unavailable))]
        scopes: list[Scope] = []
        seen: set[str] = set()
        action_type = Ty("enum", values=tuple(a for a, _ in decl.targets))
        for action, span in decl.targets:
            if action in seen:
                self.error(span, f"action {action!r} is listed twice")
            seen.add(action)
            target = self.env.actions.get(action)
            if target is None:
                self.error(span, f"unknown action {action!r}",
                           did_you_mean(action, self.env.actions) or "actions: " + ", ".join(self.env.actions))
                continue
            vars_ = {**self.globals, **target.variables, "action": action_type}
            scopes.append(Scope(vars_, None, f"rule {decl.id} on {action}", dict(target.unavailable)))
        return scopes

    def resolution_scope(self) -> Scope:
        res = self.env.resolution
        return Scope({**self.globals, **res.variables}, None, "the resolution policy", dict(res.unavailable))

    def _def_unavailable(self) -> dict[str, str]:
        names = [f"`{g}`" for g in self.globals]
        shown = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)
        why = f"definitions see only their parameters, {shown}"
        return {n: why for n in sorted(self.env.context_names - set(self.globals))}

    # ---- rules and the resolution policy ----
    def check_rule(self, decl: ast.RuleDecl) -> Typing:
        """Check a rule in each of its scopes; the typed result covers them all."""
        self.reporter = self._rep(decl.source)
        if decl.clauses.message is None:
            self.reporter.error(decl.span, f"rule {decl.id!r} has no message",
                                'add: message "what is wrong, with {values}"')
        if decl.clauses.cites is None:
            self.reporter.warning(decl.span, f"rule {decl.id!r} cites no source",
                                  'add: cites "the documentation sentence"')
        typings = []
        for scope in self.rule_scopes(decl):
            self.typing = {}
            self.expect(decl.cond, scope, "bool", "a rule condition")
            for part in decl.clauses.message.parts if decl.clauses.message else []:
                if isinstance(part, ast.Expr):
                    self.expr(part, scope)
            typings.append(self.typing)
        return join_typings(typings)

    def check_resolution(self, decl: ast.ResolveDecl) -> Typing:
        self.reporter = self._rep(decl.source)
        self.typing = {}
        scope = self.resolution_scope()
        self._no_resolution_inside(decl)
        lists: list[tuple[str, ast.Expr]] = [("candidates", decl.candidates)]
        if decl.shortlist is not None:
            lists.append(("shortlist", decl.shortlist))
        for what, expr in lists:
            t = self.expr(expr, scope)
            if t.kind not in ("any", "list") or (t.elem and t.elem.kind not in ("any", "record")):
                self.error(expr.span, f"{what} must be a list of images, found {t}")
        inner = scope.with_it(record(self.env.resolution.candidate))
        names: set[str] = set()
        for req in decl.requirements:
            if req.name in names:
                self.error(req.span, f"requirement {req.name!r} is named twice")
            names.add(req.name)
            self.expect(req.cond, inner, "bool", f"requirement {req.name}")
            for part in req.otherwise.parts if req.otherwise else []:
                if isinstance(part, ast.Expr):
                    self.expr(part, inner)
        for key in decl.order:
            kt = self.expr(key.expr, inner)
            if kt.kind not in ("any",) and kt.base() not in ORDERED:
                self.error(key.span, f"an ordering key must be an int, time, duration or string, found {kt}")
        return self.typing

    def _no_resolution_inside(self, decl: ast.ResolveDecl) -> None:
        via_defs = self.defs_using_resolution()
        exprs = [decl.candidates, *(r.cond for r in decl.requirements), *(k.expr for k in decl.order),
                 *([decl.shortlist] if decl.shortlist is not None else [])]
        for expr in exprs:
            for e in ast.walk(expr):
                if isinstance(e, ast.Call) and (self._uses_resolution(e.func) or e.func in via_defs):
                    self.error(e.func_span, f"the resolution policy cannot call {e.func}() "
                               "(it would resolve families while resolving one)")

    def _uses_resolution(self, func: str) -> bool:
        b = self.builtins.get(func)
        return b is not None and b.uses_resolution and func not in self.defs

    # ---- definitions ----
    def check_defs(self) -> None:
        """Type every definition once, callees first; report recursion and bad parameter types."""
        calls = {name: self._called_defs(d) for name, d in self.defs.items()}
        self.def_order = self._callees_first(calls)
        self.typing = self.def_typing
        depth: dict[str, int] = {}
        for name in self.def_order:
            self._type_def(self.defs[name])
            d = self.defs[name]
            depth[name] = d.body.depth + max((depth.get(c, 0) for c in calls[name]), default=0)
            if depth[name] > MAX_CALL_DEPTH and all(depth.get(c, 0) <= MAX_CALL_DEPTH for c in calls[name]):
                self.reporter = self._rep(d.source)
                self.error(d.span, f"definition {name!r} nests {depth[name]} levels deep through the definitions "
                                   f"it calls; the limit is {MAX_CALL_DEPTH}",
                           "flatten the chain of definitions")

    def _callees_first(self, calls: dict[str, set[str]]) -> list[str]:
        """Definitions in an order where each comes after those it calls; cycles are reported."""
        state: dict[str, int] = {}  # 1 visiting, 2 done
        order: list[str] = []
        for start in sorted(self.defs):
            if state.get(start):
                continue
            stack: list[tuple[str, list[str]]] = [(start, sorted(calls[start]))]
            path = [start]
            state[start] = 1
            while stack:
                name, pending = stack[-1]
                if pending:
                    nxt = pending.pop()
                    if nxt not in self.defs:
                        continue
                    if state.get(nxt) == 1:
                        cycle = [*path[path.index(nxt):], nxt]
                        d = self.defs[nxt]
                        self.reporter = self._rep(d.source)
                        self.error(d.span, "definitions are recursive: " + " -> ".join(cycle),
                                   "definitions may not call themselves, directly or through others")
                        self.def_types[nxt] = ANY
                        continue
                    if not state.get(nxt):
                        state[nxt] = 1
                        stack.append((nxt, sorted(calls[nxt])))
                        path.append(nxt)
                    continue
                stack.pop()
                path.pop()
                state[name] = 2
                order.append(name)
        return order

    def defs_using_resolution(self) -> set[str]:
        """Definitions that call a builtin that resolves families, directly or through other definitions."""
        direct = {n for n, d in self.defs.items() if any(
            isinstance(e, ast.Call) and self._uses_resolution(e.func) for e in ast.walk(d.body))}
        calls = {n: self._called_defs(d) for n, d in self.defs.items()}
        out = set(direct)
        changed = True
        while changed:
            changed = False
            for n, callees in calls.items():
                if n not in out and callees & out:
                    out.add(n)
                    changed = True
        return out

    def _called_defs(self, d: ast.Def) -> set[str]:
        out: set[str] = set()
        stack: list[ast.Expr] = [d.body]
        while stack:
            e = stack.pop()
            if isinstance(e, ast.Call) and e.func in self.defs:
                out.add(e.func)
            elif isinstance(e, ast.Name) and e.name in self.defs:
                out.add(e.name)
            stack.extend(e.children())
        return out

    def _type_def(self, d: ast.Def) -> None:
        self.reporter = self._rep(d.source)
        vars_ = dict(self.globals)
        ptypes: list[Ty] = []
        for p in d.params or []:
            t = self._param_type(p.type)
            if p.name[:1].isupper() or p.name == "it" or p.name in self.builtins:
                self.error(p.span, f"parameter name {p.name!r} is reserved",
                           "PascalCase names are fields and `it` is the current element; pick a lower-case name")
            ptypes.append(t)
            if p.name in vars_ and p.name not in self.globals:
                self.error(p.span, f"parameter {p.name!r} is declared twice")
            vars_[p.name] = t
        self.def_param_types[d.name] = ptypes
        if d.name in self.def_types:  # part of a cycle: already reported
            return
        self.def_types[d.name] = self.expr(d.body, Scope(vars_, None, f"definition {d.name}", self._def_unavailable()))

    def _param_type(self, t: ast.TypeRef) -> Ty:
        arg = self._param_type(t.arg) if t.arg else None
        ty = self.records.parse_type_name(t.name, arg)
        if ty is None:
            names = self.records.names()
            self.error(t.span, f"unknown type {str(t)!r}",
                       did_you_mean(t.name, [*TYPE_NAMES, *names]) or
                       "types are string, int, bool, time, list[T] and " + ", ".join(names))
            return ANY
        return ty

    # ---- expressions ----
    def expr(self, e: ast.Expr, scope: Scope) -> Ty:
        ty = self._expr(e, scope)
        self.typing[e] = ty
        return ty

    def expect(self, e: ast.Expr, scope: Scope, want: str, what: str) -> Ty:
        ty = self.expr(e, scope)
        if ty.kind not in ("any", "null") and ty.base() != want:
            self.error(e.span, f"{what} must be {want}, found {ty}")
        return ty

    def _expr(self, e: ast.Expr, scope: Scope) -> Ty:
        method: Callable[[ast.Expr, Scope], Ty] = getattr(self, "_" + type(e).__name__.lower())
        return method(e, scope)

    def _literal(self, e: ast.Literal, scope: Scope) -> Ty:
        return {"string": STRING, "int": INT, "bool": BOOL, "time": TIME}.get(e.kind, NULL)

    def _listlit(self, e: ast.ListLit, scope: Scope) -> Ty:
        elem: Ty | None = None
        for item in e.items:
            t = self.expr(item, scope)
            if elem is None:
                elem = t
                continue
            u = unify(elem, t)
            if u is None:
                self.error(item.span, f"list items must have one type: found {elem} and {t}")
            else:
                elem = u
        return list_of(elem or ANY)

    def _name(self, e: ast.Name, scope: Scope) -> Ty:
        if e.name in scope.vars:
            return scope.vars[e.name]
        if e.name in self.defs:
            d = self.defs[e.name]
            if d.params is not None:
                self.error(e.span, f"{e.name!r} is a definition with parameters: call it as {e.name}(...)")
                return ANY
            return self.def_types.get(e.name, ANY)
        if scope.it is not None and scope.it.kind == "record" and is_pascal(e.name):
            fields = self.records.fields(scope.it.record)
            if e.name in fields:
                return self._field_type(fields[e.name], scope.it, e.name, e.span)
        if e.name in scope.unavailable:
            self.error(e.span, f"{e.name!r} is not available in {scope.where}: {scope.unavailable[e.name]}")
            return ANY
        choices = [*scope.vars, *(d for d in self.defs if self.defs[d].params is None)]
        if scope.it is not None and scope.it.kind == "record":
            choices += list(self.records.fields(scope.it.record))
        hint = did_you_mean(e.name, choices)
        subject = self.env.subject
        if is_pascal(e.name) and scope.it is None and subject and e.name in self.records.fields(subject[1]):
            hint = f"bare fields are only allowed inside 'where'; did you mean {subject[0]}.{e.name} or it.{e.name}?"
        self.error(e.span, f"unknown name {e.name!r} in {scope.where}", hint)
        return ANY

    def _field_type(self, t: Ty, owner: Ty, name: str, span: Span) -> Ty:
        if t.kind == "map":
            self.error(span, f"field {name!r} is a map, which rules cannot use yet")
            return ANY
        return t.opt() if owner.nullable else t

    def _attr(self, e: ast.Attr, scope: Scope) -> Ty:
        obj = self.expr(e.obj, scope)
        span = e.name_span
        if obj.kind == "any":
            return ANY
        if obj.kind != "record":
            self.error(span, f"{obj} has no fields (looked for {e.name!r})")
            return ANY
        fields = self.records.fields(obj.record)
        if e.name not in fields:
            label = self._record_label(obj.record)
            self.error(span, f"{label} has no field {e.name!r}", did_you_mean(e.name, fields) or
                       f"its fields are: {', '.join(fields)}")
            return ANY
        return self._field_type(fields[e.name], obj, e.name, span)

    @staticmethod
    def _record_label(name: str) -> str:
        return f"the {name[:-len('Request')]} request" if name.endswith("Request") else name

    def _unary(self, e: ast.Unary, scope: Scope) -> Ty:
        if e.op == "not":
            t = self.expect(e.operand, scope, "bool", "the operand of 'not'")
            return BOOL.opt(t.nullable)
        t = self.expr(e.operand, scope)
        if t.kind == "duration":
            return t
        if t.kind not in ("any", "null") and t.base() != "int":
            self.error(e.operand.span, f"the operand of '-' must be int or duration, found {t}")
        return INT.opt(t.nullable)

    def _boolop(self, e: ast.BoolOp, scope: Scope) -> Ty:
        nullable = False
        for p in e.parts:
            nullable |= self.expect(p, scope, "bool", f"each operand of '{e.op}'").nullable
        return BOOL.opt(nullable)

    def _arith(self, e: ast.Arith, scope: Scope) -> Ty:
        tys = [self.expr(p, scope) for p in e.parts]
        nullable = any(t.nullable for t in tys)
        known = [t for t in tys if t.kind not in ("any", "null")]
        if not known:
            return ANY
        if involves_time([t.kind for t in known]):
            return self._time_arith(e, tys, nullable)
        base = known[0].base()
        for p, t in zip(e.parts, tys, strict=True):
            if t.kind in ("any", "null"):
                continue
            if t.base() != base:
                self.error(p.span, f"cannot combine {known[0]} and {t} with '+'/'-'",
                           "convert with str(...) to join text" if "string" in (base, t.base()) else None)
                return ANY
        if base in ("string", "list") and "-" in e.ops:
            self.error(e.span, f"'-' does not apply to {base}s; only '+' joins them")
        if base not in ("int", "string", "list"):
            self.error(e.span, f"'+'/'-' apply to ints, strings and lists, not {base}")
            return ANY
        if base == "list":
            elem = known[0]
            for t in known[1:]:
                elem = unify(elem, t) or elem
            return elem.opt(nullable)
        return (INT if base == "int" else STRING).opt(nullable)

    def _time_arith(self, e: ast.Arith, tys: list[Ty], nullable: bool) -> Ty:
        """``+``/``-`` chains over times and durations, typed left to right (see timefns)."""
        acc = tys[0]
        for op, part, t in zip(e.ops, e.parts[1:], tys[1:], strict=True):
            if acc.kind in ("any", "null") or t.kind in ("any", "null"):
                return ANY
            found = arith_type(acc.base(), op, t.base())
            if found is None:
                self.error(part.span, f"cannot compute {acc.opt(False)} {op} {t.opt(False)}", ARITH_RULES)
                return ANY
            acc = found
        return acc.opt(nullable)

    def _if(self, e: ast.If, scope: Scope) -> Ty:
        c = self.expect(e.cond, scope, "bool", "the condition of 'if'")
        a, b = self.expr(e.then, scope), self.expr(e.orelse, scope)
        u = unify(a, b)
        if u is None:
            self.error(e.orelse.span, f"'then' and 'else' give different types: {a} and {b}")
            return ANY
        return u.opt(u.nullable or c.nullable)

    def _where(self, e: ast.Where, scope: Scope) -> Ty:
        src = self.expr(e.source, scope)
        elem = self._elem(src, e.source.span, "'where'")
        cond = self.expect(e.cond, scope.with_it(elem), "bool", "a 'where' condition")
        return list_of(elem).opt(src.nullable or cond.nullable)

    def _elem(self, src: Ty, span: Span, what: str) -> Ty:
        if src.kind == "any":
            return ANY
        if src.kind != "list":
            self.error(span, f"{what} needs a list, found {src}")
            return ANY
        assert src.elem is not None
        return src.elem

    def _project(self, e: ast.Project, scope: Scope) -> Ty:
        src = self.expr(e.source, scope)
        elem = self._elem(src, e.source.span, "'of'")
        if elem.kind == "any":
            return list_of(ANY)
        if elem.kind != "record":
            self.error(e.span, f"'{e.field_name} of' needs a list of records, found list[{elem}]")
            return ANY
        fields = self.records.fields(elem.record)
        if e.field_name not in fields:
            self.error(e.field_span, f"{elem.record} has no field {e.field_name!r}",
                       did_you_mean(e.field_name, fields))
            return ANY
        return list_of(self._field_type(fields[e.field_name], elem, e.field_name, e.span)).opt(src.nullable)

    def _compare(self, e: ast.Compare, scope: Scope) -> Ty:
        lt, rt = self.expr(e.left, scope), self.expr(e.right, scope)
        nullable = lt.nullable or rt.nullable
        op = e.op
        if op in ("==", "!="):
            if unify(lt, rt) is None:
                self.error(e.span, f"cannot compare {lt} with {rt} using '{op}'")
            self._enum_literal(lt, e.right)
            self._enum_literal(rt, e.left)
            return BOOL
        if op in ("<", "<=", ">", ">="):
            for t, side in ((lt, e.left), (rt, e.right)):
                if t.kind not in ("any", "null") and t.base() not in ORDERED:
                    self.error(side.span, f"'{op}' orders ints, times, durations and strings, not {t}")
            if unify(lt.opt(False), rt.opt(False)) is None:
                self.error(e.span, f"cannot order {lt} against {rt}")
            return BOOL.opt(nullable)
        if op in ("in", "not in"):
            elem = self._elem(rt, e.right.span, f"the right side of '{op}'")
            if unify(lt, elem) is None:
                self.error(e.span, f"'{op}' looks for {lt} in a list of {elem}")
            if isinstance(e.right, ast.ListLit):
                for item in e.right.items:
                    self._enum_literal(lt, item)
            return BOOL.opt(rt.nullable)  # `x in xs` is `x == xs[0] or ...`: null only for a null list
        if op == "contains" and rt.kind != "any" and lt.kind == "list":
            assert lt.elem is not None
            if unify(lt.elem, rt) is None:
                self.error(e.span, f"a list of {lt.elem} never contains {rt}")
            return BOOL.opt(nullable)
        for t, side in ((lt, e.left), (rt, e.right)):
            if t.kind not in ("any", "null") and not t.is_text:
                self.error(side.span, f"'{op}' works on strings, found {t}")
        if op == "matches":
            self._literal_regex(e.right)
        return BOOL.opt(nullable)

    def _literal_regex(self, e: ast.Expr) -> None:
        if not (isinstance(e, ast.Literal) and e.kind == "string"):
            self.error(e.span, "a regular expression must be a string literal (so it is checked once, at load)")
            return
        try:
            compile_regex(str(e.value))
        except RegexError as err:
            self.error(e.span, err.message, err.hint)

    def _enum_literal(self, t: Ty, other: ast.Expr) -> None:
        if (t.kind == "enum" and isinstance(other, ast.Literal) and other.kind == "string"
                and other.value not in t.values):
            hint = did_you_mean(str(other.value), t.values) or "values: " + ", ".join(t.values)
            self.error(other.span, f"{other.value!r} is not a possible value here", hint)

    def _call(self, e: ast.Call, scope: Scope) -> Ty:
        span = e.func_span
        if e.func in self.defs:
            return self._call_def(e, scope, span)
        b = self.builtins.get(e.func)
        if b is None:
            self.error(span, f"unknown function {e.func!r}",
                       did_you_mean(e.func, [*self.builtins, *self.defs]))
            for a in e.args:
                self.expr(a, scope)
            return ANY
        if not b.min_args <= len(e.args) <= b.max_args:
            self.error(e.span, f"{e.func}() takes {b.min_args} argument{'s' if b.min_args != 1 else ''}, "
                               f"got {len(e.args)}", b.doc)
            for a in e.args:
                self.expr(a, scope)
            return ANY
        if b.binds_it:
            src = self.expr(e.args[0], scope)
            elem = self._elem(src, e.args[0].span, f"{e.func}()")
            cond = self.expect(e.args[1], scope.with_it(elem), "bool", f"the condition of {e.func}()")
            tys = [src, cond]
        else:
            tys = [self.expr(a, scope) for a in e.args]
        if b.uses_resolution and not self.has_resolve:
            self.error(e.span, f"{e.func}() needs a resolution policy ('resolve candidates ...') in force")
        return b.type_of(CallTyping(e, tys, self.error, self._literal_regex))

    def _call_def(self, e: ast.Call, scope: Scope, span: Span) -> Ty:
        d = self.defs[e.func]
        tys = [self.expr(a, scope) for a in e.args]
        if d.params is None:
            self.error(span, f"{e.func!r} is a constant, not a function: write {e.func} without ()")
            return self.def_types.get(e.func, ANY)
        if len(e.args) != len(d.params):
            sig = ", ".join(f"{p.name}: {p.type}" for p in d.params)
            self.error(e.span, f"{e.func}() takes {len(d.params)} argument{'s' if len(d.params) != 1 else ''}, "
                               f"got {len(e.args)}", f"def {e.func}({sig})")
            return self.def_types.get(e.func, ANY)
        ptypes = self.def_param_types.get(e.func) or [ANY] * len(d.params)
        for a, t, want, p in zip(e.args, tys, ptypes, d.params, strict=True):
            if not assignable(t, want):
                self.error(a.span, f"argument {p.name!r} of {e.func}() must be {want}, found {t}")
        return self.def_types.get(e.func, ANY)
