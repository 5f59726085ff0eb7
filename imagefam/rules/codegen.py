"""Generated Python for the shapes rules evaluate most: runs of two-valued tests of context
values (``request.Status == "Deprecated" and image != null and image.ImageOwnerId == caller``),
tests of one string (``x startswith "acs" or x matches "..."``), and ``Field ==/!= value`` tests
over the elements of a list (``count(images where ...)``, ``all(xs, ...)``). Each reads what the
closure it replaces would read, in the same order, stopping where it would stop (a value known
only at apply must be read exactly when the closure would read it).

A closure per operator costs a Python frame per call and a C-level getter (``attrgetter``) costs
more than an attribute read that the interpreter specialises; a function written out does what
hand-written Python does. The source is generated from the *type-checked* AST, in the way the
standard library's :mod:`dataclasses` writes ``__init__``, and compiled once:

* the only names written into the source are attribute paths from the environment and schema
  (context variables, record fields), each checked to be a plain identifier (:func:`path`), and
  names this module makes up (``v``, ``i``, ``n``, ``K0``, ``K1`` ...);
* no value from a rule file is ever written into the source: literals, regular expressions and
  the closures that compute values are handed to the function as the globals ``K0``, ``K1`` ...
  (:class:`Source` numbers them);
* the generated functions see no builtins (``__builtins__`` is empty): they can only read
  attributes, compare, call what they are given, and loop.
"""

from __future__ import annotations

import keyword
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")  # no leading underscore: no dunder, no private name

#: The comparisons a generated test may use, by the language's operator.
COMPARE = {"==": "==", "!=": "!="}


def is_path(dotted: str) -> bool:
    """Whether ``dotted`` (``request.ImageFamily``) is made of plain identifiers only: the compiler
    generates code only for such paths (any other name is compiled to closures)."""
    return all(_IDENT.match(part) and not keyword.iskeyword(part) for part in dotted.split("."))


def path(dotted: str) -> str:
    """``dotted`` if :func:`is_path`, else ValueError (the last check before it is written)."""
    if not is_path(dotted):
        raise ValueError(f"not an attribute path: {dotted!r}")
    return dotted


class Source:
    """A function being written: its lines and the values it is given (``K0``, ``K1`` ...)."""

    def __init__(self, name: str, params: Sequence[str]) -> None:
        if not _IDENT.match(name) or any(not _IDENT.match(p) for p in params):
            raise ValueError(f"not a function signature: {name}({', '.join(params)})")
        self.name, self.params = name, tuple(params)
        self.lines: list[str] = []
        self.bound: dict[str, Any] = {}

    def value(self, v: Any) -> str:
        """The name the function reads ``v`` by (a literal, a compiled closure, a searcher)."""
        name = f"K{len(self.bound)}"
        self.bound[name] = v
        return name

    def line(self, text: str, depth: int = 1) -> None:
        self.lines.append("    " * depth + text)

    def build(self) -> Callable[..., Any]:
        text = f"def {self.name}({', '.join(self.params)}):\n" + "\n".join(self.lines) + "\n"
        scope: dict[str, Any] = {"__builtins__": {}, **self.bound}
        exec(compile(text, f"<imagefam rule code: {self.name}>", "exec"), scope)
        fn: Callable[..., Any] = scope[self.name]
        fn.__doc__ = text  # the source, for whoever inspects a compiled rule
        return fn


# ---- two-valued tests of context values against constants

@dataclass(frozen=True)
class Ref:
    """A context value compared with another (``image.ImageOwnerId == caller``): its path."""

    path: str


#: (context path, "is" | "is not" | "==" | "!=", a constant or a :class:`Ref`):
#: ``request.ImageFamily != ""``, ``image.ImageOwnerId == caller``
Test = tuple[str, str, Any]
#: At most this many tests are written into one function; longer runs loop over C-level getters.
MAX_TESTS = 64
_OPERATORS = {"is": operator.is_, "is not": operator.is_not, "==": operator.eq, "!=": operator.ne}


def _test_code(src: Source, t: Test) -> str:
    where, op, constant = t
    if op not in _OPERATORS or (isinstance(constant, Ref) and op not in ("==", "!=")):
        raise ValueError(f"not a test: {op}")
    if isinstance(constant, Ref):
        return f"c.{path(where)} {op} c.{path(constant.path)}"
    if constant is None and op in ("is", "is not"):
        return f"c.{path(where)} {op} None"
    return f"c.{path(where)} {op} {src.value(constant)}"


def _test_fn(t: Test) -> Callable[[Any], bool]:
    """One test as a closure of C-level getters (the long runs of :func:`fused_tests`)."""
    where, op, constant = t
    get, test = operator.attrgetter(path(where)), _OPERATORS[op]
    if isinstance(constant, Ref):
        other = operator.attrgetter(path(constant.path))
        return lambda c: test(get(c), other(c))
    return lambda c: test(get(c), constant)


def fused_tests(tests: Sequence[Test], stop: bool) -> Callable[[Any], bool]:
    """``c -> t1 and t2 and ...`` (``or`` when ``stop``): two-valued, in order, stopping early."""
    if len(tests) > MAX_TESTS:
        checks = tuple(map(_test_fn, tests))
        if stop:
            return lambda c: any(t(c) for t in checks)
        return lambda c: all(t(c) for t in checks)
    src = Source("tests", ["c"])
    src.line("return " + (" or " if stop else " and ").join(_test_code(src, t) for t in tests))
    return src.build()


def tests_then(tests: Sequence[Test], then: Callable[[Any], Any], stop: bool) -> Callable[[Any], Any]:
    """``t1 and t2 and y`` (``or`` when ``stop``) with the two-valued tests written out: when they
    do not decide, the value is ``y``'s (Kleene: ``true and y`` is ``y``, ``false or y`` is ``y``)."""
    src = Source("tests_then", ["c"])
    if len(tests) > MAX_TESTS:
        src.line(f"if {src.value(fused_tests(tests, stop))}(c):")
    else:
        src.line("if " + (" or " if stop else " and ").join(_test_code(src, t) for t in tests) + ":")
    if stop:
        src.line("return True", 2)
        src.line(f"return {src.value(then)}(c)")
    else:
        src.line(f"return {src.value(then)}(c)", 2)
        src.line("return False")
    return src.build()


# ---- tests of one string

#: A two-valued test of a string ``v``: ("startswith" | "endswith" | "contains", literal),
#: ("matches", searcher), ("not", test) or ("and" | "or", [tests]).
StrTest = tuple[str, Any]


def str_test_code(src: Source, t: StrTest) -> str:
    """An expression of ``v`` (a non-null string) for ``t``; its values bound in ``src``."""
    op, arg = t
    if op == "startswith":
        return f"v.startswith({src.value(arg)})"
    if op == "endswith":
        return f"v.endswith({src.value(arg)})"
    if op == "contains":
        return f"({src.value(arg)} in v)"
    if op == "matches":
        return f"{src.value(arg)}(v)"
    if op == "not":
        return f"(not {str_test_code(src, arg)})"
    if op in ("and", "or"):
        return "(" + f" {op} ".join(str_test_code(src, x) for x in arg) + ")"
    raise ValueError(f"not a string test: {op}")


def string_predicate(getter_path: str, guards: Sequence[tuple[str, Any]], test: StrTest,
                     stop: bool) -> Callable[[Any], bool | None]:
    """``c -> bool | None``: read ``c.<getter_path>`` once; the two-valued guards (``is``,
    ``is not``, ``==``, ``!=`` against a constant) decide an ``and`` on False (an ``or`` on True
    when ``stop``), in order; then null for a null string, else ``test``."""
    src = Source("string_test", ["c"])
    src.line(f"v = c.{path(getter_path)}")
    for op, constant in guards:
        if op not in ("is", "is not", "==", "!="):
            raise ValueError(f"not a guard: {op}")
        check = "v is None" if constant is None and op == "is" else (
            "v is not None" if constant is None and op == "is not" else f"v {op} {src.value(constant)}")
        src.line(f"if {check}:" if stop else f"if not ({check}):")
        src.line(f"return {stop}", 2)
    src.line("if v is None:")
    src.line("return None", 2)
    src.line(f"return {str_test_code(src, test)}")
    return src.build()


# ---- Field ==/!= value over the elements of a list

#: (field, "==" | "!=", the closure computing the value from the context)
ElementTest = tuple[str, str, Callable[[Any], Any]]


#: "Not read yet": a value of a test after the first is read when an element first reaches it.
_UNREAD = object()


def _element_loop(src: Source, tests: Sequence[ElementTest], empty: str, action: str, every: bool = False) -> None:
    """The loop over ``items`` testing each element ``i`` as the closure would: tests in order,
    stopping at the first that decides, and each value read when an element first reaches its
    test (the first test's when there is an element at all), never sooner: a value known only at
    apply is read exactly when the closure would read it. ``action`` runs for an element passing
    every test; with ``every``, an element failing one ends the call with False instead."""
    src.line("if not items:")
    src.line(f"return {empty}", 2)
    unread = src.value(_UNREAD)
    for n in range(1, len(tests)):
        src.line(f"k{n} = {unread}")
    src.line(f"k0 = {src.value(tests[0][2])}(c)")  # there is an element: the first test reads it
    src.line("for i in items:")
    depth = 2
    for n, (field, op, value) in enumerate(tests):
        if n > 0:
            src.line(f"if k{n} is {unread}:", depth)
            src.line(f"k{n} = {src.value(value)}(c)", depth + 1)
        test = f"i.{path(field)} {COMPARE[op]} k{n}"
        if every:
            src.line(f"if not ({test}):", depth)
            src.line("return False", depth + 1)
        else:
            src.line(f"if {test}:", depth)
            depth += 1
    if action:
        src.line(action, depth)


def element_select(tests: Sequence[ElementTest]) -> Callable[[Any, Any], list[Any]]:
    """``(c, items) -> [the items passing every test]``."""
    src = Source("select", ["c", "items"])
    src.line("out = []")
    _element_loop(src, tests, "out", "out.append(i)")
    src.line("return out")
    return src.build()


def element_count(tests: Sequence[ElementTest]) -> Callable[[Any, Any], int]:
    """``(c, items) -> how many items pass every test``."""
    src = Source("count", ["c", "items"])
    src.line("n = 0")
    _element_loop(src, tests, "0", "n += 1")
    src.line("return n")
    return src.build()


def element_quantifier(tests: Sequence[ElementTest], want: bool) -> Callable[[Any, Any], bool]:
    """``(c, items) -> any item passes`` (``want``) or ``every item passes`` (not ``want``)."""
    src = Source("any_of" if want else "all_of", ["c", "items"])
    _element_loop(src, tests, str(not want), "return True" if want else "", every=not want)
    src.line(f"return {not want}")
    return src.build()
