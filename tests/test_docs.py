"""Documentation stays true: every command's --help is in docs/cli.md exactly, every flag of every
command is mentioned there, and every public name of the API is documented in docs/api.md."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import imagefam
from imagefam.cli import build_parser

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _updater():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("update_cli_help", DOCS / "update_cli_help.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_md_holds_the_current_help_of_every_command() -> None:
    text = (DOCS / "cli.md").read_text("utf-8")
    assert _updater().regenerate(text) == text, "run: python docs/update_cli_help.py"


def _commands(parser: argparse.ArgumentParser, path: list[str]) -> list[tuple[list[str], argparse.ArgumentParser]]:
    out = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += _commands(sub, [*path, name])
    return out


def test_every_command_and_flag_is_documented() -> None:
    text = (DOCS / "cli.md").read_text("utf-8")
    for path, parser in _commands(build_parser(), []):
        if path:
            assert f"$ imagefam {' '.join(path)} --help" in text, f"imagefam {' '.join(path)} has no --help block"
        for action in parser._actions:
            for flag in action.option_strings:
                if flag.startswith("--"):
                    assert flag in text, f"{flag} of imagefam {' '.join(path)} is not in docs/cli.md"
            if not isinstance(action, argparse._SubParsersAction):
                assert action.help, f"{action.dest} of imagefam {' '.join(path)} has no help text"


def test_every_public_api_name_is_documented() -> None:
    text = (DOCS / "api.md").read_text("utf-8")
    for name in imagefam.__all__:
        assert f"`{name}" in text or f".{name}(" in text or f"`imagefam.{name}" in text, f"{name} not in docs/api.md"
