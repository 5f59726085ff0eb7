"""The language package apart from ECS: the environment is injected, builtins are declared once,
evaluation state survives exceptions, and a null verdict fails closed."""

from __future__ import annotations

import ast as pyast
import re
from datetime import datetime
from pathlib import Path

from conftest import ROOT, load, make_image

from imagefam.engine.environment import ECS
from imagefam.engine.environment import EcsContext as Ctx
from imagefam.engine.evaluation import evaluate
from imagefam.engine.store import ImageStore
from imagefam.rules.builtins import BUILTINS


def _imports(path: Path) -> list[str]:
    """Every module a file imports, resolved to an absolute dotted name."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    out = []
    for node in pyast.walk(pyast.parse(path.read_text("utf-8"))):
        if isinstance(node, pyast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, pyast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            out.append(name)
            out += [f"{name}.{a.name}" for a in node.names]
    return out


def test_the_rule_language_imports_nothing_from_the_engine() -> None:
    files = sorted((ROOT / "imagefam" / "rules").glob("*.py"))
    assert files
    offenders = {f.name: [m for m in _imports(f) if m.startswith(("imagefam.engine", "imagefam.cli"))]
                 for f in files}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_import_scan_sees_relative_imports() -> None:
    """The scan above would pass vacuously if it missed ``from ..engine import x``."""
    assert "imagefam.engine.models" in _imports(ROOT / "imagefam" / "engine" / "environment.py")
    assert "imagefam.rules.builtins" in _imports(ROOT / "imagefam" / "engine" / "environment.py")


def _documented_builtins() -> set[str]:
    text = (ROOT / "docs" / "rules.md").read_text("utf-8")
    section = text.split("## 6. Builtin functions", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {m for row in rows for m in re.findall(r"`([a-z_]+)\(", row.split("|")[1])}


def test_docs_list_exactly_the_builtins_of_the_table() -> None:
    assert _documented_builtins() == set(ECS.builtins)
    assert set(BUILTINS) < set(ECS.builtins)  # resolve is the ECS environment's host function


def test_every_builtin_doc_line_names_it() -> None:
    for name, b in ECS.builtins.items():
        assert b.doc.startswith(name + "("), b.doc
        assert b.min_args <= b.max_args


def test_the_context_has_a_slot_for_every_name_a_rule_can_read() -> None:
    ECS.check()  # raises on a missing slot
    assert {"images", "request", "image", "caller", "resolve", "family", "account"} <= set(Ctx.__slots__)


def test_a_rule_that_raises_inside_a_definition_and_where_leaves_the_context_clean() -> None:
    """Closures set `it` and `args` and restore them in finally blocks: after a rule raises halfway
    through a `where` inside a definition call, the next rule sees the context it was given."""
    policy = load('def newer(t: time) = count(images where CreationTime > t and CreationTime != t) > 0\n'
                  'def any_newer = count(images where CreationTime > taken_at) > 0\n'
                  'rule call on DeleteImage deny when newer(coalesce(taken_at, taken_at)) message "m"\n'
                  'rule const on DeleteImage deny when any_newer message "m"\n'
                  'rule ok on DeleteImage deny when image.ImageId == "b" message "ok"\n')
    img = make_image("b")
    ctx = Ctx(ImageStore([img]), image=img, taken_at="not a time")  # comparing a time with it raises
    ctx.it, ctx.args = "element", ("arg",)
    for rule in policy.rules[:2]:
        boom = evaluate(rule, ctx)
        assert boom is not None and boom.unevaluable and "TypeError" in boom.message
        assert (ctx.it, ctx.args) == ("element", ("arg",))
    ok = evaluate(policy.rules[2], ctx)
    assert ok is not None and ok.message == "ok" and not ok.unevaluable


def test_a_null_verdict_fails_closed_and_names_the_null_values() -> None:
    policy = load('rule r on DeleteImage deny when image.ImageFamily == "x" or image.ImageName startswith "a"'
                  ' message "m"\n')
    finding = evaluate(policy.rules[0], Ctx(image=make_image(ImageFamily=None, ImageName=None)))
    assert finding is not None and finding.unevaluable and finding.severity == "deny"
    assert finding.message.startswith("rule r could not be evaluated (a value it needs is null")
    assert "failing closed" in finding.message


def _typed_region(targets: str) -> list[str]:
    """The type of `request.RegionId` in the typed result of a rule on ``targets``."""
    from imagefam.rules import ast
    from imagefam.rules.errors import Reporter, Source
    from imagefam.rules.parser import parse_module
    from imagefam.rules.typecheck import Checker

    source = Source("t.rules", f'rule r on {targets} deny when request.RegionId == "x" message "m" cites "c"\n')
    reporter = Reporter(source)
    (decl,) = parse_module(source, reporter).decls
    assert isinstance(decl, ast.RuleDecl)
    typing = Checker(ECS, {}, {source.name: reporter}, has_resolve=False).check_rule(decl)
    assert not reporter.errors
    return [str(ty) for node, ty in typing.items() if isinstance(node, ast.Attr)]


def test_a_rule_on_several_actions_gets_the_join_of_its_scopes_in_any_order() -> None:
    """`RegionId` is a string in a CreateImage request and may be null in a ReplaceSystemDisk one:
    the compiler must see `string?` whichever action the rule lists last."""
    assert _typed_region("CreateImage") == ["string"]
    assert _typed_region("ReplaceSystemDisk") == ["string?"]
    assert _typed_region("CreateImage, ReplaceSystemDisk") == ["string?"]
    assert _typed_region("ReplaceSystemDisk, CreateImage") == ["string?"]


def test_checking_leaves_the_syntax_tree_untouched() -> None:
    """Types live in typed results, never on the nodes: checking a tree twice in different
    scopes cannot change what the first check found."""
    from imagefam.rules import ast

    assert "ty" not in {f for klass in (ast.Expr, ast.Attr, ast.Name) for f in klass.__dataclass_fields__}


def test_the_language_runs_against_an_environment_that_is_not_ecs() -> None:
    """A made-up library environment: its own record type, action, audit scope, global and host
    function. Nothing of ECS is involved; the rule language checks and compiles against it."""
    from dataclasses import dataclass

    import pytest

    from imagefam.rules.builtins import host_function
    from imagefam.rules.environment import Environment, ResolutionScope, Target
    from imagefam.rules.errors import PolicyError, Source
    from imagefam.rules.policy import load_policy as load_layers
    from imagefam.rules.runtime import Context
    from imagefam.rules.types import STRING, RecordTypes, list_of, record

    @dataclass(frozen=True)
    class Book:
        Title: str
        Pages: int

    @dataclass(frozen=True)
    class Loan:
        Title: str
        Reader: str

    class LibraryContext(Context):
        __slots__ = ("action", "book", "books", "loan", "reader", "shelf_of")

    shelf_of = host_function("shelf_of", [("title", STRING)], STRING.opt(), "shelf_of(title) -> string?: where it is")
    env = Environment(
        records=RecordTypes({"Book": Book, "Loan": Loan}),
        globals={"books": list_of(record("Book"))},
        actions={"Borrow": Target("Borrow", {"loan": record("Loan")}, {"book": "it is an audit scope"})},
        audits={"book": Target("book", {"book": record("Book")}, {"loan": "audits see no loan"})},
        resolution=ResolutionScope({"reader": STRING}, "Book"),
        context=LibraryContext,
        functions={"shelf_of": shelf_of},
        display_fields=("Title",),
    )
    env.check()
    text = ('rule too-long on Borrow deny when count(books where Title == loan.Title and Pages > 500) > 0\n'
            '  message "{loan.Title} is on shelf {shelf_of(loan.Title)}" cites "house rules"\n'
            'audit thin for each book warn when book.Pages < 10 message "{book} is thin" cites "house rules"\n')
    policy = load_layers(env, [(False, [Source("library.rules", text)])])
    ctx = LibraryContext()
    ctx.books = (Book("Dune", 612), Book("Zine", 8))
    ctx.loan = Loan("Dune", "ann")
    ctx.shelf_of = {"Dune": "S3"}.get
    rule = policy.rule("too-long")
    assert rule is not None and rule.cond(ctx) is True and rule.message(ctx) == "Dune is on shelf S3"
    ctx.loan = Loan("Zine", "ann")
    assert rule.cond(ctx) is False
    thin = policy.rule("thin")
    ctx.book = Book("Zine", 8)
    assert thin is not None and thin.cond(ctx) is True and thin.message(ctx) == "Zine is thin"

    with pytest.raises(PolicyError) as info:  # ECS names mean nothing here
        load_layers(env, [(False, [Source("bad.rules", 'rule r on RunInstances deny when request.ImageId == "x" '
                                                       'message "m" cites "c"\n')])])
    assert "unknown action 'RunInstances'" in str(info.value)


def test_the_old_module_names_of_the_public_api_still_work() -> None:
    """docs/api.md promised ``from imagefam.engine.checker import Session``; the module is now
    engine/preflight.py and the old name re-exports it."""
    from imagefam.engine import checker, preflight

    assert checker.Session is preflight.Session and checker.check is preflight.check


def test_which_records_a_resolution_reads_comes_from_the_environment() -> None:
    """A made-up shop environment declares its own keyed source, key fields, variables and clock:
    the analysis that lets ``imagefam diff`` skip resolutions uses those names, none of ECS."""
    from dataclasses import dataclass

    from imagefam.rules.builtins import time_builtin
    from imagefam.rules.environment import Environment, KeyedReads, ResolutionScope, Target
    from imagefam.rules.errors import Source
    from imagefam.rules.policy import load_policy as load_layers
    from imagefam.rules.runtime import Context
    from imagefam.rules.timefns import DURATION, TimeBuiltin
    from imagefam.rules.types import STRING, TIME, RecordTypes, list_of, record

    @dataclass(frozen=True)
    class Item:
        Town: str
        Kind: str
        Seller: str
        Listed: datetime

    class ShopContext(Context):
        __slots__ = ("action", "buyer", "clock", "item", "items", "kind", "town")

    listed_for = time_builtin(TimeBuiltin("listed_for", (record("Item"),), DURATION, "listed_for(item) -> duration",
                                          lambda now, item: now - item.Listed, needs_now=True), clock="clock")
    env = Environment(
        records=RecordTypes({"Item": Item}),
        globals={"items": list_of(record("Item")), "clock": TIME},
        actions={}, audits={"item": Target("item", {"item": record("Item")})},
        resolution=ResolutionScope({"kind": STRING, "town": STRING, "buyer": STRING}, "Item", {},
                                   KeyedReads("items", "Town", "town", "Kind", "kind", ("kind", "town", "buyer"))),
        context=ShopContext, functions={"listed_for": listed_for}, indexed=frozenset({"items"}),
        time_dependent=frozenset({"clock"}),
    )
    env.check()

    def keys(resolve: str) -> object:
        policy = load_layers(env, [(False, [Source("shop.rules", resolve)])])
        assert policy.resolution is not None
        return policy.resolution.family_keys

    def block(candidates: str, order: str = "Listed desc") -> str:
        return (f"resolve\n  candidates items where {candidates}\n"
                f"  require other: Seller != buyer otherwise \"yours\"\n  order by {order}\n")

    found = keys(block("Town == town and Kind == kind"))
    assert isinstance(found, list) and [(k.fields, k.member) for k in found] == [(("Kind", "Town"), None)]
    ctx = ShopContext()
    ctx.kind, ctx.town, ctx.buyer = "lamp", "Oslo", "ann"
    assert found[0].family(ctx) == "lamp"
    # the declared clock, directly or through a builtin that reads it, makes every item readable
    assert keys(block("Town == town and Kind == kind and Listed < clock")) is None
    assert keys(block("Town == town and Kind == kind", "listed_for(it) asc")) is None
    # the region key must be the declared variable, not another one
    assert keys(block("Town == buyer and Kind == kind")) is None
