"""Time in the rule language: the ``duration`` type, the name ``now``, the builtins ``days(n)``,
``hours(n)`` and ``age(image)``, and arithmetic on times and durations.

Self-contained on purpose: the checker asks :func:`arith_type` and :data:`TIME_BUILTINS` for
types, the compiler asks :data:`TIME_BUILTINS` for implementations, ``render`` asks
:func:`render_duration`. Each builtin is one row: name, parameter types, result type, doc and
implementation.

``now`` is one instant per command: ``--at TIME`` when given, else the state's ``TakenAt``, else
the clock read once when the state was loaded (see :class:`~imagefam.engine.state.State`).
Durations are Python ``timedelta``; times are UTC ``datetime``. A result outside the range of
dates (year 1 to 9999) is null, so a rule that needs it fails closed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .types import INT, STRING, TIME, Ty

DURATION = Ty("duration")
#: Kinds that ``< <= > >=``, ``max``/``min`` and ``order by`` accept.
ORDERED = ("int", "time", "string", "duration")

#: The name ``now`` and its type (never null: the clock is the last fallback).
NOW_TYPE = TIME


@dataclass(frozen=True)
class TimeBuiltin:
    name: str
    params: tuple[Ty, ...]
    result: Ty  # nullable in use when an argument may be null
    doc: str
    impl: Callable[..., Any]  # on non-null arguments; the current instant first when needs_now
    needs_now: bool = False


def _days(n: int) -> timedelta | None:
    try:
        return timedelta(days=n)
    except OverflowError:
        return None


def _hours(n: int) -> timedelta | None:
    try:
        return timedelta(hours=n)
    except OverflowError:
        return None


def _parse_time(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


TIME_BUILTINS: dict[str, TimeBuiltin] = {b.name: b for b in [
    TimeBuiltin("days", (INT,), DURATION, "days(n) -> duration: n days (n may be negative)", _days),
    TimeBuiltin("hours", (INT,), DURATION, "hours(n) -> duration: n hours (n may be negative)", _hours),
    TimeBuiltin("parse_time", (STRING,), TIME.opt(),
                "parse_time(string) -> time?: an ISO-8601 date or time (UTC unless it has a zone), "
                "null if the text is not one", _parse_time),
]}

_ARITH: dict[tuple[str, str, str], Ty] = {
    ("time", "+", "duration"): TIME,
    ("time", "-", "duration"): TIME,
    ("duration", "+", "time"): TIME,
    ("time", "-", "time"): DURATION,
    ("duration", "+", "duration"): DURATION,
    ("duration", "-", "duration"): DURATION,
}

ARITH_RULES = "time - time is a duration; time + or - duration is a time; durations add and subtract"


def involves_time(kinds: list[str]) -> bool:
    return any(k in ("time", "duration") for k in kinds)


def arith_type(left: str, op: str, right: str) -> Ty | None:
    """The type of ``left op right`` for time and duration operands, or None if not allowed."""
    return _ARITH.get((left, op, right))


def apply(op: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    """``a op b`` on times and durations; null when the result is out of range."""
    try:
        return op(a, b)
    except OverflowError:
        return None


def render_duration(d: timedelta) -> str:
    """``7d``, ``1d 12h``, ``-3h 20m``, ``45s``, ``0s``: the non-zero parts, largest first."""
    sign = "-" if d < timedelta(0) else ""
    total = abs(d)
    days, rest = total.days, total.seconds
    parts = [f"{days}d"] if days else []
    for size, unit in ((3600, "h"), (60, "m"), (1, "s")):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return sign + (" ".join(parts) if parts else "0s")
