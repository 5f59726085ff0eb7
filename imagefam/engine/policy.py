"""The ECS policy: the shipped rule files, the user's, loaded against the ECS environment.

:func:`load_policy` is ``imagefam.load_policy``: the shipped files (``imagefam/policy/*.rules``)
load first, then the user's (``--policy``), as two layers (see :mod:`imagefam.rules.policy`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

from ..rules.compiled import Policy
from ..rules.errors import Source, did_you_mean
from ..rules.policy import load_policy as load_layers
from .environment import ECS
from .parsing import InputError


def shipped_sources() -> list[Source]:
    folder = resources.files("imagefam.policy")
    out = []
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".rules"):
            out.append(Source(f"imagefam/policy/{item.name}", item.read_text("utf-8")))
    return out


PACK_PREFIX = "pack:"


def pack_names() -> list[str]:
    """The policy packs that ship with imagefam (off unless asked for with ``pack:<name>``)."""
    folder = resources.files("imagefam.policy").joinpath("packs")
    return sorted(p.name[: -len(".rules")] for p in folder.iterdir() if p.name.endswith(".rules"))


def pack_source(spec: str) -> Source:
    """``pack:<name>``: the shipped pack ``imagefam/policy/packs/<name>.rules``."""
    name = spec[len(PACK_PREFIX):]
    if name not in pack_names():
        hint = did_you_mean(name, pack_names())
        raise InputError(f"{spec}: no such policy pack" + (f"; {hint}" if hint else "")
                         + f" (packs: {', '.join(pack_names())})")
    text = resources.files("imagefam.policy").joinpath("packs", f"{name}.rules").read_text("utf-8")
    return Source(f"imagefam/policy/packs/{name}.rules", text)


def is_pack(path: str | Path) -> bool:
    return isinstance(path, str) and path.startswith(PACK_PREFIX)


def read_sources(paths: Iterable[str | Path]) -> list[Source]:
    """Rule files from paths (files, or folders searched for ``*.rules``, or ``pack:<name>`` for a
    shipped policy pack), in a stable order."""
    out: list[Source] = []
    for p in paths:
        if is_pack(p):
            out.append(pack_source(str(p)))
            continue
        path = Path(p)
        if path.is_dir():
            files = sorted(path.rglob("*.rules"))
            if not files:
                raise InputError(f"{path}: folder holds no *.rules files")
        elif path.is_file():
            files = [path]
        else:
            raise InputError(f"{path}: no such file or folder")
        for f in files:
            try:
                out.append(Source(str(f), f.read_text("utf-8")))
            except (OSError, UnicodeDecodeError) as err:
                raise InputError(f"{f}: cannot read rule file: {err}") from err
    return out


def load_policy(paths: Sequence[str | Path] = (), *, default: bool = True,
                sources: Sequence[Source] = ()) -> Policy:
    """Load, check and compile a policy: the shipped files (unless ``default`` is False), then the
    packs named ``pack:<name>`` in ``paths``, then the other ``paths`` and ``sources``. Each is a
    layer that replaces what the layers before it define. Raises
    :class:`~imagefam.rules.errors.PolicyError` with every diagnostic on errors,
    :class:`~.parsing.InputError` for a path that cannot be read."""
    shipped = shipped_sources() if default else []
    packs = [pack_source(str(p)) for p in dict.fromkeys(p for p in paths if is_pack(p))]
    user = read_sources([p for p in paths if not is_pack(p)]) + list(sources)
    return load_layers(ECS, [(True, shipped), (True, packs), (False, user)])
