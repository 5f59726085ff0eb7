"""Fuzzing: random and mutated rule, state and plan files through the public loaders and the CLI.

Whatever the input, imagefam either accepts it or rejects it with its own error (exit code 2 and
a message naming the file): never a traceback, an internal error or a hang. The example count
scales with IMAGEFAM_FUZZ_EXAMPLES (``make fuzz`` runs a long campaign).
"""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagefam import InputError, PolicyError, check, load_plan, load_policy, load_state
from imagefam.cli import main
from imagefam.rules.errors import Source

EXAMPLES = int(os.environ.get("IMAGEFAM_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=5000, suppress_health_check=[HealthCheck.too_slow,
                                                                             HealthCheck.function_scoped_fixture])
POLICY_DIR = Path(__file__).resolve().parents[1] / "imagefam" / "policy"
DEMO = Path(__file__).resolve().parents[1] / "imagefam" / "engine" / "demo"
RULE_TEXT = (POLICY_DIR / "lifecycle.rules").read_text("utf-8")
TOKENS = ["rule", "audit", "def", "resolve", "candidates", "require", "order", "by", "on", "deny", "warn",
          "info", "when", "code", "message", "cites", "for", "each", "if", "then", "else", "and", "or", "not",
          "in", "where", "of", "startswith", "matches", "contains", "true", "null", "images", "image",
          "request", "caller", "it", "Status", "ImageFamily", "count", "exists", "all", "(", ")", "[", "]",
          ",", ".", ":", "=", "==", "!=", "<", "+", "-", '"x"', '"Available"', "42", "@2020-01-01T00:00:00Z",
          "x-1", "CreateImage", "DeleteImage", "image.Status", "{", "}", "#", "\n", " "]


def _mutate(text: str, rnd: random.Random, n: int) -> str:
    chars = list(text)
    for _ in range(n):
        op = rnd.randrange(4)
        i = rnd.randrange(len(chars) + 1)
        if op == 0 and chars:
            del chars[min(i, len(chars) - 1)]
        elif op == 1:
            chars.insert(i, rnd.choice('(){}[]".,:=<>!#\n \\acsZ0'))
        elif op == 2 and chars:
            j = rnd.randrange(len(chars))
            chars[min(i, len(chars) - 1)], chars[j] = chars[j], chars[min(i, len(chars) - 1)]
        else:
            chars[i:i] = list(rnd.choice(TOKENS))
    return "".join(chars)


def _load_rules(text: str) -> None:
    try:
        load_policy(sources=[Source("fuzz.rules", text)])
    except PolicyError as err:
        assert err.diagnostics, "a PolicyError always carries diagnostics"
        for d in err.diagnostics:
            rendered = d.render()
            assert rendered.startswith(f"{d.source.name}:{d.span.line}:{d.span.col}: ")
            assert "^" in rendered


@FUZZ
@given(seed=st.integers(0, 2**32 - 1), edits=st.integers(1, 12))
def test_mutated_rule_files_load_or_report(seed: int, edits: int) -> None:
    _load_rules(_mutate(RULE_TEXT, random.Random(seed), edits))


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=60))
def test_token_soup_rule_files_load_or_report(tokens: list[str]) -> None:
    _load_rules(" ".join(tokens))


@FUZZ
@given(st.text(max_size=300))
def test_arbitrary_text_rule_files_load_or_report(text: str) -> None:
    _load_rules(text)


def _json_values() -> st.SearchStrategy[object]:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
                        st.text(max_size=12), st.sampled_from(["Available", "2020-01-01T00:00:00Z", "", "acs:1:x"]))
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                        max_leaves=12)


STATE = json.loads(json.dumps({"TakenAt": "2020-02-01T00:00:00Z", "Images": [
    {"ImageId": "m-1", "RegionId": "r1", "ImageOwnerId": "1", "ImageFamily": "web",
     "CreationTime": "2020-01-01T00:00:00Z", "Status": "Available", "SharedWith": ["2"], "IsPublic": False},
    {"ImageId": "m-2", "RegionId": "r1", "ImageOwnerAlias": "system", "ImageFamily": "acs:os",
     "CreationTime": "2020-01-02T00:00:00Z", "Status": "Deprecated"}]}))
PLAN = {"caller": "1", "steps": [
    {"Action": "ModifyImageAttribute", "RegionId": "r1", "ImageId": "m-1", "Status": "Deprecated"},
    {"Action": "ModifyImageSharePermission", "RegionId": "r1", "ImageId": "m-1", "RemoveAccount": ["2"]},
    {"Action": "CreateImage", "RegionId": "r1", "ImageFamily": "web", "creates": "m-9"},
    {"Action": "RunInstances", "RegionId": "r1", "ImageFamily": "web", "caller": "2"}]}


def _poke(doc: object, rnd: random.Random, value: object) -> object:
    """Replace, delete or add one node somewhere in a JSON document."""
    doc = json.loads(json.dumps(doc))
    node = doc
    for _ in range(rnd.randrange(1, 4)):
        if isinstance(node, dict) and node:
            key = rnd.choice(list(node))
            if rnd.random() < 0.3:
                action = rnd.randrange(3)
                if action == 0:
                    del node[key]
                elif action == 1:
                    node[key] = value
                else:
                    node[key + rnd.choice(["s", "", "X"])] = value
                return doc
            node = node[key]
        elif isinstance(node, list) and node:
            i = rnd.randrange(len(node))
            if rnd.random() < 0.3:
                node[i] = value
                return doc
            node = node[i]
        else:
            break
    return value if rnd.random() < 0.1 else doc


@FUZZ
@given(seed=st.integers(0, 2**32 - 1), value=_json_values(), yaml_ext=st.booleans())
def test_mutated_state_and_plan_files(tmp_path: Path, seed: int, value: object, yaml_ext: bool) -> None:
    rnd = random.Random(seed)
    ext = ".yaml" if yaml_ext else ".json"
    state_path, plan_path = tmp_path / f"state{ext}", tmp_path / f"plan{ext}"
    state_path.write_text(json.dumps(_poke(STATE, rnd, value)), "utf-8")
    plan_path.write_text(json.dumps(_poke(PLAN, rnd, value)), "utf-8")
    try:
        state = load_state(state_path)
        plan = load_plan(plan_path)
        check(state, plan)
    except InputError as err:
        assert str(err).strip(), "an input error always says what is wrong"
        assert "state" in str(err) or "plan" in str(err) or "step" in str(err)


@pytest.mark.parametrize("payload", [b"", b"\xff\xfe\x00", b"{", b"[]", b"null", b"{\"Images\": 5}",
                                     b"Images: [" * 2000, b"[" * 100000, b"{\"a\":" * 50000])
def test_cli_never_tracebacks_on_garbage(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         payload: bytes) -> None:
    for ext in (".json", ".yaml"):
        bad = tmp_path / f"bad{ext}"
        bad.write_bytes(payload)
        for argv in (["check", str(bad), "--state", str(DEMO / "state.yaml")],
                     ["check", str(DEMO / "sharee.yaml"), "--state", str(bad)],
                     ["report", "--state", str(bad)],
                     ["resolve", "--state", str(bad), "--family", "x", "--region", "r", "--caller", "1"]):
            code = main(argv)
            err = capsys.readouterr().err
            assert code == 2, (argv, err)
            assert "Traceback" not in err and str(bad) in err


@FUZZ
@given(seed=st.integers(0, 2**32 - 1))
def test_cli_on_mutated_rule_files(tmp_path: Path, capsys: pytest.CaptureFixture[str], seed: int) -> None:
    path = tmp_path / "user.rules"
    path.write_text(_mutate(RULE_TEXT, random.Random(seed), 3), "utf-8")
    code = main(["rules", "lint", str(path)])
    err = capsys.readouterr().err
    assert code in (0, 2)
    assert "Traceback" not in err and "internal error" not in err
    if code == 2:
        assert f"{path}:" in err


def test_pathological_rule_files_are_rejected_quickly(tmp_path: Path) -> None:
    for text in ["def x = " + "not " * 30000 + "true",
                 "def x = " + "(" * 200000 + "1" + ")" * 200000,
                 "def x = " + " + ".join(["1"] * 50000),
                 "def a = 1\n" * 3 + "def x = " + "[" * 5000 + "]" * 5000,
                 "rule r on CreateImage deny when true message \"" + "{" * 10000 + "\""]:
        _load_rules(text)
    big = tmp_path / "big.rules"
    big.write_text("# padding\n" * 300000, "utf-8")
    with pytest.raises(PolicyError, match="limit"):
        load_policy([big])


@FUZZ
@given(steps=st.lists(st.dictionaries(st.sampled_from(["Action", "RegionId", "ImageFamily", "Description"]),
                                      st.text(alphabet='ab"\\{}[]\n:,', max_size=8), max_size=4), max_size=6),
       indent=st.sampled_from([None, 0, 1, 2, 4]))
def test_json_step_lines_match_the_yaml_composer(steps: list[dict[str, str]], indent: int | None) -> None:
    """The fast JSON scanner finds each step on the line a YAML composer does."""
    from imagefam.engine.loader import _json_step_lines, _step_lines

    text = json.dumps({"caller": "1", "steps": steps}, indent=indent)
    assert _json_step_lines(text) == _step_lines(text, is_json=False)


# ---------------------------------------------------------------- issue 9: names, repeated keys, alias bombs

def _key_mutations() -> st.SearchStrategy[tuple[str, str, str]]:
    """(action, real key, mutated key): case changes, transpositions and lower-casing."""
    from imagefam.engine.params import catalogue

    keys = sorted({(a, k.replace(".N", ".1")) for a, p in catalogue().items() for k in p.names
                   if not k.startswith(("RegionId", "Action"))})

    def mutate(pair: tuple[str, str], how: str, pos: int) -> tuple[str, str, str]:
        action, key = pair
        i = pos % len(key)
        if how == "lower":
            out = key.lower()
        elif how == "upper":
            out = key.upper()
        elif how == "first-lower":
            out = key[:1].lower() + key[1:]
        elif how == "swapcase-at":
            out = key[:i] + key[i].swapcase() + key[i + 1:]
        else:  # transpose two neighbours
            j = min(i, len(key) - 2)
            out = key[:j] + key[j + 1] + key[j] + key[j + 2:] if len(key) > 1 else key
        return action, key, out

    return st.builds(mutate, st.sampled_from(keys),
                     st.sampled_from(["lower", "upper", "first-lower", "swapcase-at", "transpose"]),
                     st.integers(0, 200))


@FUZZ
@given(case=_key_mutations(), yaml_ext=st.booleans())
def test_mutated_parameter_names_are_exit_2_never_ignored(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         case: tuple[str, str, str], yaml_ext: bool) -> None:
    from imagefam.engine.params import catalogue

    action, _real, key = case
    params = catalogue()[action]
    plan = tmp_path / ("plan.yaml" if yaml_ext else "plan.json")
    plan.write_text(json.dumps({"caller": "1", "steps": [{"Action": action, "RegionId": "r1", key: "x"}]}), "utf-8")
    code = main(["check", str(plan), "--state", str(DEMO / "state.yaml"), "--format", "json"])
    err = capsys.readouterr().err
    assert code in (0, 1, 2) and "Traceback" not in err and "internal error" not in err, err
    pattern = ".".join("N" if part.isdigit() else part for part in key.split("."))
    if pattern in params.names or key in ("caller", "channel", "creates", "name", "comment"):
        return  # the mutation is itself a real name
    assert code == 2, (key, err)
    assert str(plan) in err and repr(key) in err, err


def _repeat_a_key(text: str, rnd: random.Random, yaml_text: bool) -> str | None:
    """Copy one ``key: scalar`` entry of a mapping right after itself."""
    lines = text.splitlines()
    if yaml_text:
        spots = [i for i, line in enumerate(lines)
                 if ": " in line and not line.lstrip().startswith("-") and not line.rstrip().endswith(":")]
        if not spots:
            return None
        i = rnd.choice(spots)
        return "\n".join([*lines[: i + 1], lines[i], *lines[i + 1:]]) + "\n"
    entries = [m for m in re.finditer(r'"[A-Za-z]+": (?:"[^"\\]*"|true|false|null|-?\d+)(?=,)', text)]
    if not entries:
        return None
    m = rnd.choice(entries)
    return text[: m.end()] + ", " + m.group() + text[m.end():]


@FUZZ
@given(seed=st.integers(0, 2**32 - 1), yaml_text=st.booleans(), which=st.sampled_from(["state", "plan"]))
def test_repeated_keys_are_always_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], seed: int,
                                        yaml_text: bool, which: str) -> None:
    import yaml

    rnd = random.Random(seed)
    doc = STATE if which == "state" else PLAN
    text = yaml.safe_dump(doc, sort_keys=False) if yaml_text else json.dumps(doc)
    bad = _repeat_a_key(text, rnd, yaml_text)
    if bad is None:
        return
    path = tmp_path / (f"{which}.yaml" if yaml_text else f"{which}.json")
    path.write_text(bad, "utf-8")
    good_state, good_plan = DEMO / "state.yaml", DEMO / "sharee.yaml"
    argv = (["check", str(good_plan), "--state", str(path)] if which == "state"
            else ["check", str(path), "--state", str(good_state)])
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, (bad, err)
    assert "appears twice" in err and str(path) in err, err


@FUZZ
@given(levels=st.integers(1, 12), width=st.integers(1, 12), where=st.sampled_from(["state", "plan", "test"]))
def test_alias_bombs_are_exit_2_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str], levels: int,
                                        width: int, where: str) -> None:
    from imagefam.engine.parsing import MAX_ALIAS_NODES

    lines = ["x0: &a0 [" + ", ".join(["x"] * width) + "]"]
    lines += [f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels)]
    key = {"state": "Images", "plan": "steps", "test": "cases"}[where]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + f"\n{key}: [*a{levels - 1}]\n", "utf-8")
    argv = {"state": ["report", "--state", str(path)],
            "plan": ["check", str(path), "--state", str(DEMO / "state.yaml")],
            "test": ["rules", "test", str(path)]}[where]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "internal error" not in err, err
    expanded = sum(width ** i for i in range(1, levels + 1))
    if expanded > MAX_ALIAS_NODES:
        assert "aliases expand" in err, err
