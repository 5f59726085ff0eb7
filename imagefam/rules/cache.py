"""Where imagefam may cache derived data between runs: the grammar's LALR tables and parsed rule
files (:mod:`.astcache`).

The cache lives in the user's own directory (``$IMAGEFAM_CACHE_DIR``, else
``$XDG_CACHE_HOME/imagefam``, else ``~/.cache/imagefam``), created with mode 0700: never in a
shared temporary directory, since the cache is loaded with pickle. ``IMAGEFAM_NO_CACHE=1``
disables it. Everything works without it; it only saves start-up time (see docs/performance.md).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


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
