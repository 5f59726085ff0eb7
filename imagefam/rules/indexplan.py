"""Static analysis of typed expressions for the compiler: which conjuncts an index can serve,
which filters are simple field tests, what a null guard proves, and when a definition can be
inlined (by substituting its arguments). Nothing here runs at evaluation time."""

from __future__ import annotations

import copy
import dataclasses

from . import ast
from .codegen import is_path
from .environment import Environment
from .typecheck import Typing, is_pascal


def guards(tests: list[ast.Expr], stop: bool) -> frozenset[str]:
    """Context names that ``x != null`` tests (``x == null`` for ``or``) prove not null after them."""
    want = "==" if stop else "!="
    out = set()
    for t in tests:
        if isinstance(t, ast.Compare) and t.op == want:
            for side, const in ((t.left, t.right), (t.right, t.left)):
                if isinstance(const, ast.Literal) and const.kind == "null" and isinstance(side, ast.Name):
                    out.add(side.name)
    return frozenset(out)


INLINE_DEPTH = 12


INLINE_NODES = 60


def cheap(e: ast.Expr) -> bool:
    """Cheap enough to evaluate twice: a literal, a name or an attribute path."""
    while isinstance(e, ast.Attr):
        e = e.obj
    return isinstance(e, ast.Name | ast.Literal)


def substitute(e: ast.Expr, args: dict[str, ast.Expr], types: Typing) -> ast.Expr:
    """A copy of ``e`` with parameter names replaced by argument expressions (shared, not copied).
    Each copied node gets the type of its original in ``types``."""
    if isinstance(e, ast.Name) and e.name in args:
        return args[e.name]
    if not e.children():
        return e
    new = copy.copy(e)
    for f in dataclasses.fields(new):
        value = getattr(new, f.name)
        if isinstance(value, ast.Expr):
            setattr(new, f.name, substitute(value, args, types))
        elif isinstance(value, list) and value and isinstance(value[0], ast.Expr):
            setattr(new, f.name, [substitute(v, args, types) for v in value])
    if e in types:
        types[new] = types[e]
    return new


def element_field(e: ast.Expr) -> str | None:
    if isinstance(e, ast.Name) and is_pascal(e.name):
        return e.name
    if isinstance(e, ast.Attr) and isinstance(e.obj, ast.Name) and e.obj.name == "it":
        return e.name
    return None


def _scalar(e: ast.Expr, types: Typing) -> bool:
    ty = types.get(e)
    return ty is not None and ty.kind != "list"


def indexable(part: ast.Expr, types: Typing) -> tuple[str, ast.Expr] | None:
    """``Field == expr`` (either way round) with a scalar field and an element-free expr."""
    if not (isinstance(part, ast.Compare) and part.op == "=="):
        return None
    for a, b in ((part.left, part.right), (part.right, part.left)):
        name = element_field(a)
        if name is not None and _scalar(a, types) and not mentions_element(b):
            return name, b
    return None


def element_test(e: ast.Expr) -> tuple[str, str, ast.Expr] | None:
    """(field, ``==`` or ``!=``, value) for ``Field ==/!= value`` with an element-free value: the
    comparison is two-valued, so filtering by it gives exactly what the closure would."""
    if not (isinstance(e, ast.Compare) and e.op in ("==", "!=")):
        return None
    for side, value in ((e.left, e.right), (e.right, e.left)):
        name = element_field(side)
        if name is not None and is_path(name) and not mentions_element(value):
            return name, e.op, value
    return None


def element_tests(e: ast.Expr) -> list[tuple[str, str, ast.Expr]] | None:
    """:func:`element_test` for a single test or an ``and`` of them, else None."""
    parts = e.parts if isinstance(e, ast.BoolOp) and e.op == "and" else [e]
    tests = [element_test(p) for p in parts]
    return None if any(t is None for t in tests) else [t for t in tests if t is not None]


def indexable_in(part: ast.Expr, types: Typing) -> tuple[str, ast.Expr] | None:
    """``Field in values`` with a scalar field and an element-free list of values."""
    if not (isinstance(part, ast.Compare) and part.op == "in"):
        return None
    name = element_field(part.left)
    if name is not None and _scalar(part.left, types) and not mentions_element(part.right):
        return name, part.right
    return None


def mentions_element(e: ast.Expr) -> bool:
    """Whether ``e`` reads the current element (``it`` or a bare field) outside nested scopes."""
    stack = [e]
    while stack:
        x = stack.pop()
        if isinstance(x, ast.Name) and (x.name == "it" or is_pascal(x.name)):
            return True
        if isinstance(x, ast.Where):
            stack.append(x.source)  # its condition binds its own element
            continue
        if isinstance(x, ast.Call) and x.func in ("all", "any") and x.args:
            stack.append(x.args[0])
            continue
        stack.extend(x.children())
    return False


@dataclasses.dataclass
class ReadKey:
    """One ``images where`` of a resolution policy, as the images it can read: those whose ``eq``
    fields equal their expressions and (when ``member`` is set) whose field is in that list."""

    eq: dict[str, ast.Expr]
    member: tuple[str, ast.Expr] | None


def family_keys(block: list[ast.Expr], defs: dict[str, ast.Def], types: Typing,
                env: Environment) -> list[ReadKey] | None:
    """What a resolution can read, when every read of the state in ``block`` (a resolution
    policy's shortlist or candidates first, then its requirements and order keys) has the shape
    the environment's :class:`~.environment.KeyedReads` declares (ECS: ``images where RegionId ==
    region and ImageFamily == K and ...``).

    Each key expression reads only the declared key variables, literals and definitions (``K``
    only the family variable), so a resolution can change only when a record it can read was
    added, removed or changed (``imagefam diff`` relies on this). None when the environment
    declares no such shape, or the block, or a definition it calls, reads the source any other
    way, or reads a time-dependent name (directly or through a builtin)."""
    shape = env.resolution.keyed_reads
    if shape is None:
        return None
    source, variables = shape.source, shape.key_variables

    def keyed_source(e: ast.Expr) -> bool:
        return isinstance(e, ast.Where) and isinstance(e.source, ast.Name) and e.source.name == source

    # The list of candidates must be `<source> where ...` or a `+` of them, each condition never
    # null: then whether a record is a candidate depends on that record alone, and a record that
    # changed can move a resolution only by being eligible (a count or a null would let any do).
    lists = block[0]
    parts = lists.parts if isinstance(lists, ast.Arith) and all(op == "+" for op in lists.ops) else [lists]
    for part in parts:
        if not (keyed_source(part) and isinstance(part, ast.Where)
                and (cond_ty := types.get(part.cond)) is not None and not cond_ty.nullable):
            return None
    nodes = [n for e in block for n in ast.walk(e)]

    def only(e: ast.Expr, names: tuple[str, ...]) -> bool:
        return all(m.name in names or m.name in defs for m in ast.walk(e) if isinstance(m, ast.Name))

    keys: list[ReadKey] = []
    allowed: set[int] = set()  # ids of source names that are the source of a keyed `where`
    for n in nodes:
        if not (keyed_source(n) and isinstance(n, ast.Where)):
            continue
        parts = n.cond.parts if isinstance(n.cond, ast.BoolOp) and n.cond.op == "and" else [n.cond]
        eq: dict[str, ast.Expr] = {}
        member: tuple[str, ast.Expr] | None = None
        for part in parts:
            found = indexable(part, types)
            if found is not None and found[0] not in eq and only(found[1], variables):
                eq[found[0]] = found[1]
                continue
            many = indexable_in(part, types)
            if many is not None and member is None and only(many[1], variables):
                member = many
        region, family = eq.get(shape.region_field), eq.get(shape.family_field)
        if isinstance(region, ast.Name) and region.name == shape.region_variable and family is not None and only(
                family, (shape.family_variable,)):
            keys.append(ReadKey(eq, member))
            allowed.add(id(n.source))
    return None if _reads_otherwise(nodes, defs, env, source, allowed) else keys or None


def _reads_otherwise(nodes: list[ast.Expr], defs: dict[str, ast.Def], env: Environment, source: str,
                     allowed: set[int]) -> bool:
    """Whether ``nodes`` or a definition they call read ``source`` other than through the keyed
    ``where`` nodes (ids in ``allowed``), or a time-dependent name (directly or by a builtin)."""
    timed = {name for name, b in env.builtins.items() if b.reads & env.time_dependent}
    for n in [*nodes, *_in_defs(nodes, defs)]:
        if isinstance(n, ast.Name) and (n.name in env.time_dependent or (n.name == source and id(n) not in allowed)):
            return True
        if isinstance(n, ast.Call) and n.func in timed and n.func not in defs:
            return True
    return False


def _in_defs(nodes: list[ast.Expr], defs: dict[str, ast.Def]) -> list[ast.Expr]:
    """The nodes of the definitions ``nodes`` call, transitively (their parameters left out)."""
    seen: set[str] = set()
    pending = list(nodes)
    out: list[ast.Expr] = []
    while pending:
        n = pending.pop()
        name = n.func if isinstance(n, ast.Call) else n.name if isinstance(n, ast.Name) else None
        if name in defs and name not in seen:
            seen.add(name)
            body = ast.walk(defs[name].body)
            params = {p.name for p in defs[name].params or []}
            out += [m for m in body if not (isinstance(m, ast.Name) and m.name in params)]
            pending += body
    return out
