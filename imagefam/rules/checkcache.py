"""Checked policies, cached between runs: when the rule files, the environment and imagefam's own
code are unchanged, loading skips parsing and type checking and goes straight to compiling (the
closures cannot be stored; what they are compiled from can). Measured: about 7 ms of every command.

What is stored is everything compiling reads: the merged declarations, the type of every
expression, the order definitions compile in, and the warnings and notices loading reports. An
entry is keyed by every layer's file names and texts, by the environment's own key
(:attr:`~.environment.Environment.cache_key`: an environment without one is never cached) and by
the source of the rule language's modules, so any change to one of them is a miss. Only policies
that checked without an error are stored. Entries live in the private cache directory of
:mod:`.cache`, like parsed files (:mod:`.astcache`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from .cache import cache_dir, libraries_key, read_entry, write_entry
from .errors import Diagnostic, Source

if TYPE_CHECKING:
    from .environment import Environment
    from .policy import Merged
    from .typecheck import Typing

_HERE = Path(__file__).resolve().parent


@dataclass
class Checked:
    """A policy after checking: what :func:`~.policy.compile_policy` needs, and what loading reports."""

    merged: Merged  # its reporters are dropped: the warnings are kept apart
    types: Typing
    def_order: list[str]
    warnings: list[Diagnostic]


@cache
def _salt() -> bytes | None:
    """What checking depends on besides the files and the environment: the rule language's code
    (None when it cannot be read, e.g. an install without sources: then nothing is cached)."""
    import os
    import sys

    h = hashlib.sha256(b"imagefam-checked-v1" + sys.version.encode() + libraries_key())
    try:
        names = sorted(n for n in os.listdir(_HERE) if n.endswith(".py") or n == "grammar.lark")
        for name in names:
            h.update(name.encode() + b"\0" + (_HERE / name).read_bytes())
    except OSError:
        return None
    return h.digest() if "typecheck.py" in names else None


def _path(env: Environment, layers: list[tuple[bool, list[Source]]]) -> Path | None:
    salt, env_key = _salt(), env.cache_key() if env.cache_key is not None else None
    if salt is None or env_key is None:
        return None
    folder = cache_dir()
    if folder is None:
        return None
    h = hashlib.sha256(salt + env_key)
    for shipped, sources in layers:
        h.update(b"\1layer" if shipped else b"\1user")
        for src in sources:
            name, text = src.name.encode("utf-8", "surrogatepass"), src.text.encode("utf-8", "surrogatepass")
            h.update(b"%d:%s%d:%s" % (len(name), name, len(text), text))
    return folder / f"checked-{h.hexdigest()[:40]}.pickle"


def load(env: Environment, layers: list[tuple[bool, list[Source]]]) -> Checked | None:
    """The checked policy of ``layers`` stored before, or None."""
    path = _path(env, layers)
    found = read_entry(path) if path is not None else None
    return found if isinstance(found, Checked) else None


def store(env: Environment, layers: list[tuple[bool, list[Source]]], checked: Checked) -> None:
    """Remember ``checked``; any failure only means no cache."""
    path = _path(env, layers)
    if path is not None:
        write_entry(path, checked, ".checked-")
