"""Compiled declarations: the :class:`Rule`, :class:`Resolution` and :class:`Policy` that decisions
run, and how the last stage of loading builds them from checked declarations.

A compiled rule holds closures (see :mod:`.compiler`): its condition, its message, and an
explainer that reports the values of its sub-conditions when it fires. Every definition in force
is kept too, so the embedding program can call one (:meth:`Policy.function`) instead of repeating
it in Python.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import ast
from .compiler import Compiler
from .errors import Diagnostic, Source, Span
from .indexplan import family_keys
from .runtime import Context, Fn

#: Held while a closure is compiled on first call: the compiler keeps state while it compiles
#: (parameters, guards, loop-invariant cells), so two threads must not compile at once.
_COMPILING = threading.RLock()


@dataclass
class Rule:
    """A compiled action or audit rule.

    A loaded policy compiles ``cond``, ``message`` and ``explain`` when each is first called: a
    command runs few of the rules (a check, those of its steps' actions; only a rule that fires
    needs its message and explainer), and compiling them all was most of the policy's load time.
    The first call puts the closure in the attribute, so later reads get the closure itself (a
    reference kept from before the first call still works, one call slower: see :func:`compiled`).
    The closures are those compiling at load would give: the checker typed every expression then,
    and the compiler holds no state between two top-level compilations."""

    id: str
    kind: ast.RuleKind
    targets: tuple[str, ...]  # actions, or (scope,)
    severity: ast.Severity
    code: str | None
    cites: str | None
    file: str
    line: int
    shipped: bool
    cond: Fn
    message: Fn
    explain: Callable[[Context], list[tuple[str, str]]]
    text: str = ""  # the condition's source text


class _FirstCall:
    """One of a rule's closures before it is compiled: the first call compiles it (``build``) and
    puts it in the rule's attribute ``name``, then runs it."""

    __slots__ = ("build", "fn", "name", "rule")

    def __init__(self, rule: Rule, name: str, build: Callable[[], Callable[[Context], Any]]) -> None:
        self.rule, self.name, self.build = rule, name, build
        self.fn: Callable[[Context], Any] | None = None

    def __call__(self, c: Context) -> Any:
        return (self.fn or self.compile())(c)

    def compile(self) -> Callable[[Context], Any]:
        with _COMPILING:
            if self.fn is None:
                self.fn = self.build()
                if getattr(self.rule, self.name) is self:
                    setattr(self.rule, self.name, self.fn)
        return self.fn


def compiled(fn: Callable[[Context], Any]) -> Callable[[Context], Any]:
    """``fn`` (a rule's ``cond``, ``message`` or ``explain``), compiled now if it was not yet: for a
    caller that keeps the closure to call it many times (a report over a million images)."""
    return fn.compile() if isinstance(fn, _FirstCall) else fn


@dataclass
class Requirement:
    """A compiled ``require name: cond [otherwise "..."]`` of the resolution policy."""

    name: str
    cond: Fn
    otherwise: Fn | None
    text: str


@dataclass
class ReadKey:
    """The images one ``images where`` of the resolution policy can pick, given ``family``,
    ``region`` and ``caller`` in the context: ``fields`` equal to ``values`` and, when ``member`` is
    set, that field in ``member_values``. ``family`` is the ``ImageFamily`` value alone (it reads
    only ``family``)."""

    fields: tuple[str, ...]
    values: tuple[Fn, ...]
    member: str | None
    member_values: Fn | None
    family: Fn


@dataclass
class Resolution:
    """The compiled resolution policy: candidates, named requirements, ordering."""

    candidates: Fn
    requirements: list[Requirement]
    order: list[tuple[Fn, bool, str]]  # key, descending, source text
    candidates_text: str
    file: str
    line: int
    shortlist: Fn | None = None  # the candidates that can pass; used when no trace is asked for
    #: The order keys as (field, descending) when each is a plain non-null field of the candidate:
    #: then resolution sorts in C and stops at the first candidate meeting every requirement.
    order_fields: list[tuple[str, bool]] | None = None
    #: What ``Resolver.image`` can read, when that is only records picked by keyed filters (ECS: ``images where
    #: RegionId == region and ImageFamily == K and ...``; see :func:`~imagefam.rules.indexplan.family_keys`);
    #: None when a resolution may read anything else.
    family_keys: list[ReadKey] | None = None
    #: The requirements that are ``Field == constant`` of the candidate (a plain non-null field), as
    #: (requirement name, field, constant): without a trace, resolution drops the candidates failing
    #: them in C before ranking, and does not test them again (ECS: ``Status == "Available"``).
    field_tests: list[tuple[str, str, Any]] = field(default_factory=list)

    @property
    def order_text(self) -> str:
        return ", ".join(f"{t} {'desc' if d else 'asc'}" for _, d, t in self.order)


class DefinitionError(LookupError):
    """:meth:`Policy.function` asked for a definition the policy does not have, or has with
    other parameter types."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Definition:
    """A compiled ``def``: its parameters as (name, type text), None for a constant, and its body."""

    name: str
    params: tuple[tuple[str, str], ...] | None
    body: Fn
    file: str
    line: int

    @property
    def signature(self) -> str:
        if self.params is None:
            return self.name
        return f"{self.name}(" + ", ".join(f"{n}: {t}" for n, t in self.params) + ")"


@dataclass
class Policy:
    rules: list[Rule]
    resolution: Resolution | None
    files: list[str]
    warnings: list[Diagnostic] = field(default_factory=list)
    #: What the user's files changed in the shipped policy ("rule x ... replaces the shipped rule")
    #: and files a policy folder holds that were not read: said to the user, never silent.
    notices: list[str] = field(default_factory=list)
    #: Every definition in force, by name (a later layer's replaces an earlier one's).
    definitions: dict[str, Definition] = field(default_factory=dict)
    #: The evaluation context class of the environment the policy was loaded against.
    context: Callable[[], Context] = Context
    # derived from ``rules`` on every construction (``dataclasses.replace`` included), never passed in
    by_action: dict[str, list[Rule]] = field(init=False, repr=False)
    audits: dict[str, list[Rule]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.by_action, self.audits = {}, {}
        for r in self.rules:
            if r.kind == "action":
                for a in r.targets:
                    self.by_action.setdefault(a, []).append(r)
            else:
                self.audits.setdefault(r.targets[0], []).append(r)

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def function(self, name: str, params: Sequence[str]) -> Callable[..., Any]:
        """The definition ``name`` as a Python callable of its parameters: ``params`` are the type
        texts the caller expects (``("Image", "string")``); it returns the definition's value
        (``None`` for null). It runs over a fresh evaluation context of its own, so the names the
        context provides (globals) are unset there: call it for definitions of their parameters.
        Raises :class:`DefinitionError` when the policy has no such definition or its parameters
        have other types."""
        d = self.definitions.get(name)
        wanted = f"{name}(" + ", ".join(params) + ")"
        if d is None:
            raise DefinitionError(f"the policy has no definition {name!r} (wanted {wanted})")
        if d.params is None or tuple(t for _, t in d.params) != tuple(params):
            raise DefinitionError(f"definition {d.signature} at {d.file}:{d.line} does not take the parameters "
                                  f"wanted ({wanted})")
        body, ctx, arity = d.body, self.context(), len(params)

        def call(*args: Any) -> Any:
            if len(args) != arity:
                raise TypeError(f"{wanted} takes {arity} arguments, got {len(args)}")
            saved, saved_it = ctx.args, ctx.it
            ctx.args, ctx.it = args, None
            try:
                return body(ctx)
            finally:
                ctx.args, ctx.it = saved, saved_it

        call.__name__ = name
        call.__doc__ = f"{d.signature}, compiled from {d.file}:{d.line}"
        return call


def span_text(source: Source, span: Span) -> str:
    """The source text of ``span``, its lines joined by spaces (time linear in the span: the file
    is split into lines once, however many spans are asked for)."""
    lines = source.lines()[span.line - 1: span.end_line]
    if not lines:
        return ""
    if len(lines) == 1:
        return lines[0][span.col - 1: span.end_col - 1]
    lines[0] = lines[0][span.col - 1:]
    lines[-1] = lines[-1][: span.end_col - 1]
    return " ".join(ln.strip() for ln in lines)


def compile_template(compiler: Compiler, tpl: ast.Template | None, default: str) -> Fn:
    if tpl is None:
        return lambda c: default
    parts: list[Any] = [compiler.compile(p) if isinstance(p, ast.Expr) else p for p in tpl.parts]
    format_value = compiler.format_value

    def message(c: Context) -> str:
        return "".join(p if isinstance(p, str) else format_value(p(c)) for p in parts)

    return message


def _explainer(compiler: Compiler, cond: ast.Expr, source: Source) -> Callable[[Context], list[tuple[str, str]]]:
    """Closures that report the values of a rule's sub-conditions, run only when it fires."""
    parts = cond.parts if isinstance(cond, ast.BoolOp) and cond.op == "and" else [cond]
    probes: list[tuple[str, Fn]] = []
    for p in parts:
        if isinstance(p, ast.Compare) and not isinstance(p.left, ast.Literal):
            probes.append((span_text(source, p.left.span), compiler.compile(p.left)))
            if not isinstance(p.right, ast.Literal | ast.ListLit):
                probes.append((span_text(source, p.right.span), compiler.compile(p.right)))
        else:
            probes.append((span_text(source, p.span), compiler.compile(p)))
    format_value = compiler.format_value

    def explain(c: Context) -> list[tuple[str, str]]:
        return [(text, format_value(fn(c))) for text, fn in probes]

    return explain


def compile_rule(compiler: Compiler, decl: ast.RuleDecl, shipped: bool) -> Rule:
    """The rule of ``decl``; its closures are compiled when first called (see :class:`Rule`)."""
    rule = Rule(id=decl.id, kind=decl.kind, targets=tuple(t for t, _ in decl.targets), severity=decl.severity,
                code=decl.clauses.code, cites=decl.clauses.cites, file=decl.source.name, line=decl.span.line,
                shipped=shipped, cond=_unset, message=_unset, explain=_unset,
                text=span_text(decl.source, decl.cond.span))
    default = f"rule {decl.id} fired"
    rule.cond = _FirstCall(rule, "cond", lambda: compiler.compile(decl.cond))
    rule.message = _FirstCall(rule, "message", lambda: compile_template(compiler, decl.clauses.message, default))
    rule.explain = _FirstCall(rule, "explain", lambda: _explainer(compiler, decl.cond, decl.source))
    return rule


def _unset(c: Context) -> Any:  # pragma: no cover - replaced before the rule is returned
    raise AssertionError("not compiled")


def compile_definitions(compiler: Compiler) -> dict[str, Definition]:
    """Every definition of ``compiler``, compiled (each is compiled once: rules share them)."""
    return {name: Definition(name, None if d.params is None else tuple((p.name, str(p.type)) for p in d.params),
                             compiler.def_fn(name), d.source.name if d.source is not None else "", d.span.line)
            for name, d in compiler.defs.items()}


def _field(compiler: Compiler, e: ast.Expr) -> str | None:
    """The candidate's field ``e`` reads (``Field`` or ``it.Field``) when it is never null, else None."""
    name = e.name if isinstance(e, ast.Name) and e.name[:1].isupper() and e.name not in compiler.defs else (
        e.name if isinstance(e, ast.Attr) and isinstance(e.obj, ast.Name) and e.obj.name == "it" else None)
    ty = compiler.types.get(e)
    return None if name is None or ty is None or ty.nullable else name


def _order_fields(compiler: Compiler, decl: ast.ResolveDecl) -> list[tuple[str, bool]] | None:
    """The order keys as plain non-null fields of the candidate, or None if one is not."""
    fields: list[tuple[str, bool]] = []
    for k in decl.order:
        name = _field(compiler, k.expr)
        if name is None:
            return None
        fields.append((name, k.descending))
    return fields or None


def _field_tests(compiler: Compiler, decl: ast.ResolveDecl) -> list[tuple[str, str, Any]]:
    """The requirements ``Field == constant`` (either side) of a non-null field and a non-null
    string, int or bool literal: two-valued, and true exactly when ``getattr(it, Field) == constant``."""
    tests = []
    for r in decl.requirements:
        e = r.cond
        if not (isinstance(e, ast.Compare) and e.op == "=="):
            continue
        for side, const in ((e.left, e.right), (e.right, e.left)):
            if (isinstance(const, ast.Literal) and const.kind in ("string", "int", "bool")
                    and const.value is not None and (name := _field(compiler, side)) is not None):
                tests.append((r.name, name, const.value))
                break
    return tests


def compile_resolution(compiler: Compiler, decl: ast.ResolveDecl) -> Resolution:
    reqs = [Requirement(r.name, compiler.compile(r.cond),
                        compile_template(compiler, r.otherwise, "") if r.otherwise else None,
                        span_text(decl.source, r.cond.span)) for r in decl.requirements]
    order = [(compiler.compile(k.expr), k.descending, span_text(decl.source, k.expr.span)) for k in decl.order]
    short = compiler.compile(decl.shortlist) if decl.shortlist is not None else None
    return Resolution(compiler.compile(decl.candidates), reqs, order,
                      span_text(decl.source, decl.candidates.span), decl.source.name, decl.span.line, short,
                      _order_fields(compiler, decl), _read_keys(compiler, decl), _field_tests(compiler, decl))


def _read_keys(compiler: Compiler, decl: ast.ResolveDecl) -> list[ReadKey] | None:
    """What the resolution without a trace reads: the shortlist (else the candidates), requirements
    and order keys (see :func:`~.indexplan.family_keys`)."""
    block = [decl.shortlist if decl.shortlist is not None else decl.candidates,
             *(r.cond for r in decl.requirements), *(k.expr for k in decl.order)]
    found = family_keys(block, compiler.defs, compiler.types, compiler.env)
    shape = compiler.env.resolution.keyed_reads
    return None if found is None or shape is None else [
        ReadKey(tuple(sorted(k.eq)), tuple(compiler.compile(k.eq[f]) for f in sorted(k.eq)),
                k.member[0] if k.member else None, compiler.compile(k.member[1]) if k.member else None,
                compiler.compile(k.eq[shape.family_field])) for k in found]
