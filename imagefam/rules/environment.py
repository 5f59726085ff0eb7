"""What rules are checked and compiled against, injected from outside: the environment.

The language knows nothing about the world it describes. An :class:`Environment` says what
there is: the record types, the names every expression sees (globals), the targets a rule can
name (each action with the names it sees, each audit scope with its own), what a ``resolve``
block sees, the host functions (builtins implemented by the embedding program) and the class of
the evaluation context. :func:`~imagefam.rules.policy.load_policy`, the type checker and the
compiler all take one. The ECS environment is built in :mod:`imagefam.engine.environment`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .builtins import BUILTINS, Builtin
from .runtime import Context, value_formatter
from .types import RecordTypes, Ty


@dataclass(frozen=True)
class Target:
    """The names an action rule (``on X``) or an audit rule (``for each X``) sees, beyond the globals."""

    name: str
    variables: Mapping[str, Ty]
    #: Names that exist elsewhere but not here, each with why (for the error message).
    unavailable: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class KeyedReads:
    """The shape of a resolution whose reads of the state can be listed by key (see
    :func:`~imagefam.rules.indexplan.family_keys`): its candidates come from the indexed global
    ``source`` filtered by ``region_field == region_variable`` and ``family_field == K``, where
    K reads only ``family_variable``; other key expressions read only ``key_variables``."""

    source: str
    region_field: str
    region_variable: str
    family_field: str
    family_variable: str
    key_variables: tuple[str, ...]


@dataclass(frozen=True)
class ResolutionScope:
    """What a ``resolve`` block sees: its variables, and the record type of each candidate (``it``)."""

    variables: Mapping[str, Ty]
    candidate: str
    unavailable: Mapping[str, str] = field(default_factory=dict)
    #: How its reads can be keyed; None: a resolution's reads are never listed by key.
    keyed_reads: KeyedReads | None = None


@dataclass(frozen=True)
class Environment:
    records: RecordTypes
    #: Names every expression sees, definitions included (e.g. the state's images).
    globals: Mapping[str, Ty]
    actions: Mapping[str, Target]
    audits: Mapping[str, Target]
    resolution: ResolutionScope
    #: The evaluation context class: a :class:`~imagefam.rules.runtime.Context` with a slot for
    #: every global, every target variable and every host function (named as the function).
    context: type[Context]
    #: Builtins the environment adds to the language's: functions of its record types (ECS:
    #: ``tag``, ``age``), and host functions, which read their implementation from the context.
    functions: Mapping[str, Builtin] = field(default_factory=dict)
    #: Globals that are collections answering ``lookup(fields, key)`` from hash indexes.
    indexed: frozenset[str] = frozenset()
    #: Record fields that name a record in messages (``{image}`` renders as its ImageId).
    display_fields: tuple[str, ...] = ()
    #: A record whose fields, written bare outside ``where``, get a hint naming this variable.
    subject: tuple[str, str] | None = None  # (variable, record)
    #: Globals whose value is an instant of the command (the clock, the snapshot's time), not
    #: data: an expression reading one, or a builtin that ``reads`` one, can change with no
    #: record changing.
    time_dependent: frozenset[str] = frozenset()
    #: What the meaning of the environment's names depends on (for ECS: the source of the modules
    #: that define it), as bytes; policies checked against it are then cached between runs
    #: (:mod:`.checkcache`). None, or a key of None: never cached (a key that misses a change
    #: would load a stale policy).
    cache_key: Callable[[], bytes | None] | None = None

    @cached_property
    def builtins(self) -> dict[str, Builtin]:
        """The language's builtins and the host functions: one table."""
        return {**BUILTINS, **self.functions}

    @cached_property
    def context_names(self) -> frozenset[str]:
        """Every name a compiled closure reads from the context (not parameters, not ``it``)."""
        names = set(self.globals) | set(self.resolution.variables) | {"action"}
        for target in (*self.actions.values(), *self.audits.values()):
            names |= set(target.variables)
        return frozenset(names)

    @cached_property
    def format_value(self) -> Callable[[Any], str]:
        """A value as message text (records by their display field)."""
        return value_formatter(self.display_fields)

    def reserved(self, name: str) -> bool:
        """Whether a definition may not take ``name``: a builtin or a name the context provides."""
        return name in self.builtins or name in self.context_names or name == "it"

    def check(self) -> None:
        """Fail fast on an inconsistent environment (a programming error, not a user one)."""
        slots = set()
        for klass in self.context.__mro__:
            slots |= set(getattr(klass, "__slots__", ()))
        missing = (self.context_names | {b.name for b in self.functions.values() if b.host}) - slots
        if missing:
            raise TypeError(f"{self.context.__name__} has no slot for {sorted(missing)}")
        keyed = self.resolution.keyed_reads
        if keyed is not None and (keyed.source not in self.indexed or not {
                keyed.region_variable, keyed.family_variable, *keyed.key_variables} <= set(self.resolution.variables)):
            raise TypeError(f"keyed reads {keyed} name a source that is not indexed or an unknown variable")
        if not self.time_dependent <= set(self.globals):
            raise TypeError(f"time-dependent names {sorted(self.time_dependent - set(self.globals))} are not globals")
