"""The parser: every grammar construct -> its AST node; syntax errors; nesting and size limits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import load, load_errors, parse_decls, parse_one, rendered

from imagefam.engine.environment import ECS
from imagefam.engine.environment import EcsContext as Ctx
from imagefam.engine.policy import load_policy
from imagefam.rules import ast
from imagefam.rules.compiler import Compiler
from imagefam.rules.errors import Reporter, Source
from imagefam.rules.parser import MAX_BYTES, MAX_DEPTH, parse_expr
from imagefam.rules.typecheck import Checker

# ---------------------------------------------------------------- declarations


def only_decl(text: str) -> ast.Decl:
    decls, diags = parse_decls(text)
    assert not diags, [d.render() for d in diags]
    assert len(decls) == 1
    return decls[0]


def test_def_constant() -> None:
    d = only_decl("def family_limit = 100\n")
    assert isinstance(d, ast.Def)
    assert d.name == "family_limit"
    assert d.params is None
    assert isinstance(d.body, ast.Literal) and d.body.kind == "int" and d.body.value == 100
    assert (d.span.line, d.span.col, d.span.end_col) == (1, 5, 17)
    assert d.source.name == "t.rules"


def test_def_with_params_and_list_types() -> None:
    d = only_decl("def f(img: Image, names: list[string], grid: list[list[int]], at: time) = img.ImageId\n")
    assert isinstance(d, ast.Def) and d.params is not None
    assert [p.name for p in d.params] == ["img", "names", "grid", "at"]
    assert [str(p.type) for p in d.params] == ["Image", "list[string]", "list[list[int]]", "time"]
    grid = d.params[2].type
    assert grid.name == "list" and grid.arg is not None and grid.arg.name == "list"
    assert grid.arg.arg is not None and grid.arg.arg.name == "int" and grid.arg.arg.arg is None
    assert d.params[0].type.arg is None
    assert isinstance(d.body, ast.Attr) and d.body.name == "ImageId"


def test_def_with_empty_params_is_not_a_constant() -> None:
    d = only_decl("def f() = 1\n")
    assert isinstance(d, ast.Def)
    assert d.params == []


def test_rule_with_several_actions_and_every_clause() -> None:
    d = only_decl(
        "rule family-name-acs-prefix\n"
        "  on CreateImage, ModifyImageAttribute,CopyImage\n"
        "  deny when request.ImageFamily != null\n"
        '  code "InvalidImageFamily.Malformed"\n'
        '  message "family {request.ImageFamily} is bad"\n'
        '  cites "Family names cannot start with acs."\n'
    )
    assert isinstance(d, ast.RuleDecl)
    assert d.id == "family-name-acs-prefix"
    assert d.kind == "action"
    assert [a for a, _ in d.targets] == ["CreateImage", "ModifyImageAttribute", "CopyImage"]
    assert d.targets[1][1].line == 2 and d.targets[1][1].col == 19
    assert d.severity == "deny"
    assert isinstance(d.cond, ast.Compare) and d.cond.op == "!="
    assert d.clauses.code == "InvalidImageFamily.Malformed"
    assert d.clauses.cites == "Family names cannot start with acs."
    assert d.clauses.message is not None
    parts = d.clauses.message.parts
    assert parts[0] == "family " and parts[2] == " is bad"
    assert isinstance(parts[1], ast.Attr) and parts[1].name == "ImageFamily"
    assert (d.span.line, d.span.col) == (1, 6)


@pytest.mark.parametrize("severity", ["deny", "warn", "info"])
def test_rule_severities(severity: str) -> None:
    d = only_decl(f'rule r on DeleteImage {severity} when true message "m"\n')
    assert isinstance(d, ast.RuleDecl) and d.severity == severity


def test_rule_clauses_are_optional_and_in_any_order() -> None:
    d = only_decl('rule r on DeleteImage warn when true cites "c" message "m" code "X"\n')
    assert isinstance(d, ast.RuleDecl)
    assert (d.clauses.code, d.clauses.cites) == ("X", "c")
    assert d.clauses.message is not None and d.clauses.message.parts == ["m"]
    bare = only_decl("rule r on DeleteImage warn when true\n")
    assert isinstance(bare, ast.RuleDecl)
    assert bare.clauses.code is None and bare.clauses.message is None and bare.clauses.cites is None


@pytest.mark.parametrize("scope", ["image", "family", "account"])
def test_audit_for_each_scope(scope: str) -> None:
    d = only_decl(f'audit old-{scope} for each {scope} warn when true code "C" message "m {{1}}" cites "x"\n')
    assert isinstance(d, ast.RuleDecl)
    assert d.kind == "audit"
    assert d.id == f"old-{scope}"
    assert [t for t, _ in d.targets] == [scope]
    assert d.severity == "warn"
    assert d.clauses.code == "C" and d.clauses.cites == "x"
    assert d.clauses.message is not None
    assert d.clauses.message.parts[0] == "m "
    assert isinstance(d.clauses.message.parts[1], ast.Literal)


def test_resolve_block() -> None:
    d = only_decl(
        "resolve\n"
        "  candidates images where RegionId == region and ImageFamily == family\n"
        "  require visible: visible(it, caller)\n"
        '    otherwise "not visible to {caller}"\n'
        '  require available: Status == "Available"\n'
        "  order by CreationTime desc, ImageId asc, ImageName\n"
    )
    assert isinstance(d, ast.ResolveDecl)
    assert isinstance(d.candidates, ast.Where)
    assert isinstance(d.candidates.source, ast.Name) and d.candidates.source.name == "images"
    assert [r.name for r in d.requirements] == ["visible", "available"]
    first, second = d.requirements
    assert isinstance(first.cond, ast.Call) and first.cond.func == "visible"
    assert first.otherwise is not None
    assert first.otherwise.parts[0] == "not visible to "
    assert isinstance(first.otherwise.parts[1], ast.Name) and first.otherwise.parts[1].name == "caller"
    assert second.otherwise is None
    assert [(k.expr.name, k.descending) for k in d.order] == [  # type: ignore[attr-defined]
        ("CreationTime", True), ("ImageId", False), ("ImageName", False)]


def test_comments_blank_lines_and_crlf() -> None:
    text = ("# header\r\n\r\ndef a = 1  # trailing\r\n   # indented comment\r\n"
            'rule r on DeleteImage deny when a == 1 message "m"\r\n')
    decls, diags = parse_decls(text)
    assert not diags
    assert [type(d).__name__ for d in decls] == ["Def", "RuleDecl"]
    assert decls[1].span.line == 5
    assert len(load(text).rules) == 1


# ---------------------------------------------------------------- expressions


def test_literals() -> None:
    s = parse_one(r'"a\"b\\c\nd\te"')
    assert isinstance(s, ast.Literal) and s.kind == "string" and s.value == 'a"b\\c\nd\te'
    assert parse_one('""').value == ""  # type: ignore[attr-defined]
    i = parse_one("42")
    assert isinstance(i, ast.Literal) and (i.kind, i.value) == ("int", 42)
    assert [(e.kind, e.value) for e in map(parse_one, ["true", "false", "null"])] == [  # type: ignore[attr-defined]
        ("bool", True), ("bool", False), ("null", None)]
    t = parse_one("@2020-01-03T00:00:00Z")
    assert isinstance(t, ast.Literal) and t.kind == "time"
    assert t.value == datetime(2020, 1, 3, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("@2020-01-03", datetime(2020, 1, 3, tzinfo=UTC)),
    ("@2020-01-03T08:00:00+08:00", datetime(2020, 1, 3, tzinfo=UTC)),
    ("@2020-01-03T08:00+0800", datetime(2020, 1, 3, tzinfo=UTC)),
    ("@2020-01-03T00:00:00.5Z", datetime(2020, 1, 3, 0, 0, 0, 500000, tzinfo=UTC)),
    ("@2020-01-03T05:06", datetime(2020, 1, 3, 5, 6, tzinfo=UTC)),
])
def test_timestamp_forms_are_utc(text: str, expected: datetime) -> None:
    t = parse_one(text)
    assert isinstance(t, ast.Literal) and t.kind == "time"
    assert t.value == expected
    assert t.value.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_list_literals() -> None:
    e = parse_one('[1, "a", [true], []]')
    assert isinstance(e, ast.ListLit) and len(e.items) == 4
    assert isinstance(e.items[2], ast.ListLit) and len(e.items[2].items) == 1
    assert isinstance(e.items[3], ast.ListLit) and e.items[3].items == []
    assert parse_one("[]").items == []  # type: ignore[attr-defined]


def test_names_attribute_paths_and_calls() -> None:
    n = parse_one("caller")
    assert isinstance(n, ast.Name) and n.name == "caller"
    a = parse_one("family.Images.Foo")
    assert isinstance(a, ast.Attr) and a.name == "Foo"
    assert isinstance(a.obj, ast.Attr) and a.obj.name == "Images"
    assert isinstance(a.obj.obj, ast.Name) and a.obj.obj.name == "family"
    assert a.name_span is not None and (a.name_span.col, a.name_span.end_col) == (15, 18)
    c = parse_one('coalesce(image.ImageOwnerId, "x")')
    assert isinstance(c, ast.Call) and c.func == "coalesce" and len(c.args) == 2
    assert c.func_span is not None and (c.func_span.col, c.func_span.end_col) == (1, 9)
    empty = parse_one("f()")
    assert isinstance(empty, ast.Call) and empty.args == []
    chained = parse_one("f(1).X")
    assert isinstance(chained, ast.Attr) and isinstance(chained.obj, ast.Call)


@pytest.mark.parametrize("op", ["==", "!=", "<", "<=", ">", ">=", "in", "not in", "startswith",
                                "endswith", "contains", "matches"])
def test_every_comparison_operator(op: str) -> None:
    e = parse_one(f"a {op} b")
    assert isinstance(e, ast.Compare) and e.op == op
    assert isinstance(e.left, ast.Name) and e.left.name == "a"
    assert isinstance(e.right, ast.Name) and e.right.name == "b"


def test_and_or_chains_are_flat() -> None:
    e = parse_one("a or b or c and d and e")
    assert isinstance(e, ast.BoolOp) and e.op == "or" and len(e.parts) == 3
    last = e.parts[2]
    assert isinstance(last, ast.BoolOp) and last.op == "and"
    assert [p.name for p in last.parts] == ["c", "d", "e"]  # type: ignore[attr-defined]


def test_not_binds_looser_than_comparison_and_tighter_than_and() -> None:
    e = parse_one("not a == b and c")
    assert isinstance(e, ast.BoolOp) and e.op == "and"
    neg = e.parts[0]
    assert isinstance(neg, ast.Unary) and neg.op == "not"
    assert isinstance(neg.operand, ast.Compare) and neg.operand.op == "=="
    nn = parse_one("not not x")
    assert isinstance(nn, ast.Unary) and isinstance(nn.operand, ast.Unary)
    # "x not in y" is one operator, "not x in y" negates "x in y"
    ni = parse_one("not x in y")
    assert isinstance(ni, ast.Unary) and isinstance(ni.operand, ast.Compare) and ni.operand.op == "in"


def test_sum_chain_and_unary_minus() -> None:
    e = parse_one("1 + 2 - -3")
    assert isinstance(e, ast.Arith)
    assert e.ops == ["+", "-"] and len(e.parts) == 3
    neg = e.parts[2]
    assert isinstance(neg, ast.Unary) and neg.op == "-" and neg.operand.value == 3  # type: ignore[union-attr]
    lead = parse_one("-1 + 2")
    assert isinstance(lead, ast.Arith) and isinstance(lead.parts[0], ast.Unary)
    cmp = parse_one("1 + 2 == 3")
    assert isinstance(cmp, ast.Compare) and isinstance(cmp.left, ast.Arith)


def test_if_then_else() -> None:
    e = parse_one("if a then 1 else if b then 2 else 3")
    assert isinstance(e, ast.If)
    assert isinstance(e.cond, ast.Name) and e.then.value == 1  # type: ignore[union-attr]
    assert isinstance(e.orelse, ast.If) and e.orelse.orelse.value == 3  # type: ignore[union-attr]


def test_where_and_of() -> None:
    w = parse_one('images where Status == "Available" or IsPublic')
    assert isinstance(w, ast.Where)
    assert isinstance(w.source, ast.Name) and w.source.name == "images"
    assert isinstance(w.cond, ast.BoolOp) and w.cond.op == "or"
    p = parse_one("ImageFamily of images where RegionId == region")
    assert isinstance(p, ast.Project) and p.field_name == "ImageFamily"
    assert p.field_span is not None and (p.field_span.col, p.field_span.end_col) == (1, 12)
    assert isinstance(p.source, ast.Where)
    paren = parse_one("(images where a) where b")
    assert isinstance(paren, ast.Where) and isinstance(paren.source, ast.Where)


def test_parentheses_make_no_node() -> None:
    e = parse_one("((((1))))")
    assert isinstance(e, ast.Literal) and e.value == 1 and e.depth == 1
    g = parse_one("(a or b) and c")
    assert isinstance(g, ast.BoolOp) and g.op == "and" and isinstance(g.parts[0], ast.BoolOp)


def test_spans_of_expressions() -> None:
    e = parse_one('image.Status == "Available"')
    assert isinstance(e, ast.Compare)
    assert (e.span.line, e.span.col, e.span.end_col) == (1, 1, 28)
    assert (e.right.span.col, e.right.span.end_col) == (17, 28)  # type: ignore[union-attr]


def test_message_templates() -> None:
    d = only_decl('rule r on DeleteImage deny when true message "id {request.ImageId}: {{not a hole}} n={1 + 2}{x}"\n')
    assert isinstance(d, ast.RuleDecl) and d.clauses.message is not None
    parts = d.clauses.message.parts
    assert parts[0] == "id "
    assert isinstance(parts[1], ast.Attr) and parts[1].name == "ImageId"
    # the hole's span points into the file, inside the string
    assert (parts[1].span.line, parts[1].span.col) == (1, 51)
    assert parts[2] == ": {not a hole} n="
    assert isinstance(parts[3], ast.Arith)
    assert isinstance(parts[4], ast.Name) and parts[4].name == "x"
    assert len(parts) == 5


def test_message_template_with_escaped_quotes_in_hole() -> None:
    d = only_decl('rule r on DeleteImage deny when true message "a {coalesce(x, \\"none\\")} \\"q\\""\n')
    assert isinstance(d, ast.RuleDecl) and d.clauses.message is not None
    parts = d.clauses.message.parts
    assert isinstance(parts[1], ast.Call) and parts[1].args[1].value == "none"  # type: ignore[attr-defined]
    assert parts[2] == ' "q"'


def test_message_hole_with_brace_inside_string_literal() -> None:
    policy = load('rule r on DeleteImage deny when true '
                  'message "<{coalesce(image.ImageFamily, \\"{none}\\")}>"\n')
    from imagefam.engine.models import DeleteImageRequest

    assert policy.rules[0].message(Ctx(request=DeleteImageRequest(RegionId="r", ImageId="i"))) == "<{none}>"


def test_message_hole_with_open_brace_inside_string_literal() -> None:
    policy = load('rule r on DeleteImage deny when true message "<{coalesce(request.ImageId, \\"{\\")}>"\n')
    from imagefam.engine.models import DeleteImageRequest

    assert policy.rules[0].message(Ctx(request=DeleteImageRequest(RegionId="r", ImageId="i"))) == "<i>"


def test_message_template_brace_errors() -> None:
    text = ('rule r on DeleteImage deny when true message "id {request.ImageId ok"\n'
            'rule s on DeleteImage deny when true message "id } ok"\n')
    out = rendered(text)
    assert "t.rules:1:50: error: unclosed '{' in message" in out
    assert "hint: write '{{' for a literal brace" in out
    assert "t.rules:2:50: error: unmatched '}' in message" in out
    assert "hint: write '}}' for a literal brace" in out


# ---------------------------------------------------------------- syntax errors


def test_syntax_error_location_caret_and_hint() -> None:
    out = rendered('rule r on CreateImage forbid when true message "m"\n')
    assert out == (
        "t.rules:1:23: error: syntax error: unexpected 'forbid'\n"
        '    rule r on CreateImage forbid when true message "m"\n'
        "                          ^^^^^^\n"
        "    hint: expected ',', 'deny', 'info', 'warn'"
    )


def test_syntax_error_unexpected_end_of_declaration() -> None:
    diags = load_errors("# comment\n\nrule r on CreateImage deny when\n")
    assert len(diags) == 1
    d = diags[0]
    assert d.message == "syntax error: unexpected end of declaration"
    assert d.span.line == 3
    assert d.hint is not None and d.hint.startswith("expected '(', '-', '['") and "'not'" in d.hint
    assert d.render().splitlines()[1:3] == ["    rule r on CreateImage deny when", " " * 31 + "^"]


def test_syntax_error_unexpected_character() -> None:
    out = rendered("def a = 1\ndef c = 1 $ 2\n")
    assert out.splitlines()[0] == "t.rules:2:11: error: syntax error: unexpected character '$'"
    assert out.splitlines()[1:3] == ["    def c = 1 $ 2", "              ^"]
    assert "hint: expected" in out


def test_non_associative_comparisons_are_syntax_errors() -> None:
    d = load_errors('rule r on CreateImage deny when 1 < 2 < 3 message "m"\n')
    assert len(d) == 1 and d[0].message == "syntax error: unexpected '<'"
    assert (d[0].span.line, d[0].span.col) == (1, 39)


def test_each_broken_declaration_is_reported_and_good_ones_kept() -> None:
    text = (
        "def a = 1\n"
        "\n"
        "rule r1 on CreateImage deny when request.RegionId ==\n"
        '  message "x"\n'
        "\n"
        "def b = (1 +\n"
        "\n"
        'rule r2 on CreateImage deny when true message "ok"\n'
        "def c = 1 $ 2\n"
        "def d = 2\n"
    )
    decls, diags = parse_decls(text)
    assert [(d.span.line, d.span.col) for d in diags] == [(4, 11), (6, 12), (9, 11)]
    assert [d.message for d in diags] == [
        "syntax error: unexpected '\"x\"'",
        "syntax error: unexpected end of declaration",
        "syntax error: unexpected character '$'",
    ]
    kept = [getattr(d, "name", getattr(d, "id", None)) for d in decls]
    assert kept == ["a", "r2", "d"]
    # and load_policy reports all three together
    assert len(load_errors(text)) == 3


def test_syntax_and_type_errors_reported_together() -> None:
    text = ("def a = 1 +\n"
            'rule r on DeleteImage deny when image.Statsu == "x" message "m"\n')
    diags = load_errors(text)
    assert [(d.span.line, d.message) for d in diags] == [
        (1, "syntax error: unexpected end of declaration"),
        (2, "Image has no field 'Statsu'"),
    ]


def test_parse_expr_reports_position_shifted() -> None:
    source = Source("x.rules", "    1 + * 2")
    reporter = Reporter(source)
    assert parse_expr("1 + * 2", source, reporter, line=1, col=5) is None
    (d,) = reporter.diagnostics
    assert (d.span.line, d.span.col) == (1, 9)
    assert d.message.startswith("syntax error: unexpected character")
    empty = Reporter(source)
    assert parse_expr("   ", source, empty) is None
    assert empty.diagnostics[0].message == "empty expression"


def test_syntax_error_in_message_hole_points_into_the_string() -> None:
    (d,) = load_errors('rule r on DeleteImage deny when true message "n={1 + }"\n')
    assert (d.span.line, d.span.col) == (1, 52)
    assert d.message == "syntax error: unexpected end of declaration"


def test_syntax_error_in_message_hole_names_the_right_character() -> None:
    (d,) = load_errors('rule r on DeleteImage deny when true message "n={1 $ 2}"\n')
    assert (d.span.line, d.span.col) == (1, 52)  # the '$'
    assert d.message == "syntax error: unexpected character '$'"


def test_unknown_string_escape() -> None:
    out = rendered('def a = "\\d+"\nrule r on DeleteImage deny when true message "x\\q" cites "\\z"\n')
    assert out.splitlines()[:4] == [
        "t.rules:1:10: error: unknown escape '\\\\d' in a string",
        '    def a = "\\d+"',
        "             ^^",
        "    hint: escapes are \\n \\t \\\" and \\\\; in a regex write \\\\d for \\d",
    ]
    assert "t.rules:2:48: error: unknown escape '\\\\q' in a string" in out
    assert "t.rules:2:59: error: unknown escape '\\\\z' in a string" in out
    # the four known escapes, and a regex with a doubled backslash
    policy = load('def a = "\\n\\t\\"\\\\"\nrule r on DeleteImage deny when "a1" matches "^a\\\\d$" and a == "\\n\\t\\"\\\\" '
                  'message "m"\n')
    assert policy.rules[0].cond(Ctx()) is True


def test_invalid_timestamp_and_huge_int() -> None:
    out = rendered("def a = @2020-13-45\ndef b = 1234567890123456789\ndef c = 123456789012345678\n")
    assert "t.rules:1:9: error: '@2020-13-45' is not a valid timestamp" in out
    assert "hint: write @YYYY-MM-DDTHH:MM:SSZ" in out
    assert "t.rules:2:9: error: integer literal 1234567890123456789... is too large" in out
    assert "t.rules:3" not in out  # 18 digits are fine


def test_a_timestamp_whose_utc_time_is_out_of_range_is_located() -> None:
    """A valid date whose zone moves it past year 9999 is a located error, not a parser failure."""
    out = rendered("def a = 1\ndef t = @9999-12-31T23:59:59-01:00\n")
    assert "t.rules:2:9: error: '@9999-12-31T23:59:59-01:00' is not a valid timestamp" in out
    assert "could not parse" not in out


def test_duplicate_clause_is_an_error() -> None:
    diags = load_errors('rule r on DeleteImage deny when true message "x" message "y" code "a" code "b"\n')
    assert [d.message for d in diags] == ["rule r has more than one 'message' clause",
                                          "rule r has more than one 'code' clause"]


# ---------------------------------------------------------------- limits


def _parse_file(text: str) -> list[str]:
    _, diags = parse_decls(text)
    return [d.render() for d in diags]


def test_nesting_limit_boundary() -> None:
    ok = "not " * (MAX_DEPTH - 1) + "true"
    assert parse_one(ok).depth == MAX_DEPTH
    too_deep = "def a = " + "not " * MAX_DEPTH + "true\n"
    (msg,) = _parse_file(too_deep)
    assert f"expression is nested {MAX_DEPTH + 1} levels deep; the limit is {MAX_DEPTH}" in msg


@pytest.mark.parametrize("prefix", ["not ", "-", "- "])
def test_50000_nested_unary_gives_nesting_error_not_recursion(prefix: str) -> None:
    operand = "true" if prefix == "not " else "1"
    text = "def a = " + prefix * 50_000 + operand + "\n"
    diags = load_errors(text)
    assert len(diags) == 1
    d = diags[0]
    assert d.message == "expression is nested 50001 levels deep; the limit is 64"
    assert d.hint == "split it into named definitions"
    assert d.render().startswith("t.rules:1:9: error: expression is nested 50001 levels deep")


def test_deep_expression_through_parse_expr() -> None:
    source = Source("e", "x")
    reporter = Reporter(source)
    assert parse_expr("-" * 50_000 + "1", source, reporter) is None
    assert "nested 50001 levels deep" in reporter.diagnostics[0].message


def test_deeply_nested_lists_calls_and_ifs() -> None:
    for text in ("[" * 5000 + "]" * 5000, "len(" * 5000 + '""' + ")" * 5000,
                 "if true then 1 else " * 5000 + "1", "images" + ".X" * 5000):
        (msg,) = _parse_file("def a = " + text + "\n")
        assert "levels deep; the limit is 64" in msg


def test_100000_nested_parentheses_do_not_crash() -> None:
    policy = load("def a = " + "(" * 100_000 + "1" + ")" * 100_000 + "\n"
                  'rule r on CreateImage deny when a == 1 message "m"\n')
    assert policy.rules[0].cond(Ctx()) is True


def test_100000_term_or_chain_does_not_crash() -> None:
    text = "def a = " + " or ".join(["false"] * 99_999 + ["true"]) + "\n"
    decls, diags = parse_decls(text)
    assert not diags
    (d,) = decls
    assert isinstance(d, ast.Def)
    body = d.body
    assert isinstance(body, ast.BoolOp) and len(body.parts) == 100_000 and body.depth == 2
    # ... and it checks and compiles to a closure that evaluates without recursion
    reporter = Reporter(d.source)
    checker = Checker(ECS, {"a": d}, {d.source.name: reporter}, has_resolve=False)
    checker.check_defs()
    assert not reporter.diagnostics
    assert Compiler(ECS, {"a": d}, checker.def_typing).def_fn("a")(Ctx()) is True


def test_oversized_file_is_rejected() -> None:
    text = "def a = 1\n#" + "x" * MAX_BYTES + "\n"
    out = rendered(text)
    assert out.splitlines()[0] == f"t.rules:1:1: error: rule file is {len(text):,} bytes; the limit is 2,000,000"
    assert out.splitlines()[2] == "    ^"


def test_file_at_the_limit_loads() -> None:
    tail = "def a = 1\n"
    line = "#" + "x" * 98 + "\n"
    body = line * ((MAX_BYTES - len(tail)) // len(line))
    text = body + "#" * (MAX_BYTES - len(tail) - len(body) - 1) + "\n" + tail
    assert len(text) == MAX_BYTES
    decls, diags = parse_decls(text)
    assert not diags and len(decls) == 1 and decls[0].span.line == text.count("\n")


def test_oversized_multibyte_file_message_is_consistent() -> None:
    text = "def a = 1\n#" + "一" * 1_000_000 + "\n"  # 1,000,012 characters, 3,000,012 bytes
    _, diags = parse_decls(text)
    for d in diags:  # either it loads, or the message must state a size over the limit
        numbers = [int(w.replace(",", "")) for w in d.message.split() if w.replace(",", "").isdigit()]
        assert numbers and numbers[0] > MAX_BYTES, d.message


def test_continuation_line_starting_with_resolve_call() -> None:
    text = ("rule r on RunInstances deny when request.ImageFamily != null and\n"
            "    resolve(request.ImageFamily, request.RegionId, caller) == null\n"
            '  message "m"\n')
    decls, diags = parse_decls(text)
    assert not diags, [d.render() for d in diags]
    assert len(decls) == 1
    cond = decls[0].cond  # type: ignore[union-attr]
    assert isinstance(cond, ast.BoolOp) and isinstance(cond.parts[1], ast.Compare)
    assert isinstance(cond.parts[1].left, ast.Call) and cond.parts[1].left.func == "resolve"
    # ... while "resolve candidates" on its own line still starts the resolution block
    decls, diags = parse_decls("def a = 1\nresolve candidates images\n  require x: true\n  order by ImageId\n")
    assert not diags and isinstance(decls[1], ast.ResolveDecl)


# ---------------------------------------------------------------- bounded cost of long files


class _CountingText(str):
    """A rule text that counts how often it is split into lines."""

    splits = 0

    def splitlines(self, keepends: bool = False) -> list[str]:
        type(self).splits += 1
        return super().splitlines(keepends)


def test_long_and_chain_is_split_into_lines_once() -> None:
    """The explainer quotes each term of an `and` chain: splitting the file once per term made a
    100,000-term rule take minutes to load (quadratic). The file is split once, whatever its length."""
    terms = "\n    and ".join(f'request.ImageId != "x{i}"' for i in range(500))
    text = _CountingText(f'rule big\n  on DeleteImage\n  deny when {terms}\n  message "m"\n  cites "c"\n')
    _CountingText.splits = 0
    policy = load_policy(default=False, sources=[Source("big.rules", text)])
    assert policy.rules[0].text.count("request.ImageId") == 500
    assert _CountingText.splits <= 2, _CountingText.splits


def test_100000_term_and_chain_loads_as_a_rule() -> None:
    text = ('rule big\n  on DeleteImage\n  deny when ' + " and ".join(["true"] * 100_000)
            + '\n  message "m"\n  cites "c"\n')
    policy = load_policy(default=False, sources=[Source("big.rules", text)])
    assert policy.rules[0].cond(Ctx()) is True


def test_limit_errors_quote_a_short_excerpt() -> None:
    deep = "not " * 200_000 + "true"
    text = "def a = " + deep + "\n"
    out = rendered(text)
    assert "nested 200001 levels deep" in out
    assert len(out) < 1_000, len(out)
    head, shown, caret = out.splitlines()[:3]
    assert head.startswith("t.rules:1:9: error:")
    assert shown.startswith("    def a = not not") and shown.endswith("…")
    assert caret == "    " + " " * 8 + "^" * (len(shown) - 4 - 8 - 1)


def test_an_error_far_along_a_long_line_is_shown_in_context() -> None:
    text = "def a = " + " or ".join(["false"] * 50_000) + " or nosuch\n"
    out = rendered(text)
    assert len(out) < 1_000, len(out)
    head, shown, caret = out.splitlines()[:3]
    assert "unknown name 'nosuch'" in head or "nosuch" in head
    assert shown.startswith("    …") and "nosuch" in shown
    assert shown[caret.index("^"):].startswith("nosuch")


def test_oversized_file_error_is_short() -> None:
    out = rendered("#" + "x" * MAX_BYTES + "\n")
    assert len(out) < 1_000
