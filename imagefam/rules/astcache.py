"""Parsed rule files, cached between runs: a file whose text has not changed is not parsed again,
and Lark is not even imported when every file hits (measured: about 50 ms of every command).

An entry is keyed by the file's name and text and by the source of the grammar and of the modules
that build the syntax tree, so any change to either is a miss. Only files that parsed without a
diagnostic are stored. Entries live in the private cache directory of :mod:`.cache` (0700, the
user's own: they are read with pickle) and are written whole (temporary file, then rename).
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from .cache import cache_dir, libraries_key, read_entry, write_entry
from .errors import Source

_HERE = Path(__file__).resolve().parent


@cache
def _salt() -> bytes:
    """What a parsed tree depends on besides the file: the grammar and the tree-building code."""
    h = hashlib.sha256(b"imagefam-ast-v1" + libraries_key())
    for name in ("grammar.lark", "parser.py", "ast.py", "errors.py"):
        try:
            h.update((_HERE / name).read_bytes())
        except OSError:
            h.update(name.encode())
    return h.digest()


def _path(source: Source) -> Path | None:
    folder = cache_dir()
    if folder is None:
        return None
    key = hashlib.sha256(_salt() + source.name.encode("utf-8", "surrogatepass") + b"\0"
                         + source.text.encode("utf-8", "surrogatepass"))
    return folder / f"ast-{key.hexdigest()[:40]}.pickle"


def load(source: Source) -> list[Any] | None:
    """The declarations of ``source`` parsed before, or None."""
    path = _path(source)
    decls = read_entry(path) if path is not None else None
    return decls if isinstance(decls, list) else None


def store(source: Source, decls: list[Any]) -> None:
    """Remember ``source``'s declarations; any failure only means no cache."""
    path = _path(source)
    if path is not None:
        write_entry(path, decls, ".ast-")
