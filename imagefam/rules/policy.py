"""Rule files -> a checked, compiled :class:`Policy`.

The shipped files (``imagefam/policy/*.rules``) load first, then the user's (``--policy``).
A user rule with the id of a shipped rule replaces it; a user definition with the name of a
shipped one replaces it (that is how a policy parameter such as ``drift_days`` is changed);
a user ``resolve`` block replaces the shipped one. Duplicates within one layer are errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..engine.models import ACTIONS, AUDIT_SCOPES
from . import ast, astcache
from .checker import BUILTINS, Checker, Scope
from .compiler import Compiler, Fn
from .errors import Diagnostic, InputError, PolicyError, Reporter, Source, Span, did_you_mean
from .plans import family_keys
from .runtime import CTX_NAMES, Ctx, render
from .schema import CHANNEL, request_type, scope_type
from .timefns import NOW_TYPE, ORDERED
from .types import STRING, TIME, Ty, list_of, record, record_fields


@dataclass
class Rule:
    """A compiled action or audit rule."""

    id: str
    kind: str  # "action" | "audit"
    targets: tuple[str, ...]  # actions, or (scope,)
    severity: str  # deny | warn | info
    code: str | None
    cites: str | None
    file: str
    line: int
    shipped: bool
    cond: Fn
    message: Fn
    explain: Callable[[Ctx], list[tuple[str, str]]]
    text: str = ""  # the condition's source text


@dataclass
class Requirement:
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
    #: What ``Resolver.image`` can read, when that is only images picked by ``images where
    #: RegionId == region and ImageFamily == K and ...`` (see :func:`~imagefam.rules.plans.family_keys`);
    #: None when a resolution may read anything else.
    family_keys: list[ReadKey] | None = None

    @property
    def order_text(self) -> str:
        return ", ".join(f"{t} {'desc' if d else 'asc'}" for _, d, t in self.order)


@dataclass
class Policy:
    rules: list[Rule]
    resolution: Resolution | None
    files: list[str]
    warnings: list[Diagnostic] = field(default_factory=list)
    #: What the user's files changed in the shipped policy ("rule x ... replaces the shipped rule")
    #: and files a policy folder holds that were not read: said to the user, never silent.
    notices: list[str] = field(default_factory=list)
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


def shipped_sources() -> list[Source]:
    folder = resources.files("imagefam.policy")
    out = []
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".rules"):
            out.append(Source(f"imagefam/policy/{item.name}", item.read_text("utf-8")))
    return out


PACK_PREFIX = "pack:"


def pack_names() -> list[str]:
    """The policy packs that ship with imagefam (off unless asked for with ``pack:<name>``)."""
    folder = resources.files("imagefam.policy").joinpath("packs")
    return sorted(p.name[: -len(".rules")] for p in folder.iterdir() if p.name.endswith(".rules"))


def pack_source(spec: str) -> Source:
    """``pack:<name>``: the shipped pack ``imagefam/policy/packs/<name>.rules``."""
    name = spec[len(PACK_PREFIX):]
    if name not in pack_names():
        hint = did_you_mean(name, pack_names())
        raise InputError(f"{spec}: no such policy pack" + (f"; {hint}" if hint else "")
                         + f" (packs: {', '.join(pack_names())})")
    text = resources.files("imagefam.policy").joinpath("packs", f"{name}.rules").read_text("utf-8")
    return Source(f"imagefam/policy/packs/{name}.rules", text)


def is_pack(path: str | Path) -> bool:
    return isinstance(path, str) and path.startswith(PACK_PREFIX)


def read_sources(paths: Iterable[str | Path], notices: list[str] | None = None) -> list[Source]:
    """Rule files from paths (files, or folders searched for ``*.rules`` in any case, or
    ``pack:<name>`` for a shipped policy pack), in a stable order. Files of a folder that look like
    rule files but are not read (``*.rule``) are named in ``notices``. A UTF-8 byte order mark is
    skipped; a file that is not UTF-8 is a located error."""
    out: list[Source] = []
    for p in paths:
        if is_pack(p):
            out.append(pack_source(str(p)))
            continue
        path = Path(p)
        if path.is_dir():
            found = sorted(f for f in path.rglob("*") if f.is_file())
            files = [f for f in found if f.suffix.lower() == ".rules"]
            for f in found:
                if f.suffix.lower() == ".rule" and notices is not None:
                    notices.append(f"{f}: not read: rule files end in .rules")
            if not files:
                raise InputError(f"{path}: folder holds no *.rules files")
        elif path.is_file():
            files = [path]
        else:
            raise InputError(f"{path}: no such file or folder")
        for f in files:
            try:
                data = f.read_bytes()
            except OSError as err:
                raise InputError(f"{f}: cannot read rule file: {err.strerror or err}") from err
            out.append(decode_source(str(f), data))
    return out


def decode_source(name: str, data: bytes) -> Source:
    """A rule file's bytes as a :class:`Source` (BOM skipped); bytes that are not UTF-8 raise a
    :class:`PolicyError` at their line and column."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        line_start = data.rfind(b"\n", 0, err.start) + 1
        col = len(data[line_start:err.start].decode("utf-8", "replace")) + 1
        shown = Source(name, data.decode("utf-8", "replace"))
        raise PolicyError([Diagnostic(shown, Span.point(line, col),
                                      f"the file is not UTF-8: byte 0x{data[err.start]:02x} cannot be decoded",
                                      "save the rule file as UTF-8")]) from None
    return Source(name, text.removeprefix("\ufeff"))


def load_policy(paths: Sequence[str | Path] = (), *, default: bool = True,
                sources: Sequence[Source] = ()) -> Policy:
    """Load, check and compile a policy: the shipped files (unless ``default`` is False), then the
    packs named ``pack:<name>`` in ``paths``, then the other ``paths`` and ``sources``. Each is a
    layer that replaces what the layers before it define. Raises :class:`PolicyError` with every
    diagnostic on errors."""
    layers: list[tuple[bool, list[Source]]] = []
    if default:
        layers.append((True, shipped_sources()))
    packs = [pack_source(str(p)) for p in dict.fromkeys(p for p in paths if is_pack(p))]
    if packs:
        layers.append((True, packs))
    notices: list[str] = []
    user = read_sources([p for p in paths if not is_pack(p)], notices) + list(sources)
    if user:
        layers.append((False, user))
    policy = build_policy(layers)
    policy.notices[:0] = notices
    return policy


def build_policy(layers: list[tuple[bool, list[Source]]]) -> Policy:
    reporters: dict[str, Reporter] = {}
    defs: dict[str, ast.Def] = {}
    rules: dict[str, tuple[ast.RuleDecl, bool]] = {}
    resolve: ast.ResolveDecl | None = None
    files: list[str] = []
    extra_resolves: list[ast.ResolveDecl] = []  # duplicates: still checked, never used
    extra_rules: list[ast.RuleDecl] = []  # rules whose id is taken: still checked, never used
    notices: list[str] = []
    for shipped, sources in layers:
        layer_defs: dict[str, ast.Def] = {}
        layer_rules: dict[str, ast.RuleDecl] = {}
        layer_resolve: ast.ResolveDecl | None = None
        for src in sources:
            files.append(src.name)
            rep = reporters.setdefault(src.name, Reporter(src))
            for decl in _parse(src, rep):
                if isinstance(decl, ast.Def):
                    if not _check_def_name(decl, rep):
                        continue
                    if decl.name in layer_defs:
                        first = layer_defs[decl.name]
                        rep.error(decl.span, f"definition {decl.name!r} is defined twice",
                                  f"first at {first.source.name}:{first.span.line}")
                    layer_defs[decl.name] = decl
                elif isinstance(decl, ast.RuleDecl):
                    if decl.id in layer_rules:
                        first_rule = layer_rules[decl.id]
                        rep.error(decl.span, f"duplicate rule id {decl.id!r}",
                                  f"first at {first_rule.source.name}:{first_rule.span.line}")
                        extra_rules.append(decl)  # still checked: its errors are reported too
                        continue
                    layer_rules[decl.id] = decl
                else:
                    if layer_resolve is not None:
                        rep.error(decl.span, "more than one 'resolve' block",
                                  f"first at {layer_resolve.source.name}:{layer_resolve.span.line}")
                        extra_resolves.append(layer_resolve)
                    layer_resolve = decl
        defs.update(layer_defs)
        for rid, decl in layer_rules.items():
            if rid in rules and rules[rid][1] and not shipped:
                old = rules[rid][0]
                notices.append(f"rule {rid!r} of {decl.source.name}:{decl.span.line} replaces the shipped rule "
                               f"of that id ({old.source.name}:{old.span.line})")
            rules[rid] = (decl, shipped)
        resolve = layer_resolve or resolve

    checker = Checker(defs, reporters, resolve is not None)
    checker.check_defs()
    for decl in [*(d for d, _ in rules.values()), *extra_rules]:
        checker.reporter = reporters[decl.source.name]
        _check_rule(checker, decl)
    for block in [*extra_resolves, *([resolve] if resolve is not None else [])]:
        checker.reporter = reporters[block.source.name]
        _check_resolve(checker, block)

    diagnostics = [d for r in reporters.values() for d in r.diagnostics]
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:
        raise PolicyError(sorted(errors, key=lambda d: (files.index(d.source.name), d.span.line, d.span.col)))

    compiler = Compiler(defs)
    compiler.precompile(checker.def_order)
    compiled = [_compile_rule(compiler, decl, shipped) for decl, shipped in rules.values()]
    resolution = _compile_resolve(compiler, resolve) if resolve is not None else None
    warnings = [d for d in diagnostics if d.severity == "warning"]
    return Policy(compiled, resolution, files, warnings, notices)


def _parse(src: Source, rep: Reporter) -> list[ast.Decl]:
    """The declarations of a file: from the parse cache when its text is unchanged."""
    cached = astcache.load(src)
    if cached is not None:
        return cached
    from .parser import parse_module  # imports Lark: only when something must be parsed

    before = len(rep.diagnostics)
    decls = parse_module(src, rep).decls
    if len(rep.diagnostics) == before:
        astcache.store(src, decls)
    return decls


def _check_def_name(d: ast.Def, rep: Reporter) -> bool:
    if d.name[:1].isupper():
        rep.error(d.span, f"definition name {d.name!r} starts upper case",
                  "PascalCase names are image and request fields; start definitions lower case")
        return False
    if d.name in BUILTINS or d.name in CTX_NAMES or d.name == "it":
        rep.error(d.span, f"{d.name!r} is a built-in name and cannot be redefined")
        return False
    return True


def _base_vars() -> dict[str, Ty]:
    return {"images": list_of(record("Image")), "taken_at": TIME.opt(), "now": NOW_TYPE}


def _check_rule(checker: Checker, decl: ast.RuleDecl) -> None:
    rep = checker.reporter
    assert rep is not None
    if decl.clauses.message is None:
        rep.error(decl.span, f"rule {decl.id!r} has no message", 'add: message "what is wrong, with {values}"')
    if decl.clauses.cites is None:
        rep.warning(decl.span, f"rule {decl.id!r} cites no source", 'add: cites "the documentation sentence"')
    if decl.kind == "action":
        seen: set[str] = set()
        for action, span in decl.targets:
            if action in seen:
                rep.error(span, f"action {action!r} is listed twice")
            seen.add(action)
            if action not in ACTIONS:
                rep.error(span, f"unknown action {action!r}",
                          did_you_mean(action, ACTIONS) or "actions: " + ", ".join(ACTIONS))
                continue
            _check_body(checker, decl, _action_scope(decl, action))
        return
    scope_name, span = decl.targets[0]
    if scope_name not in AUDIT_SCOPES:
        rep.error(span, f"unknown audit scope {scope_name!r}",
                  did_you_mean(scope_name, AUDIT_SCOPES) or "scopes: " + ", ".join(AUDIT_SCOPES))
        return
    vars_ = {**_base_vars(), scope_name: scope_type(scope_name)}
    why = "audit rules run over a snapshot, not a request"
    unavailable = {n: why for n in ("request", "caller", "channel", "action")}
    for other in AUDIT_SCOPES:
        if other != scope_name:
            unavailable.setdefault(other, f"this rule runs for each {scope_name}")
    _check_body(checker, decl, Scope(vars_, None, f"audit {decl.id}", unavailable))


def _action_scope(decl: ast.RuleDecl, action: str) -> Scope:
    req = request_type(action)
    vars_ = {**_base_vars(), "request": req, "caller": STRING, "channel": CHANNEL,
             "action": Ty("enum", values=tuple(a for a, _ in decl.targets))}
    unavailable = {"family": "it is an audit scope", "account": "it is an audit scope",
                   "region": "write request.RegionId"}
    if "ImageId" in record_fields(req.record):
        vars_["image"] = record("Image").opt()
    else:
        unavailable["image"] = f"the {action} request names no image (it has no ImageId)"
    return Scope(vars_, None, f"rule {decl.id} on {action}", unavailable)


def _check_body(checker: Checker, decl: ast.RuleDecl, scope: Scope) -> None:
    checker.expect(decl.cond, scope, "bool", "a rule condition")
    if decl.clauses.message:
        for part in decl.clauses.message.parts:
            if isinstance(part, ast.Expr):
                checker.expr(part, scope)


def _resolve_scope() -> Scope:
    vars_ = {**_base_vars(), "family": STRING, "region": STRING, "caller": STRING}
    return Scope(vars_, None, "the resolution policy", {"request": "resolution sees family, region, caller",
                                                        "image": "write it (the candidate)"})


def _check_resolve(checker: Checker, decl: ast.ResolveDecl) -> None:
    scope = _resolve_scope()
    via_defs = checker.defs_using_resolve()
    exprs = [decl.candidates, *(r.cond for r in decl.requirements), *(k.expr for k in decl.order),
             *([decl.shortlist] if decl.shortlist is not None else [])]
    for expr in exprs:
        for e in ast.walk(expr):
            if isinstance(e, ast.Call) and (e.func == "resolve" or e.func in via_defs):
                checker.error(e.func_span or e.span, f"the resolution policy cannot call {e.func}() "
                              "(it would resolve families while resolving one)")
    lists: list[tuple[str, ast.Expr]] = [("candidates", decl.candidates)]
    if decl.shortlist is not None:
        lists.append(("shortlist", decl.shortlist))
    for what, expr in lists:
        t = checker.expr(expr, scope)
        if t.kind not in ("any", "list") or (t.elem and t.elem.kind not in ("any", "record")):
            checker.error(expr.span, f"{what} must be a list of images, found {t}")
    inner = scope.with_it(record("Image"))
    names: set[str] = set()
    for req in decl.requirements:
        if req.name in names:
            checker.error(req.span, f"requirement {req.name!r} is named twice")
        names.add(req.name)
        checker.expect(req.cond, inner, "bool", f"requirement {req.name}")
        for part in req.otherwise.parts if req.otherwise else []:
            if isinstance(part, ast.Expr):
                checker.expr(part, inner)
    for key in decl.order:
        kt = checker.expr(key.expr, inner)
        if kt.kind not in ("any",) and kt.base() not in ORDERED:
            checker.error(key.span, f"an ordering key must be an int, time, duration or string, found {kt}")


# ---- compilation ----


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

    def message(c: Ctx) -> str:
        return "".join(p if isinstance(p, str) else render(p(c)) for p in parts)

    return message


def _explainer(compiler: Compiler, cond: ast.Expr, source: Source) -> Callable[[Ctx], list[tuple[str, str]]]:
    """Closures that report the values of a rule's sub-conditions, run only when it fires."""
    parts = cond.parts if isinstance(cond, ast.BoolOp) and cond.op == "and" else [cond]
    probes: list[tuple[str, Fn]] = []
    for p in parts:
        if isinstance(p, ast.Compare) and p.left is not None and not isinstance(p.left, ast.Literal):
            probes.append((span_text(source, p.left.span), compiler.compile(p.left)))
            if p.right is not None and not isinstance(p.right, ast.Literal | ast.ListLit):
                probes.append((span_text(source, p.right.span), compiler.compile(p.right)))
        else:
            probes.append((span_text(source, p.span), compiler.compile(p)))

    def explain(c: Ctx) -> list[tuple[str, str]]:
        return [(text, render(fn(c))) for text, fn in probes]

    return explain


def _compile_rule(compiler: Compiler, decl: ast.RuleDecl, shipped: bool) -> Rule:
    return Rule(
        id=decl.id, kind=decl.kind, targets=tuple(t for t, _ in decl.targets), severity=decl.severity,
        code=decl.clauses.code, cites=decl.clauses.cites, file=decl.source.name, line=decl.span.line,
        shipped=shipped, cond=compiler.compile(decl.cond),
        message=compile_template(compiler, decl.clauses.message, f"rule {decl.id} fired"),
        explain=_explainer(compiler, decl.cond, decl.source), text=span_text(decl.source, decl.cond.span),
    )


def _compile_resolve(compiler: Compiler, decl: ast.ResolveDecl) -> Resolution:
    reqs = [Requirement(r.name, compiler.compile(r.cond),
                        compile_template(compiler, r.otherwise, "") if r.otherwise else None,
                        span_text(decl.source, r.cond.span)) for r in decl.requirements]
    order = [(compiler.compile(k.expr), k.descending, span_text(decl.source, k.expr.span)) for k in decl.order]
    short = compiler.compile(decl.shortlist) if decl.shortlist is not None else None
    fields: list[tuple[str, bool]] | None = []
    for k in decl.order:
        e = k.expr
        name = e.name if isinstance(e, ast.Name) and e.name[:1].isupper() else (
            e.name if isinstance(e, ast.Attr) and isinstance(e.obj, ast.Name) and e.obj.name == "it" else None)
        if name is None or e.ty is None or e.ty.nullable or fields is None:
            fields = None
            continue
        fields.append((name, k.descending))
    # what the resolution without a trace reads: the shortlist (else the candidates), requirements, order
    block = [decl.shortlist if decl.shortlist is not None else decl.candidates,
             *(r.cond for r in decl.requirements), *(k.expr for k in decl.order)]
    found = family_keys(block, compiler.defs)
    keys = None if found is None else [
        ReadKey(tuple(sorted(k.eq)), tuple(compiler.compile(k.eq[f]) for f in sorted(k.eq)),
                k.member[0] if k.member else None, compiler.compile(k.member[1]) if k.member else None,
                compiler.compile(k.eq["ImageFamily"])) for k in found]
    return Resolution(compiler.compile(decl.candidates), reqs, order,
                      span_text(decl.source, decl.candidates.span), decl.source.name, decl.span.line, short,
                      fields or None, keys)
