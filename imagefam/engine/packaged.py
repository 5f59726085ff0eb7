"""The folders of imagefam's package data (the shipped rules, the parameter catalogue)."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any


def package_folder(package: str) -> Any:
    """The folder of ``package``'s files: a ``Path`` when the package is on disk (what
    ``importlib.resources.files`` gives then too, without importing it: a few ms of every
    command), else ``importlib.resources``' view (a package inside a zip archive)."""
    file = getattr(import_module(package), "__file__", None)
    if file:
        folder = Path(file).parent
        if folder.is_dir():
            return folder
    from importlib import resources

    return resources.files(package)
