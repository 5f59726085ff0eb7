"""Where the command's output goes: stdout, or ``-o PATH`` written without harming what is there.

- a regular file (or a new one) is written whole or not at all: a temp file beside it, renamed;
- a symbolic link is followed: its target is written that way (the link stays a link);
- a file with several names (hard links) is rewritten in place, so every name sees the output
  (a rename would leave the other names with the old text); if the write fails, the old
  content is put back;
- a special file (FIFO, /dev/null, a terminal, a device) is written in place, never replaced;
- ``-`` and ``/dev/stdout`` mean stdout;
- a path ending in ``/``, a folder, or one of the command's own inputs is refused (exit 2).

If stdout's reader goes away (``imagefam check ... | true``), the rest of the output is dropped
and the command still exits with its real status.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Iterable
from pathlib import Path

from .engine.parsing import InputError

STDOUT_NAMES = ("-", "/dev/stdout")


def to_stdout(text: str) -> None:
    """Write ``text`` to stdout; a reader that went away is not an error (nor a reason to change
    the exit status): further output is discarded."""
    if sys.stdout is None:  # started with stdout closed (`>&-`): nobody to read it
        return
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        _discard_stdout()
    except OSError as err:  # a full disk, a device that refuses: the output is lost, say so
        _discard_stdout()
        raise InputError(f"cannot write the output to stdout: {err.strerror or err}") from err


def _discard_stdout() -> None:
    # Point fd 1 at /dev/null so the interpreter's final flush does not fail (and print) again.
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def check_output_path(path: str | None, inputs: Iterable[str | Path]) -> None:
    """Refuse, before any work, an output path that cannot be written without harm."""
    if path is None or path in STDOUT_NAMES:
        return
    if path == "" or path.endswith("/") or path.endswith(os.sep):
        raise InputError(f"{path!r}: --output needs a file name, not a folder")
    target = Path(path)
    if target.is_dir():
        raise InputError(f"{path}: is a directory; --output needs a file name")
    try:
        out = os.stat(target)
    except OSError:
        return  # does not exist (yet): cannot be an input
    if not stat.S_ISREG(out.st_mode):
        return
    for inp in _input_files(inputs):
        try:
            st = os.stat(inp)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (out.st_dev, out.st_ino):
            raise InputError(f"{path}: is one of this command's inputs ({inp}); "
                             "write the output to another file")


def _input_files(inputs: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for inp in inputs:
        p = Path(inp)
        if p.is_dir():
            files.extend(f for f in p.rglob("*") if f.is_file())
        else:
            files.append(p)
    return files


def write_output(text: str, path: str | None) -> None:
    """Print ``text``, or write it to ``path`` as the module docstring says."""
    if path is None or path in STDOUT_NAMES:
        to_stdout(text)
        return
    if path.endswith("/"):
        raise InputError(f"{path!r}: --output needs a file name, not a folder")
    target = Path(path)
    if target.is_symlink():
        target = Path(os.path.realpath(target))  # write the link's target; the link stays
    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as err:
        raise InputError(f"{path}: cannot write output: {err.strerror or err}") from err
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path}: is a directory; --output needs a file name")
    if st is not None and not stat.S_ISREG(st.st_mode):
        _write_in_place(text, target, path)
    elif st is not None and st.st_nlink > 1:
        _rewrite_linked(text, target, path)
    else:
        _write_atomically(text, target, path, st)


def _write_in_place(text: str, target: Path, shown: str) -> None:
    """A FIFO, a terminal or a device: opened and written, never replaced by a regular file."""
    try:
        with open(target, "w", encoding="utf-8") as fh:
            fh.write(text)
    except BrokenPipeError:
        return  # a FIFO whose reader went away: like stdout, not a change of status
    except OSError as err:
        raise InputError(f"{shown}: cannot write output: {err.strerror or err}") from err


def _rewrite_linked(text: str, target: Path, shown: str) -> None:
    """A regular file with other names: rewritten in place (the names stay one file); the old
    content is restored if the new one cannot be written whole."""
    data = text.encode("utf-8")
    try:
        with open(target, "r+b") as fh:
            old = fh.read()
            try:
                fh.seek(0)
                fh.write(data)
                fh.truncate()
                fh.flush()
            except OSError:
                fh.seek(0)
                fh.write(old)
                fh.truncate()
                raise
    except OSError as err:
        raise InputError(f"{shown}: cannot write output: {err.strerror or err}") from err


def _write_atomically(text: str, target: Path, shown: str, st: os.stat_result | None) -> None:
    import tempfile  # only when writing a file (stdout needs none: start-up time)

    mode = st.st_mode & 0o7777 if st is not None else _default_mode()
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".", prefix=f".{target.name}.",
                                   suffix=".tmp")
    except OSError as err:
        raise InputError(f"{shown}: cannot write output: {err.strerror or err}") from err
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, mode)  # mkstemp creates 0600; keep the target's mode, or follow the umask
        os.replace(tmp, target)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(f"{shown}: cannot write output: {err.strerror or err}") from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_files(folder: str | Path, files: dict[str, str]) -> list[Path]:
    """Write ``files`` (name -> text) into ``folder`` all or none: every file goes to a temp file
    first; only when all are written are they renamed into place. On failure nothing new is left
    (no temp file, no part of the set, no folder this call created)."""
    target = Path(folder)
    created = not target.exists()
    for name in files:
        dest = target / name
        if dest.is_symlink() or (dest.exists() and not dest.is_file()):
            raise InputError(f"{dest}: exists and is not a regular file; not replaced")
    import tempfile

    temps: dict[str, str] = {}
    done: list[Path] = []
    existed: dict[str, bool] = {}
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            fd, tmp = tempfile.mkstemp(dir=target, prefix=f".{name}.", suffix=".tmp")
            temps[name] = tmp
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.chmod(tmp, _default_mode())
        existed.update({name: (target / name).exists() for name in files})
        for name, tmp in temps.items():
            os.replace(tmp, target / name)
            done.append(target / name)
    except BaseException:
        for tmp in temps.values():
            Path(tmp).unlink(missing_ok=True)
        for dest in done:
            if not existed.get(dest.name, True):
                dest.unlink(missing_ok=True)
        if created:
            with contextlib.suppress(OSError):
                target.rmdir()
        raise
    return done
