"""Shared helpers for the rule-language tests: load rule text, parse, type and evaluate expressions."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the package may not be installed into the venv
    sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402

from imagefam.engine.environment import ECS  # noqa: E402
from imagefam.engine.environment import EcsContext as Ctx  # noqa: E402
from imagefam.engine.models import Image  # noqa: E402
from imagefam.engine.policy import load_policy  # noqa: E402
from imagefam.rules import ast  # noqa: E402
from imagefam.rules.compiled import Policy  # noqa: E402
from imagefam.rules.compiler import Compiler  # noqa: E402
from imagefam.rules.errors import Diagnostic, PolicyError, Reporter, Source  # noqa: E402
from imagefam.rules.parser import parse_expr, parse_module  # noqa: E402
from imagefam.rules.typecheck import Checker, Scope  # noqa: E402
from imagefam.rules.types import STRING, Ty, record  # noqa: E402

T0 = datetime(2020, 1, 3, tzinfo=UTC)


def make_image(image_id: str = "i-1", **kw: Any) -> Image:
    """An Image with sensible defaults: Available, owned by 1001, family A, region r1."""
    fields: dict[str, Any] = {"RegionId": "r1", "CreationTime": T0, "Status": "Available",
                              "ImageOwnerId": "1001", "ImageFamily": "A"}
    fields.update(kw)
    return Image(ImageId=image_id, **fields)


def load(text: str, *, default: bool = False, name: str = "t.rules") -> Policy:
    return load_policy(default=default, sources=[Source(name, text)])


def load_errors(text: str, *, default: bool = False, name: str = "t.rules") -> list[Diagnostic]:
    """The diagnostics of a rule text that must fail to load."""
    with pytest.raises(PolicyError) as info:
        load(text, default=default, name=name)
    return info.value.diagnostics


def rendered(text: str, *, default: bool = False, name: str = "t.rules") -> str:
    return "\n".join(d.render() for d in load_errors(text, default=default, name=name))


def parse_decls(text: str) -> tuple[list[ast.Decl], list[Diagnostic]]:
    source = Source("t.rules", text)
    reporter = Reporter(source)
    module = parse_module(source, reporter)
    return module.decls, reporter.diagnostics


def parse_one(text: str) -> ast.Expr:
    """Parse one expression that must be free of syntax errors."""
    source = Source("e.rules", text)
    reporter = Reporter(source)
    expr = parse_expr(text, source, reporter)
    assert not reporter.diagnostics, [d.render() for d in reporter.diagnostics]
    assert expr is not None
    return expr


DEFAULT_VARS: dict[str, Ty] = {"image": record("Image").opt(), "caller": STRING}


def typecheck(text: str, vars: dict[str, Ty] | None = None) -> tuple[ast.Expr | None, Ty | None, list[Diagnostic]]:
    """Parse and type an expression; returns (expr, type, diagnostics)."""
    source = Source("e.rules", text)
    reporter = Reporter(source)
    expr = parse_expr(text, source, reporter)
    if expr is None:
        return None, None, reporter.diagnostics
    checker = Checker(ECS, defs={}, reporters={source.name: reporter}, has_resolve=False)
    checker.reporter = reporter
    ty = checker.expr(expr, Scope({**checker.globals, **DEFAULT_VARS, **(vars or {})}, where="test"))
    _LAST_TYPING[:] = [expr, checker.typing]
    return expr, ty, reporter.diagnostics


#: The last expression typechecked here and its typed result, for compile_expr.
_LAST_TYPING: list[Any] = []


def compile_expr(text: str, vars: dict[str, Ty] | None = None) -> Any:
    expr, _, diags = typecheck(text, vars)
    assert expr is not None and not [d for d in diags if d.severity == "error"], [d.render() for d in diags]
    assert _LAST_TYPING[0] is expr
    return Compiler(ECS, defs={}, types=_LAST_TYPING[1]).compile(expr)


def probe(params: str, body: str) -> Any:
    """Compile ``def probe(<params>) = <body>``; returns ``call(*args, images=..., **ctx names)``."""
    source = Source("p.rules", f"def probe({params}) = {body}\n")
    reporter = Reporter(source)
    module = parse_module(source, reporter)
    defs = {d.name: d for d in module.decls if isinstance(d, ast.Def)}
    checker = Checker(ECS, defs, {source.name: reporter}, has_resolve=False)
    checker.check_defs()
    assert "probe" in defs and not reporter.errors, [d.render() for d in reporter.diagnostics]
    fn = Compiler(ECS, defs, checker.def_typing).def_fn("probe")

    def call(*args: Any, images: Any = (), **names: Any) -> Any:
        ctx = Ctx(images, **names)
        ctx.args = args
        return fn(ctx)

    return call


def ev(text: str, images: Any = (), *, vars: dict[str, Ty] | None = None, **names: Any) -> Any:
    """Evaluate an expression with the compiled closures."""
    return compile_expr(text, vars)(Ctx(images, **names))


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests (and the CLI processes they start) use a cache of their own, never the user's."""
    old = os.environ.get("IMAGEFAM_CACHE_DIR")
    os.environ["IMAGEFAM_CACHE_DIR"] = str(tmp_path_factory.mktemp("imagefam-cache"))
    yield
    if old is None:
        os.environ.pop("IMAGEFAM_CACHE_DIR", None)
    else:
        os.environ["IMAGEFAM_CACHE_DIR"] = old
