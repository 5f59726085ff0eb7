"""What compiled closures run against: the evaluation context and value helpers.

Closures take one argument, a :class:`Context`. Null is Python ``None``; lists are tuples.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, Protocol

from .timefns import render_duration


class IndexedCollection(Protocol):
    """A global collection (the ECS ``images``): iterable, and answers equality lookups from hash
    indexes. A plain sequence works too: the compiled code then scans it."""

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...

    def lookup(self, fields: tuple[str, ...], key: tuple[Any, ...]) -> Iterable[Any]: ...


class Context:
    """The names a rule can see, as slots of one object. An environment subclasses it with a slot
    per name (:attr:`~imagefam.rules.environment.Environment.context`). Closures only read it,
    except ``it`` (the current element) and ``args`` (a definition's arguments), which they set and
    restore, so one context can serve a whole session: the caller sets the names per decision
    instead of building a new one (measured: construction was half the cost of a simple decision).
    """

    __slots__ = ("args", "it")

    def __init__(self) -> None:
        self.it: Any = None
        self.args: tuple[Any, ...] = ()


#: A compiled expression: a closure over a context, giving a value (``None`` for null).
Fn = Callable[[Context], Any]


def format_time(value: datetime) -> str:
    """A time as message text: ISO-8601 with a Z."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def value_formatter(display_fields: tuple[str, ...] = ()) -> Callable[[Any], str]:
    """``format_value(value)``: a value as message text: null as ``null``, times as ISO-8601 Z, lists
    joined; a record by the first of ``display_fields`` it has, else a dataclass by its first field."""

    def format_value(value: Any) -> str:
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, datetime):
            return format_time(value)
        if isinstance(value, timedelta):
            return render_duration(value)
        if isinstance(value, tuple | list):
            return "[" + ", ".join(format_value(v) for v in value) + "]"
        for name in display_fields:
            shown = getattr(value, name, None)
            if shown is not None:
                return str(shown)
        if dataclasses.is_dataclass(value):
            first = dataclasses.fields(value)[0].name
            return str(getattr(value, first))
        return str(value)

    return format_value


def sort_key(value: Any) -> tuple[bool, Any]:
    """Orders values of one type with null first (used by ``distinct``)."""
    return (value is not None, value)
