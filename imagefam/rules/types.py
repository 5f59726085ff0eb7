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
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel

Kind = Literal["string", "int", "bool", "time", "duration", "null", "enum", "list", "record", "map", "any"]


@dataclass(frozen=True, slots=True)
class Ty:
    kind: Kind
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

    def __reduce__(self) -> tuple[type[Ty], tuple[Kind, bool, Ty | None, tuple[str, ...], str]]:
        # as its constructor call: faster to load from the cache than a frozen dataclass's state
        return Ty, (self.kind, self.nullable, self.elem, self.values, self.record)

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


class RecordTypes:
    """The record types of an environment: name -> Python class (a pydantic model or a dataclass).

    Field types are read off the class annotations, once per record; a field whose class is itself
    one of these records has that record type."""

    def __init__(self, classes: dict[str, type]) -> None:
        self.classes = dict(classes)
        self._names = {cls: name for name, cls in self.classes.items()}
        self._fields: dict[str, dict[str, Ty]] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.classes

    def names(self) -> list[str]:
        return sorted(self.classes)

    def fields(self, name: str) -> dict[str, Ty]:
        """The fields of a record type, with their types, from the class's annotations."""
        found = self._fields.get(name)
        if found is None:
            cls = self.classes[name]
            hints = typing.get_type_hints(cls, include_extras=True)
            if isinstance(cls, type) and issubclass(cls, BaseModel):
                names = list(cls.model_fields)
            else:
                names = [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else []
            found = self._fields[name] = {n: self._from_annotation(hints[n]) for n in names}
        return found

    def _from_annotation(self, ann: Any) -> Ty:
        origin = get_origin(ann)
        if origin is Annotated:
            return self._from_annotation(get_args(ann)[0])
        if origin in (typing.Union, pytypes.UnionType):
            args = [a for a in get_args(ann) if a is not type(None)]
            nullable = len(args) != len(get_args(ann))
            inner = self._from_annotation(args[0]) if len(args) == 1 else ANY
            return inner.opt(nullable or inner.nullable)
        if origin is typing.Literal:
            return Ty("enum", values=tuple(str(v) for v in get_args(ann)))
        if origin in (list, tuple):
            args = [a for a in get_args(ann) if a is not Ellipsis]
            return list_of(self._from_annotation(args[0]) if args else ANY)
        if origin is dict or ann is dict:
            return Ty("map")
        simple = _SIMPLE.get(ann)
        if simple is not None:
            return simple
        if isinstance(ann, type) and ann in self._names:
            return record(self._names[ann])
        return ANY

    def parse_type_name(self, name: str, arg: Ty | None) -> Ty | None:
        """A type written in a definition's parameter list (``string``, ``Image``, ``list[string]``)."""
        simple = {"string": STRING, "int": INT, "bool": BOOL, "time": TIME, "duration": Ty("duration")}
        if name in simple and arg is None:
            return simple[name]
        if name == "list" and arg is not None:
            return list_of(arg)
        if name in self.classes and arg is None:
            return record(name)
        return None


_SIMPLE: dict[Any, Ty] = {str: STRING, bool: BOOL, int: INT, datetime: TIME}


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


def join(a: Ty, b: Ty) -> Ty:
    """A type covering both ``a`` and ``b``: what the compiler may assume of an expression typed
    once per scope (a rule on several actions). Nullable if either is; records of different
    types stay records; anything else that does not unify is ``any``."""
    if a == b:
        return a
    nullable = a.nullable or b.nullable
    if a.kind == "record" and b.kind == "record":
        return Ty("record", nullable, record=a.record if a.record == b.record else f"{a.record}|{b.record}")
    if a.kind == "list" and b.kind == "list" and a.elem is not None and b.elem is not None:
        return list_of(join(a.elem, b.elem)).opt(nullable)
    u = unify(a, b)
    return u.opt(nullable) if u is not None else ANY
