"""Regular expressions of rules (``matches``, ``replace_regex``): RE2 syntax and linear-time
matching through the ``google-re2`` package, so no pattern and no value can make a check slow.

RE2 has no backreferences and no lookaround, and spells "end of text" ``\\z`` (Python's ``\\Z``);
a pattern RE2 cannot compile is an error of the rule file, found when it loads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import re2

#: RE2's default memory budget for one compiled pattern (8 MiB): a bigger program is an error.
MAX_MEM = 8 << 20
#: Answers remembered per pattern (then forgotten all at once): bounded memory, and a repeated
#: value costs a dict look-up instead of a call into RE2.
MEMO_SIZE = 4096


class RegexError(ValueError):
    """A pattern RE2 cannot compile: ``message`` says why, ``hint`` how to write it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def _options() -> Any:
    opts = re2.Options()
    opts.log_errors = False  # errors are reported as diagnostics, not logged to stderr
    opts.max_mem = MAX_MEM
    return opts


def compile_regex(pattern: str) -> Any:
    """The compiled RE2 pattern, or :class:`RegexError` with a hint for the usual Python habits."""
    try:
        return re2.compile(pattern, _options())
    except re2.error as err:
        raw = err.args[0] if err.args else err
        reason = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        raise RegexError(f"invalid regular expression: {reason}", _hint(pattern, reason)) from None


def _hint(pattern: str, reason: str) -> str | None:
    if "\\Z" in reason or "\\Z" in pattern:
        return "RE2 writes the end of the text as \\z (lower case); \\Z is Python's spelling"
    if "perl operator" in reason and "(?" in pattern:
        return "RE2 has no lookahead or lookbehind ((?=, (?!, (?<=, (?<!): test with a second condition instead"
    if "escape sequence" in reason and any(f"\\{d}" in pattern for d in "123456789"):
        return "RE2 has no backreferences (\\1): compare the parts with a second condition instead"
    return None


def _engine(rx: Any) -> tuple[Any, Any]:
    """The RE2 engine's ``Match(anchor, data, start, end)`` of a compiled pattern and its
    unanchored mode, read past the package's Python wrapper (its per-match objects cost ~10 µs);
    (None, None) for a google-re2 without them: then the public API is used."""
    match = getattr(getattr(rx, "_regexp", None), "Match", None)
    unanchored = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
    return (None, None) if match is None or unanchored is None else (match, unanchored)


def searcher(pattern: str) -> Callable[[str], bool]:
    """``text -> does the pattern occur in text`` (unanchored, like ``re.search``)."""
    rx = compile_regex(pattern)
    match, unanchored = _engine(rx)
    if match is None:  # a google-re2 without the engine object: the public API
        search = rx.search
        return lambda text: search(text) is not None

    memo: dict[str, bool] = {}  # the same family or name is tested again and again

    def found(text: str) -> bool:
        hit = memo.get(text)
        if hit is None:
            data = text.encode("utf-8", "surrogatepass")
            hit = bool(match(unanchored, data, 0, len(data))[0][0] >= 0)
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            memo[text] = hit
        return hit

    return found


def substituter(pattern: str) -> Callable[[str, str], str]:
    """``(text, replacement) -> text`` with every match replaced by the literal replacement."""
    rx = compile_regex(pattern)
    sub = rx.sub
    match, unanchored = _engine(rx)

    def slow(text: str, repl: str) -> str:
        return str(sub(lambda _m: repl, text))

    def direct(text: str, repl: str) -> str:
        """``slow``'s answer from RE2's matches over the UTF-8 text, found as the package's ``sub``
        finds them (each search from the end of the last match), without its per-match objects
        and offset decoding (about 10 µs a call); an empty match goes the package's way."""
        try:
            data, rep = text.encode("utf-8"), repl.encode("utf-8")
        except UnicodeEncodeError:
            return slow(text, repl)
        pos, n = 0, len(data)
        pieces: list[bytes] = []
        while True:
            start, end = match(unanchored, data, pos, n)[0]
            if start < 0:
                break
            if start == end:
                return slow(text, repl)
            pieces += (data[pos:start], rep)
            pos = end
        if not pieces:
            return text
        pieces.append(data[pos:])
        return b"".join(pieces).decode("utf-8")

    apply = slow if match is None else direct
    memo: dict[tuple[str, str], str] = {}  # as for searcher: the same family names come again and again

    def replaced(text: str, repl: str) -> str:
        out = memo.get((text, repl))
        if out is None:
            out = apply(text, repl)
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            memo[(text, repl)] = out
        return out

    return replaced
