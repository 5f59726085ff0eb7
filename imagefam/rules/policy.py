"""Loading a policy: rule texts -> a checked, compiled :class:`~.compiled.Policy`, in named stages.

    parse -> merge layers -> check definitions -> check rules -> check resolution -> compile

Sources come in layers, loaded in order (an embedding program typically passes its shipped files
first, then the user's). A rule with the id of an earlier layer's rule replaces it; a definition
with the name of an earlier one replaces it (that is how a policy parameter such as ``drift_days``
is changed); a ``resolve`` block replaces the earlier one. Duplicates within one layer are errors.
Every stage reports into the same per-file reporters; loading stops after checking, with every
error at once, if there is any.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from . import ast, astcache, checkcache
from .compiled import (
    Definition,
    Policy,
    Resolution,
    Rule,
    compile_definitions,
    compile_resolution,
    compile_rule,
)
from .typecheck import Checker, Typing

__all__ = ["STAGES", "Policy", "Resolution", "Rule", "build_policy", "load_policy"]
from .compiler import Compiler
from .environment import Environment
from .errors import PolicyError, Reporter, Source

#: The stages of :func:`build_policy`, in order (the names used in docs/architecture.md).
STAGES = ("parse", "merge layers", "check definitions", "check rules", "check resolution", "compile")


@dataclass
class Layer:
    """The declarations of one layer's files, after duplicate checks within the layer."""

    shipped: bool
    defs: dict[str, ast.Def] = field(default_factory=dict)
    rules: dict[str, ast.RuleDecl] = field(default_factory=dict)
    resolve: ast.ResolveDecl | None = None
    extra_resolves: list[ast.ResolveDecl] = field(default_factory=list)  # duplicates: checked, never used
    extra_rules: list[ast.RuleDecl] = field(default_factory=list)  # rules whose id is taken: checked, never used


@dataclass
class Merged:
    """Every declaration in force once the layers are merged, and the files they came from."""

    reporters: dict[str, Reporter]
    files: list[str]
    defs: dict[str, ast.Def] = field(default_factory=dict)
    rules: dict[str, tuple[ast.RuleDecl, bool]] = field(default_factory=dict)  # id -> (decl, shipped)
    resolve: ast.ResolveDecl | None = None
    extra_resolves: list[ast.ResolveDecl] = field(default_factory=list)
    extra_rules: list[ast.RuleDecl] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # user rules that replace shipped ones


def load_policy(env: Environment, layers: Sequence[tuple[bool, Sequence[Source]]]) -> Policy:
    """Load, check and compile ``layers`` ((shipped, sources) pairs, earliest first) against ``env``.
    Raises :class:`PolicyError` with every diagnostic on errors."""
    return build_policy(env, [(shipped, list(sources)) for shipped, sources in layers if sources])


def build_policy(env: Environment, layers: list[tuple[bool, list[Source]]]) -> Policy:
    checked = checkcache.load(env, layers)
    if checked is None:
        checked = check_policy(env, layers)
        checkcache.store(env, layers, checked)
    merged = checked.merged
    rules, resolution, definitions = compile_policy(env, merged, checked.types, checked.def_order)
    return Policy(rules, resolution, merged.files, list(checked.warnings), list(merged.notices), definitions,
                  env.context)


def check_policy(env: Environment, layers: list[tuple[bool, list[Source]]]) -> checkcache.Checked:
    """Every stage but compiling; raises :class:`PolicyError` with every error found."""
    merged = merge_layers(parse_layers(env, layers))
    checker = Checker(env, merged.defs, merged.reporters, merged.resolve is not None)
    checker.check_defs()
    types: Typing = dict(checker.def_typing)
    types.update(check_rules(checker, merged))
    types.update(check_resolution(checker, merged))
    diagnostics = [d for r in merged.reporters.values() for d in r.diagnostics]
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:
        files = merged.files
        raise PolicyError(sorted(errors, key=lambda d: (files.index(d.source.name), d.span.line, d.span.col)))
    merged.reporters = {}  # done with: what they hold is in the diagnostics
    return checkcache.Checked(merged, types, checker.def_order, [d for d in diagnostics if d.severity == "warning"])


# ---- parse ----


def parse_layers(env: Environment, layers: list[tuple[bool, list[Source]]]) -> tuple[list[Layer], Merged]:
    """Parse every file, and check names and duplicates within each layer."""
    merged = Merged({}, [])
    out: list[Layer] = []
    for shipped, sources in layers:
        layer = Layer(shipped)
        for src in sources:
            merged.files.append(src.name)
            rep = merged.reporters.setdefault(src.name, Reporter(src))
            for decl in _parse(src, rep):
                _add(env, layer, decl, rep)
        out.append(layer)
    return out, merged


def _add(env: Environment, layer: Layer, decl: ast.Decl, rep: Reporter) -> None:
    if isinstance(decl, ast.Def):
        if not _check_def_name(env, decl, rep):
            return
        if decl.name in layer.defs:
            first = layer.defs[decl.name]
            rep.error(decl.span, f"definition {decl.name!r} is defined twice",
                      f"first at {first.source.name}:{first.span.line}")
        layer.defs[decl.name] = decl
    elif isinstance(decl, ast.RuleDecl):
        if decl.id in layer.rules:
            first_rule = layer.rules[decl.id]
            rep.error(decl.span, f"duplicate rule id {decl.id!r}",
                      f"first at {first_rule.source.name}:{first_rule.span.line}")
            layer.extra_rules.append(decl)  # still checked: its errors are reported too
            return
        layer.rules[decl.id] = decl
    else:
        if layer.resolve is not None:
            rep.error(decl.span, "more than one 'resolve' block",
                      f"first at {layer.resolve.source.name}:{layer.resolve.span.line}")
            layer.extra_resolves.append(layer.resolve)
        layer.resolve = decl


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


def _check_def_name(env: Environment, d: ast.Def, rep: Reporter) -> bool:
    if d.name[:1].isupper():
        rep.error(d.span, f"definition name {d.name!r} starts upper case",
                  "PascalCase names are image and request fields; start definitions lower case")
        return False
    if env.reserved(d.name):
        rep.error(d.span, f"{d.name!r} is a built-in name and cannot be redefined")
        return False
    return True


# ---- merge layers ----


def merge_layers(parsed: tuple[list[Layer], Merged]) -> Merged:
    """Later layers replace earlier definitions, rules (by id) and the resolve block."""
    layers, merged = parsed
    for layer in layers:
        merged.defs.update(layer.defs)
        for rid, decl in layer.rules.items():
            if rid in merged.rules and merged.rules[rid][1] and not layer.shipped:
                old = merged.rules[rid][0]
                merged.notices.append(f"rule {rid!r} of {decl.source.name}:{decl.span.line} replaces the shipped "
                                      f"rule of that id ({old.source.name}:{old.span.line})")
            merged.rules[rid] = (decl, layer.shipped)
        merged.resolve = layer.resolve or merged.resolve
        merged.extra_resolves += layer.extra_resolves
        merged.extra_rules += layer.extra_rules
    return merged


# ---- check rules, check resolution ----


def check_rules(checker: Checker, merged: Merged) -> Typing:
    """Type every rule in each of its scopes (a rule whose id is taken too, so its errors are
    reported); the typed results of all rules."""
    types: Typing = {}
    for decl in [*(d for d, _ in merged.rules.values()), *merged.extra_rules]:
        types.update(checker.check_rule(decl))
    return types


def check_resolution(checker: Checker, merged: Merged) -> Typing:
    """Type the ``resolve`` block in force (and any duplicate, so its errors are reported too)."""
    types: Typing = {}
    for block in [*merged.extra_resolves, *([merged.resolve] if merged.resolve is not None else [])]:
        types.update(checker.check_resolution(block))
    return types


# ---- compile ----


def compile_policy(env: Environment, merged: Merged, types: Typing,
                   def_order: list[str]) -> tuple[list[Rule], Resolution | None, dict[str, Definition]]:
    compiler = Compiler(env, merged.defs, types)
    compiler.precompile(def_order)
    rules = [compile_rule(compiler, decl, shipped) for decl, shipped in merged.rules.values()]
    resolution = compile_resolution(compiler, merged.resolve) if merged.resolve is not None else None
    return rules, resolution, compile_definitions(compiler)
