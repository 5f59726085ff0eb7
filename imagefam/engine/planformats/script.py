"""Deploy scripts of ``aliyun ecs <Action> --Param value`` calls as imagefam steps.

A small reader of POSIX shell words, enough for deploy scripts: quoting (``'...'``, ``"..."``,
backslashes), line continuations, comments, command separators (``;``, ``&&``, ``||``, ``|``,
``&``, newlines), redirections, and ``$VAR``/``${VAR}``/``$(...)`` as values not known until the
script runs. It does not run anything.

- Each command that starts with ``aliyun ecs <Action>`` (after variable assignments and ``if``,
  ``then``, ``do`` and similar keywords) is a step: ``--Param value`` (or ``--Param=value``) are
  request parameters, ``--AddAccount.1 x`` indexed list items, and the CLI's ``--region`` is the
  ``RegionId``. A value holding a variable is not known until the script runs (``Step.unknown``),
  except a variable assigned from a ``CreateImage``/``CopyImage`` call of the same script
  (``ID=$(aliyun ecs CreateImage ... | jq -r .ImageId)``): it names the image that call creates.
- ``aliyun ess`` scaling-configuration calls and every other command are skipped and counted.
- What cannot be read safely is an error naming the line: an ``aliyun ecs`` call that is not at
  the start of a command, an unknown CLI flag, a kebab-case action, a near miss of a supported
  action, an unterminated quote.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from ...rules.errors import did_you_mean
from ..actions import ACTIONS
from ..loader import Plan, plan_from_data
from ..models import SCALING_ACTIONS
from ..parsing import InputError

NOT_YET = "for scaling configurations (not checked yet)"
REASONS = {"other": "without an aliyun ecs call", "ecs": "with an aliyun ecs call not about images",
           "not-yet": NOT_YET,
           "ess-region": "with an aliyun ess call whose --region is known only when the script runs"}
# each reads after "N line(s)"
#: the aliyun CLI's own flags: those that take one value, and those that take none
CLI_VALUE_FLAGS = frozenset({"region", "profile", "endpoint", "mode", "access-key-id", "access-key-secret",
                             "sts-token", "sts-region", "ram-role-name", "ram-role-arn", "role-session-name",
                             "private-key", "key-pair-name", "language", "read-timeout", "connect-timeout",
                             "retry-count", "config-path", "external-id", "oidc-provider-arn",
                             "oidc-token-file", "header", "body", "body-file", "method", "expire-seconds",
                             "process-command", "credentials-uri", "cloud-sso-sign-in-url",
                             "cloud-sso-account-id", "cloud-sso-access-config", "version"})
CLI_BOOL_FLAGS = frozenset({"force", "dryrun", "quiet", "insecure", "secure", "skip-secure-verify"})
CLI_KV_FLAGS = frozenset({"output", "waiter", "pager"})  # followed by key=value words
KEYWORDS = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "time", "{", "}", "sudo",
                      "command", "exec", "nohup"})
_SEPARATORS = ";&|()"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass
class Word:
    text: str = ""
    line: int = 0
    vars: list[str] = field(default_factory=list)  # $NAME, ${NAME}, $(...), `...`: not known
    substs: list[tuple[str, int]] = field(default_factory=list)  # (inner text, line) of $(...)
    quoted: bool = False

    @property
    def known(self) -> bool:
        return not self.vars


class _Reader:
    def __init__(self, text: str, source: str, line: int = 1) -> None:
        self.t, self.i, self.line, self.source = text, 0, line, source
        self.commands: list[list[Word]] = []
        self.heredocs: list[str] = []  # delimiters of here-documents whose text starts on the next line

    def skip_heredocs(self) -> None:
        """Skip the text of pending here-documents (up to each delimiter line): it is not commands."""
        t = self.t
        while self.heredocs:
            delim = self.heredocs.pop(0)
            start = self.line
            while self.i < len(t):
                end = t.find("\n", self.i)
                line = t[self.i:] if end < 0 else t[self.i:end]
                self.i = len(t) if end < 0 else end + 1
                self.line += 1
                if line.strip() == delim:
                    break
            else:
                raise self.error(f"here-document without its end line {delim!r}", start - 1)

    def error(self, what: str, line: int | None = None) -> InputError:
        return InputError(f"{self.source}:{line or self.line}: {what}")

    def run(self) -> list[list[Word]]:
        t = self.t
        cmd: list[Word] = []
        drop_next = False
        while self.i < len(t):
            c = t[self.i]
            if c == "\\" and t.startswith("\n", self.i + 1):
                self.i += 2
                self.line += 1
            elif c in " \t\r":
                self.i += 1
            elif c == "\n" or c in _SEPARATORS:
                if cmd:
                    self.commands.append(cmd)
                cmd = []
                self.i += 1
                if c == "\n":
                    self.line += 1
                    self.skip_heredocs()
            elif t.startswith("<<", self.i) and not t.startswith("<<<", self.i):  # a here-document: text
                self.i += 3 if t.startswith("<<-", self.i) else 2
                while self.i < len(t) and t[self.i] in " \t":
                    self.i += 1
                self.heredocs.append(self.word().text)
            elif c == "#":
                end = t.find("\n", self.i)
                self.i = len(t) if end < 0 else end
            elif c in "<>":
                while self.i < len(t) and t[self.i] in "<>&":
                    self.i += 1
                if self.i < len(t) and t[self.i].isdigit() and (self.i + 1 >= len(t) or not t[self.i + 1].isalnum()):
                    self.i += 1  # 2>&1
                else:
                    drop_next = True  # the redirection's target is not an argument
                if cmd and cmd[-1].text.isdigit() and not cmd[-1].quoted:
                    cmd.pop()  # the 2 of 2>file
            else:
                word = self.word()
                if drop_next:
                    drop_next = False
                else:
                    cmd.append(word)
        if cmd:
            self.commands.append(cmd)
        return self.commands

    def word(self) -> Word:
        t = self.t
        w = Word(line=self.line)
        out: list[str] = []
        while self.i < len(t):
            c = t[self.i]
            if c in " \t\r\n" or c in _SEPARATORS or c in "<>":
                break
            if c == "\\":
                if t.startswith("\n", self.i + 1):
                    self.line += 1
                else:
                    out.append(t[self.i + 1:self.i + 2])
                self.i += 2
            elif c == "'":
                end = t.find("'", self.i + 1)
                if end < 0:
                    raise self.error("unterminated single quote", w.line)
                out.append(t[self.i + 1:end])
                self.line += t.count("\n", self.i, end)
                self.i = end + 1
                w.quoted = True
            elif c == '"':
                self.i += 1
                w.quoted = True
                while True:
                    if self.i >= len(t):
                        raise self.error("unterminated double quote", w.line)
                    d = t[self.i]
                    if d == '"':
                        self.i += 1
                        break
                    if d == "\\" and self.i + 1 < len(t) and t[self.i + 1] in '"\\$`\n':
                        if t[self.i + 1] == "\n":
                            self.line += 1
                        else:
                            out.append(t[self.i + 1])
                        self.i += 2
                    elif d in "$`":
                        out.append(self.dollar(w))
                    else:
                        if d == "\n":
                            self.line += 1
                        out.append(d)
                        self.i += 1
            elif c in "$`":
                out.append(self.dollar(w))
            else:
                out.append(c)
                self.i += 1
        w.text = "".join(out)
        return w

    def dollar(self, w: Word) -> str:
        """Read ``$NAME``, ``${...}``, ``$(...)`` or a backquoted command; it is not known."""
        t, start, line = self.t, self.i, self.line
        if t[self.i] == "`":
            end = t.find("`", self.i + 1)
            if end < 0:
                raise self.error("unterminated backquote", line)
            inner = t[self.i + 1:end]
            self.i = end + 1
            w.substs.append((inner, line))
        elif t.startswith("${", self.i):
            end = t.find("}", self.i)
            if end < 0:
                raise self.error("unterminated ${", line)
            self.i = end + 1
        elif t.startswith("$(", self.i):
            depth, j, quote = 0, self.i + 1, ""
            while j < len(t):
                ch = t[j]
                if quote:
                    if ch == quote:
                        quote = ""
                    elif ch == "\\" and quote == '"':
                        j += 1
                elif ch in "'\"":
                    quote = ch
                elif ch == "(":
                    depth += 1
                elif ch == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j >= len(t):
                raise self.error("unterminated $(", line)
            inner = t[self.i + 2:j]
            w.substs.append((inner, line))
            self.i = j + 1
        else:
            m = _NAME.match(t, self.i + 1)
            if m:
                self.i = m.end()
            elif self.i + 1 < len(t) and (t[self.i + 1].isdigit() or t[self.i + 1] in "@*#?$!-"):
                self.i += 2
            else:  # a lone $ is a literal dollar sign
                self.i += 1
                return "$"
        self.line += t.count("\n", start, self.i)
        text = t[start:self.i]
        w.vars.append(text)
        return text


def is_aliyun_script(text: str) -> bool:
    """Whether ``text`` looks like a shell script with aliyun CLI calls."""
    return bool(re.search(r"(?m)^[^#\n]*\baliyun\s+(?:--?[\w-]+(?:[ =]\S+)?\s+)*(?:ecs|ess)\s", text)) or \
        text.startswith("#!")


@dataclass
class _Call:
    line: int
    data: dict[str, Any]
    unknown: dict[str, str]


class _Script:
    def __init__(self, source: str) -> None:
        self.source = source
        self.calls: list[_Call] = []
        self.skipped: list[dict[str, Any]] = []
        self.bound: dict[str, str] = {}  # variable -> ImageId of the image a call of the script created

    def skip(self, line: int, reason: str) -> None:
        self.skipped.append({"source": {"kind": "script", "line": line}, "reason": REASONS[reason]})

    def error(self, line: int, what: str) -> InputError:
        return InputError(f"{self.source}:{line}: {what}")

    def commands(self, text: str, line: int = 1) -> None:
        for cmd in _Reader(text, self.source, line).run():
            self.command(cmd)

    def command(self, cmd: list[Word]) -> None:
        first = cmd[0].line
        i = 0
        while i < len(cmd) and cmd[i].text in KEYWORDS and not cmd[i].quoted:
            i += 1
        assigned = False
        while i < len(cmd) and _ASSIGN.match(cmd[i].text) and not cmd[i].text.startswith("--"):
            self.assignment(cmd[i])
            assigned = True
            i += 1
        rest = cmd[i:]
        if not rest:
            if not assigned:
                self.skip(first, "other")
            return
        if _is_aliyun(rest[0]):
            self.call(rest)
            return
        for j, w in enumerate(rest[1:], start=1):
            if _is_aliyun(w) and j + 1 < len(rest) and rest[j + 1].text in ("ecs", "ess"):
                raise self.error(w.line, f"an aliyun {rest[j + 1].text} call that is not at the start of a command "
                                 f"(after {rest[0].text!r}): imagefam cannot tell what it does; call it directly")
        self.skip(first, "other")

    def assignment(self, w: Word) -> None:
        name = w.text.split("=", 1)[0]
        self.bound.pop(name, None)
        for inner, line in w.substs:
            before = len(self.calls)
            self.commands(inner, line)
            created = [c for c in self.calls[before:] if c.data["Action"] in ("CreateImage", "CopyImage")]
            if len(created) == 1 and len(w.substs) == 1:
                image_id = f"${name}"
                created[0].data["creates"] = image_id
                self.bound[name] = image_id

    def value(self, w: Word, param: str, unknown: dict[str, str]) -> str:
        if w.known:
            return w.text
        if len(w.vars) == 1 and w.text == w.vars[0]:
            name = w.text.strip("${}")
            if name in self.bound:
                return self.bound[name]
        unknown[param] = f"{w.text}, line {w.line}"
        return w.text

    def call(self, words: list[Word]) -> None:
        line = words[0].line
        i = 1
        region: Word | None = None
        while i < len(words) and words[i].text.startswith("-"):  # global flags before the product
            region = self.region_flag(words, i) or region
            i = self.flag(words, i, line)
        if i >= len(words):
            self.skip(line, "other")
            return
        product = words[i].text.lower()
        if product not in ("ecs", "ess"):
            self.skip(line, "other")
            return
        if i + 1 >= len(words):
            raise self.error(line, f"aliyun {product} without an action")
        action = words[i + 1].text
        if product == "ess" and action not in SCALING_ACTIONS:
            self.skip(line, "other")
            return
        if "-" in action or action[:1].islower():
            raise self.error(line, f"imagefam reads the PascalCase form of aliyun ecs calls "
                             f"(aliyun ecs DeleteImage --ImageId ...), got {action!r}")
        if action not in ACTIONS:
            close = difflib.get_close_matches(action, list(ACTIONS), n=1, cutoff=0.9)
            if close:
                raise self.error(line, f"unknown ecs action {action!r}; did you mean {close[0]!r}?")
            self.skip(line, "ecs")
            return
        data: dict[str, Any] = {"Action": action}
        unknown: dict[str, str] = {}
        i += 2
        while i < len(words):
            w = words[i]
            if not w.text.startswith("--"):
                raise self.error(w.line, f"unexpected argument {w.text!r} (parameters are --Name value)")
            name, eq, inline = w.text[2:].partition("=")
            if name[:1].isupper():
                if eq:
                    value_word = Word(inline, w.line, w.vars, w.substs, w.quoted)
                    i += 1
                elif i + 1 < len(words) and not words[i + 1].text.startswith("--"):
                    value_word = words[i + 1]
                    i += 2
                else:
                    raise self.error(w.line, f"--{name} needs a value")
                if name in data:
                    raise self.error(w.line, f"--{name} is given twice")
                data[name] = self.value(value_word, name, unknown)
                continue
            region = self.region_flag(words, i) or region
            i = self.flag(words, i, line)
        if product == "ess":  # Auto Scaling calls have no RegionId: --region is the step's region key
            if region is not None:
                scratch: dict[str, str] = {}
                value = self.value(region, "region", scratch)
                if scratch:
                    self.skip(line, "ess-region")
                    return
                data["region"] = value
        else:
            self.region(data, unknown, region, line)
        self._lists(data, unknown)
        self.calls.append(_Call(line, data, unknown))

    def region(self, data: dict[str, Any], unknown: dict[str, str], region: Word | None, line: int) -> None:
        if region is not None:
            value = self.value(region, "RegionId", unknown)
            if "RegionId" in data and data["RegionId"] != value:
                raise self.error(line, f"--region {value} and --RegionId {data['RegionId']} disagree")
            data["RegionId"] = value
        elif "RegionId" not in data and data["Action"] != "ReplaceSystemDisk":
            data["RegionId"] = "(the CLI profile's region)"
            unknown["RegionId"] = "no --region or --RegionId: the aliyun CLI profile's region"

    def _lists(self, data: dict[str, Any], unknown: dict[str, str]) -> None:
        """``--AddAccount.1 $A``: a list with an unknown item is an unknown list."""
        for key in list(data):
            base, dot, rest = key.partition(".")
            if not dot:
                continue
            if key in unknown:
                unknown.setdefault(base, unknown.pop(key))
            if not rest.isdigit():  # SystemDisk.Category, Tag.1.Key: the parameter, not modelled here
                value = data.pop(key)
                data.setdefault(base, value)

    def region_flag(self, words: list[Word], i: int) -> Word | None:
        """The value of ``--region`` at ``words[i]``, or None when it is another flag."""
        w = words[i]
        name, eq, inline = w.text.lstrip("-").partition("=")
        if name != "region":
            return None
        if eq:
            return Word(inline, w.line, w.vars, w.substs, w.quoted)
        if i + 1 >= len(words) or words[i + 1].text.startswith("--"):
            raise self.error(w.line, "--region needs a value")
        return words[i + 1]

    def flag(self, words: list[Word], i: int, line: int) -> int:
        """Skip one CLI flag (and its values) at ``words[i]``; return the next index."""
        name, eq, _ = words[i].text.lstrip("-").partition("=")
        if name in CLI_VALUE_FLAGS:
            return i + 1 if eq else i + 2
        if name in CLI_BOOL_FLAGS:
            return i + 1
        if name in CLI_KV_FLAGS:
            i += 1
            while i < len(words) and "=" in words[i].text and not words[i].text.startswith("-"):
                i += 1
            return i
        hint = did_you_mean(name, [*CLI_VALUE_FLAGS, *CLI_BOOL_FLAGS, *CLI_KV_FLAGS])
        raise self.error(words[i].line, f"unknown aliyun CLI flag {words[i].text!r}" + (f"; {hint}" if hint else ""))


def _is_aliyun(w: Word) -> bool:
    return w.known and (w.text == "aliyun" or w.text.endswith("/aliyun"))


def plan_from_script(text: str, source: str, caller: str | None) -> Plan:
    """Translate a script of aliyun CLI calls; ``caller`` (the account running it) is required."""
    if caller is None:
        raise InputError(f"{source}: a script names no caller: give --caller UID (the account that runs it)")
    script = _Script(source)
    script.commands(text.replace("\r\n", "\n"))  # a script saved with Windows line ends
    calls = script.calls
    plan = plan_from_data({"caller": caller, "steps": [c.data for c in calls]}, source, [c.line for c in calls])
    for step, c in zip(plan.steps, calls, strict=True):
        step.source = {"kind": "script", "line": c.line}
        step.unknown = dict(c.unknown)
    called = {c.line for c in calls}
    seen: set[int] = set()
    plan.skipped = []
    for skip in sorted(script.skipped, key=lambda s: s["source"]["line"]):  # one entry per line
        line = skip["source"]["line"]
        if line not in seen and not (line in called and skip["reason"] == REASONS["other"]):
            plan.skipped.append(skip)
        seen.add(line)
    return plan
