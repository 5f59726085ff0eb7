"""The ECS policy: the shipped rule files, the user's, loaded against the ECS environment.

:func:`load_policy` is ``imagefam.load_policy``: the shipped files (``imagefam/policy/*.rules``)
load first, then the user's (``--policy``), as two layers (see :mod:`imagefam.rules.policy`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

from ..rules.compiled import Policy
from ..rules.errors import Source
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


def read_sources(paths: Iterable[str | Path]) -> list[Source]:
    """Rule files from paths (files, or folders searched for ``*.rules``), in a stable order."""
    out: list[Source] = []
    for p in paths:
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
    """Load, check and compile a policy: the shipped files (unless ``default`` is False), then
    ``paths`` and ``sources``. Raises :class:`~imagefam.rules.errors.PolicyError` with every
    diagnostic on errors, :class:`~.loader.InputError` for a path that cannot be read."""
    shipped = shipped_sources() if default else []
    return load_layers(ECS, [(True, shipped), (False, read_sources(paths) + list(sources))])
