"""Text -> AST. Lark LALR with the AST built inline, as the parser reduces: no parse tree is built
and nothing is walked recursively, so parsing is linear in the text (a 100,000-term ``and`` chain
parses in about a second).

A file is split into declarations (lines starting with ``def``, ``rule``, ``audit`` or
``resolve``) and each is parsed alone: one syntax error per broken declaration is reported
and the rest of the file still loads. Files over :data:`MAX_BYTES` and expressions nested
deeper than :data:`MAX_DEPTH` are rejected with a clear error, never a RecursionError.
"""

from __future__ import annotations

import gc
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any, cast

from lark import Lark, Token, Transformer
from lark import __version__ as lark_version
from lark.exceptions import (
    LarkError,
    UnexpectedCharacters,
    UnexpectedInput,
    UnexpectedToken,
)

from . import ast
from .cache import cache_dir
from .errors import Diagnostic, Reporter, Source, Span

MAX_BYTES = 2_000_000
MAX_DEPTH = 64

# ``def``/``rule``/``audit`` are keywords and never appear inside an expression; ``resolve`` is
# also a builtin function, so only ``resolve candidates`` starts a declaration.
_DECL_START = re.compile(r"^[ \t]*(def|rule|audit|resolve(?=\s+candidates))\b", re.MULTILINE)
_FRIENDLY = {
    "NAME": "a name",
    "RULE_ID": "a rule id",
    "STRING": "a string",
    "INT": "an integer",
    "TIME": "a timestamp (@2020-01-03T00:00:00Z)",
    "COMP_OP": "a comparison (== != < <= > >=)",
    "ADD_OP": "'+' or '-'",
    "DIRECTION": "'asc' or 'desc'",
    "$END": "end of file",
}


#: The span of a node being built: :class:`_Positions` replaces it once the node's children are known.
_PENDING = Span(0, 0, 0, 0)


@cache
def _lark() -> tuple[Lark, _Build]:
    """The parser and the builder it calls as it reduces (one of each, shared: see :func:`_parse`)."""
    grammar = resources.files("imagefam.rules").joinpath("grammar.lark").read_text("utf-8")
    folder = cache_dir()
    # Lark checks the grammar's hash stored in the file, so a stale cache is rebuilt, not used.
    cache: bool | str = str(folder / f"grammar-lark{lark_version}-inline.tables") if folder else False
    build = _Build()
    lark = Lark(grammar, parser="lalr", start=["start", "expr"], propagate_positions=False,
                maybe_placeholders=True, cache=cache, transformer=build)
    # Lark's propagate_positions only places parse trees; this places the AST objects the builder
    # returns, by the same rule. The parser reads its callbacks from this dict as it runs.
    callbacks: dict[Any, Callable[[list[Any]], Any]] = lark._callbacks
    for rule, f in list(callbacks.items()):
        if not (rule.options.expand1 and not rule.alias and len(rule.expansion) == 1):  # else: the child itself
            callbacks[rule] = _Positions(f, build)
    return lark, build


_PARSING = threading.RLock()


def _parse(text: str, start: str, source: Source, offset: int, reporter: Reporter) -> Any:
    """Parse ``text`` into AST objects. The builder's state is per parse; a message template
    parses its holes while its declaration is being parsed, so the state is a stack."""
    with _PARSING:
        lark, build = _lark()
        saved = build.source, build.offset, build.reporter, build.firsts, build.lasts, build.kept
        build.source, build.offset, build.reporter = source, offset, reporter
        build.firsts, build.lasts, build.kept = {}, {}, []
        # Parsing allocates many objects and frees few until it ends, which would wake the cycle
        # collector over and over to scan the growing tree (a fifth of the time of a long chain);
        # what a parse leaves behind is freed by reference counting.
        collecting = gc.isenabled()
        gc.disable()
        try:
            return lark.parse(text, start=start)
        finally:
            if collecting:
                gc.enable()
            build.source, build.offset, build.reporter, build.firsts, build.lasts, build.kept = saved


class _Positions:
    """Places what a grammar rule built, as Lark's ``propagate_positions`` places trees: a node
    spans from the start of its first child's container to the end of its last's, tokens the
    parser then drops (``not``, ``(``) included. A container is the text a result covers, which
    for a parenthesized expression includes the parentheses; nodes read their children's."""

    __slots__ = ("build", "f")

    def __init__(self, f: Callable[[list[Any]], Any], build: _Build) -> None:
        self.f = f
        self.build = build

    def __call__(self, children: list[Any]) -> Any:
        res = self.f(children)
        build = self.build
        firsts, lasts = build.firsts, build.lasts
        first = last = None
        for c in children:
            if isinstance(c, Token):
                first = c
                break
            if (first := firsts.get(id(c))) is not None:
                break
        for c in reversed(children):
            if isinstance(c, Token):
                last = c
                break
            if (last := lasts.get(id(c))) is not None:
                break
        # No new objects per call (a tuple each would wake the garbage collector ever more often
        # as the tree grows): a container is its first and last token.
        if first is not None and last is not None:
            firsts[id(res)] = first
            lasts[id(res)] = last
            build.kept.append(res)  # alive until the parse ends, so its id stays its own
        if getattr(res, "span", None) is _PENDING:
            offset = build.offset
            res.span = (Span((first.line or 1) + offset, first.column or 1, (last.end_line or 1) + offset,
                             last.end_column or 1)
                        if first is not None and last is not None else Span(offset + 1, 1, offset + 1, 2))
        return res


def _tspan(tok: Token, offset: int, col_shift: int = 0) -> Span:
    line = (tok.line or 1) + offset
    col = (tok.column or 1) + col_shift
    return Span(line, col, line, col + len(str(tok)))


def unescape(raw: str) -> str:
    """The value of a string token (quotes included in ``raw``)."""
    body = raw[1:-1]
    if "\\" not in body:
        return body
    out, i = [], 0
    table = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(table.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def parse_time(text: str) -> datetime | None:
    """An ISO-8601 timestamp, as an aware UTC datetime; naive ones are taken as UTC."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (ValueError, OverflowError):  # not a date, or one whose UTC time is outside years 1-9999
        return None


class _Build(Transformer[Token, Any]):
    """Builds AST nodes as the parser reduces (Lark calls these methods inline, children first).
    Spans of nodes are set by :class:`_Positions` right after; a method that reports an error
    locates it by its tokens."""

    def __init__(self) -> None:
        super().__init__(visit_tokens=False)
        self.source = Source("", "")
        self.offset = 0
        self.reporter = Reporter(self.source)
        #: id(object) -> the first and the last token of the text each built object covers (see
        #: _Positions); ``kept`` holds the objects, so that no id is reused during a parse.
        self.firsts: dict[int, Token] = {}
        self.lasts: dict[int, Token] = {}
        self.kept: list[Any] = []

    def _node(self, node: ast.Expr) -> ast.Expr:
        node._set_depth()
        return node

    # -- atoms --
    def _escapes(self, tok: Token) -> None:
        """Report escapes other than \\n \\t \\" \\\\ (a regex's \\d must be written \\\\d)."""
        raw, i = str(tok), 0
        while i < len(raw) - 1:
            if raw[i] == "\\":
                if raw[i + 1] not in 'nt"\\':
                    self.reporter.error(Span.point((tok.line or 1) + self.offset, (tok.column or 1) + i, 2),
                                        f"unknown escape {raw[i:i + 2]!r} in a string",
                                        "escapes are \\n \\t \\\" and \\\\; in a regex write \\\\d for \\d")
                i += 2
            else:
                i += 1

    def string(self, c: list[Any]) -> ast.Expr:
        self._escapes(c[0])
        return self._node(ast.Literal(_PENDING, unescape(str(c[0])), "string"))

    def int_lit(self, c: list[Any]) -> ast.Expr:
        text = str(c[0])
        if len(text) > 18:
            self.reporter.error(_tspan(c[0], self.offset), f"integer literal {text[:20]}... is too large")
            return self._node(ast.Literal(_PENDING, 0, "int"))
        return self._node(ast.Literal(_PENDING, int(text), "int"))

    def time(self, c: list[Any]) -> ast.Expr:
        value = parse_time(str(c[0])[1:])
        if value is None:
            self.reporter.error(_tspan(c[0], self.offset), f"{str(c[0])!r} is not a valid timestamp",
                                "write @YYYY-MM-DDTHH:MM:SSZ")
        return self._node(ast.Literal(_PENDING, value, "time" if value else "null"))

    def true(self, c: list[Any]) -> ast.Expr:
        return self._node(ast.Literal(_PENDING, True, "bool"))

    def false(self, c: list[Any]) -> ast.Expr:
        return self._node(ast.Literal(_PENDING, False, "bool"))

    def null(self, c: list[Any]) -> ast.Expr:
        return self._node(ast.Literal(_PENDING, None, "null"))

    def list_lit(self, c: list[Any]) -> ast.Expr:
        return self._node(ast.ListLit(_PENDING, [x for x in c if x is not None]))

    def name(self, c: list[Any]) -> ast.Expr:
        return self._node(ast.Name(_PENDING, str(c[0])))

    def call(self, c: list[Any]) -> ast.Expr:
        args = [x for x in c[1:] if x is not None]
        return self._node(ast.Call(_PENDING, str(c[0]), args, _tspan(c[0], self.offset)))

    def attr(self, c: list[Any]) -> ast.Expr:
        return self._node(ast.Attr(_PENDING, c[0], str(c[1]), _tspan(c[1], self.offset)))

    # -- operators --
    def neg(self, c: list[Any]) -> ast.Expr:
        return self._node(ast.Unary(_PENDING, "-", c[0]))

    def not_(self, c: list[Any]) -> ast.Expr:
        return self._node(ast.Unary(_PENDING, "not", c[0]))

    def or_expr(self, c: list[Any]) -> ast.Expr:
        return self._node(ast.BoolOp(_PENDING, "or", list(c)))

    def and_expr(self, c: list[Any]) -> ast.Expr:
        return self._node(ast.BoolOp(_PENDING, "and", list(c)))

    def sum_expr(self, c: list[Any]) -> ast.Expr:
        return self._node(ast.Arith(_PENDING, list(c[0::2]), [str(t) for t in c[1::2]]))

    def compare(self, c: list[Any]) -> ast.Expr:
        return self._node(ast.Compare(_PENDING, str(c[1]), c[0], c[2]))

    def _binary(op: str) -> Any:  # type: ignore[misc]
        def method(self: _Build, c: list[Any]) -> ast.Expr:
            return self._node(ast.Compare(_PENDING, op, c[0], c[1]))

        return method

    in_ = _binary("in")
    not_in = _binary("not in")
    startswith = _binary("startswith")
    endswith = _binary("endswith")
    contains = _binary("contains")
    matches = _binary("matches")

    def cond(self, c: list[Any]) -> ast.Expr:
        return self._node(ast.If(_PENDING, c[0], c[1], c[2]))

    def where(self, c: list[Any]) -> ast.Expr:
        return self._node(ast.Where(_PENDING, c[0], c[1]))

    def project(self, c: list[Any]) -> ast.Expr:
        return self._node(ast.Project(_PENDING, str(c[0]), c[1], _tspan(c[0], self.offset)))

    # -- declarations --
    def type(self, c: list[Any]) -> ast.TypeRef:
        return ast.TypeRef(str(c[0]), _tspan(c[0], self.offset), c[1])

    def param(self, c: list[Any]) -> ast.Param:
        return ast.Param(str(c[0]), c[1], _PENDING)

    def params(self, c: list[Any]) -> list[ast.Param]:
        return [p for p in c if p is not None]

    def def_decl(self, c: list[Any]) -> ast.Def:
        return ast.Def(str(c[0]), c[1], c[2], _tspan(c[0], self.offset), self.source)

    def severity(self, c: list[Any]) -> ast.Severity:
        return cast(ast.Severity, str(c[0]))

    def code_clause(self, c: list[Any]) -> tuple[str, Any]:
        self._escapes(c[0])
        return ("code", (c[0], unescape(str(c[0]))))

    def cites_clause(self, c: list[Any]) -> tuple[str, Any]:
        self._escapes(c[0])
        return ("cites", (c[0], unescape(str(c[0]))))

    def message_clause(self, c: list[Any]) -> tuple[str, Any]:
        self._escapes(c[0])
        return ("message", (c[0], self.template(c[0])))

    def template(self, tok: Token) -> ast.Template:
        return parse_template(str(tok), _tspan(tok, self.offset), self.source, self.reporter)

    def _clauses(self, items: list[Any], what: str) -> ast.Clauses:
        out = ast.Clauses()
        seen: set[str] = set()
        for key, (tok, value) in items:
            if key in seen:
                self.reporter.error(_tspan(tok, self.offset), f"{what} has more than one '{key}' clause")
            seen.add(key)
            setattr(out, key, value)
        return out

    def rule_decl(self, c: list[Any]) -> ast.RuleDecl:
        rid = c[0]
        i = 1
        actions = []
        while isinstance(c[i], Token) and c[i].type == "NAME":
            actions.append((str(c[i]), _tspan(c[i], self.offset)))
            i += 1
        severity, cond, clauses = c[i], c[i + 1], c[i + 2:]
        return ast.RuleDecl(str(rid), "action", actions, severity, cond,
                            self._clauses(clauses, f"rule {rid}"), _tspan(rid, self.offset), self.source)

    def audit_decl(self, c: list[Any]) -> ast.RuleDecl:
        rid, scope, severity, cond = c[0], c[1], c[2], c[3]
        return ast.RuleDecl(str(rid), "audit", [(str(scope), _tspan(scope, self.offset))], severity,
                            cond, self._clauses(c[4:], f"audit {rid}"), _tspan(rid, self.offset),
                            self.source)

    def requirement(self, c: list[Any]) -> ast.RequireClause:
        otherwise = self.template(c[2]) if c[2] is not None else None
        return ast.RequireClause(str(c[0]), c[1], otherwise, _tspan(c[0], self.offset))

    def order_key(self, c: list[Any]) -> ast.OrderKey:
        return ast.OrderKey(c[0], c[1] is not None and str(c[1]) == "desc", _PENDING)

    def shortlist(self, c: list[Any]) -> tuple[str, ast.Expr]:
        return ("shortlist", c[0])

    def resolve_decl(self, c: list[Any]) -> ast.ResolveDecl:
        reqs = [x for x in c[1:] if isinstance(x, ast.RequireClause)]
        keys = [x for x in c[1:] if isinstance(x, ast.OrderKey)]
        short = c[1][1] if isinstance(c[1], tuple) else None
        return ast.ResolveDecl(c[0], short, reqs, keys, _PENDING, self.source)

    def start(self, c: list[Any]) -> list[Any]:
        return list(c)


def _expected(names: set[str]) -> str:
    lark, _ = _lark()
    shown = []
    for name in sorted(names):
        if name in _FRIENDLY:
            shown.append(_FRIENDLY[name])
            continue
        try:
            pattern = lark.get_terminal(name).pattern
        except KeyError:
            continue
        if pattern.type == "str":
            shown.append(repr(pattern.value))
    shown = sorted(set(shown))
    if not shown:
        return ""
    if len(shown) > 8:
        shown = [*shown[:8], "..."]
    return "expected " + ", ".join(shown)


def _syntax_error(err: UnexpectedInput, source: Source, offset: int) -> Diagnostic:
    line = (getattr(err, "line", 1) or 1) + offset
    col = getattr(err, "column", 1) or 1
    if isinstance(err, UnexpectedToken):
        tok = err.token
        if tok.type == "$END":
            what = "unexpected end of declaration"
            col = max(col, 1)
        else:
            what = f"unexpected {str(tok)!r}"
        length = len(str(tok)) if tok.type != "$END" else 1
        return Diagnostic(source, Span.point(line, col, length), f"syntax error: {what}",
                          _expected(set(err.expected)) or None)
    if isinstance(err, UnexpectedCharacters):
        ch = source.line(line)[col - 1: col] or "?"
        hint = _expected(set(err.allowed or ())) or None
        return Diagnostic(source, Span.point(line, col), f"syntax error: unexpected character {ch!r}", hint)
    return Diagnostic(source, Span.point(line, col), "syntax error: unexpected end of input")


def _chunks(text: str) -> list[tuple[int, str]]:
    """Split a file at lines starting a declaration: (line offset, text) pairs."""
    starts = [m.start() for m in _DECL_START.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    out = []
    for i, s in enumerate(starts):
        e = starts[i + 1] if i + 1 < len(starts) else len(text)
        out.append((text.count("\n", 0, s), text[s:e]))
    return out


def _check_depth(expr: ast.Expr, reporter: Reporter) -> bool:
    if expr.depth > MAX_DEPTH:
        reporter.error(expr.span, f"expression is nested {expr.depth} levels deep; the limit is {MAX_DEPTH}",
                       "split it into named definitions")
        return False
    return True


def _decl_exprs(decl: ast.Decl) -> list[ast.Expr]:
    if isinstance(decl, ast.Def):
        return [decl.body]
    if isinstance(decl, ast.RuleDecl):
        out = [decl.cond]
        if decl.clauses.message:
            out += [p for p in decl.clauses.message.parts if isinstance(p, ast.Expr)]
        return out
    exprs = [decl.candidates] + [r.cond for r in decl.requirements] + [k.expr for k in decl.order]
    if decl.shortlist is not None:
        exprs.append(decl.shortlist)
    for r in decl.requirements:
        if r.otherwise:
            exprs += [p for p in r.otherwise.parts if isinstance(p, ast.Expr)]
    return exprs


def parse_module(source: Source, reporter: Reporter) -> ast.Module:
    """Parse a whole rule file; syntax errors go to ``reporter``, good declarations are kept."""
    module = ast.Module(source)
    if len(source.text.encode("utf-8", "replace")) > MAX_BYTES:
        size = len(source.text.encode("utf-8", "replace"))
        reporter.error(Span.point(1, 1), f"rule file is {size:,} bytes; the limit is {MAX_BYTES:,}")
        return module
    for offset, chunk in _chunks(source.text):
        if not chunk.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in chunk.splitlines()):
            continue
        try:
            decls = _parse(chunk, "start", source, offset, reporter)
        except UnexpectedInput as err:
            reporter.diagnostics.append(_syntax_error(err, source, offset))
            continue
        except (LarkError, RecursionError) as err:
            reporter.error(Span.point(offset + 1, 1), f"could not parse declaration: {err}")
            continue
        for decl in decls:
            if all(_check_depth(e, reporter) for e in _decl_exprs(decl)):
                module.decls.append(decl)
    return module


def parse_template(raw: str, span: Span, source: Source, reporter: Reporter) -> ast.Template:
    """Split a message string token into text and ``{expr}`` holes; ``{{``/``}}`` are braces."""
    text = raw[1:-1]
    parts: list[str | ast.Expr] = []
    buf: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "{}" and text[i:i + 2] in ("{{", "}}"):
            buf.append(ch)
            i += 2
            continue
        if ch == "}":
            reporter.error(Span.point(span.line, span.col + 1 + i), "unmatched '}' in message",
                           "write '}}' for a literal brace")
            i += 1
            continue
        if ch != "{":
            buf.append(ch)
            i += 1
            continue
        end = _hole_end(text, i + 1)
        if end < 0:
            reporter.error(Span.point(span.line, span.col + 1 + i), "unclosed '{' in message",
                           "write '{{' for a literal brace")
            break
        if buf:
            parts.append(unescape('"' + "".join(buf) + '"'))
            buf = []
        hole = text[i + 1:end].replace('\\"', '"')
        col = span.col + 1 + i + 1
        expr = parse_expr(hole, source, reporter, span.line, col)
        if expr is not None:
            parts.append(expr)
        i = end + 1
    if buf:
        parts.append(unescape('"' + "".join(buf) + '"'))
    return ast.Template(span, parts)


def _hole_end(text: str, start: int) -> int:
    """Index of the '}' closing a message hole, skipping string literals (written \\"...\\")."""
    in_string = False
    j = start
    while j < len(text):
        if text.startswith('\\"', j):
            in_string = not in_string
            j += 2
        elif text[j] == "\\":
            j += 2
        elif text[j] == "}" and not in_string:
            return j
        else:
            j += 1
    return -1


def parse_expr(text: str, source: Source, reporter: Reporter, line: int = 1, col: int = 1) -> ast.Expr | None:
    """Parse one expression (message holes, tests, the REPL); positions shifted to (line, col)."""
    if not text.strip():
        reporter.error(Span.point(line, col), "empty expression")
        return None
    try:
        expr = _parse(text, "expr", source, line - 1, reporter)
    except UnexpectedInput as err:
        d = _syntax_error(err, source, line - 1)
        if d.span.line == line and col != 1:
            message = d.message
            if isinstance(err, UnexpectedCharacters):
                bad = text.splitlines()[0][(err.column or 1) - 1: err.column] or "?"
                message = f"syntax error: unexpected character {bad!r}"
            d = Diagnostic(source, Span.point(line, d.span.col + col - 1), message, d.hint)
        reporter.diagnostics.append(d)
        return None
    if not isinstance(expr, ast.Expr):
        return None
    if col != 1:
        _shift(expr, line, col - 1)
    return expr if _check_depth(expr, reporter) else None


def _shift(expr: ast.Expr, line: int, by: int) -> None:
    stack = [expr]
    while stack:
        node = stack.pop()
        s = node.span
        node.span = Span(s.line, s.col + by if s.line == line else s.col, s.end_line,
                         s.end_col + by if s.end_line == line else s.end_col)
        for name in ("name_span", "func_span", "field_span"):
            sub = getattr(node, name, None)
            if sub is not None and sub.line == line:
                setattr(node, name, Span(sub.line, sub.col + by, sub.end_line, sub.end_col + by))
        stack.extend(node.children())
