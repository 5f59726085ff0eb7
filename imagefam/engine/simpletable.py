"""tabulate's ``simple`` table, written without importing tabulate when every cell is plain.

Importing tabulate costs about 4 ms of every text command (it asks ``importlib.metadata`` for
its own version and compiles its patterns); the one-step check's table is one line of short
ASCII words and numbers per step. For such tables :func:`simple_table` writes what tabulate
writes; for any table it cannot be sure of (a cell tabulate might read as a number, a bool or
a float, several lines, non-ASCII text, padding spaces, other types) it returns None and the
caller uses tabulate. ``tests/test_render_table.py`` holds it to tabulate's output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: What tabulate's pattern of numbers with thousands separators ("1,000.5") is made of: a text of
#: only these, with a digit, may be one (without a digit it cannot: "-" is text).
_NUMBER_CHARS = frozenset("0123456789+-,.")
EMPTY, NUMBER, TEXT = 0, 1, 2


def _plain(text: str) -> bool:
    """One line of printable ASCII with no spaces at either end (tabulate strips them)."""
    return text.isascii() and text.isprintable() and text == text.strip()


def _parses(text: str) -> bool:
    for convert in (int, float):
        try:
            convert(text)
        except ValueError:
            continue
        return True
    return False


def _cell(value: Any) -> tuple[str, int] | None:
    """A cell as (text, kind), or None when tabulate might read or show it otherwise."""
    if type(value) is int:
        return str(value), NUMBER
    if type(value) is not str:
        return None
    if not value:
        return value, EMPTY
    if not _plain(value):
        return None
    if value.isdigit():  # ASCII digits only (checked above)
        return (value, NUMBER) if str(int(value)) == value else None
    if value in ("True", "False") or _parses(value) or (
            set(value) <= _NUMBER_CHARS and any(ch.isdigit() for ch in value)):
        return None  # a bool, a number in another spelling, a float: tabulate's business
    return value, TEXT


def simple_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str | None:
    """``tabulate(rows, headers=headers, tablefmt="simple")``, or None when not sure to match it."""
    if not rows or not headers or not all(isinstance(h, str) and h and _plain(h) for h in headers):
        return None
    cells: list[list[tuple[str, int]]] = []
    for row in rows:
        if len(row) != len(headers):
            return None
        found = [_cell(v) for v in row]
        if None in found:
            return None
        cells.append(found)  # type: ignore[arg-type]
    right = [all(c[j][1] != TEXT for c in cells) and any(c[j][1] == NUMBER for c in cells)
             for j in range(len(headers))]  # a number column: tabulate right-aligns it, header too
    widths = [max(len(h) + 2, *(len(c[j][0]) for c in cells)) for j, h in enumerate(headers)]

    def line(texts: Sequence[str]) -> str:
        return "  ".join(t.rjust(w) if r else t.ljust(w) for t, w, r in zip(texts, widths, right, strict=True)).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths),
                      *(line([t for t, _ in c]) for c in cells)])
