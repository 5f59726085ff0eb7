"""The fast path for JSON state files: msgspec decodes the text straight into :class:`Image` objects.

pydantic stays the contract: this path returns images only when pydantic would have produced
the very same ones, and None otherwise, and the caller then validates the text with pydantic
(which names every problem). The decoder is stricter than pydantic by construction: JSON strings
only for string fields (no number coercion), ``true``/``false`` only for booleans, RFC 3339 text
only for times, an array for every list. What it would accept and pydantic treats differently is
checked after decoding, each with a C-level pass:

- an empty ImageId or RegionId (pydantic: too short) and an empty ImageFamily (pydantic: none);
- a time that is not UTC or has no zone (pydantic converts it), and a fraction of a second with
  more than 6 digits anywhere in the text (msgspec rounds it, pydantic truncates);
- a ``Tags`` object whose only key is ``Tag`` (pydantic reads it as the API's tag list);
- a key that msgspec would skip or keep last: the text must hold exactly as many strings (keys
  and string values, counted as its ``"`` bytes; a ``\\"`` escape sends the text to pydantic) as
  the decoded state gives (an unknown key, a repeated key, or a key given its default value sends
  the file to pydantic, whose own checks then name it). One C-level count of one byte: counting
  ``":`` pairs needed a second scan for whitespace before a colon.

``TakenAt`` (one value) is validated by pydantic itself. A state that also lists scaling
configurations or instances goes to pydantic as a whole (they are few; the images are many).

msgspec decodes into :data:`Record`, a ``msgspec.Struct`` with the very fields and types of
:class:`Image` (derived from it), not into ``Image`` itself: the same validation, but a Struct is
made in C and is not tracked by the cycle collector (decoding 1M images: 0.4 s against 1.8 s).
:func:`images_of` turns records into images (``msgspec.convert``, same values and types); a
pruned load (:mod:`imagefam.engine.prune`) turns only the records it indexes.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from datetime import UTC
from functools import cache
from operator import attrgetter, countOf
from typing import Any

import msgspec

from .gcpause import gc_paused
from .models import Image

#: A fraction of a second with more than 6 digits: msgspec rounds it, pydantic truncates.
_LONG_FRACTION = re.compile(rb"\.[0-9]{7}")


def _record_type() -> Any:
    """A Struct with :class:`Image`'s fields, types (pydantic's annotations left out, as msgspec
    ignores them) and defaults, in its order; untracked by the cycle collector (``gc=False``)."""
    hints = typing.get_type_hints(Image)
    fields = [(f.name, hints[f.name]) if f.default is dataclasses.MISSING else (f.name, hints[f.name], f.default)
              for f in dataclasses.fields(Image)]
    return msgspec.defstruct("Record", fields, gc=False)


#: One image as decoded, before it becomes an :class:`Image` (see :func:`images_of`).
Record: Any = _record_type()


class _State(msgspec.Struct, forbid_unknown_fields=True):
    Images: list[Record]
    TakenAt: msgspec.Raw = msgspec.Raw(b"null")


@cache
def _decoder() -> msgspec.json.Decoder[_State]:
    return msgspec.json.Decoder(_State)


def images_of(records: list[Any]) -> list[Image]:
    """The images of decoded records (or ``records`` itself when it holds images already)."""
    if not records or isinstance(records[0], Image):
        return records
    return msgspec.convert(records, list[Image], from_attributes=True)


#: Image fields whose value, when given, is one JSON string (None: not given, or null).
_TEXT_FIELDS = ("ImageOwnerId", "ImageOwnerAlias", "ImageFamily", "ImageName", "Description")


def _given(images: list[Any]) -> dict[str, int]:
    """How many values other than their default the images give the optional fields (each key
    that was in the text), and how many strings their lists and tags hold. C-level loops, a field
    per pass (faster than a tuple of fields per image)."""
    n = len(images)
    tags = list(map(attrgetter("Tags"), images))
    shared = list(map(len, map(attrgetter("SharedWith"), images)))
    return {
        "text": len(_TEXT_FIELDS) * n - sum(countOf(map(attrgetter(f), images), None) for f in _TEXT_FIELDS),
        "Tags": n - countOf(tags, None),
        "flags": sum(map(attrgetter("IsPublic"), images)) + sum(map(attrgetter("SharedWithUnknown"), images)),
        "SharedWith": n - countOf(shared, 0),
        "shared accounts": sum(shared),
        "tags": sum(map(len, filter(None, tags))),
    }


def _keys(n: int, given: dict[str, int], taken_at: bool) -> int:
    # Images, TakenAt; ImageId, RegionId, CreationTime, Status; the optional fields; each tag's key
    return (1 + taken_at + 4 * n + given["text"] + given["Tags"] + given["flags"] + given["SharedWith"]
            + given["tags"])


def present_keys(images: list[Any], taken_at: bool) -> int:
    """A lower bound of the number of keys a state file that validated to ``images`` held: every
    field with a value other than its default was given. Counted with C-level loops."""
    return _keys(len(images), _given(images), taken_at)


def _quotes(images: list[Any], taken_at: bytes | None) -> int:
    """How many ``"`` a JSON text without ``\\"`` escapes holds when it decoded to exactly
    ``images`` and ``taken_at`` with no key dropped: two per string, and the strings are the keys
    (:func:`present_keys`) and the string values (ImageId, RegionId, CreationTime and Status of
    every image, the optional text fields given, accounts shared with, tag values)."""
    n, given = len(images), _given(images)
    values = 4 * n + given["text"] + given["shared accounts"] + given["tags"]
    return 2 * (_keys(n, given, taken_at is not None) + values) + (taken_at or b"").count(b'"')


def decode_state(raw: bytes) -> tuple[list[Image], bytes | None] | None:
    """The images of JSON state text ``raw`` (no byte order mark), exactly as pydantic would
    validate them, and the JSON text of its TakenAt (None if absent) for pydantic to validate;
    None when this path cannot promise that (then validate the whole text with pydantic)."""
    decoded = decode_records(raw)
    if decoded is None:
        return None
    with gc_paused(keep=True):
        return images_of(decoded[0]), decoded[1]


def decode_records(raw: bytes) -> tuple[list[Any], bytes | None] | None:
    """As :func:`decode_state`, with the images as :data:`Record` structs (the same field values:
    :func:`images_of` makes them images)."""
    if (b"\\" in raw and b'\\"' in raw) or _LONG_FRACTION.search(raw):
        return None  # an escaped quote: counting quotes (below) would not count strings
    quotes = raw.count(b'"')
    try:
        with gc_paused():
            state = _decoder().decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):  # pydantic names the problem
        return None
    images: list[Any] = state.Images
    n = len(images)
    if (any(countOf(map(attrgetter(f), images), "") for f in ("ImageId", "RegionId", "ImageFamily"))
            or countOf(map(attrgetter("tzinfo"), map(attrgetter("CreationTime"), images)), UTC) != n
            or any(tags.keys() == {"Tag"} for tags in filter(None, map(attrgetter("Tags"), images)))):
        return None
    taken = bytes(state.TakenAt) if bytes(state.TakenAt) != b"null" else None
    if quotes != _quotes(images, taken):  # a key msgspec skipped or kept last (or gave its default)
        return None
    return images, taken
