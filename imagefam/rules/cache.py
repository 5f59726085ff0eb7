"""Where imagefam may cache derived data between runs: the grammar's LALR tables, parsed rule
files (:mod:`.astcache`) and checked policies (:mod:`.checkcache`).

The cache lives in the user's own directory (``$IMAGEFAM_CACHE_DIR``, else
``$XDG_CACHE_HOME/imagefam``, else ``~/.cache/imagefam``), created with mode 0700: never in a
shared temporary directory, since the cache is loaded with pickle. ``IMAGEFAM_NO_CACHE=1``
disables it. Everything works without it; it only saves start-up time (see docs/performance.md).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any


def cache_dir() -> Path | None:
    """The private cache directory, created if needed, or None when caching is off or impossible."""
    if os.environ.get("IMAGEFAM_NO_CACHE"):
        return None
    base = os.environ.get("IMAGEFAM_CACHE_DIR")
    if base:
        path = Path(base)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        path = (Path(xdg) if xdg else Path.home() / ".cache") / "imagefam"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError:
        return None
    if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
        return None  # not ours, or writable by others: do not trust what is in it
    return path


def libraries_key() -> bytes:
    """Which installed Lark and RE2 the cached data was made with (their files' sizes and times,
    found without importing them: cheaper than reading package metadata at every start)."""
    import importlib.util

    parts = []
    for name in ("lark", "re2"):
        try:
            spec = importlib.util.find_spec(name)
            origin = spec.origin if spec is not None else None
            info = os.stat(origin) if origin else None
        except (ImportError, ValueError, OSError):
            info = None
        parts.append(f"{name}:{info.st_size}:{info.st_mtime_ns}" if info is not None else f"{name}:-")
    return ";".join(parts).encode()


def read_entry(path: Path) -> Any:
    """What an entry of the cache directory holds, or None if it is missing, damaged, or not a
    regular file of this user's that only this user can write (checked on the open file, so a
    folder swapped after :func:`cache_dir` looked at it cannot hand over someone else's)."""
    import pickle

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode) or (hasattr(os, "getuid") and (
                    info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))):
                return None
            return pickle.load(fh)
    except Exception:  # damaged or foreign: recompute instead
        return None


def write_entry(path: Path, value: Any, prefix: str) -> None:
    """Store ``value`` at ``path`` whole (a temporary file, then a rename); a failure only means no cache."""
    import contextlib
    import pickle
    import tempfile

    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except (OSError, pickle.PicklingError, RecursionError, TypeError, AttributeError):
        if tmp is not None:
            with contextlib.suppress(OSError):
                Path(tmp).unlink(missing_ok=True)
