"""Differential test: random well-typed expressions, evaluated by the compiled closures and by a plain
tree-walking reference evaluator written here from the documented semantics (not from compiler.py).

Semantics implemented by the reference:
- null is None; ``and``/``or``/``not`` are Kleene (false and null = false, true or null = true);
- ``==``/``!=`` are two-valued (null == null is true); every other operator with a null operand is null;
- ``if`` with a null condition is null;
- ``images where c`` is null when ``c`` is null for some element, so ``count``/``exists`` of it are null;
- ``all``/``any`` are Kleene quantifiers (false / true wins, else null if some element is null).

Set IMAGEFAM_FUZZ_EXAMPLES to run more examples (default 200).
"""

from __future__ import annotations

import functools
import json
import os
import re
from datetime import timedelta
from typing import Any

from conftest import T0, compile_expr, load, make_image
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagefam.engine.environment import EcsContext as Ctx
from imagefam.engine.store import ImageStore
from imagefam.rules.types import STRING

EXAMPLES = int(os.environ.get("IMAGEFAM_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

Node = tuple[Any, ...]

STRINGS = ["a", "b", "ab", "", "r1", "1", "i0"]
STATUSES = ["Available", "Deprecated", "Creating"]
STR_FIELDS = ["ImageFamily", "ImageOwnerId", "RegionId", "ImageId"]
MAX_DEPTH = 4

# ---------------------------------------------------------------- generation


def _leaves(ty: str, elem: bool) -> st.SearchStrategy[Node]:
    null = st.just(("lit", None))
    if ty == "int":
        return st.one_of(st.builds(lambda v: ("lit", v), st.integers(0, 3)), null)
    if ty == "str":
        opts = [st.builds(lambda v: ("lit", v), st.sampled_from(STRINGS)), null, st.just(("var", "caller")),
                st.just(("var", "region")),
                st.builds(lambda f: ("ifield", f), st.sampled_from(STR_FIELDS))]
        if elem:
            opts.append(st.builds(lambda f: ("efield", f), st.sampled_from(STR_FIELDS[:3])))
            opts.append(st.just(("itfield", "ImageId")))
        return st.one_of(*opts)
    opts = [st.builds(lambda v: ("lit", v), st.sampled_from([True, False])), null,
            st.just(("ifield", "IsPublic")),
            st.builds(lambda op, v: ("cmp", op, ("ifield", "Status"), ("lit", v)),
                      st.sampled_from(["==", "!="]), st.sampled_from(STATUSES))]
    if elem:
        opts += [st.just(("efield", "IsPublic")),
                 st.builds(lambda op, v: ("cmp", op, ("efield", "Status"), ("lit", v)),
                           st.sampled_from(["==", "!="]), st.sampled_from(STATUSES)),
                 st.builds(lambda v: ("cmp", "==", ("lit", v), ("itfield", "Status")), st.sampled_from(STATUSES))]
    return st.one_of(*opts)


@functools.cache
def expr(ty: str, depth: int, elem: bool) -> st.SearchStrategy[Node]:
    leaves = _leaves(ty, elem)
    if depth == 0:
        return leaves

    def sub(t: str, in_where: bool = elem) -> st.SearchStrategy[Node]:
        return expr(t, depth - 1, in_where)

    cond = conds(depth - 1)
    opts: list[st.SearchStrategy[Node]] = [leaves]
    if ty == "bool":
        opts += [
            st.builds(lambda op, ps: (op, ps), st.sampled_from(["and", "or"]), st.lists(sub("bool"), min_size=2, max_size=3)),
            st.builds(lambda x: ("not", x), sub("bool")),
            *[st.builds(lambda op, a, b: ("cmp", op, a, b), st.sampled_from(["==", "!="]), sub(t), sub(t))
              for t in ("int", "str", "bool")],
            *[st.builds(lambda a, b: ("cmp", "<", a, b), sub(t), sub(t)) for t in ("int", "str")],
            st.builds(lambda a, b: ("cmp", "startswith", a, b), sub("str"), sub("str")),
            string_tests(),
            st.builds(lambda op, a, items: ("cmp", op, a, ("list", items)), st.sampled_from(["in", "not in"]),
                      sub("str"), st.lists(_leaves("str", elem), max_size=3)),
            st.builds(lambda c, a, b: ("if", c, a, b), sub("bool"), sub("bool"), sub("bool")),
            st.builds(lambda c: ("exists", c), cond),
            st.builds(lambda q, c: (q, c), st.sampled_from(["all", "any"]), cond),
        ]
    elif ty == "int":
        opts += [
            st.builds(lambda ps, ops: ("add", ps, ops[: len(ps) - 1]), st.lists(sub("int"), min_size=2, max_size=3),
                      st.lists(st.sampled_from(["+", "-"]), min_size=2, max_size=2)),
            st.builds(lambda x: ("neg", x), sub("int")),
            st.builds(lambda c, a, b: ("if", c, a, b), sub("bool"), sub("int"), sub("int")),
            st.builds(lambda c: ("count", c), cond),
            st.builds(lambda x: ("len", x), sub("str")),
        ]
    else:
        opts += [
            st.builds(lambda ps: ("add", ps, ["+"] * (len(ps) - 1)), st.lists(sub("str"), min_size=2, max_size=3)),
            st.builds(lambda c, a, b: ("if", c, a, b), sub("bool"), sub("str"), sub("str")),
            st.builds(lambda a, b: ("coalesce", a, b), sub("str"), sub("str")),
        ]
    return st.one_of(*opts)


PATTERNS = ["^a", "b", "a.b", "^$", "^[a-z]+\\z"]


@functools.cache
def string_tests() -> st.SearchStrategy[Node]:
    """Tests of one string operand against literals, joined by and/or/not: the compiler reads the
    operand once for them (rules/strpreds.py)."""
    operands = st.sampled_from([("var", "region"), ("var", "caller"), ("ifield", "ImageFamily")])
    one = st.builds(lambda op, k: (op, k), st.sampled_from(["startswith", "endswith", "contains"]),
                    st.sampled_from([*STRINGS, "http://", "acs"])) | st.builds(lambda k: ("matches", k),
                                                                                st.sampled_from(PATTERNS))

    def build(x: Node, tests: list[tuple[str, str]], op: str, negate: list[bool]) -> Node:
        parts: list[Node] = [("cmp", t, x, ("lit", k)) for t, k in tests]
        parts = [("not", p) if n else p for p, n in zip(parts, negate, strict=False)]
        return parts[0] if len(parts) == 1 else (op, parts)

    def guarded(x: Node, pred: Node, op: str) -> Node:  # is_set(x) and ..., x == null or ...
        if op == "and":
            return ("and", [("cmp", "!=", x, ("lit", None)), ("cmp", "!=", x, ("lit", "")), pred])
        return ("or", [("cmp", "==", x, ("lit", None)), pred])

    def of(x: Node) -> st.SearchStrategy[Node]:
        pred = st.builds(build, st.just(x), st.lists(one, min_size=1, max_size=4), st.sampled_from(["and", "or"]),
                         st.lists(st.booleans(), min_size=4, max_size=4))
        return pred | st.builds(guarded, st.just(x), pred, st.sampled_from(["and", "or"]))

    return operands.flatmap(of)


@functools.cache
def conds(depth: int) -> st.SearchStrategy[Node]:
    """A condition over the elements of ``images``; the second form is one the compiler answers from a
    hash index: ``Field == <element-free expr> and ... and rest``."""
    keyed = st.one_of(
        st.builds(lambda f, key, flip: ("cmp", "==", key, f) if flip else ("cmp", "==", f, key),
                  st.sampled_from([("efield", "ImageFamily"), ("efield", "ImageOwnerId"), ("efield", "RegionId"),
                                   ("itfield", "ImageId"), ("itfield", "RegionId")]),
                  expr("str", depth, False), st.booleans()),
        st.builds(lambda v: ("cmp", "==", ("efield", "Status"), ("lit", v)), st.sampled_from(STATUSES)),
    )
    indexed = st.builds(lambda ks, rest: ("and", [*ks, *rest]) if len(ks) + len(rest) > 1 else ks[0],
                        st.lists(keyed, min_size=1, max_size=3), st.lists(expr("bool", depth, True), max_size=1))
    plain = expr("bool", depth, True)
    # (one_of would flatten ``plain``'s many branches and make ``indexed`` rare)
    return st.booleans().flatmap(lambda use_index: indexed if use_index else plain)


@st.composite
def image_sets(draw: st.DrawFn) -> list[Any]:
    n = draw(st.integers(0, 6))
    out = []
    for k in range(n):
        out.append(make_image(
            f"i{k}",
            RegionId=draw(st.sampled_from(["r1", "r2"])),
            ImageFamily=draw(st.sampled_from([None, "a", "b", "ab"])),
            ImageOwnerId=draw(st.sampled_from([None, "a", "1"])),
            Status=draw(st.sampled_from(STATUSES)),
            IsPublic=draw(st.booleans()),
            CreationTime=T0 + timedelta(days=k),
        ))
    return out


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[Any], Any, str]:
    images = draw(image_sets())
    extra = make_image("i9", ImageFamily=draw(st.sampled_from([None, "a"])), ImageOwnerId=None,
                       Status=draw(st.sampled_from(STATUSES)))
    image = draw(st.sampled_from([None, extra, *images]))
    caller = draw(st.sampled_from(["a", "1", "x"]))
    region = draw(st.sampled_from([None, "", "a", "ab", "acs-x", "http://b", "zz"]))  # a nullable string
    return images, image, caller, region


# ---------------------------------------------------------------- rendering


def render(n: Node, names: dict[str, str] | None = None) -> str:
    if names:  # another spelling for some variables (a rule on an action cannot name `region`)
        return _render(n, names)
    return _render(n, {})


def _render(n: Node, names: dict[str, str]) -> str:
    def render(x: Node) -> str:
        return _render(x, names)

    k = n[0]
    if k == "lit":
        v = n[1]
        if v is None:
            return "null"
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v) if isinstance(v, int) else json.dumps(v)
    if k == "var":
        return names.get(n[1], str(n[1]))
    if k == "ifield":
        return f"image.{n[1]}"
    if k == "efield":
        return str(n[1])
    if k == "itfield":
        return f"it.{n[1]}"
    if k in ("and", "or"):
        return f" {k} ".join(f"({render(p)})" for p in n[1])
    if k == "not":
        return f"not ({render(n[1])})"
    if k == "neg":
        return f"-({render(n[1])})"
    if k == "cmp":
        return f"({render(n[2])}) {n[1]} ({render(n[3])})"
    if k == "list":
        return "[" + ", ".join(render(i) for i in n[1]) + "]"
    if k == "add":
        out = f"({render(n[1][0])})"
        for op, p in zip(n[2], n[1][1:], strict=True):
            out += f" {op} ({render(p)})"
        return out
    if k == "if":
        return f"if ({render(n[1])}) then ({render(n[2])}) else ({render(n[3])})"
    if k == "count":
        return f"count(images where ({render(n[1])}))"
    if k == "exists":
        return f"exists(images where ({render(n[1])}))"
    if k in ("all", "any"):
        return f"{k}(images, {render(n[1])})"
    if k == "len":
        return f"len({render(n[1])})"
    if k == "coalesce":
        return f"coalesce({render(n[1])}, {render(n[2])})"
    raise AssertionError(k)


# ---------------------------------------------------------------- the reference evaluator


def _kleene_and(vals: list[Any]) -> bool | None:
    if any(v is False for v in vals):
        return False
    return None if any(v is None for v in vals) else True


def _kleene_or(vals: list[Any]) -> bool | None:
    if any(v is True for v in vals):
        return True
    return None if any(v is None for v in vals) else False


def _filter(images: list[Any], cond: Node, env: dict[str, Any]) -> list[Any] | None:
    out, unknown = [], False
    for img in images:
        v = ref(cond, {**env, "it": img})
        if v is None:
            unknown = True
        elif v:
            out.append(img)
    return None if unknown else out


def ref(n: Node, env: dict[str, Any]) -> Any:
    k = n[0]
    if k == "lit":
        return n[1]
    if k == "var":
        return env[n[1]]
    if k == "ifield":
        return None if env["image"] is None else getattr(env["image"], n[1])
    if k in ("efield", "itfield"):
        return getattr(env["it"], n[1])
    if k == "and":
        return _kleene_and([ref(p, env) for p in n[1]])
    if k == "or":
        return _kleene_or([ref(p, env) for p in n[1]])
    if k == "not":
        v = ref(n[1], env)
        return None if v is None else not v
    if k == "neg":
        v = ref(n[1], env)
        return None if v is None else -v
    if k == "cmp":
        op, a, b = n[1], ref(n[2], env), ref(n[3], env)
        if op == "==":
            return a == b
        if op == "!=":
            return a != b
        if op in ("in", "not in"):  # x in xs is x == xs[0] or ...: two-valued in x, null for a null list
            if b is None:
                return None
            return (a in b) if op == "in" else (a not in b)
        if a is None or b is None:
            return None
        if op == "<":
            return a < b
        if op == "startswith":
            return a.startswith(b)
        if op == "endswith":
            return a.endswith(b)
        if op == "contains":
            return b in a
        if op == "matches":  # the patterns used here mean the same in RE2 and Python's re
            return re.search(b.replace("\\z", "\\Z"), a) is not None
        if op == "in":
            return a in b
        if op == "not in":
            return a not in b
        raise AssertionError(op)
    if k == "list":
        return tuple(ref(i, env) for i in n[1])
    if k == "add":
        vals = [ref(p, env) for p in n[1]]
        if any(v is None for v in vals):
            return None
        acc = vals[0]
        for op, v in zip(n[2], vals[1:], strict=True):
            acc = acc + v if op == "+" else acc - v
        return acc
    if k == "if":
        c = ref(n[1], env)
        if c is None:
            return None
        return ref(n[2], env) if c else ref(n[3], env)
    if k in ("count", "exists"):
        items = _filter(env["images"], n[1], env)
        if items is None:
            return None
        return len(items) if k == "count" else len(items) > 0
    if k == "all":
        return _kleene_and([ref(n[1], {**env, "it": img}) for img in env["images"]])
    if k == "any":
        return _kleene_or([ref(n[1], {**env, "it": img}) for img in env["images"]])
    if k == "len":
        v = ref(n[1], env)
        return None if v is None else len(v)
    if k == "coalesce":
        a = ref(n[1], env)
        return ref(n[2], env) if a is None else a
    raise AssertionError(k)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


# ---------------------------------------------------------------- the properties

any_expr = st.sampled_from(["bool", "int", "str", "images", "strtests"]).flatmap(
    lambda t: string_tests() if t == "strtests" else expr(t, MAX_DEPTH, False) if t != "images" else
    # a collection over images, often answered from an index
    st.builds(lambda k, c: (k, c), st.sampled_from(["count", "exists", "all", "any"]), conds(MAX_DEPTH - 1)))


@FUZZ
@given(node=any_expr, world=worlds())
def test_compiled_agrees_with_reference(node: Node, world: tuple[list[Any], Any, str, str | None]) -> None:
    images, image, caller, region = world
    text = render(node)
    fn = compile_expr(text, {"region": STRING.opt()})
    env = {"image": image, "caller": caller, "region": region}

    # first on all but the last image (which builds any index), then after put/remove
    store = ImageStore(images[:-1])
    got = fn(Ctx(store, image=image, caller=caller, region=region))
    want = ref(node, {**env, "images": images[:-1]})
    assert _same(got, want), f"{text}\ncompiled={got!r} reference={want!r}"
    assert _same(fn(Ctx(store, image=image, caller=caller, region=region)), want), text  # cached indexes give the same
    if images:
        store.put(images[-1])
        got = fn(Ctx(store, image=image, caller=caller, region=region))
        want = ref(node, {**env, "images": images})
        assert _same(got, want), f"after put: {text}\ncompiled={got!r} reference={want!r}"
        store.remove(images[0].ImageId)
        got = fn(Ctx(store, image=image, caller=caller, region=region))
        want = ref(node, {**env, "images": images[1:]})
        assert _same(got, want), f"after remove: {text}\ncompiled={got!r} reference={want!r}"


@FUZZ
@given(node=expr("bool", MAX_DEPTH, False), world=worlds())
def test_rule_condition_agrees_with_reference(node: Node, world: tuple[list[Any], Any, str, str | None]) -> None:
    images, image, caller, _ = world
    text = render(node, {"region": "image.ImageFamily"})
    hole = text.replace('"', '\\"')
    policy = load(f'rule r on DeleteImage, CopyImage deny when {text}\n  message "v={{{hole}}}"\n')
    rule = policy.rules[0]
    ctx = Ctx(ImageStore(images), image=image, caller=caller)
    region = None if image is None else image.ImageFamily
    want = ref(node, {"image": image, "caller": caller, "images": images, "region": region})
    assert _same(rule.cond(ctx), want), text
    assert rule.message(ctx) == "v=" + ("null" if want is None else str(want).lower())


def test_reference_evaluator_sanity() -> None:
    # the reference itself, on hand-checked cases
    img = make_image("i0", ImageFamily=None)
    env = {"image": img, "caller": "a", "images": [img, make_image("i1", ImageFamily="a")]}
    assert ref(("and", [("lit", False), ("lit", None)]), env) is False
    assert ref(("or", [("lit", None), ("lit", True)]), env) is True
    assert ref(("cmp", "==", ("lit", None), ("lit", None)), env) is True
    assert ref(("count", ("cmp", "startswith", ("efield", "ImageFamily"), ("lit", "a"))), env) is None
    assert ref(("count", ("cmp", "==", ("efield", "ImageFamily"), ("lit", "a"))), env) == 1
    assert ref(("all", ("cmp", "startswith", ("efield", "ImageFamily"), ("lit", "b"))), env) is False
    node = ("add", [("lit", 3), ("lit", 1), ("lit", 1)], ["-", "+"])
    assert render(node) == "(3) - (1) + (1)" and ref(node, env) == 3
    assert compile_expr(render(node))(Ctx()) == 3
