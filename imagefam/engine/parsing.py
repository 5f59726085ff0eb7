"""Reading JSON and YAML input text into Python data, strictly.

- A UTF-8 byte order mark is accepted and dropped; other bytes must be UTF-8.
- A key repeated in one object (JSON or YAML) is an error naming the file and line: no last-wins.
  In YAML, keys that override a ``<<`` merge are not repeats.
- YAML scalars follow YAML 1.2 (the core schema): ``true``/``false`` are the only booleans
  (``yes``, ``no``, ``on``, ``off`` stay strings), ``null``/``~``/empty are null, numbers are
  decimal (``-12``, ``3.5``, ``1e3``), ``0o17`` or ``0x1F``. A number with a leading zero
  (``0100001``), a sexagesimal (``1:20``) and a timestamp stay strings.
- YAML aliases may expand to at most :data:`MAX_ALIAS_NODES` nodes (or ten times the document's
  own size, if that is more), and may not refer to themselves: an alias bomb is an error at
  once, not minutes of work and gigabytes of memory.
- ``-`` as a path means standard input: JSON, or YAML when told so or when the text does not start
  like JSON.

Every problem is an :class:`InputError` naming the file and, where known, the line and column.
"""

from __future__ import annotations

import codecs
import json
import re
import sys
from pathlib import Path
from typing import Any, Literal

import yaml

from .. import progress


class InputError(Exception):
    """Bad input that is not rule text (a state, plan or rule file that cannot be read, a flag): a
    message naming the file, line or field and what was expected; the command exits with 2."""


Format = Literal["json", "yaml"]
STDIN = "-"
STDIN_NAME = "<stdin>"
#: The most nodes YAML aliases may expand to, whatever the document's size.
MAX_ALIAS_NODES = 1_000_000
#: Larger JSON texts are not rescanned for the line of a repeated key (the key is still named).
_LINE_SCAN_LIMIT = 50_000_000

def display_name(path: str | Path) -> str:
    return STDIN_NAME if str(path) == STDIN else str(path)


def read_input(path: str | Path) -> bytes:
    """The bytes of ``path``, or of standard input for ``-`` (which can be read only once)."""
    if str(path) == STDIN:
        try:
            return bytes(sys.stdin.buffer.read())
        except (OSError, AttributeError, ValueError) as err:
            raise InputError(f"{STDIN_NAME}: cannot read standard input: {err}") from err
    p = Path(path)
    try:
        return progress.read_bytes(p)  # with a progress bar for a large file, when asked for
    except OSError as err:
        raise InputError(f"{p}: cannot read: {err.strerror or err}") from err


def is_yaml(path: str | Path, stdin_format: Format | None = None, raw: bytes = b"") -> bool:
    """YAML by extension (``.yaml``/``.yml``); for stdin, by ``stdin_format`` or by sniffing."""
    if str(path) == STDIN:
        if stdin_format is not None:
            return stdin_format == "yaml"
        head = strip_bom(raw)[:4096].lstrip()
        return not head.startswith((b"{", b"["))
    return Path(path).suffix.lower() in (".yaml", ".yml")


def strip_bom(raw: bytes) -> bytes:
    return raw[len(codecs.BOM_UTF8):] if raw.startswith(codecs.BOM_UTF8) else raw


def decode(raw: bytes, name: str) -> str:
    try:
        return strip_bom(raw).decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"{name}: not UTF-8 text (byte {err.start})") from err


# ---------------------------------------------------------------- JSON


class _Repeated(Exception):
    def __init__(self, key: str, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(key)
        self.key = key
        self.pairs = pairs


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Repeated(key, pairs)
            seen.add(key)
    return out


_SPACED_COLON = re.compile(rb'"[ \t\r\n]+:')


def key_count(raw: bytes) -> int | None:
    """The number of object keys in valid JSON ``raw`` (every key ends with ``":``, and outside a
    key that pair needs an escaped quote), or None when the text makes that count unreliable (a
    ``\\"`` escape, or whitespace before a colon). Two C-level scans."""
    if (b"\\" in raw and b'\\"' in raw) or _SPACED_COLON.search(raw):  # a rare byte first: a fast scan
        return None
    return raw.count(b'":')


def no_repeated_keys(raw: bytes, keys_at_least: int) -> bool:
    """True when JSON ``raw``, already parsed (last-wins) into data holding at least
    ``keys_at_least`` keys, can hold no repeated key; False means "maybe": parse it with
    :func:`parse_json` to know. Cheap: when the text has no more keys (:func:`key_count`) than the
    data has, no key was dropped."""
    count = key_count(raw)
    return count is not None and count <= keys_at_least


def parse_json(text: str, name: str) -> Any:
    """JSON text as Python data; a repeated key is an error naming its line."""
    try:
        return json.loads(text, object_pairs_hook=_no_repeats)
    except json.JSONDecodeError as err:
        raise InputError(f"{name}:{err.lineno}:{err.colno}: invalid JSON: {err.msg}") from err
    except _Repeated as rep:
        raise InputError(f"{name}{_json_repeat_where(text, rep)}: key {_short(rep.key)!r} appears twice in one "
                         "object (each key may appear once)") from None
    except RecursionError as err:
        raise InputError(f"{name}: JSON nested too deeply") from err


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


_JSON_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"\s*(:)?|[{}\[\]]|\n')


def _json_repeat_where(text: str, rep: _Repeated) -> str:
    """``:LINE`` of the second occurrence of a repeated key, found by a scan of the text."""
    label = ""
    ids = [v for k, v in rep.pairs if k == "ImageId" and isinstance(v, str)]
    if ids:
        label = f" (object with ImageId {_short(ids[0])})"
    if len(text) > _LINE_SCAN_LIMIT:
        return label
    line = 1
    stack: list[set[str] | None] = []
    for m in _JSON_TOKEN.finditer(text):
        tok = m.group()
        if tok == "\n":
            line += 1
        elif tok == "{":
            stack.append(set())
        elif tok == "[":
            stack.append(None)
        elif tok in "}]":
            if stack:
                stack.pop()
        else:
            if m.group(1) and stack and stack[-1] is not None:
                try:
                    key = json.loads(tok[: tok.rindex('"') + 1])
                except ValueError:
                    key = None
                if key in stack[-1]:
                    if key == rep.key:
                        return f":{line}{label}"
                elif isinstance(key, str):
                    stack[-1].add(key)
            line += tok.count("\n")
    return label


# ---------------------------------------------------------------- YAML

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when PyYAML has it


class StrictLoader(_Base):  # type: ignore[misc]
    """A safe loader with YAML 1.2 core-schema scalars and no repeated keys."""

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012  (PyYAML's class-level registry)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                if isinstance(key_node, yaml.ScalarNode):
                    key = (key_node.tag, key_node.value)
                    if key in seen:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"key {_short(str(key_node.value))!r} appears twice in one mapping "
                            f"(first at line {seen[key].line + 1}; each key may appear once)", key_node.start_mark)
                    seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def _resolver(tag: str, pattern: str, first: str | list[str]) -> None:
    StrictLoader.add_implicit_resolver(tag, re.compile(pattern, re.X), list(first))


_resolver("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF")
_resolver("tag:yaml.org,2002:int", r"^(?:[-+]?(?:0|[1-9][0-9]*)|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789")
_resolver("tag:yaml.org,2002:float",
          r"""^(?:[-+]?(?:\.[0-9]+|(?:0|[1-9][0-9]*)(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
                |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""", "-+0123456789.")
_resolver("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""])
_resolver("tag:yaml.org,2002:merge", r"^(?:<<)$", "<")


def _bool(loader: Any, node: Any) -> bool:
    return bool(loader.construct_scalar(node).lower() == "true")


def _int(loader: Any, node: Any) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text)


def _float(loader: Any, node: Any) -> float:
    text = str(loader.construct_scalar(node)).lower()
    if text.endswith(".inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    return float("nan") if text == ".nan" else float(text)


StrictLoader.add_constructor("tag:yaml.org,2002:bool", _bool)
StrictLoader.add_constructor("tag:yaml.org,2002:int", _int)
StrictLoader.add_constructor("tag:yaml.org,2002:float", _float)


def _expanded_size(root: Any, name: str) -> None:
    """Refuse a node graph whose aliases expand too far, or that refers to itself."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    distinct = 0
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            children = [c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode) else \
                node.value
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            continue
        if key in sizes:
            continue
        if key in on_path:
            mark = node.start_mark
            raise InputError(f"{name}:{mark.line + 1}:{mark.column + 1}: invalid YAML: an alias refers to a node "
                             "that contains it")
        if isinstance(node, yaml.ScalarNode):
            sizes[key] = 1
            distinct += 1
            continue
        distinct += 1
        on_path.add(key)
        stack.append((node, True))
        children = [c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode) else node.value
        stack.extend((c, False) for c in children if id(c) not in sizes)
    total = sizes[id(root)]
    limit = max(MAX_ALIAS_NODES, 10 * distinct)
    if total > limit:
        raise InputError(f"{name}: invalid YAML: its aliases expand to {total:,} nodes (at most {limit:,} are "
                         "allowed): use fewer nested aliases")


def compose_yaml(text: str, name: str) -> Any:
    """The YAML text's node graph (checked for alias blow-up), or None for an empty document."""
    loader = StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None and "&" in text and "*" in text:  # no anchor or no alias: nothing expands
            _expanded_size(node, name)
        return loader, node
    except yaml.YAMLError as err:
        raise _yaml_error(err, name) from err
    except RecursionError as err:
        raise InputError(f"{name}: YAML nested too deeply") from err


def construct_yaml(loader: Any, node: Any, name: str) -> Any:
    try:
        return loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as err:
        raise _yaml_error(err, name) from err
    except RecursionError as err:
        raise InputError(f"{name}: YAML nested too deeply") from err
    finally:
        loader.dispose()


def parse_yaml(text: str, name: str) -> Any:
    loader, node = compose_yaml(text, name)
    return construct_yaml(loader, node, name)


def _yaml_error(err: yaml.YAMLError, name: str) -> InputError:
    mark = getattr(err, "problem_mark", None)
    where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    return InputError(f"{name}{where}: invalid YAML: {_short(str(problem), 200)}")


def parse_text(raw: bytes, path: str | Path, stdin_format: Format | None = None) -> Any:
    """Parse JSON or YAML bytes (by ``path``'s extension, or for stdin by ``stdin_format`` or sniffing)."""
    name = display_name(path)
    text = decode(raw, name)
    return parse_yaml(text, name) if is_yaml(path, stdin_format, raw) else parse_json(text, name)
