"""The ECS policy: the shipped rule files, the user's, loaded against the ECS environment.

:func:`load_policy` is ``imagefam.load_policy``: the shipped files (``imagefam/policy/*.rules``)
load first, then the user's (``--policy``), as two layers (see :mod:`imagefam.rules.policy`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from ..rules.compiled import Policy
from ..rules.errors import Diagnostic, PolicyError, Source, Span, did_you_mean
from ..rules.policy import load_policy as load_layers
from .environment import ECS
from .packaged import package_folder
from .parsing import InputError


def shipped_sources() -> list[Source]:
    folder = package_folder("imagefam.policy")
    out = []
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".rules"):
            out.append(Source(f"imagefam/policy/{item.name}", item.read_text("utf-8")))
    return out


PACK_PREFIX = "pack:"


def pack_names() -> list[str]:
    """The policy packs that ship with imagefam (off unless asked for with ``pack:<name>``)."""
    folder = package_folder("imagefam.policy").joinpath("packs")
    return sorted(p.name[: -len(".rules")] for p in folder.iterdir() if p.name.endswith(".rules"))


def pack_source(spec: str) -> Source:
    """``pack:<name>``: the shipped pack ``imagefam/policy/packs/<name>.rules``."""
    name = spec[len(PACK_PREFIX):]
    if name not in pack_names():
        hint = did_you_mean(name, pack_names())
        raise InputError(f"{spec}: no such policy pack" + (f"; {hint}" if hint else "")
                         + f" (packs: {', '.join(pack_names())})")
    text = package_folder("imagefam.policy").joinpath("packs", f"{name}.rules").read_text("utf-8")
    return Source(f"imagefam/policy/packs/{name}.rules", text)


def is_pack(path: str | Path) -> bool:
    return isinstance(path, str) and path.startswith(PACK_PREFIX)


def read_sources(paths: Iterable[str | Path], notices: list[str] | None = None) -> list[Source]:
    """Rule files from paths (files, or folders searched for ``*.rules`` in any case, or
    ``pack:<name>`` for a shipped policy pack), in a stable order. Files of a folder that look like
    rule files but are not read (``*.rule``) are named in ``notices``. A UTF-8 byte order mark is
    skipped; a file that is not UTF-8 is a located error."""
    out: list[Source] = []
    for p in paths:
        if is_pack(p):
            out.append(pack_source(str(p)))
            continue
        path = Path(p)
        if path.is_dir():
            found = sorted(f for f in path.rglob("*") if f.is_file())
            files = [f for f in found if f.suffix.lower() == ".rules"]
            for f in found:
                if f.suffix.lower() == ".rule" and notices is not None:
                    notices.append(f"{f}: not read: rule files end in .rules")
            if not files:
                raise InputError(f"{path}: folder holds no *.rules files")
        elif path.is_file():
            files = [path]
        else:
            raise InputError(f"{path}: no such file or folder")
        for f in files:
            try:
                data = f.read_bytes()
            except OSError as err:
                raise InputError(f"{f}: cannot read rule file: {err.strerror or err}") from err
            out.append(decode_source(str(f), data))
    return out


def decode_source(name: str, data: bytes) -> Source:
    """A rule file's bytes as a :class:`Source` (BOM skipped); bytes that are not UTF-8 raise a
    :class:`PolicyError` at their line and column."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        line_start = data.rfind(b"\n", 0, err.start) + 1
        col = len(data[line_start:err.start].decode("utf-8", "replace")) + 1
        shown = Source(name, data.decode("utf-8", "replace"))
        raise PolicyError([Diagnostic(shown, Span.point(line, col),
                                      f"the file is not UTF-8: byte 0x{data[err.start]:02x} cannot be decoded",
                                      "save the rule file as UTF-8")]) from None
    return Source(name, text.removeprefix("\ufeff"))


def load_policy(paths: Sequence[str | Path] = (), *, default: bool = True,
                sources: Sequence[Source] = ()) -> Policy:
    """Load, check and compile a policy: the shipped files (unless ``default`` is False), then the
    packs named ``pack:<name>`` in ``paths``, then the other ``paths`` and ``sources``. Each is a
    layer that replaces what the layers before it define. Raises
    :class:`~imagefam.rules.errors.PolicyError` with every diagnostic on errors,
    :class:`~.parsing.InputError` for a path that cannot be read."""
    shipped = shipped_sources() if default else []
    packs = [pack_source(str(p)) for p in dict.fromkeys(p for p in paths if is_pack(p))]
    notices: list[str] = []
    user = read_sources([p for p in paths if not is_pack(p)], notices) + list(sources)
    policy = load_layers(ECS, [(True, shipped), (True, packs), (False, user)])
    policy.notices[:0] = notices
    return policy
