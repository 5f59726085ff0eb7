"""Static checking: each error kind, rendered as file:line:col, message, source line, caret, hint."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import load, load_errors, rendered, typecheck

from imagefam.engine.environment import request_type
from imagefam.rules.types import BOOL, INT, STRING, TIME, list_of, record


def _one(text: str, *, default: bool = False) -> str:
    diags = load_errors(text, default=default)
    assert len(diags) == 1, [d.render() for d in diags]
    return diags[0].render()


# ---------------------------------------------------------------- unknown things


def test_unknown_field_with_did_you_mean() -> None:
    assert _one('rule r on DeleteImage deny when image.Statsu == "x" message "m"\n') == (
        "t.rules:1:39: error: Image has no field 'Statsu'\n"
        '    rule r on DeleteImage deny when image.Statsu == "x" message "m"\n'
        "                                          ^^^^^^\n"
        "    hint: did you mean 'Status'?"
    )


def test_unknown_field_case_only_difference() -> None:
    out = _one('rule r on DeleteImage deny when image.imageid == "x" message "m"\n')
    assert "error: Image has no field 'imageid'" in out
    assert "hint: did you mean 'ImageId'?" in out


def test_unknown_field_of_projection() -> None:
    out = _one("def g = ImageFamly of images\n")
    assert out.splitlines()[0] == "t.rules:1:9: error: Image has no field 'ImageFamly'"
    assert out.splitlines()[2] == "            ^^^^^^^^^^"
    assert out.endswith("hint: did you mean 'ImageFamily'?")


def test_unknown_bare_field_inside_where() -> None:
    out = _one('def g = count(images where Statsu == "Available")\n')
    assert out.splitlines()[0] == "t.rules:1:28: error: unknown name 'Statsu' in definition g"
    assert out.endswith("hint: did you mean 'Status'?")


def test_bare_field_outside_where() -> None:
    out = _one('rule r on DeleteImage deny when Status == "Available" message "m"\n')
    assert out.splitlines()[0] == "t.rules:1:33: error: unknown name 'Status' in rule r on DeleteImage"
    assert out.endswith("hint: bare fields are only allowed inside 'where'; "
                        "did you mean image.Status or it.Status?")


def test_unknown_action() -> None:
    assert _one('rule r on CreateImg deny when true message "m"\n') == (
        "t.rules:1:11: error: unknown action 'CreateImg'\n"
        '    rule r on CreateImg deny when true message "m"\n'
        "              ^^^^^^^^^\n"
        "    hint: did you mean 'CreateImage'?"
    )


def test_unknown_action_without_close_match_lists_actions() -> None:
    out = _one('rule r on Frobnicate deny when true message "m"\n')
    assert "error: unknown action 'Frobnicate'" in out
    assert "hint: actions: CreateImage, CopyImage," in out


def test_action_listed_twice() -> None:
    out = _one('rule r on DeleteImage, DeleteImage deny when true message "m"\n')
    assert out.splitlines()[0] == "t.rules:1:24: error: action 'DeleteImage' is listed twice"


def test_unknown_audit_scope() -> None:
    out = _one('audit a for each famly warn when true message "m"\n')
    assert out.splitlines()[0] == "t.rules:1:18: error: unknown audit scope 'famly'"
    assert out.endswith("hint: did you mean 'family'?")


def test_unknown_function() -> None:
    assert _one('rule r on DeleteImage deny when lenn(request.ImageId) == 1 message "m"\n') == (
        "t.rules:1:33: error: unknown function 'lenn'\n"
        '    rule r on DeleteImage deny when lenn(request.ImageId) == 1 message "m"\n'
        "                                    ^^^^\n"
        "    hint: did you mean 'len'?"
    )


def test_unknown_function_suggests_definitions() -> None:
    out = _one("def is_ok(x: int) = x > 1\ndef a = is_okk(2)\n")
    assert "t.rules:2:9: error: unknown function 'is_okk'" in out
    assert out.endswith("hint: did you mean 'is_ok'?")


def test_unknown_name_and_definition() -> None:
    out = rendered('def limit = 3\nrule r on DeleteImage deny when limt == 1 message "m"\n'
                   'rule s on DeleteImage deny when foo == 1 message "m"\n')
    assert out == (
        "t.rules:2:33: error: unknown name 'limt' in rule r on DeleteImage\n"
        '    rule r on DeleteImage deny when limt == 1 message "m"\n'
        "                                    ^^^^\n"
        "    hint: did you mean 'limit'?\n"
        "t.rules:3:33: error: unknown name 'foo' in rule s on DeleteImage\n"
        '    rule s on DeleteImage deny when foo == 1 message "m"\n'
        "                                    ^^^"
    )


def test_unknown_type_in_parameter() -> None:
    out = rendered("def f(x: lst[int]) = 1\ndef g(x: Imag) = 1\n")
    assert "t.rules:1:10: error: unknown type 'lst[int]'\n" in out
    assert "hint: did you mean 'list'?" in out
    assert "t.rules:2:10: error: unknown type 'Imag'\n" in out
    assert "hint: did you mean 'Image'?" in out


# ---------------------------------------------------------------- arity


def test_wrong_arity_builtin() -> None:
    assert _one('rule r on DeleteImage deny when len(request.ImageId, 2) == 1 message "m"\n') == (
        "t.rules:1:33: error: len() takes 1 argument, got 2\n"
        '    rule r on DeleteImage deny when len(request.ImageId, 2) == 1 message "m"\n'
        "                                    ^^^^^^^^^^^^^^^^^^^^^^^\n"
        "    hint: len(string or list) -> int"
    )


@pytest.mark.parametrize(("call", "message"), [
    ("coalesce(1)", "coalesce() takes 2 arguments, got 1"),
    ("all(images)", "all() takes 2 arguments, got 1"),
    ("count()", "count() takes 1 argument, got 0"),
    ('replace_regex("a", "b")', "replace_regex() takes 3 arguments, got 2"),
])
def test_wrong_arity_other_builtins(call: str, message: str) -> None:
    assert f"error: {message}" in _one(f"def a = {call}\n")


def test_wrong_arity_definition() -> None:
    out = _one('def f(x: int, y: string) = x\nrule r on DeleteImage deny when f(1) == 1 message "m"\n')
    assert out == (
        "t.rules:2:33: error: f() takes 2 arguments, got 1\n"
        '    rule r on DeleteImage deny when f(1) == 1 message "m"\n'
        "                                    ^^^^\n"
        "    hint: def f(x: int, y: string)"
    )


def test_constant_called_and_function_used_bare() -> None:
    out = rendered('def x = 1\ndef f(a: int) = a\n'
                   'rule r on DeleteImage deny when x() == 1 message "m"\n'
                   'rule s on DeleteImage deny when f == 1 message "m"\n')
    assert "t.rules:3:33: error: 'x' is a constant, not a function: write x without ()" in out
    assert "t.rules:4:33: error: 'f' is a definition with parameters: call it as f(...)" in out


def test_definition_argument_type() -> None:
    out = _one('def f(a: int) = a\nrule r on DeleteImage deny when f("s") == 1 message "m"\n')
    assert out.splitlines()[0] == "t.rules:2:35: error: argument 'a' of f() must be int, found string"
    assert out.splitlines()[2] == " " * 38 + "^^^"


# ---------------------------------------------------------------- types


def test_type_mismatch_in_comparison() -> None:
    assert _one('rule r on DeleteImage deny when count(images) == "x" message "m"\n') == (
        "t.rules:1:33: error: cannot compare int with string using '=='\n"
        '    rule r on DeleteImage deny when count(images) == "x" message "m"\n'
        "                                    ^^^^^^^^^^^^^^^^^^^^"
    )


def test_type_mismatch_in_addition() -> None:
    assert _one('rule r on DeleteImage deny when "a" + 1 == "a1" message "m"\n') == (
        "t.rules:1:39: error: cannot combine string and int with '+'/'-'\n"
        '    rule r on DeleteImage deny when "a" + 1 == "a1" message "m"\n'
        "                                          ^\n"
        "    hint: convert with str(...) to join text"
    )


@pytest.mark.parametrize(("body", "message"), [
    ("1", "a rule condition must be bool, found int"),
    ("not 1", "the operand of 'not' must be bool, found int"),
    ('-"a" == 1', "the operand of '-' must be int or duration, found string"),
    ("1 and true", "each operand of 'and' must be bool, found int"),
    ('if 1 then true else false', "the condition of 'if' must be bool, found int"),
    ('(if true then 1 else "a") == 1', "'then' and 'else' give different types: int and string"),
    ("count(1) == 1", "count() needs a list, found int"),
    ("exists(1 where true)", "'where' needs a list, found int"),
    ('"a" < 1', "cannot order string against int"),
    ("true < false", "'<' orders ints, times, durations and strings, not bool"),
    ('1 in ["a"]', "'in' looks for int in a list of string"),
    ('["a"] contains 1', "a list of string never contains int"),
    ('1 startswith "a"', "'startswith' works on strings, found int"),
    ('len(1) == 1', "len() needs a string or a list, found int"),
    ('lower(1) == "a"', "lower() needs a string, found int"),
    ('coalesce(1, "a") == 1', "coalesce() arguments differ in type: int and string"),
    ("days_between(1, taken_at) > 1", "days_between() needs a time, found int"),
    ("exists(distinct(images))", "distinct() takes a list of values; project a field first, "
                                 "e.g. distinct(ImageFamily of images)"),
    ("max([true])", "max() needs a list of ints, times, durations or strings, found list[bool]"),
    ('count([1, "a"]) == 2', "list items must have one type: found int and string"),
    ('count(["a"] - ["b"]) == 0', "'-' does not apply to lists; only '+' joins them"),
    ("exists(Status of [1])", "'Status of' needs a list of records, found list[int]"),
    ("image.Status.X == 1", "string (one of 'Creating', 'Waiting', 'Available', 'UnAvailable', "
                            "'CreateFailed', 'Deprecated')? has no fields (looked for 'X')"),
    ("image.Tags == null", "field 'Tags' is a map, which rules cannot use yet"),
])
def test_type_errors(body: str, message: str) -> None:
    diags = load_errors(f'rule r on DeleteImage deny when {body} message "m"\n')
    assert message in [d.message for d in diags], [d.render() for d in diags]


def test_enum_literal_not_in_values() -> None:
    assert _one('rule r on DeleteImage deny when image.Status == "Availble" message "m"\n') == (
        "t.rules:1:49: error: 'Availble' is not a possible value here\n"
        '    rule r on DeleteImage deny when image.Status == "Availble" message "m"\n'
        "                                                    ^^^^^^^^^^\n"
        "    hint: did you mean 'Available'?"
    )


@pytest.mark.parametrize("cond", [
    '"Availble" == image.Status',
    'image.Status != "Availble"',
    'image.Status in ["Available", "Availble"]',
    'count(images where Status == "Availble") > 0',
])
def test_enum_literal_checked_on_either_side_and_in_lists(cond: str) -> None:
    out = _one(f'rule r on DeleteImage deny when {cond} message "m"\n')
    assert "error: 'Availble' is not a possible value here" in out
    assert "hint: did you mean 'Available'?" in out


def test_enum_literal_without_close_match_lists_values() -> None:
    out = _one('rule r on DeleteImage deny when image.ImageOwnerAlias == "zzz" message "m"\n')
    assert out.endswith("hint: values: system, marketplace")


def test_action_is_an_enum_of_the_listed_actions() -> None:
    out = _one('rule r on CopyImage, DeleteImage deny when action == "CreateImage" message "m"\n')
    assert out.splitlines()[0] == "t.rules:1:54: error: 'CreateImage' is not a possible value here"
    assert out.endswith("hint: did you mean 'DeleteImage'?")
    load('rule r on CopyImage, DeleteImage deny when action == "CopyImage" message "m"\n')


def test_channel_is_an_enum() -> None:
    out = _one('rule r on DeleteImage deny when channel == "consle" message "m"\n')
    assert "'consle' is not a possible value here" in out and "did you mean 'console'?" in out


# ---------------------------------------------------------------- scopes per action


def test_request_field_missing_on_action() -> None:
    assert _one('rule r on DeleteImage deny when request.Status == "Available" message "m"\n') == (
        "t.rules:1:41: error: the DeleteImage request has no field 'Status'\n"
        '    rule r on DeleteImage deny when request.Status == "Available" message "m"\n'
        "                                            ^^^^^^\n"
        "    hint: its fields are: RegionId, ImageId, Force"
    )


def test_request_field_checked_for_every_listed_action() -> None:
    out = _one('rule r on ModifyImageAttribute, DeleteImage deny when request.Status == "Deprecated" '
               'message "m"\n')
    assert "error: the DeleteImage request has no field 'Status'" in out
    load('rule r on ModifyImageAttribute deny when request.Status == "Deprecated" message "m"\n')


def test_image_on_create_image() -> None:
    assert _one('rule r on CreateImage deny when image.Status == "Available" message "m"\n') == (
        "t.rules:1:33: error: 'image' is not available in rule r on CreateImage: "
        "the CreateImage request names no image (it has no ImageId)\n"
        '    rule r on CreateImage deny when image.Status == "Available" message "m"\n'
        "                                    ^^^^^"
    )


def test_names_unavailable_in_definitions_and_audits() -> None:
    out = rendered('def a = request.ImageId\n'
                   'audit b for each image warn when request.ImageId == null message "m"\n'
                   'audit c for each family warn when image.ImageId == null message "m"\n'
                   'rule d on DeleteImage deny when family == null message "m"\n')
    assert ("t.rules:1:9: error: 'request' is not available in definition a: "
            "definitions see only their parameters, `images`, `taken_at` and `now`") in out
    assert ("t.rules:2:34: error: 'request' is not available in audit b: "
            "audit rules run over a snapshot, not a request") in out
    assert "t.rules:3:35: error: 'image' is not available in audit c: this rule runs for each family" in out
    assert "t.rules:4:33: error: 'family' is not available in rule d on DeleteImage: it is an audit scope" in out


def test_error_inside_message_template_points_into_string() -> None:
    out = _one('rule r on DeleteImage deny when true message "id {request.ImageIdd} ok"\n')
    assert out == (
        "t.rules:1:59: error: the DeleteImage request has no field 'ImageIdd'\n"
        '    rule r on DeleteImage deny when true message "id {request.ImageIdd} ok"\n'
        "                                                              ^^^^^^^^\n"
        "    hint: did you mean 'ImageId'?"
    )


def test_rule_without_message_and_without_cites() -> None:
    out = _one("rule r on DeleteImage deny when true\n")
    assert out.splitlines()[0] == "t.rules:1:6: error: rule 'r' has no message"
    policy = load('rule r on DeleteImage deny when true message "m"\n')
    assert [w.message for w in policy.warnings] == ["rule 'r' cites no source"]
    assert policy.warnings[0].severity == "warning"
    assert policy.warnings[0].render().startswith("t.rules:1:6: warning: rule 'r' cites no source")


def test_resolve_without_resolution_policy() -> None:
    out = _one('rule r on DeleteImage deny when resolve("a", "b", "c") == null message "m"\n')
    assert "error: resolve() needs a resolution policy ('resolve candidates ...') in force" in out
    load('rule r on DeleteImage deny when resolve("a", "b", caller) == null message "m"\n', default=True)


# ---------------------------------------------------------------- definitions


def test_direct_recursion() -> None:
    assert _one("def c = c + 1\n") == (
        "t.rules:1:5: error: definitions are recursive: c -> c\n"
        "    def c = c + 1\n"
        "        ^\n"
        "    hint: definitions may not call themselves, directly or through others"
    )


def test_direct_recursion_with_parameters() -> None:
    out = _one("def d(x: int) = d(x - 1)\n")
    assert "t.rules:1:5: error: definitions are recursive: d -> d" in out


def test_mutual_recursion() -> None:
    diags = load_errors("def a = b + 1\ndef b = c(1)\ndef c(x: int) = x\ndef e = a\n"
                        "def f(x: int) = g(x)\ndef g(y: int) = h(y)\ndef h(z: int) = f(z)\n")
    msgs = [(d.span.line, d.message) for d in diags]
    assert msgs == [(5, "definitions are recursive: f -> g -> h -> f")]
    diags = load_errors("def a = b + 1\ndef b = a\n")
    assert [d.message for d in diags] == ["definitions are recursive: a -> b -> a"]


def test_duplicate_definitions() -> None:
    assert _one("def a = 1\ndef a = 2\n") == (
        "t.rules:2:5: error: definition 'a' is defined twice\n"
        "    def a = 2\n"
        "        ^\n"
        "    hint: first at t.rules:1"
    )


def test_duplicate_rule_ids_in_one_layer() -> None:
    assert _one('rule r on DeleteImage deny when true message "m"\n'
                'rule r on CopyImage warn when true message "m"\n') == (
        "t.rules:2:6: error: duplicate rule id 'r'\n"
        '    rule r on CopyImage warn when true message "m"\n'
        "         ^\n"
        "    hint: first at t.rules:1"
    )


def test_duplicate_parameter() -> None:
    assert "parameter 'x' is declared twice" in _one("def f(x: int, x: int) = x\n")


@pytest.mark.parametrize(("name", "message"), [
    ("Foo", "definition name 'Foo' starts upper case"),
    ("count", "'count' is a built-in name and cannot be redefined"),
    ("request", "'request' is a built-in name and cannot be redefined"),
    ("it", "'it' is a built-in name and cannot be redefined"),
])
def test_reserved_definition_names(name: str, message: str) -> None:
    assert f"t.rules:1:5: error: {message}" in _one(f"def {name} = 1\n")


# ---------------------------------------------------------------- regexes


def test_non_literal_regex() -> None:
    assert _one('rule r on DeleteImage deny when request.ImageId matches request.RegionId message "m"\n') == (
        "t.rules:1:57: error: a regular expression must be a string literal "
        "(so it is checked once, at load)\n"
        '    rule r on DeleteImage deny when request.ImageId matches request.RegionId message "m"\n'
        "                                                            ^^^^^^^^^^^^^^^^"
    )


def test_invalid_regex() -> None:
    out = _one('rule r on DeleteImage deny when request.ImageId matches "(" message "m"\n')
    assert out.splitlines()[0] == ("t.rules:1:57: error: invalid regular expression: "
                                   "missing ): (")
    assert out.splitlines()[2] == " " * 60 + "^^^"


def test_replace_regex_pattern_checked() -> None:
    out = rendered('def a(s: string) = replace_regex(s, "[", "")\ndef b(s: string, p: string) = replace_regex(s, p, "")\n')
    assert "t.rules:1:37: error: invalid regular expression" in out
    assert "t.rules:2:48: error: a regular expression must be a string literal" in out


# ---------------------------------------------------------------- all errors at once


def test_all_errors_of_a_file_reported_together_in_order() -> None:
    text = (
        'rule a on CreateImg deny when true message "m"\n'
        'rule b on DeleteImage deny when image.Statsu == "x" message "m"\n'
        'rule c on DeleteImage deny when count(images) == "x" message "m"\n'
        "def d = d\n"
        'rule e on DeleteImage deny when lenn(request.ImageId) == 1 and image.Status == "Availble" message "m"\n'
    )
    diags = load_errors(text)
    assert [(d.span.line, d.span.col, d.message) for d in diags] == [
        (1, 11, "unknown action 'CreateImg'"),
        (2, 39, "Image has no field 'Statsu'"),
        (3, 33, "cannot compare int with string using '=='"),
        (4, 5, "definitions are recursive: d -> d"),
        (5, 33, "unknown function 'lenn'"),
        (5, 80, "'Availble' is not a possible value here"),
    ]


def test_errors_across_files_sorted_by_file_then_position() -> None:
    from imagefam.engine.policy import load_policy
    from imagefam.rules.errors import PolicyError, Source

    with pytest.raises(PolicyError) as info:
        load_policy(default=False, sources=[
            Source("b.rules", 'rule y on DeleteImage deny when nope message "m"\ndef q = 1 +\n'),
            Source("a.rules", 'rule x on DeleteImage deny when nada message "m"\n'),
        ])
    assert [(d.source.name, d.span.line) for d in info.value.diagnostics] == [
        ("b.rules", 1), ("b.rules", 2), ("a.rules", 1)]
    assert str(info.value).startswith("b.rules:1:33: error: unknown name 'nope'")


def test_error_reported_once_for_rule_on_several_actions() -> None:
    diags = load_errors('rule r on CopyImage, DeleteImage, ModifyImageAttribute deny when image.Statsu == "x" '
                        'message "m"\n')
    assert len(diags) == 1


# ---------------------------------------------------------------- types of well-typed expressions


@pytest.mark.parametrize(("text", "expected"), [
    ("1 + 2", INT),
    ('"a" + "b"', STRING),
    ("image.Status == null", BOOL),
    ("count(images)", INT),
    ("taken_at", TIME.opt()),
    ("ImageFamily of images", list_of(STRING.opt())),
    ("images where RegionId == caller", list_of(record("Image"))),
    ("image.ImageFamily", STRING.opt()),
    ("image.CreationTime < taken_at", BOOL.opt()),
    ("if true then 1 else null", INT.opt()),
    ("coalesce(image.ImageFamily, \"x\")", STRING),
    ("request.AddAccount + [caller]", list_of(STRING)),
])
def test_types_of_expressions(text: str, expected: object) -> None:
    vars = {"request": request_type("ModifyImageSharePermission")}
    _, ty, diags = typecheck(text, vars)
    assert not diags, [d.render() for d in diags]
    assert ty == expected, str(ty)


# ---------------------------------------------------------------- the resolution policy


def test_resolution_policy_checks() -> None:
    text = ("def via(f: string) = resolve(f, \"r\", \"c\")\n"
            "resolve\n"
            "  candidates images where ImageFamily == family\n"
            "  require direct: resolve(family, region, caller) == null\n"
            "  require indirect: via(family) == null\n"
            "  require twice: true\n"
            "  require twice: Statsu == \"Available\"\n"
            "  order by SharedWith, CreationTime desc\n")
    diags = load_errors(text)
    assert [(d.span.line, d.span.col, d.message) for d in diags] == [
        (4, 19, "the resolution policy cannot call resolve() (it would resolve families while resolving one)"),
        (5, 21, "the resolution policy cannot call via() (it would resolve families while resolving one)"),
        (7, 11, "requirement 'twice' is named twice"),
        (7, 18, "unknown name 'Statsu' in the resolution policy"),
        (8, 12, "an ordering key must be an int, time, duration or string, found list[string]"),
    ]
    assert diags[3].hint == "did you mean 'Status'?"


def test_resolution_candidates_must_be_images() -> None:
    diags = load_errors('resolve\n  candidates ["a"]\n  require x: true\n  order by ImageId\n')
    assert diags[0].message == "candidates must be a list of images, found list[string]"
    assert (diags[0].span.line, diags[0].span.col) == (2, 14)


def test_resolution_scope() -> None:
    diags = load_errors("resolve\n  candidates images\n  require x: request.ImageId == image.ImageId\n"
                        "  order by ImageId\n")
    assert [d.message for d in diags] == [
        "'request' is not available in the resolution policy: resolution sees family, region, caller",
        "'image' is not available in the resolution policy: write it (the candidate)",
    ]


def test_duplicate_resolve_block_is_still_checked() -> None:
    block = "resolve\n  candidates images\n  require x: {cond}\n  order by ImageId\n"
    diags = load_errors(block.format(cond="Statsu == \"x\"") + block.format(cond="true"))
    assert [(d.span.line, d.message) for d in diags] == [
        (3, "unknown name 'Statsu' in the resolution policy"),
        (5, "more than one 'resolve' block"),
    ]


# ---------------------------------------------------------------- RE2: linear-time regexes


@pytest.mark.parametrize(("pattern", "hint"), [
    (r"^(a)\\1$", "backreferences"),
    (r"^(?=a)", "lookahead"),
    (r"(?<!a)b", "lookahead"),
    (r"^web\\Z", "\\z"),
])
def test_patterns_re2_cannot_run_are_located_errors(pattern: str, hint: str) -> None:
    out = _one(f'rule r on DeleteImage deny when request.ImageId matches "{pattern}" message "m"\n')
    assert out.startswith("t.rules:1:57: error: invalid regular expression: "), out
    assert "hint:" in out and hint in out.split("hint:")[1], out


def test_the_end_of_text_is_backslash_z() -> None:
    from imagefam.rules.regex import searcher

    found = searcher("^web\\z")
    assert found("web") and not found("web\n") and not found("webs")
    assert searcher("^web$")("web") and not searcher("^web$")("web\n"), "RE2's $ is the end of the text"


def test_the_answer_memo_is_bounded_and_right() -> None:
    from imagefam.rules import regex

    found = regex.searcher("^x[0-9]+\\z")
    for i in range(regex.MEMO_SIZE * 2 + 3):
        assert found(f"x{i}") and not found(f"x{i}y")
    assert found("x1") and not found("y1")
    assert not found("\ud800"), "a lone surrogate is just a character that does not match"


def test_shipped_rules_use_backslash_z() -> None:
    from helpers_engine import POLICY_DIR

    for f in POLICY_DIR.rglob("*.rules"):
        assert "\\\\Z" not in f.read_text("utf-8"), f


def test_nested_quantifier_against_a_long_family_finishes(tmp_path: Path) -> None:
    """Backtracking took minutes for this pattern (2^40 paths); RE2 answers in microseconds. The
    subprocess timeout only guards against a hang: the figure is in docs/performance.md."""
    from helpers_engine import img, run_cli, write_plan, write_state

    (tmp_path / "slow.rules").write_text(
        'rule slow\n  on CreateImage\n  deny when request.ImageFamily matches "^(a+)+$"\n'
        '  message "m"\n  cites "c"\n', "utf-8")
    state = write_state(tmp_path, [img("m-1")])
    plan = write_plan(tmp_path, [{"Action": "CreateImage", "RegionId": "cn-hangzhou", "InstanceId": "i-1",
                                  "ImageFamily": "a" * 40 + "!"}])
    run = run_cli("check", plan, "--state", state, "--policy", tmp_path / "slow.rules", "--format", "json",
                  timeout=60)
    assert run.code in (0, 1), run.err
    assert all(v["rule"] != "slow" for s in run.json()["steps"] for v in s["violations"])
