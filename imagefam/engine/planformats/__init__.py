"""Plans from what pipelines already have: Terraform JSON plans and aliyun CLI scripts.

:func:`load_any_plan` reads a native plan, a ``terraform show -json`` plan or a script of
``aliyun ecs`` calls (recognised by content, or named with ``plan_format``) into the same
:class:`~imagefam.engine.loader.Plan` a native plan gives. Every step of a Terraform plan or script
carries its ``source``; what they hold that is not a checked call is in ``Plan.skipped``.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from ..loader import Plan, _step_lines, parse_data, plan_from_data
from ..parsing import Format, InputError, decode, display_name, is_yaml, read_input

FORMATS = ("auto", "native", "terraform", "aliyun-cli")


def _script() -> Any:
    """The script reader, imported when a plan may be a script (each import costs start-up time)."""
    from . import script

    return script


def _terraform() -> Any:
    from . import terraform

    return terraform


def load_any_plan(path: str | Path, plan_format: str = "auto", caller: str | None = None,
                  terraform_dir: str | None = None, stdin_format: Format | None = None) -> Plan:
    """Load ``path`` (``-``: standard input) as ``plan_format`` (``auto``: by content). ``caller`` is
    the account making the calls: required for Terraform plans and scripts; for a native plan it is
    the default caller. ``terraform_dir`` (Terraform plans only) locates each resource block for the
    outputs. ``stdin_format`` says whether standard input is JSON or YAML (default: sniffed)."""
    if terraform_dir is not None and plan_format not in ("auto", "terraform"):
        raise InputError("--terraform-dir applies only to Terraform plans")
    if plan_format not in FORMATS:
        raise InputError(f"--plan-format must be one of {', '.join(FORMATS)}, got {plan_format!r}")
    raw = read_input(path)
    name = display_name(path)
    p = Path(name)
    text = decode(raw, name)  # a UTF-8 byte order mark is dropped
    yaml_text = is_yaml(path, stdin_format, raw)
    fmt = plan_format
    data: Any = None
    if fmt == "auto":
        head = text.lstrip()[:1]
        if head in ("{", "[") and not yaml_text:
            data = parse_data(raw, path, stdin_format)  # parsed once: a large Terraform plan takes a while
            fmt = "terraform" if _terraform().is_terraform_plan(data) else "native"
        elif yaml_text and (str(path) != "-" or stdin_format == "yaml" or not _script().is_aliyun_script(text)):
            fmt = "native"  # a .yaml/.yml file is a plan file, whatever its text mentions
        elif p.suffix.lower() in (".sh", ".bash") or _script().is_aliyun_script(text):
            fmt = "aliyun-cli"
        else:
            fmt = "native"
    if fmt == "aliyun-cli":
        from .script import plan_from_script

        return plan_from_script(text, name, caller)
    if data is None:
        data = parse_data(raw, path, stdin_format)
    if fmt == "terraform":
        from .terraform import plan_from_terraform

        return plan_from_terraform(data, name, caller, terraform_dir)
    if caller is not None and isinstance(data, dict):
        given = data.get("caller")
        if given is not None and str(given) != caller:
            raise InputError(f"{name}: the plan's caller is {given}, but --caller says {caller}")
        data = {**data, "caller": caller}
    return plan_from_data(data, name, _step_lines(text, is_json=not yaml_text))


#: Sensitive values shorter than this are not hidden: replacing them would garble the output.
MIN_REDACT = 4


def redact(text: str, sensitive: tuple[str, ...]) -> str:
    """``text`` with each value a Terraform plan marks sensitive replaced by ``(sensitive)``."""
    for value in sensitive:
        if len(value) >= MIN_REDACT:
            text = text.replace(value, "(sensitive)")
    return text


def describe(source: dict[str, Any] | None) -> str:
    """A step's source as text: the Terraform address, or ``line N`` of a script."""
    if not source:
        return ""
    if source.get("kind") == "terraform":
        return str(source.get("address", ""))
    return f"line {source.get('line')}"


def skipped_summary(skipped: list[dict[str, Any]] | None) -> str | None:
    """``skipped 12 resource changes: 12 not about images`` (None for a native plan)."""
    if skipped is None:
        return None
    if not skipped:
        return "skipped: nothing"
    unit = "resource change" if skipped[0]["source"].get("kind") == "terraform" else "line"
    counts = Counter(s["reason"] for s in skipped)
    parts = [f"{n} {reason}" for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return f"skipped {len(skipped)} {unit}{'s' if len(skipped) != 1 else ''}: " + ", ".join(parts)


_RESOURCE = re.compile(r'^\s*resource\s+"([^"]+)"\s+"([^"]+)"')


def terraform_locations(folder: str | Path, module_sources: dict[tuple[str, ...], str] | None = None
                        ) -> dict[tuple[tuple[str, ...], str], tuple[str, int]]:
    """(module path, "type.name") -> (file, line) of each ``resource`` block in the ``*.tf`` files of
    ``folder`` and of the local modules it calls (``source = "./..."``)."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{folder}: --terraform-dir is not a directory")
    out: dict[tuple[tuple[str, ...], str], tuple[str, int]] = {}
    dirs: dict[tuple[str, ...], Path] = {(): root}
    for path, src in sorted((module_sources or {}).items(), key=lambda kv: len(kv[0])):
        parent = dirs.get(path[:-1])
        if parent is not None and src.startswith(("./", "../")):
            dirs[path] = parent / src
    for path, d in dirs.items():
        for tf in sorted(d.glob("*.tf")):
            try:
                lines = tf.read_text("utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                continue
            for n, line in enumerate(lines, start=1):
                m = _RESOURCE.match(line)
                if m:
                    out.setdefault((path, f"{m.group(1)}.{m.group(2)}"), (str(tf), n))
    return out


def resource_key(address: str) -> tuple[tuple[str, ...], str]:
    """``module.a[0].alicloud_image.app["web"]`` -> (("a",), "alicloud_image.app")."""
    modules = tuple(re.findall(r"module\.([A-Za-z0-9_-]+)(?:\[[^\]]*\])?\.", address))
    rest = re.sub(r"^(?:module\.[A-Za-z0-9_-]+(?:\[[^\]]*\])?\.)*", "", address)
    rest = re.sub(r"\[[^\]]*\]$", "", rest)
    return modules, rest
