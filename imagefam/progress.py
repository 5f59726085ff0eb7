"""Progress on stderr for long work: reading a large state, building a report or a page, paging the
ECS API in ``snapshot``, checking a long plan.

Shown only when stderr is a terminal (and ``CI`` is not set), or when forced (``--progress``);
``--quiet`` silences it. It never goes to stdout, so it never mixes with an output. In a terminal
a bar appears only for work that lasts more than half a second. Bars are drawn by tqdm, imported
only when one is shown; when progress is off every function here costs next to nothing.
An interrupted bar is cleared on the way out (the command then exits 130).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Sized
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_mode = "auto"  # auto | on | off
_open: set[Bar] = set()  # bars shown and not yet closed
CHUNK = 1 << 22  # bytes read per step when a read shows progress


def set_mode(mode: str) -> None:
    """``"auto"`` (a terminal only), ``"on"`` (``--progress``) or ``"off"`` (``--quiet``)."""
    global _mode
    if mode not in ("auto", "on", "off"):
        raise ValueError(f"progress mode is auto, on or off, not {mode!r}")
    _mode = mode


def enabled() -> bool:
    if _mode == "on":
        return True
    if _mode == "off":
        return False
    try:
        return sys.stderr.isatty() and not os.environ.get("CI")
    except (AttributeError, ValueError):  # a closed or replaced stderr
        return False


def _delay() -> float:
    """Seconds before a bar appears: none when forced, half a second in a terminal (so quick work
    stays quiet). ``IMAGEFAM_PROGRESS_DELAY`` overrides it (the tests use it)."""
    forced = os.environ.get("IMAGEFAM_PROGRESS_DELAY")
    if forced is not None:
        try:
            return max(0.0, float(forced))
        except ValueError:
            pass
    return 0.0 if _mode == "on" else 0.5


class Bar:
    """A progress bar (tqdm), or nothing when progress is off."""

    def __init__(self, desc: str, total: float | None = None, unit: str = "it", unit_scale: bool = False,
                 bar_format: str | None = None) -> None:
        self._bar: Any = None
        if enabled():
            from tqdm import tqdm

            self._bar = tqdm(desc=desc, total=total, unit=unit, unit_scale=unit_scale, file=sys.stderr,
                             leave=False, delay=_delay(), dynamic_ncols=True, mininterval=0.2,
                             bar_format=bar_format)
            _open.add(self)

    def update(self, n: float = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def set_total(self, total: float) -> None:
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            _open.discard(self)

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def close_all() -> None:
    """Clear every bar still shown (before a message on the way out, e.g. after Ctrl-C)."""
    for bar in list(_open):
        bar.close()
    if "tqdm" in sys.modules:  # a bar interrupted while it was being set up or drawn
        from tqdm import tqdm

        for orphan in list(getattr(tqdm, "_instances", ())):
            with suppress(Exception):  # half set up: nothing to close
                orphan.close()
        # and whatever such a bar left on the line
        import shutil  # only when a bar is drawn (start-up time)

        width = shutil.get_terminal_size((80, 24)).columns
        with suppress(OSError, ValueError):
            sys.stderr.write("\r" + " " * max(0, width - 1) + "\r")
            sys.stderr.flush()


def track(items: Iterable[T], desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """Iterate ``items`` with a bar (items done, rate, time left when ``total`` is known)."""
    if not enabled():
        yield from items
        return
    if total is None and isinstance(items, Sized):
        total = len(items)
    with Bar(desc, total, unit) as bar:
        for item in items:
            yield item
            bar.update()


@contextmanager
def stage(desc: str) -> Iterator[None]:
    """A step with no count to show (e.g. validating a file parsed in one go): its name and the
    time it has taken so far."""
    if not enabled():
        yield
        return
    with Bar(desc, None, bar_format="{desc}... ({elapsed})"):
        yield


def read_bytes(path: Path) -> bytes:
    """``path.read_bytes()``, with a bar in bytes (done, rate, time left) for a large file."""
    if not enabled():
        return path.read_bytes()
    size = path.stat().st_size
    if size < CHUNK:
        return path.read_bytes()
    parts = []
    with Bar(f"reading {path.name}", size, unit="B", unit_scale=True) as bar, path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            parts.append(chunk)
            bar.update(len(chunk))
    return b"".join(parts)
