"""The syntax tree of a rule file. Nodes carry their source span; types live outside the tree, in
the type checker's typed result per scope (so checking one scope never overwrites another's).

Expressions are n-ary where the language is (``and``/``or`` chains, ``+`` chains), so a long
chain is one wide node, not a deep one. ``depth`` is computed at construction: the parser
rejects trees deeper than a fixed bound before anything recursive walks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from typing import Literal as Lit

from .errors import Span

#: An action rule (``rule ... on``) or an audit rule (``audit ... for each``).
RuleKind = Lit["action", "audit"]
#: What a rule that fires does: deny the call (or fail the report), warn, or note.
Severity = Lit["deny", "warn", "info"]
SEVERITIES: tuple[Severity, ...] = ("deny", "warn", "info")


@dataclass(eq=False, slots=True)
class Expr:
    span: Span
    depth: int = field(default=1, init=False, repr=False)

    def children(self) -> tuple[Expr, ...]:
        return ()

    def _set_depth(self) -> None:
        kids = self.children()
        self.depth = 1 + max([k.depth for k in kids]) if kids else 1


def walk(e: Expr) -> list[Expr]:
    """Every node of an expression (iteratively: no recursion on deep trees)."""
    out, stack = [], [e]
    while stack:
        x = stack.pop()
        out.append(x)
        stack.extend(x.children())
    return out


@dataclass(eq=False, slots=True)
class Literal(Expr):
    """A string, int, bool, timestamp or null literal; ``kind`` names which."""

    value: str | int | bool | datetime | None = None
    kind: Lit["string", "int", "bool", "time", "null"] = "null"


@dataclass(eq=False, slots=True)
class ListLit(Expr):
    items: list[Expr] = field(default_factory=list)

    def children(self) -> tuple[Expr, ...]:
        return tuple(self.items)


@dataclass(eq=False, slots=True)
class Name(Expr):
    """A bare name: a variable, a parameter, a constant definition or a field of ``it``."""

    name: str = ""


@dataclass(eq=False, slots=True)
class Attr(Expr):
    """``obj.Field``."""

    obj: Expr
    name: str
    name_span: Span

    def children(self) -> tuple[Expr, ...]:
        return (self.obj,)


@dataclass(eq=False, slots=True)
class Call(Expr):
    """``f(args)``: a builtin function or a definition."""

    func: str
    args: list[Expr]
    func_span: Span

    def children(self) -> tuple[Expr, ...]:
        return tuple(self.args)


@dataclass(eq=False, slots=True)
class Unary(Expr):
    """``not x`` or ``-x``."""

    op: Lit["not", "-"]
    operand: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)


@dataclass(eq=False, slots=True)
class BoolOp(Expr):
    """``a and b and c`` / ``a or b or c`` (three-valued, see docs/rules.md)."""

    op: Lit["and", "or"]
    parts: list[Expr]

    def children(self) -> tuple[Expr, ...]:
        return tuple(self.parts)


@dataclass(eq=False, slots=True)
class Compare(Expr):
    """Binary tests: ``== != < <= > >= in not-in startswith endswith contains matches``."""

    op: str
    left: Expr
    right: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)


@dataclass(eq=False, slots=True)
class Arith(Expr):
    """``a + b - c``: ints add, strings and lists concatenate. ``ops[i]`` joins parts i and i+1."""

    parts: list[Expr]
    ops: list[str]

    def children(self) -> tuple[Expr, ...]:
        return tuple(self.parts)


@dataclass(eq=False, slots=True)
class If(Expr):
    cond: Expr
    then: Expr
    orelse: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.cond, self.then, self.orelse)


@dataclass(eq=False, slots=True)
class Where(Expr):
    """``collection where condition``; inside, ``it`` is the element and bare fields are its."""

    source: Expr
    cond: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.source, self.cond)


@dataclass(eq=False, slots=True)
class Project(Expr):
    """``Field of collection``: the list of that field's values."""

    field_name: str
    source: Expr
    field_span: Span

    def children(self) -> tuple[Expr, ...]:
        return (self.source,)


@dataclass(eq=False, slots=True)
class Template:
    """A message with ``{expr}`` holes; ``parts`` alternates text and expressions."""

    span: Span
    parts: list[str | Expr] = field(default_factory=list)


# ---- declarations ----


@dataclass(eq=False, slots=True)
class TypeRef:
    name: str
    span: Span
    arg: TypeRef | None = None

    def __str__(self) -> str:
        return f"{self.name}[{self.arg}]" if self.arg else self.name


@dataclass(eq=False, slots=True)
class Param:
    name: str
    type: TypeRef
    span: Span


@dataclass(eq=False, slots=True)
class Def:
    name: str
    params: list[Param] | None  # None: a constant (``def limit = 100``)
    body: Expr
    span: Span
    source: Any = None  # errors.Source of the file it came from


@dataclass(eq=False, slots=True)
class Clauses:
    code: str | None = None
    message: Template | None = None
    cites: str | None = None


@dataclass(eq=False, slots=True)
class RuleDecl:
    """An action rule (``on``) or an audit rule (``for each``)."""

    id: str
    kind: RuleKind
    targets: list[tuple[str, Span]]  # actions, or the single audit scope
    severity: Severity
    cond: Expr
    clauses: Clauses
    span: Span
    source: Any = None


@dataclass(eq=False, slots=True)
class RequireClause:
    name: str
    cond: Expr
    otherwise: Template | None
    span: Span


@dataclass(eq=False, slots=True)
class OrderKey:
    expr: Expr
    descending: bool
    span: Span


@dataclass(eq=False, slots=True)
class ResolveDecl:
    candidates: Expr
    shortlist: Expr | None
    requirements: list[RequireClause]
    order: list[OrderKey]
    span: Span
    source: Any = None


Decl = Def | RuleDecl | ResolveDecl


@dataclass(eq=False, slots=True)
class Module:
    """One parsed rule file."""

    source: Any
    decls: list[Decl] = field(default_factory=list)
