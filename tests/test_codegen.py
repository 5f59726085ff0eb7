"""Generated rule code (imagefam.rules.codegen): nothing from a rule file reaches a code position,
and the generated functions answer as plain Python would.

- attribute paths: only plain identifiers are written into the source (hostile names refused);
- the generated code holds no string constant at all: literals, regular expressions and value
  closures are handed over as bound names, so any string a rule holds (quotes, backslashes,
  newlines, Python source) is data; and it sees no builtins;
- rules with hostile string literals, compiled from their text, answer as Python's own string
  tests do (a hypothesis target);
- element filters, counts and quantifiers agree with a plain loop on random records.
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import compile_expr
from helpers_engine import FUZZ_EXAMPLES
from hypothesis import given, settings
from hypothesis import strategies as st

from imagefam.engine.environment import EcsContext as Ctx
from imagefam.engine.environment import request_type
from imagefam.engine.models import CreateImageRequest
from imagefam.rules import codegen

SETTINGS = settings(max_examples=FUZZ_EXAMPLES, deadline=None)

HOSTILE_NAMES = ["", "__class__", "_private", "a.__globals__", "a;import os", "a b", "a()", "a[0]", "1a",
                 "class", "a.", ".a", "a..b", "a\nb", "é", "a-b", "a.b.__init__", "request.ImageFamily\n#"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_attribute_paths_are_refused(name: str) -> None:
    assert not codegen.is_path(name)  # the compiler then uses closures for it: never an error
    with pytest.raises(ValueError):
        codegen.path(name)
    with pytest.raises(ValueError):
        codegen.string_predicate(name, [], ("startswith", "a"), False)
    with pytest.raises(ValueError):
        codegen.element_select([(name, "==", lambda c: 1)])


@given(st.text(max_size=12))
def test_a_path_is_accepted_only_when_made_of_plain_identifiers(name: str) -> None:
    try:
        codegen.path(name)
    except ValueError:
        return
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", part) for part in name.split("."))


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


def _string_constants(fn: Any) -> list[str]:
    """Every string constant of ``fn``'s code (nested comprehensions included), its docstring aside."""
    doc = fn.__code__.co_consts[0] if fn.__doc__ else None
    return [c for code in _codes(fn.__code__) for c in code.co_consts if isinstance(c, str) and c != doc]


@SETTINGS
@given(literal=st.text(max_size=20))
def test_no_value_is_written_into_the_source(literal: str) -> None:
    made = [codegen.string_predicate("request.ImageFamily", [("is not", None), ("!=", literal)],
                                     ("or", [("startswith", literal), ("contains", literal)]), False),
            codegen.fused_tests([("request.ImageFamily", "==", literal)], True),
            codegen.tests_then([("request.ImageFamily", "!=", literal)], lambda c: literal, False),
            codegen.element_select([("ImageFamily", "!=", lambda c: literal)]),
            codegen.element_count([("ImageFamily", "==", lambda c: literal)]),
            codegen.element_quantifier([("ImageFamily", "==", lambda c: literal)], True)]
    for fn in made:
        assert _string_constants(fn) == []
        assert fn.__globals__["__builtins__"] == {}  # no builtins: it can only read, compare and call what it holds


def _rule_string(value: str) -> str:
    """``value`` as a string literal of the rule language."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


#: Strings that would break out of a Python literal, or be source themselves, if written into code.
HOSTILE = st.sampled_from(['"', "'", "\\", '\\"', "\n", '")\nimport os\n("', "{__import__('os')}", "'''",
                           "acs", "", "é", "\x00", "a" * 40, "__class__"]) | st.text(max_size=8)


@SETTINGS
@given(k1=HOSTILE, k2=HOSTILE, op1=st.sampled_from(["startswith", "endswith", "contains"]),
       op2=st.sampled_from(["startswith", "endswith", "contains"]), join=st.sampled_from(["and", "or"]),
       family=st.one_of(st.none(), HOSTILE))
def test_rules_with_hostile_literals_answer_as_python(k1: str, k2: str, op1: str, op2: str, join: str,
                                                      family: str | None) -> None:
    text = (f"request.ImageFamily != null and request.ImageFamily != \"\" and (request.ImageFamily {op1} {_rule_string(k1)} {join} "
            f"request.ImageFamily {op2} {_rule_string(k2)})")
    cond = compile_expr(text, {"request": request_type("CreateImage")})

    def test(op: str, k: str, v: str) -> bool:
        return v.startswith(k) if op == "startswith" else v.endswith(k) if op == "endswith" else k in v

    expected = (False if not family else
                (test(op1, k1, family) and test(op2, k2, family)) if join == "and" else
                (test(op1, k1, family) or test(op2, k2, family)))
    req = CreateImageRequest.model_construct(RegionId="r1", ImageFamily=family)
    assert cond(Ctx((), request=req, image=None, caller="1", channel="api", action="CreateImage")) is expected


@dataclass
class Rec:
    ImageFamily: str | None
    ImageOwnerId: str | None


RECS = st.lists(st.builds(Rec, st.sampled_from([None, "a", "b", ""]), st.sampled_from([None, "1", "2"])), max_size=8)


@SETTINGS
@given(recs=RECS, fam=st.sampled_from([None, "a", ""]), owner=st.sampled_from([None, "1"]),
       ops=st.tuples(st.sampled_from(["==", "!="]), st.sampled_from(["==", "!="])))
def test_element_tests_agree_with_a_loop(recs: list[Rec], fam: str | None, owner: str | None,
                                         ops: tuple[str, str]) -> None:
    tests = [("ImageFamily", ops[0], lambda c: fam), ("ImageOwnerId", ops[1], lambda c: owner)]

    def passes(r: Rec) -> bool:
        a = r.ImageFamily == fam if ops[0] == "==" else r.ImageFamily != fam
        b = r.ImageOwnerId == owner if ops[1] == "==" else r.ImageOwnerId != owner
        return a and b

    want = [r for r in recs if passes(r)]
    assert codegen.element_select(tests)(None, recs) == want
    assert codegen.element_count(tests)(None, recs) == len(want)
    assert codegen.element_quantifier(tests, True)(None, recs) is bool(want)
    assert codegen.element_quantifier(tests, False)(None, recs) is (len(want) == len(recs))


def test_long_runs_of_tests_loop_instead_of_one_expression() -> None:
    @dataclass
    class C:
        x: int

    tests = [("x", "!=", k) for k in range(codegen.MAX_TESTS + 10)]
    assert codegen.fused_tests(tests, False)(C(-1)) is True and codegen.fused_tests(tests, False)(C(5)) is False
    assert codegen.fused_tests(tests, True)(C(5)) is True
    assert codegen.tests_then(tests, lambda c: "then", False)(C(-1)) == "then"
    assert codegen.tests_then(tests, lambda c: "then", False)(C(3)) is False


@given(a=st.sampled_from([None, "1", "2"]), b=st.sampled_from([None, "1", "2"]), op=st.sampled_from(["==", "!="]),
       stop=st.booleans())
def test_tests_comparing_two_context_values_are_two_valued(a: str | None, b: str | None, op: str, stop: bool) -> None:
    @dataclass
    class C:
        x: str | None
        y: str | None

    want = (a == b) if op == "==" else (a != b)  # null == null is true, as the language says
    assert codegen.fused_tests([("x", op, codegen.Ref("y"))], stop)(C(a, b)) is want
    long = [("x", op, codegen.Ref("y"))] * (codegen.MAX_TESTS + 1)
    assert codegen.fused_tests(long, stop)(C(a, b)) is want
    with pytest.raises(ValueError):
        codegen.fused_tests([("x", op, codegen.Ref("y.__class__"))], stop)
    with pytest.raises(ValueError):
        codegen.fused_tests([("x", "is", codegen.Ref("y"))], stop)


@given(recs=RECS, fam=st.sampled_from([None, "a", ""]), owner=st.sampled_from([None, "1"]),
       ops=st.tuples(st.sampled_from(["==", "!="]), st.sampled_from(["==", "!="])))
def test_element_tests_read_each_value_when_the_closure_would(recs: list[Rec], fam: str | None, owner: str | None,
                                                              ops: tuple[str, str]) -> None:
    # A value is read (a request parameter known only at apply is recorded as read) when an
    # element first reaches its test, in order: never for an empty list, the second test's never
    # when no element passes the first (reading it would fail a rule closed for nothing).
    def first(r: Rec) -> bool:
        return r.ImageFamily == fam if ops[0] == "==" else r.ImageFamily != fam

    for make in (codegen.element_select, codegen.element_count,
                 lambda t: codegen.element_quantifier(t, True), lambda t: codegen.element_quantifier(t, False)):
        read: list[str] = []

        def reader(name: str, value: str | None, read: list[str] = read) -> Any:
            return lambda c: read.append(name) or value

        tests = [("ImageFamily", ops[0], reader("fam", fam)), ("ImageOwnerId", ops[1], reader("owner", owner))]
        make(tests)(None, recs)
        assert ("fam" in read) == bool(recs)
        if not any(map(first, recs)):
            assert "owner" not in read


def test_a_quantifier_does_not_read_a_value_known_only_at_apply_that_it_never_reaches() -> None:
    from conftest import make_image

    from imagefam.engine.loader import plan_from_data
    from imagefam.engine.policy import load_policy
    from imagefam.engine.preflight import check
    from imagefam.engine.state import State
    from imagefam.rules.errors import Source

    def decide(cond: str, images: list[Any]) -> str:
        policy = load_policy(sources=[Source("x.rules", f'rule r on RunInstances deny when {cond}\n  message "m"\n')],
                             default=False)
        plan = plan_from_data({"caller": "1", "steps": [{"Action": "RunInstances", "RegionId": "r1",
                                                         "ImageFamily": "app-x"}]})
        plan.steps[0].unknown = {"ImageFamily": "known after apply"}
        return str(check(State.of(images), plan, policy).to_json()["steps"][0]["decision"])

    available = [make_image("m-1", Status="Available", ImageOwnerId="1")]
    for cond in ('any(images, Status == "Deprecated" and ImageFamily == request.ImageFamily)',
                 'any(images, ImageOwnerId == "2" and ImageFamily == request.ImageFamily)'):
        assert decide(cond, available) == "allow" and decide(cond, []) == "allow"  # ImageFamily never read
    # an element that reaches the test reads it: the rule cannot be decided, and fails closed
    assert decide('any(images, Status == "Available" and ImageFamily == request.ImageFamily)', available) == "deny"
