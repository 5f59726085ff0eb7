"""What compiled closures run against: the evaluation context and value helpers.

Closures take one argument, a :class:`Ctx`. Null is Python ``None``; lists are tuples.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, Protocol

from .timefns import render_duration


class ImageCollection(Protocol):
    """The global ``images``: iterable, and answers equality lookups from hash indexes."""

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...

    def lookup(self, fields: tuple[str, ...], key: tuple[Any, ...]) -> Iterable[Any]: ...


class Ctx:
    """The names a rule can see. Closures only read it (``it``/``args`` aside), so one context can
    serve a whole session: the checker sets ``request``, ``image``, ``caller``, ``channel`` and
    ``action`` per step instead of building a new one (measured: construction was half the cost
    of a simple decision)."""

    __slots__ = ("account", "action", "args", "caller", "channel", "family", "image", "images", "it",
                 "now", "region", "request", "resolve", "taken_at")

    def __init__(self, images: ImageCollection | tuple[Any, ...] = (), *, request: Any = None, image: Any = None,
                 caller: Any = None, channel: Any = None, action: Any = None, family: Any = None,
                 region: Any = None, account: Any = None, taken_at: Any = None, now: Any = None,
                 resolve: Callable[[str, str, str], Any] | None = None) -> None:
        self.images = images
        self.request = request
        self.image = image
        self.caller = caller
        self.channel = channel
        self.action = action
        self.family = family
        self.region = region
        self.account = account
        self.taken_at = taken_at
        self.now = now  # the instant `now` and age() use: fixed for one command (see timefns)
        self.it: Any = None
        self.args: tuple[Any, ...] = ()
        self.resolve = resolve


CTX_NAMES = frozenset(n for n in Ctx.__slots__ if n not in ("args", "it", "resolve"))


def render(value: Any) -> str:
    """A value as message text: null as ``null``, times as ISO-8601 Z, lists joined, images by id."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, timedelta):
        return render_duration(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(render(v) for v in value) + "]"
    image_id = getattr(value, "ImageId", None)
    if image_id is not None:
        return str(image_id)
    if dataclasses.is_dataclass(value):
        first = dataclasses.fields(value)[0].name
        return str(getattr(value, first))
    return str(value)


def sort_key(value: Any) -> tuple[bool, Any]:
    """Orders values of one type with null first (used by ``distinct``)."""
    return (value is not None, value)
