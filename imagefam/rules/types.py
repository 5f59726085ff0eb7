"""The types of the rule language, read off the pydantic/dataclass annotations of the engine models.

Every value has a :class:`Ty`: ``string``, ``int``, ``bool``, ``time``, ``null``, an enum (a string
restricted to listed values), ``list[T]`` or a record (``Image``, a request, an audit scope).
``nullable`` marks values that may be null; see docs/rules.md for what operators do with null.
"""

from __future__ import annotations

import dataclasses
import types as pytypes
import typing
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel


@dataclass(frozen=True, slots=True)
class Ty:
    kind: str  # string int bool time duration null enum list record any
    nullable: bool = False
    elem: Ty | None = None
    values: tuple[str, ...] = ()
    record: str = ""

    def __str__(self) -> str:
        if self.kind == "list":
            base = f"list[{self.elem}]"
        elif self.kind == "enum":
            base = "string (one of " + ", ".join(repr(v) for v in self.values) + ")"
        elif self.kind == "record":
            base = self.record
        else:
            base = self.kind
        return base + ("?" if self.nullable and self.kind not in ("null", "any") else "")

    def opt(self, nullable: bool = True) -> Ty:
        return self if self.nullable == nullable else replace(self, nullable=nullable)

    @property
    def is_text(self) -> bool:
        return self.kind in ("string", "enum")

    def base(self) -> str:
        """The kind for compatibility checks: enums are strings."""
        return "string" if self.kind == "enum" else self.kind


STRING = Ty("string")
INT = Ty("int")
BOOL = Ty("bool")
TIME = Ty("time")
NULL = Ty("null", nullable=True)
ANY = Ty("any", nullable=True)


def list_of(elem: Ty) -> Ty:
    return Ty("list", elem=elem)


def record(name: str) -> Ty:
    return Ty("record", record=name)


#: Record types: name -> python class. Filled by :func:`register_record`.
_RECORDS: dict[str, type] = {}


def register_record(name: str, cls: type) -> None:
    _RECORDS[name] = cls
    record_fields.cache_clear()


def _from_annotation(ann: Any) -> Ty:
    origin = get_origin(ann)
    if origin is Annotated:
        return _from_annotation(get_args(ann)[0])
    if origin in (typing.Union, pytypes.UnionType):
        args = [a for a in get_args(ann) if a is not type(None)]
        nullable = len(args) != len(get_args(ann))
        inner = _from_annotation(args[0]) if len(args) == 1 else ANY
        return inner.opt(nullable or inner.nullable)
    if origin is Literal:
        return Ty("enum", values=tuple(str(v) for v in get_args(ann)))
    if origin in (list, tuple):
        args = [a for a in get_args(ann) if a is not Ellipsis]
        return list_of(_from_annotation(args[0]) if args else ANY)
    if origin is dict or ann is dict:
        return Ty("map")
    if ann is str:
        return STRING
    if ann is bool:
        return BOOL
    if ann is int:
        return INT
    if ann is datetime:
        return TIME
    if isinstance(ann, type):
        for name, cls in _RECORDS.items():
            if cls is ann:
                return record(name)
    return ANY


@cache
def record_fields(name: str) -> dict[str, Ty]:
    """The fields of a record type, with their types, from the model's annotations."""
    cls = _RECORDS[name]
    hints = typing.get_type_hints(cls, include_extras=True)
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        names = list(cls.model_fields)
    else:
        names = [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else []
    return {n: _from_annotation(hints[n]) for n in names}


def record_names() -> list[str]:
    return sorted(_RECORDS)


def parse_type_name(name: str, arg: Ty | None) -> Ty | None:
    """A type written in a definition's parameter list (``string``, ``Image``, ``list[string]``)."""
    simple = {"string": STRING, "int": INT, "bool": BOOL, "time": TIME, "duration": Ty("duration")}
    if name in simple and arg is None:
        return simple[name]
    if name == "list" and arg is not None:
        return list_of(arg)
    if name in _RECORDS and arg is None:
        return record(name)
    return None


TYPE_NAMES = ("string", "int", "bool", "time", "duration", "list")


def assignable(value: Ty, target: Ty) -> bool:
    """Whether a value of type ``value`` may be passed where ``target`` is expected."""
    if value.kind in ("any", "null") or target.kind == "any":
        return True
    if value.base() != target.base():
        return False
    if value.kind == "list":
        assert value.elem is not None and target.elem is not None
        return assignable(value.elem, target.elem)
    if value.kind == "record":
        return value.record == target.record
    if target.kind == "enum" and value.kind == "enum":
        return set(value.values) <= set(target.values)
    return True


def unify(a: Ty, b: Ty) -> Ty | None:
    """The common type of two branches (``if``) or list items, or None when they do not mix."""
    if a.kind == "null":
        return b.opt()
    if b.kind == "null":
        return a.opt()
    if a.kind == "any" or b.kind == "any":
        return ANY
    if a.base() != b.base():
        return None
    nullable = a.nullable or b.nullable
    if a.kind == "list":
        assert a.elem is not None and b.elem is not None
        e = unify(a.elem, b.elem)
        return list_of(e).opt(nullable) if e else None
    if a.kind == "record":
        return a.opt(nullable) if a.record == b.record else None
    if a.kind == "enum" and b.kind == "enum":
        return Ty("enum", nullable, values=tuple(dict.fromkeys(a.values + b.values)))
    if a.is_text:
        return STRING.opt(nullable)
    return a.opt(nullable)
