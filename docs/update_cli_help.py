"""Regenerate every ``$ imagefam ... --help`` block in docs/cli.md from the real parser.

Run ``python docs/update_cli_help.py`` after changing a command or flag; tests/test_docs.py fails
when docs/cli.md and ``--help`` disagree.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
from pathlib import Path

CLI_MD = Path(__file__).with_name("cli.md")
PROMPT = re.compile(r"^\$ imagefam(?P<args>(?: [\w-]+)*) --help$")


def help_text(args: list[str]) -> str:
    from imagefam.cli import main

    os.environ["COLUMNS"] = "80"
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main([*args, "--help"])
    return out.getvalue().rstrip("\n")


def regenerate(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = PROMPT.match(lines[i])
        out.append(lines[i])
        i += 1
        if not m:
            continue
        out.extend(help_text(m.group("args").split()).split("\n"))
        while i < len(lines) and not lines[i].startswith("$ ") and not lines[i].startswith("```"):
            i += 1
    return "\n".join(out)


if __name__ == "__main__":
    new = regenerate(CLI_MD.read_text("utf-8"))
    changed = new != CLI_MD.read_text("utf-8")
    CLI_MD.write_text(new, "utf-8")
    print("docs/cli.md updated" if changed else "docs/cli.md already current")
    sys.exit(0)
