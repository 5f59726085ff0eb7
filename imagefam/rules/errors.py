"""Errors as data: every problem in a rule file is a :class:`Diagnostic` with a source span.

A :class:`PolicyError` carries all diagnostics of a load, so a user sees every mistake of a
file at once, each as ``file:line:col: message``, the source line and a caret.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class Span:
    """A place in a source text: 1-based line and column, end exclusive."""

    line: int
    col: int
    end_line: int
    end_col: int

    @staticmethod
    def point(line: int, col: int, length: int = 1) -> Span:
        return Span(line, col, line, col + max(length, 1))

    def __reduce__(self) -> tuple[type[Span], tuple[int, int, int, int]]:
        # pickled as its constructor call: the cached trees hold thousands of spans, and a frozen
        # dataclass's own __setstate__ is several times slower to load (see rules/checkcache.py)
        return Span, (self.line, self.col, self.end_line, self.end_col)


NOWHERE = Span(1, 1, 1, 2)


@dataclass(frozen=True, slots=True)
class Source:
    """A rule text and the name it is reported under (usually its path)."""

    name: str
    text: str

    def line(self, n: int) -> str:
        lines = self.lines()
        return lines[n - 1] if 0 < n <= len(lines) else ""

    def lines(self) -> list[str]:
        """The text's lines, split once per text (callers must not modify the list)."""
        return _split_lines(self.text)


@functools.lru_cache(maxsize=32)
def _split_lines(text: str) -> list[str]:
    return text.splitlines()


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in a rule file."""

    source: Source
    span: Span
    message: str
    hint: str | None = None
    severity: Literal["error", "warning"] = "error"

    def render(self) -> str:
        """``file:line:col: error: message``, the source line, a caret under the span, the hint."""
        text = self.source.line(self.span.line)
        width = (
            self.span.end_col - self.span.col
            if self.span.end_line == self.span.line and self.span.end_col > self.span.col
            else 1
        )
        width = max(1, min(width, max(1, len(text) - self.span.col + 1)))
        text, col, width = _excerpt(text, self.span.col, width)
        out = [
            f"{self.source.name}:{self.span.line}:{self.span.col}: {self.severity}: {_clip(self.message)}",
            f"    {text}",
            "    " + " " * (col - 1) + "^" * width,
        ]
        if self.hint:
            out.append(f"    hint: {_clip(self.hint)}")
        return "\n".join(out)


#: A source line longer than this is shown as an excerpt around the column (a 2 MB line is not
#: echoed whole); messages and hints are clipped to MAX_MESSAGE characters.
MAX_LINE_SHOWN = 160
MAX_MESSAGE = 400


def _excerpt(text: str, col: int, width: int) -> tuple[str, int, int]:
    """(the part of ``text`` shown, the caret's column in it, the caret's width)."""
    if len(text) <= MAX_LINE_SHOWN:
        return text, col, width
    start = max(0, min(col - 1 - MAX_LINE_SHOWN // 4, len(text) - MAX_LINE_SHOWN))
    end = start + MAX_LINE_SHOWN
    shown = ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")
    caret = col - start + (1 if start else 0)
    return shown, caret, max(1, min(width, end - (col - 1)))


def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


@dataclass
class PolicyError(Exception):
    """Raised when rule files do not load: holds every diagnostic, in file order."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(d.render() for d in self.diagnostics)


class Reporter:
    """Collects diagnostics for one source; the checker reports and keeps going."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.diagnostics: list[Diagnostic] = []

    def error(self, span: Span, message: str, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(self.source, span, message, hint))

    def warning(self, span: Span, message: str, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(self.source, span, message, hint, "warning"))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean' hint for the closest of ``choices``, or None when nothing is close."""
    pool = sorted(set(choices))
    lowered = {c.lower(): c for c in pool}
    if word.lower() in lowered and lowered[word.lower()] != word:
        return f"did you mean {lowered[word.lower()]!r}?"
    import difflib  # only when a name is unknown (start-up time)

    close = difflib.get_close_matches(word, pool, n=1, cutoff=0.7)
    return f"did you mean {close[0]!r}?" if close else None
