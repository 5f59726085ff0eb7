"""Compiled closures: three-valued logic, null propagation, builtins, definitions, messages and
index plans over an ImageStore (checked through ``store.stats``, never by timing)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conftest import T0, compile_expr, ev, load, load_errors, make_image, probe
from hypothesis import given, settings
from hypothesis import strategies as st

from imagefam.engine.environment import EcsContext as Ctx
from imagefam.engine.environment import request_type
from imagefam.engine.models import CreateImageRequest, DeleteImageRequest, Family
from imagefam.engine.store import ImageStore
from imagefam.rules.regex import compile_regex, substituter
from imagefam.rules.types import record

B: dict[str, Any] = {"t": True, "f": False, "n": None}
PARAMS = "t: bool, f: bool, n: bool, i: int, s: string, xs: list[int], ss: list[string], img: Image"


def run(text: str, *, i: int | None = None, s: str | None = None, img: Any = None, **names: Any) -> Any:
    """Evaluate ``text`` with t=true, f=false, n=null, xs=[1, 2], ss=["a", null] and i, s, img as given."""
    return probe(PARAMS, text)(True, False, None, i, s, (1, 2), ("a", None), img, images=ImageStore(), **names)


def kleene_and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def kleene_or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


# ---------------------------------------------------------------- three-valued logic


@pytest.mark.parametrize("a", ["t", "f", "n"])
@pytest.mark.parametrize("b", ["t", "f", "n"])
def test_kleene_and_or(a: str, b: str) -> None:
    for text, want in ((f"{a} and {b}", kleene_and(B[a], B[b])), (f"{a} or {b}", kleene_or(B[a], B[b]))):
        assert run(text) is want, text


@pytest.mark.parametrize("a", ["t", "f", "n"])
def test_kleene_not(a: str) -> None:
    want = None if B[a] is None else not B[a]
    assert run(f"not {a}") is want


def test_kleene_long_chains() -> None:
    assert run("t and n and f") is False
    assert run("f and n and t") is False
    assert run("t and n and t") is None
    assert run("t and t and t") is True
    assert run("f or n or t") is True
    assert run("f or n or f") is None
    assert run("f or f or f") is False


def test_null_literal_logic() -> None:
    assert ev("false and null") is False
    assert ev("null and false") is False
    assert ev("true or null") is True
    assert ev("null or true") is True
    assert ev("null and true") is None
    assert ev("null or false") is None
    assert ev("not null") is None


def test_false_and_true_win_over_null_operands() -> None:
    # len(s) > 1 is null here (s is null); false/true decide whatever its position
    assert run("f and (len(s) > 1)") is False
    assert run("(len(s) > 1) and f") is False
    assert run("t or (len(s) > 1)") is True


# ---------------------------------------------------------------- null propagation


@pytest.mark.parametrize("text", [
    "i < 1", "1 < i", "i <= 1", "i > 1", "i >= 1",
    's startswith "a"', '"a" startswith s', 's endswith "a"', 's contains "a"', 's matches "a"',
    "i + 1", "1 + i", "1 + 2 + i", "-i", 's + "x"',
    "len(s)", "lower(s)", "upper(s)", "str(s)",
    "if n then 1 else 2",
    "img.ImageFamily", "img.ImageFamily startswith \"a\" and img.Status == null",
    "days_between(img.CreationTime, taken_at)", "days_between(@2020-01-01, img.CreationTime)",
])
def test_null_propagates(text: str) -> None:
    assert run(text, taken_at=T0) is None, text


@pytest.mark.parametrize(("text", "want"), [
    ("i in xs", False), ("s not in ss", False),  # two-valued like ==; ss holds null, and null == null
    ("i == null", True), ("i != null", False), ("null == null", True), ("s == \"a\"", False),
    ("i == 1", False), ("1 != i", True), ("img == null", True), ("n == false", False),
])
def test_equality_is_two_valued(text: str, want: bool) -> None:
    assert run(text) is want


def test_values_when_not_null() -> None:
    for text, want in [("i < 4", True), ("i + 1 - 10", -6), ("-i", -3), ('s + "d"', "Abcd"),
                       ('s startswith "Ab"', True), ('s endswith "bc"', True), ('s contains "b"', True),
                       ('s matches "^A.c$"', True), ('s matches "^b"', False), ("len(s)", 3),
                       ("lower(s)", "abc"), ("upper(s)", "ABC"), ("str(i)", "3"),
                       ("if i > 2 then \"big\" else \"small\"", "big"), ('"b" < s', False),
                       ("i in xs", False), ("2 in xs", True), ("2 not in xs", False), ("xs contains 1", True)]:
        assert run(text, i=3, s="Abc") == want, text


def test_attribute_of_null_image_and_request() -> None:
    fn = compile_expr("image.ImageFamily")
    assert fn(Ctx(image=None)) is None
    assert fn(Ctx(image=make_image(ImageFamily="web"))) == "web"
    req = compile_expr("request.ImageFamily", {"request": request_type("CreateImage")})
    assert req(Ctx(request=CreateImageRequest(RegionId="r", ImageFamily="f"))) == "f"


def test_a_broken_non_null_contract_fails_closed() -> None:
    """`request` is never null in an action rule, so its paths compile to one attrgetter; code that
    evaluates a rule without a request gets a denial that says so, never an exception or an allow."""
    from imagefam.engine.evaluation import evaluate

    policy = load('rule r on CreateImage deny when request.ImageFamily == "x" message "m"\n')
    finding = evaluate(policy.rules[0], Ctx(request=None))
    assert finding is not None and finding.unevaluable and finding.severity == "deny"
    assert "could not be evaluated" in finding.message


# ---------------------------------------------------------------- where, quantifiers, collections


def test_where_with_null_condition_is_null() -> None:
    assert ev("[1, null, 3] where it > 1") is None
    assert ev("count([1, null, 3] where it > 1)") is None
    assert ev("exists([1, null] where it > 1)") is None
    assert ev("[1, 2, 3] where it > 1") == (2, 3)
    assert ev("count([1, 2, 3] where it > 1)") == 2
    assert ev("[1, null] where it != null") == (1,)  # == / != never give null
    assert ev("count([] where it > 1)") == 0


def test_where_over_images_with_null_field() -> None:
    store = ImageStore([make_image("a", ImageFamily=None), make_image("b", ImageFamily="web")])
    assert ev('count(images where ImageFamily startswith "w")', store) is None
    assert ev('count(images where ImageFamily != null and ImageFamily startswith "w")', store) == 1
    assert ev('count(images where ImageFamily == "web")', store) == 1
    assert ev("count(images where ImageFamily == null)", store) == 1
    assert ev('count(images where coalesce(ImageFamily, "") startswith "w")', store) == 1


def test_where_condition_false_before_null_is_false_for_that_element() -> None:
    store = ImageStore([make_image("a", ImageFamily=None, RegionId="r2"), make_image("b", ImageFamily="web")])
    # for image a, RegionId == "r1" is false, so the null startswith does not matter
    assert ev('count(images where RegionId == "r1" and ImageFamily startswith "w")', store) == 1
    assert ev('count(images where ImageFamily startswith "w" and RegionId == "r1")', store) == 1
    assert ev('count(images where it.ImageFamily startswith "w" and it.RegionId == "r1")', store) == 1


def test_where_on_null_collection() -> None:
    fn = probe("xs: list[int]", "count(xs where it > 1)")
    assert fn(None) is None
    assert fn((1, 2, 3)) == 2


@pytest.mark.parametrize(("text", "want"), [
    ("all([1, 2], it > 0)", True), ("all([1, -2], it > 0)", False), ("all([], it > 0)", True),
    ("all([1, null], it > 0)", None), ("all([-1, null], it > 0)", False), ("all([null, -1], it > 0)", False),
    ("any([1, 2], it > 1)", True), ("any([1, 2], it > 5)", False), ("any([], it > 0)", False),
    ("any([-1, null], it > 0)", None), ("any([null, 1], it > 0)", True), ("any([1, null], it > 0)", True),
])
def test_quantifiers(text: str, want: bool | None) -> None:
    assert ev(text) is want


def test_quantifiers_over_images_restore_it() -> None:
    store = ImageStore([make_image("a", Status="Deprecated"), make_image("b")])
    assert ev('any(images, Status == "Deprecated")', store) is True
    assert ev('all(images, Status == "Deprecated")', store) is False
    assert ev('all(images, any(images, it.ImageId != "zzz") and ImageId != "")', store) is True
    # an inner where rebinds 'it', the outer one is back afterwards
    assert ev('count(images where count(images where Status == "Deprecated") == 1 and Status == "Available")',
              store) == 1


def test_quantifier_on_null_list() -> None:
    assert probe("xs: list[int]", "all(xs, it > 1)")(None) is None
    assert probe("xs: list[int]", "any(xs, it > 1)")(None) is None
    assert probe("xs: list[int]", "exists(xs)")(None) is None
    ids = probe("xs: list[string]", "ImageId of (images where it.ImageId in xs)")
    store = ImageStore([make_image("a"), make_image("b")])
    assert ids(None, images=store) is None  # null for every element -> the where is null
    assert ids(None, images=ImageStore()) == ()  # ... but no element, no null
    assert ids(("b", "c"), images=store) == ("b",)


def test_distinct_is_unique_and_sorted() -> None:
    assert ev('distinct(["b", "a", "c", "a", "b"])') == ("a", "b", "c")
    assert ev("distinct([3, 1, 3, 2])") == (1, 2, 3)
    assert ev("distinct([3, null, 1, null])") == (None, 1, 3)
    assert ev("distinct([])") == ()
    store = ImageStore([make_image("a", ImageFamily="z"), make_image("b", ImageFamily="a"),
                        make_image("c", ImageFamily="z"), make_image("d", ImageFamily=None)])
    assert ev("distinct(ImageFamily of images)", store) == (None, "a", "z")
    assert ev("distinct(ImageFamily of images where ImageFamily != null)", store) == ("a", "z")


def test_max_min() -> None:
    assert ev("max([3, 1, 2])") == 3
    assert ev("min([3, 1, 2])") == 1
    assert ev('max(["b", "c", "a"])') == "c"
    assert ev("max([])") is None
    assert ev("min([])") is None
    assert ev("max([1, null])") is None
    t1 = T0 + timedelta(days=1)
    store = ImageStore([make_image("a"), make_image("b", CreationTime=t1)])
    assert ev("max(CreationTime of images)", store) == t1
    assert ev("min(CreationTime of images)", store) == T0


def test_count_exists_len_of_lists() -> None:
    assert ev("count([1, 2, 3])") == 3
    assert ev("exists([])") is False
    assert ev("exists([null])") is True
    assert ev("len([1, 2])") == 2
    assert ev("len(\"\")") == 0
    assert ev("[1] + [2, 3]") == (1, 2, 3)


def test_coalesce() -> None:
    assert ev("coalesce(null, 2)") == 2
    assert ev("coalesce(1, 2)") == 1
    assert ev("coalesce(null, null)") is None
    assert ev('coalesce(image.ImageFamily, "none")', image=None) == "none"
    assert ev('coalesce(image.ImageFamily, "none")', image=make_image(ImageFamily="f")) == "f"
    assert ev("coalesce(false, true)") is False  # false is a value, not null


def test_replace_regex() -> None:
    assert ev('replace_regex("acs:1234:web", "^acs:[^:]+:", "")') == "web"
    assert ev('replace_regex("acs:ubuntu", "^acs:[^:]+:", "")') == "acs:ubuntu"
    assert ev('replace_regex("a-b-c", "-", "+")') == "a+b+c"
    assert ev('replace_regex("ab", "(a)", "\\\\1x")') == "\\1xb"  # the replacement is literal text
    assert run('replace_regex(s, "a", "b")') is None
    assert run('replace_regex("a", "a", s)') is None


def test_days_between() -> None:
    assert ev("days_between(@2020-01-01T00:00:00Z, @2020-01-31T00:00:00Z)") == 30
    assert ev("days_between(@2020-01-01T00:00:00Z, @2020-01-02T23:59:59Z)") == 1
    assert ev("days_between(@2020-01-01, @2020-01-01)") == 0
    assert ev("days_between(@2020-01-31, @2020-01-01)") == -30
    assert ev("days_between(@2020-01-01, taken_at)", taken_at=None) is None
    assert ev("days_between(image.CreationTime, taken_at)", image=make_image(),
              taken_at=T0 + timedelta(days=45, hours=3)) == 45


def test_in_and_not_in_with_lists() -> None:
    assert ev('"a" in ["a", "b"]') is True
    assert ev('"c" in ["a", "b"]') is False
    assert ev('"c" not in ["a", "b"]') is True
    assert ev('"a" not in ["a", "b"]') is False
    assert ev('"a" in []') is False
    # x in xs means x == xs[0] or x == xs[1] ...: two-valued like ==, null only for a null list
    assert ev('null in ["a"]') is False
    assert ev('null not in ["a"]') is True
    assert ev('null in ["a", null]') is True
    assert ev('"a" in ["b", null]') is False
    assert ev('caller in image.SharedWith', image=make_image(SharedWith=("1002", "1003")), caller="1003") is True
    assert ev('caller in image.SharedWith', image=None, caller="1003") is None
    assert ev("2 in [1] + [2]") is True


def test_contains_on_strings_and_lists() -> None:
    assert ev('"abc" contains "bc"') is True
    assert ev('["a", "b"] contains "b"') is True
    assert ev('["a", "b"] contains "c"') is False
    assert ev('image.SharedWith contains caller', image=make_image(SharedWith=("x",)), caller="x") is True


def test_timestamps_compare_across_offsets() -> None:
    assert ev("@2020-01-03T08:00:00+08:00 == @2020-01-03T00:00:00Z") is True
    assert ev("@2020-01-03T00:00:00Z < @2020-01-03T00:00:01Z") is True
    assert ev("image.CreationTime == @2020-01-03", image=make_image()) is True


def test_str_renders_values() -> None:
    assert ev("str([1, 2])") == "[1, 2]"
    assert ev("str(true)") == "true"
    assert ev("str(@2020-01-03T04:05:06Z)") == "2020-01-03T04:05:06Z"
    assert ev("str(image)", image=make_image("i-9")) == "i-9"


def test_project() -> None:
    store = ImageStore([make_image("a", ImageFamily="x"), make_image("b", ImageFamily=None)])
    assert ev("ImageId of images", store) == ("a", "b")
    assert ev("ImageFamily of images", store) == ("x", None)
    assert ev('ImageId of (images where ImageFamily == "x")', store) == ("a",)
    fam = Family(Name="f", RegionId="r1", OwnerId="1001", Images=(make_image("a"), make_image("b")))
    fn = compile_expr("ImageId of family.Images", {"family": record("Family")})
    assert fn(Ctx(family=fam)) == ("a", "b")


def test_project_over_null_element() -> None:
    policy = load('rule r on DeleteImage deny when count(ImageFamily of [image]) == 1 message "m"\n')
    ctx = Ctx(ImageStore(), request=DeleteImageRequest(RegionId="r", ImageId="i"), image=None)
    assert policy.rules[0].cond(ctx) in (True, None)


def test_resolve_builtin_calls_the_resolver() -> None:
    calls: list[tuple[str, str, str]] = []

    def resolve(fam: str, region: str, caller: str) -> Any:
        calls.append((fam, region, caller))
        return make_image("chosen") if fam == "web" else None

    policy = load('rule r on RunInstances deny when resolve(request.ImageFamily, request.RegionId, caller) == null '
                  'message "{request.ImageFamily} resolves to {resolve(request.ImageFamily, request.RegionId, caller)}"\n',
                  default=True)
    from imagefam.engine.models import RunInstancesRequest

    rule = policy.rule("r")
    assert rule is not None
    ok = Ctx(ImageStore(), request=RunInstancesRequest(RegionId="r1", ImageFamily="web"), caller="1001",
             resolve=resolve)
    assert rule.cond(ok) is False
    assert rule.message(ok) == "web resolves to chosen"
    bad = Ctx(ImageStore(), request=RunInstancesRequest(RegionId="r1", ImageFamily="db"), caller="1001",
              resolve=resolve)
    assert rule.cond(bad) is True
    assert calls[0] == ("web", "r1", "1001")
    # a null argument never reaches the resolver
    none = Ctx(ImageStore(), request=RunInstancesRequest(RegionId="r1"), caller="1001", resolve=resolve)
    n = len(calls)
    assert rule.cond(none) is True and len(calls) == n


# ---------------------------------------------------------------- definitions


def test_definitions_with_parameters_and_constants() -> None:
    policy = load(
        "def limit = 2\n"
        "def double(x: int) = x + x\n"
        "def in_region(img: Image, r: string) = img.RegionId == r\n"
        "def names(xs: list[string]) = distinct(xs)\n"
        "def n_in(r: string) = count(images where RegionId == r)\n"
        "rule r on DeleteImage deny when double(limit) == 4 and in_region(image, \"r1\")\n"
        "  and names([\"b\", \"a\", \"b\"]) == [\"a\", \"b\"] and n_in(\"r1\") == 2 and n_in(\"r2\") == 1\n"
        '  message "{double(double(limit))} {n_in(image.RegionId)}"\n'
    )
    store = ImageStore([make_image("a"), make_image("b"), make_image("c", RegionId="r2")])
    ctx = Ctx(store, image=store.get("a"), request=DeleteImageRequest(RegionId="r1", ImageId="a"))
    rule = policy.rules[0]
    assert rule.cond(ctx) is True
    assert rule.message(ctx) == "8 2"
    assert rule.cond(Ctx(store, image=store.get("c"))) is False
    assert ctx.args == () and ctx.it is None  # calls restore the context


def test_definition_calls_nested_in_where_keep_it() -> None:
    policy = load(
        "def fam(img: Image) = img.ImageFamily\n"
        "def same_family(img: Image) = count(images where ImageFamily == fam(img))\n"
        "rule r on DeleteImage deny when count(images where same_family(it) == 2) == 2 message \"m\"\n"
    )
    store = ImageStore([make_image("a", ImageFamily="x"), make_image("b", ImageFamily="x"),
                        make_image("c", ImageFamily="y")])
    assert policy.rules[0].cond(Ctx(store)) is True


def test_parameter_named_it_is_rejected() -> None:
    # the compiled code would read the parameter where the checker typed the element
    diags = load_errors("def f(it: int) = count([1, 2, 3] where it > 1)\n"
                        'rule r on DeleteImage deny when f(0) == 2 message "m"\n')
    assert [(d.span.line, d.span.col, d.message) for d in diags] == [(1, 7, "parameter name 'it' is reserved")]


@pytest.mark.parametrize("name", ["Status", "ImageFamily", "count"])
def test_field_and_builtin_parameter_names_are_rejected(name: str) -> None:
    # a PascalCase parameter would be taken for an image field by the index plan
    diags = load_errors(f'def f({name}: string) = count(images where ImageId == "x")\n')
    assert [d.message for d in diags] == [f"parameter name {name!r} is reserved"]
    assert diags[0].hint is not None and "pick a lower-case name" in diags[0].hint


def test_long_chain_of_definitions() -> None:
    from imagefam.rules.errors import PolicyError

    n = 1000
    text = ("def d0 = 1\n" + "".join(f"def d{i} = d{i - 1} + 1\n" for i in range(1, n))
            + f'rule r on CreateImage deny when d{n - 1} == {n} message "m"\n')
    try:
        policy = load(text)
    except PolicyError:
        return  # a clear diagnostic is acceptable too
    assert policy.rules[0].cond(Ctx(ImageStore())) is True


# ---------------------------------------------------------------- messages and explain


def test_message_template_rendering() -> None:
    policy = load(
        'rule r on DeleteImage deny when image != null and image.Status != "Available"\n'
        '  message "{{literal}} {image.ImageId} is {image.Status}; shared={image.SharedWith} '
        'public={image.IsPublic} fam={image.ImageFamily} at={image.CreationTime} '
        'n={count(images)} q={coalesce(image.ImageOwnerAlias, \\"custom\\")}"\n'
    )
    store = ImageStore([make_image("i-1", Status="Deprecated", SharedWith=("1", "2"), ImageFamily=None)])
    ctx = Ctx(store, image=store.get("i-1"))
    rule = policy.rules[0]
    assert rule.cond(ctx) is True
    assert rule.message(ctx) == ("{literal} i-1 is Deprecated; shared=[1, 2] public=false fam=null "
                                 "at=2020-01-03T00:00:00Z n=1 q=custom")
    assert rule.explain(ctx) == [("image", "i-1"), ("image.Status", "Deprecated")]
    assert rule.text == 'image != null and image.Status != "Available"'


def test_rule_without_message_template_holes() -> None:
    rule = load('rule r on DeleteImage deny when true message "plain {{x}}"\n').rules[0]
    assert rule.message(Ctx()) == "plain {x}"


# ---------------------------------------------------------------- index plans over an ImageStore

N_IMAGES = 200_000
REGIONS, FAMILIES, STATUSES = 5, 10, ("Available", "Deprecated", "Creating")


def _img(k: int, **kw: Any) -> Any:
    fields: dict[str, Any] = {
        "RegionId": f"r{k % REGIONS}", "ImageFamily": f"f{(k // REGIONS) % FAMILIES}",
        "Status": STATUSES[(k // 7) % 3], "ImageOwnerId": str(1000 + k % 3),
        "CreationTime": T0 + timedelta(seconds=k),
    }
    fields.update(kw)
    return make_image(f"i-{k}", **fields)


@pytest.fixture(scope="module")
def big() -> list[Any]:
    return [_img(k) for k in range(N_IMAGES)]


def _brute(images: Any, **want: Any) -> int:
    return sum(1 for i in images if all(getattr(i, f) == v for f, v in want.items()))


FILTER = 'count(images where RegionId == "r1" and ImageFamily == "f3" and Status == "Available")'


def test_filtered_count_uses_only_its_bucket(big: list[Any]) -> None:
    store = ImageStore(big)
    expected = _brute(big, RegionId="r1", ImageFamily="f3", Status="Available")
    assert 0 < expected < N_IMAGES // 100
    fn = compile_expr(FILTER)
    assert fn(Ctx(store)) == expected
    assert store.stats.builds == 1
    assert store.stats.lookups == 1
    assert store.stats.served == expected
    assert store.stats.scans == 0
    assert fn(Ctx(store)) == expected  # the index is reused, not rebuilt
    assert (store.stats.builds, store.stats.lookups, store.stats.served, store.stats.scans) == (
        1, 2, 2 * expected, 0)


def test_index_with_remaining_condition_and_key_expressions(big: list[Any]) -> None:
    store = ImageStore(big)
    cutoff = T0 + timedelta(seconds=100_000)
    fn = compile_expr("count(images where caller == ImageOwnerId and it.RegionId == request.RegionId "
                      "and CreationTime > @2020-01-04T03:46:40Z)", {"request": request_type("DeleteImage")})
    ctx = Ctx(store, caller="1001", request=DeleteImageRequest(RegionId="r2", ImageId="x"))
    assert fn(ctx) == sum(1 for i in big if i.RegionId == "r2" and i.ImageOwnerId == "1001"
                          and i.CreationTime > cutoff)
    # the key is (ImageOwnerId, RegionId); the CreationTime test runs on that bucket only
    bucket = _brute(big, RegionId="r2", ImageOwnerId="1001")
    assert (store.stats.lookups, store.stats.served, store.stats.scans) == (1, bucket, 0)
    assert bucket < _brute(big, RegionId="r2")


def test_unindexable_filter_scans(big: list[Any]) -> None:
    store = ImageStore(big[:1000])
    assert ev('count(images where ImageFamily startswith "f3")', store) == sum(
        1 for i in big[:1000] if i.ImageFamily.startswith("f3"))
    assert store.stats.scans == 1 and store.stats.lookups == 0


def test_index_key_from_definition_parameter() -> None:
    policy = load("def in_family(img: Image) = count(images where ImageFamily == img.ImageFamily "
                  "and RegionId == img.RegionId)\n"
                  'rule r on DeleteImage deny when in_family(image) == 2 message "m"\n')
    images = [make_image("a"), make_image("b"), make_image("c", ImageFamily="B"), make_image("d", RegionId="r9")]
    store = ImageStore(images)
    assert policy.rules[0].cond(Ctx(store, image=store.get("a"))) is True
    assert policy.rules[0].cond(Ctx(store, image=store.get("c"))) is False
    assert store.stats.scans == 0 and store.stats.lookups == 2


def test_index_lookup_with_null_key() -> None:
    store = ImageStore([make_image("a", ImageFamily=None), make_image("b")])
    fn = compile_expr("count(images where ImageFamily == image.ImageFamily)")
    assert fn(Ctx(store, image=None)) == 1  # null == null is true, two-valued
    assert fn(Ctx(store, image=store.get("b"))) == 1
    assert store.stats.scans == 0


def test_indexes_follow_put_and_remove() -> None:
    images = [_img(k) for k in range(3000)]
    store = ImageStore(images)
    q_r1f3 = compile_expr('count(images where RegionId == "r1" and ImageFamily == "f3")')
    q_f9 = compile_expr('count(images where ImageFamily == "f9")')
    q_ids = compile_expr('ImageId of (images where RegionId == "r1" and ImageFamily == "f3")')

    def check() -> None:
        current = list(store._by_id.values())
        assert q_r1f3(Ctx(store)) == _brute(current, RegionId="r1", ImageFamily="f3")
        assert q_f9(Ctx(store)) == _brute(current, ImageFamily="f9")
        assert sorted(q_ids(Ctx(store))) == sorted(
            i.ImageId for i in current if i.RegionId == "r1" and i.ImageFamily == "f3")

    check()
    builds = store.stats.builds
    assert builds <= 2  # partitions may serve these without an index of their own
    # a new image into an existing bucket
    store.put(_img(10_001, RegionId="r1", ImageFamily="f3"))
    check()
    # an image moving between buckets (same id, new family)
    moving = next(i for i in images if i.RegionId == "r1" and i.ImageFamily == "f3")
    old = store.put(_img(int(moving.ImageId[2:]), RegionId="r1", ImageFamily="f9"))
    assert old is moving
    check()
    # and on, into a brand-new bucket (images are keyed by id and region: they cannot change region)
    store.put(_img(int(moving.ImageId[2:]), RegionId="r1", ImageFamily="f77"))
    check()
    assert q_r1f3(Ctx(store)) == _brute(images, RegionId="r1", ImageFamily="f3")  # +1 new, -1 moved
    # removing every image of a bucket empties it
    for i in [i for i in list(store._by_id.values()) if i.ImageFamily == "f9"]:
        assert store.remove(i.ImageId, i.RegionId) is i
    check()
    assert q_f9(Ctx(store)) == 0
    assert store.remove("no-such-image") is None
    check()
    assert store.stats.builds == builds  # updated incrementally, never rebuilt
    assert store.stats.scans == 0


def test_put_and_remove_exact_counts() -> None:
    store = ImageStore([make_image("a"), make_image("b")])
    q = compile_expr('count(images where ImageFamily == "A" and Status == "Available")')
    assert q(Ctx(store)) == 2
    store.put(make_image("c"))
    assert q(Ctx(store)) == 3
    store.put(make_image("a", Status="Deprecated"))  # replaces a, moves it out of the bucket
    assert q(Ctx(store)) == 2
    store.put(make_image("a"))
    assert q(Ctx(store)) == 3
    store.remove("b")
    assert q(Ctx(store)) == 2
    assert ev('count(images where ImageFamily == "A" and Status == "Deprecated")', store) == 0
    assert store.stats.builds == 1 and store.stats.scans == 0


def test_indexed_where_over_plain_tuple_images() -> None:
    images = (make_image("a"), make_image("b", RegionId="r2"))
    assert ev('count(images where RegionId == "r1")', images) == 1


def test_now_relative_rule() -> None:
    policy = load("def max_age = 30\n"
                  "rule r on DeleteImage warn when days_between(image.CreationTime, taken_at) > max_age "
                  'message "{image.ImageId} is {days_between(image.CreationTime, taken_at)} days old"\n')
    rule = policy.rules[0]
    img = make_image("old")
    assert rule.cond(Ctx(image=img, taken_at=T0 + timedelta(days=31))) is True
    assert rule.message(Ctx(image=img, taken_at=T0 + timedelta(days=31))) == "old is 31 days old"
    assert rule.cond(Ctx(image=img, taken_at=T0 + timedelta(days=30))) is False
    assert rule.cond(Ctx(image=img, taken_at=None)) is None


# ---- loop-invariant subexpressions of a where: computed once per run, as if per element

# (>=, not ==: an == with an expression free of the element would be an index key, computed once anyway)
NEWEST = ('count(images where RegionId == "r1" and Status == "Available" and CreationTime >= '
          'max(CreationTime of images where RegionId == "r1" and Status == "Available"))')


def _newest_brute(images: list[Any]) -> int:
    avail = [i for i in images if i.RegionId == "r1" and i.Status == "Available"]
    newest = max(i.CreationTime for i in avail)
    return sum(1 for i in avail if i.CreationTime == newest)


def test_an_invariant_subexpression_is_computed_once_per_run() -> None:
    images = [make_image(f"i-{k}", CreationTime=T0 + timedelta(days=k % 7)) for k in range(60)]
    store = ImageStore(images)
    fn = compile_expr(NEWEST)
    assert fn(Ctx(store)) == _newest_brute(images) == 8
    assert store.stats.lookups == 2  # the outer bucket, then the inner max once (not once per image: 61)
    assert fn(Ctx(store)) == 8 and store.stats.lookups == 4  # a new run computes it again
    # the images changed between runs: the value is not kept from the run before
    store.put(make_image("i-new", CreationTime=T0 + timedelta(days=30)))
    assert fn(Ctx(store)) == 1


def test_an_invariant_subexpression_is_not_computed_for_an_empty_list() -> None:
    store = ImageStore([make_image("a", RegionId="r2")])
    fn = compile_expr(NEWEST)
    assert fn(Ctx(store)) == 0
    assert store.stats.lookups == 1  # only the (empty) outer bucket: max never asked


def test_expressions_reading_the_element_are_not_hoisted() -> None:
    images = [make_image("a", ImageFamily="A"), make_image("b", ImageFamily="B"), make_image("c", ImageFamily="B"),
              make_image("d", ImageFamily="C")]
    # count(images where ImageFamily == it.ImageFamily) reads the element: once per image
    assert ev("count(images where count(images where ImageFamily == it.ImageFamily) > 0 and "
              "count(images where RegionId == \"r1\") == 4)", ImageStore(images)) == 4
    store = ImageStore(images)
    fn = compile_expr('images where count(images where ImageFamily == "B") == 2 and ImageFamily != "B"')
    assert [i.ImageId for i in fn(Ctx(store))] == ["a", "d"]
    assert store.stats.lookups == 1  # the invariant count once; the outer list is a scan
    assert store.stats.scans == 1


def test_invariant_in_a_definition_with_a_family_parameter() -> None:
    policy = load("def newest(f: Family) = f.Images where CreationTime == max(CreationTime of f.Images)\n"
                  "audit tie for each family warn when count(newest(family)) > 1 message \"m\"\n")
    imgs = (make_image("a"), make_image("b"), make_image("c", CreationTime=T0 - timedelta(days=1)))
    rule = policy.audits["family"][0]
    assert rule.cond(Ctx((), family=Family("A", "r1", "1001", imgs))) is True
    assert rule.cond(Ctx((), family=Family("A", "r1", "1001", imgs[1:]))) is False
    assert rule.cond(Ctx((), family=Family("A", "r1", "1001", ()))) is False


# ---------------------------------------------------------------- definitions called from Python


def test_a_definition_is_a_python_callable_over_its_compiled_closure() -> None:
    from imagefam.engine.policy import load_policy
    from imagefam.rules.compiled import DefinitionError

    policy = load_policy()
    visible = policy.function("visible", ("Image", "string"))
    own = make_image("m-1", ImageOwnerId="100001")
    shared = make_image("m-2", ImageOwnerId="100001", SharedWith=("200002",))
    assert [visible(own, "100001"), visible(own, "200002"), visible(shared, "200002")] == [True, False, True]
    assert policy.function("short_name", ("string",))("acs:100001:web") == "web"
    with pytest.raises(DefinitionError, match="the policy has no definition 'visibel'"):
        policy.function("visibel", ("Image", "string"))
    with pytest.raises(DefinitionError, match=r"definition visible\(img: Image, viewer: string\) at "
                                              r"imagefam/policy/visibility\.rules:\d+ does not take"):
        policy.function("visible", ("Image",))
    with pytest.raises(TypeError, match="takes 2 arguments"):
        visible(own)


class _CountingRequest:
    """A request whose ImageFamily counts how often it is read."""

    def __init__(self, family: str | None) -> None:
        self._family, self.reads = family, 0

    @property
    def ImageFamily(self) -> str | None:
        self.reads += 1
        return self._family


@pytest.mark.parametrize("family", [None, "", "aliyun-x", "web", "x-https://y"])
def test_tests_of_one_string_read_it_once(family: str | None) -> None:
    # The shipped family-name-reserved condition: the null and empty guards and the three string
    # tests of request.ImageFamily run as one closure that reads the field once, with the same
    # three-valued answer as the tests one by one.
    text = ('request.ImageFamily != null and request.ImageFamily != "" and (request.ImageFamily startswith "aliyun" '
            'or request.ImageFamily contains "http://" or request.ImageFamily contains "https://")')
    fn = compile_expr(text, {"request": request_type("CreateImage")})
    req = _CountingRequest(family)
    got = fn(Ctx((), request=req))
    want = family is not None and family != "" and (family.startswith("aliyun") or "://" in family)
    assert got is want
    assert req.reads == 1


_SUB_PATTERNS = ["^acs:[^:]+:", ":.*\\z", "^acs:", "a|$", "x*", "é+", "^", "\\z", "(a)(b)?", "ab|a", "[^:]"]


@given(st.sampled_from(_SUB_PATTERNS), st.text(alphabet="abxé:c一", max_size=10),
       st.sampled_from(["", "Z", "é", "\\1"]))
@settings(max_examples=300, deadline=None)
def test_replace_regex_is_the_packages_sub(pattern: str, text: str, repl: str) -> None:
    """The substituter's own pass over RE2's matches gives what google-re2's ``sub`` gives (empty
    matches, multi-byte characters, anchors, a replacement that looks like a group reference)."""
    want = compile_regex(pattern).sub(lambda _m: repl, text)
    f = substituter(pattern)
    assert f(text, repl) == want
    assert f(text, repl) == want  # again, from the memo
