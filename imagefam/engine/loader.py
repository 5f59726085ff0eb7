"""Reading state and plan files (JSON, or YAML by extension) into validated models.

Every problem is an :class:`~.parsing.InputError` whose message names the file,
the image or step (and its line where known) and the field, with a did-you-mean for near-miss
keys. Inputs are only read.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from itertools import compress, repeat
from operator import attrgetter, countOf, is_not, not_
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from .. import progress
from ..rules.errors import did_you_mean
from .actions import ACTIONS
from .consumers import ConsumerStore
from .gcpause import gc_paused
from .models import (
    CHANNELS,
    IMAGE_FIELDS,
    SCALING_ACTIONS,
    Channel,
    Image,
    Instance,
    Request,
    ScalingConfiguration,
    UtcTime,
)
from .params import catalogue, key_problem
from .parsing import (
    Format,
    InputError,
    compose_yaml,
    construct_yaml,
    decode,
    display_name,
    is_yaml,
    no_repeated_keys,
    parse_json,
    parse_text,
    parse_yaml,
    read_input,
    strip_bom,
)
from .state import State
from .store import ImageStore


class StateFile(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True, val_temporal_unit="seconds")
    TakenAt: UtcTime | None = None
    Images: list[Image]
    ScalingConfigurations: list[ScalingConfiguration] = []
    Instances: list[Instance] = []


@cache
def _state_adapter() -> TypeAdapter[StateFile]:
    """Built on first use: building validators at import costs start-up time for every command."""
    return TypeAdapter(StateFile)


def read_data(path: str | Path, stdin_format: Format | None = None) -> Any:
    """Parse a JSON or YAML file (``-``: standard input) into Python data; errors name the file and line."""
    return parse_text(read_input(path), path, stdin_format)


def parse_data(raw: bytes, p: str | Path, stdin_format: Format | None = None) -> Any:
    """Parse JSON or YAML bytes (YAML by ``p``'s extension); see :mod:`imagefam.engine.parsing`."""
    return parse_text(raw, p, stdin_format)


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _literal_hint(e: Any) -> str:
    """"; did you mean 'Deprecated'?" for a mistyped enum value, else ""."""
    if e.get("type") != "literal_error" or not isinstance(e.get("input"), str):
        return ""
    choices = re.findall(r"'([^']*)'", str((e.get("ctx") or {}).get("expected", "")))
    hint = did_you_mean(e["input"], choices)
    return f"; {hint}" if hint else ""


def _image_label(data: Any, index: int) -> str:
    try:
        image_id = data["Images"][index].get("ImageId")
    except (KeyError, IndexError, TypeError, AttributeError):
        image_id = None
    return f"Images[{index}]" + (f" ({image_id})" if isinstance(image_id, str) and image_id else "")


_LIST_FIELDS: dict[str, tuple[str, ...]] = {
    "Images": IMAGE_FIELDS,
    "ScalingConfigurations": tuple(f.name for f in dataclasses.fields(ScalingConfiguration)),
    "Instances": tuple(f.name for f in dataclasses.fields(Instance)),
}


def state_errors(err: ValidationError, data: Any, path: Path) -> list[str]:
    """Readable lines for a state file's validation errors."""
    lines = []
    for e in err.errors()[:20]:
        loc = tuple(e["loc"])
        where = _loc(loc)
        if len(loc) >= 2 and loc[0] == "Images" and isinstance(loc[1], int):
            rest = [str(x) for x in loc[2:]]
            where = _image_label(data, loc[1]) + (f" field {'.'.join(rest)}" if rest else "")
        if e["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            key = str(loc[-1])
            choices = (_LIST_FIELDS.get(str(loc[0]), IMAGE_FIELDS) if len(loc) == 3
                       else ("TakenAt", "Images", *_LIST_FIELDS))
            hint = did_you_mean(key, choices)
            lines.append(f"{path}: {where}: unknown key" + (f"; {hint}" if hint else
                         f"; expected one of {', '.join(choices)}"))
        elif e["type"] == "missing":
            lines.append(f"{path}: {where}: required field is missing")
        elif e["type"] == "string_too_short":
            lines.append(f"{path}: {where}: must not be empty")
        else:
            value = e.get("input")
            shown = json.dumps(value, default=str)[:60] if not isinstance(value, dict | list) else type(value).__name__
            lines.append(f"{path}: {where}: {e['msg']} (got {shown}){_literal_hint(e)}")
    if len(err.errors()) > 20:
        lines.append(f"{path}: ... and {len(err.errors()) - 20} more errors")
    return lines


def is_describe_images(data: Any) -> bool:
    """Whether ``data`` is a raw ``DescribeImages`` body (``{"Images": {"Image": [...]}, ...}``)."""
    return isinstance(data, dict) and isinstance(data.get("Images"), dict) and "Image" in data["Images"]


UNDERCOUNT = ("no image in {src} is Deprecated or Creating: DescribeImages returns only Available images "
              "unless Status is passed, so quotas may be undercounted (snapshot with Status set to every state)")


def load_state(path: str | Path, account: str | None = None, stdin_format: Format | None = None,
               reach: frozenset[str] | None = None) -> State:
    """Load a state file (``-``: standard input): native (``TakenAt``, ``Images``) or a raw
    ``DescribeImages`` body, whose ``ImageOwnerAlias: self`` images belong to ``account``; see
    docs/formats.md. With ``reach`` (regions), a native state's store indexes only the images of
    those regions (every image is still validated): see :mod:`imagefam.engine.prune`."""
    raw = strip_bom(read_input(path))
    name = display_name(path)
    p = Path(name)
    with progress.stage(f"checking {p.name} ({len(raw) / 1e6:,.1f} MB)"):
        if not is_yaml(path, stdin_format, raw):
            fast = _fast_json(raw)  # msgspec, when it gives what pydantic would
            if fast is not None:
                del raw  # a quarter of the peak memory for a large file
                with gc_paused(keep=True):
                    return _finish_state(fast, p, None, reach)
            try:  # pydantic-core parses and validates the whole file in one pass
                with gc_paused(keep=True):
                    state_file = _state_adapter().validate_json(raw)
            except ValidationError:
                state_file = None  # below, for messages that name images
            if state_file is not None and no_repeated_keys(raw, _present_keys(state_file)):
                return _finish_state(state_file, p, None, reach)
            data = parse_json(decode(raw, name), name)  # names a repeated key (pydantic-core keeps the last)
            if state_file is not None:
                return _finish_state(state_file, p, None, reach)
        else:
            data = parse_yaml(decode(raw, name), name)
        if is_describe_images(data):
            return _from_describe_images(data, p, account)
        return state_from_data(data, p, reach)


def _present_keys(sf: StateFile) -> int:
    """A lower bound of the number of keys a state file that validated to ``sf`` held."""
    from .fastjson import present_keys

    return present_keys(sf.Images, sf.TakenAt is not None)


def _fast_json(raw: bytes) -> StateFile | None:
    """The state JSON ``raw`` holds, decoded by msgspec, when that is exactly what pydantic would
    validate it to (see :mod:`imagefam.engine.fastjson`); else None."""
    from .fastjson import decode_records  # msgspec: imported for JSON states only

    decoded = decode_records(raw)  # records: made images by _finish_state
    if decoded is None:
        return None
    images, taken_at = decoded
    try:
        taken = None if taken_at is None else _state_adapter().validate_json(
            b'{"TakenAt": ' + taken_at + b', "Images": []}').TakenAt
    except ValidationError:
        return None
    return StateFile.model_construct(TakenAt=taken, Images=images)


def _from_describe_images(data: dict[str, Any], p: Path, account: str | None) -> State:
    from .aliyun import describe_images_to_native

    images = describe_images_to_native(data, account, source=str(p))
    state = state_from_data({"Images": images}, p)
    raw = data["Images"]["Image"] if isinstance(data["Images"].get("Image"), list) else []
    if account is None and any(isinstance(i, dict) and i.get("ImageOwnerAlias") == "others" for i in raw):
        state.notes.append(f"{p} holds images other accounts share with you, but no --account says who you are: "
                           "they are recorded as shared with nobody and will not resolve for you")
    state.from_api = True
    if not _has_unavailable(state.images):
        state.notes.append(UNDERCOUNT.format(src=p))
    return state


def _has_unavailable(images: Iterable[Image]) -> bool:
    return any(img.Status in ("Deprecated", "Creating") for img in images)


def state_from_data(data: Any, p: Path, reach: frozenset[str] | None = None) -> State:
    if not isinstance(data, dict):
        raise InputError(f"{p}: a state file is an object with an 'Images' list, got {type(data).__name__}")
    try:
        state_file = _state_adapter().validate_python(data)
    except ValidationError as err:
        raise InputError("\n".join(state_errors(err, data, p))) from None
    return _finish_state(state_file, p, data, reach)


def _finish_state(sf: StateFile, p: Path, data: Any, reach: frozenset[str] | None = None) -> State:
    """The state of a validated file; its ``Images`` may be the fast path's records, checked as
    they are and made images here (only those of ``reach`` when given)."""
    ids = _plain_ids(sf.Images)
    problems = [] if ids is not None else _image_problems(sf.Images, p)
    problems += consumer_problems(sf.ScalingConfigurations, sf.Instances, str(p))
    if problems:
        raise InputError("\n".join(problems[:20]))
    consumers = ConsumerStore(sf.ScalingConfigurations, sf.Instances)
    store: ImageStore
    if reach is not None:
        from .prune import PrunedStore

        store = PrunedStore(sf.Images, reach, ids)
    else:
        del ids
        records: list[Any] = sf.Images  # the fast path's records, or images
        if records and not isinstance(records[0], Image):
            from .fastjson import images_of

            sf.Images = images_of(records)
            del records  # freed here, before the store is built
        store = ImageStore(sf.Images)
    return State(store, sf.TakenAt, str(p), consumers=consumers)


def _plain_ids(images: list[Any]) -> set[str] | None:
    """Every ImageId, when every custom image names its owner and no ImageId repeats but a public
    image's in another region; else None (the loop below names what is wrong). C-level passes."""
    public = list(map(is_not, map(attrgetter("ImageOwnerAlias"), images), repeat(None)))
    if countOf(compress(map(attrgetter("ImageOwnerId"), images), map(not_, public)), None):
        return None  # a custom image with no owner
    ids = list(map(attrgetter("ImageId"), images))
    unique = set(ids)
    if len(unique) == len(ids):
        return unique
    public_ids = set(compress(ids, public))
    n_public = countOf(public, True)
    # The custom images' ids are distinct and none is a public image's exactly when the distinct ids
    # number the custom images plus the distinct public ids (fewer otherwise): no set of the custom
    # ids (a million strings) is needed.
    plain = (len(unique) == len(ids) - n_public + len(public_ids)
             and len(set(map(attrgetter("ImageId", "RegionId"), compress(images, public)))) == n_public)
    return unique if plain else None


def _image_problems(images: list[Any], p: Path) -> list[str]:
    seen: dict[str, int] = {}
    pairs: set[tuple[str, str]] = set()  # (ImageId, RegionId) of public images
    problems = []
    for i, img in enumerate(images):
        first = seen.get(img.ImageId)
        if first is None:
            seen[img.ImageId] = i
            if img.ImageOwnerAlias is not None:
                pairs.add((img.ImageId, img.RegionId))
        elif (img.ImageOwnerAlias is None or images[first].ImageOwnerAlias is None
              or (img.ImageId, img.RegionId) in pairs):
            # only a public image may repeat its ImageId, and only in another region
            problems.append(f"{p}: Images[{i}] ({img.ImageId}): duplicate ImageId (first at Images[{first}])")
        else:
            pairs.add((img.ImageId, img.RegionId))
        if img.ImageOwnerId is None and img.ImageOwnerAlias is None:
            problems.append(f"{p}: Images[{i}] ({img.ImageId}) field ImageOwnerId: required for a custom image "
                            "(only ImageOwnerAlias 'system' or 'marketplace' images may omit it)")
        if len(problems) >= 20:
            break
    return problems


def consumer_problems(configs: list[ScalingConfiguration], instances: list[Instance], where: str) -> list[str]:
    """Duplicate ids, and configurations that name no image (ImageFamily, ImageId or ImageName)."""
    problems = []
    seen: dict[str, int] = {}
    for i, cfg in enumerate(configs):
        first = seen.setdefault(cfg.ScalingConfigurationId, i)
        if first != i:
            problems.append(f"{where}: ScalingConfigurations[{i}] ({cfg.ScalingConfigurationId}): duplicate "
                            f"ScalingConfigurationId (first at ScalingConfigurations[{first}])")
        if cfg.ImageFamily is None and cfg.ImageId is None:
            problems.append(f"{where}: ScalingConfigurations[{i}] ({cfg.ScalingConfigurationId}): ImageFamily or "
                            "ImageId is required (the image its scale-outs launch from)")
    seen = {}
    for i, inst in enumerate(instances):
        first = seen.setdefault(inst.InstanceId, i)
        if first != i:
            problems.append(f"{where}: Instances[{i}] ({inst.InstanceId}): duplicate InstanceId "
                            f"(first at Instances[{first}])")
    return problems


def load_states(paths: list[str] | list[Path], account: str | None = None,
                stdin_format: Format | None = None, reach: frozenset[str] | None = None) -> State:
    """Load and merge several state files (pages or regions); an ImageId in two files is an error.
    ``reach``: see :func:`load_state` (applied to a single native file only)."""
    if sum(str(p) == "-" for p in paths) > 1:
        raise InputError("standard input (-) can be read only once")
    states = [load_state(p, account, stdin_format, reach if len(paths) == 1 else None) for p in paths]
    if account is not None and not any(s.from_api for s in states):
        raise InputError(f"--account {account}: it says whose call a raw DescribeImages body records, but "
                         f"{', '.join(s.source for s in states)} "
                         f"{'is a native state file' if len(states) == 1 else 'are native state files'}, whose "
                         "images name their owners: drop --account")
    if len(states) == 1:
        return states[0]
    merged: dict[tuple[str, str], Image] = {}
    origin: dict[tuple[str, str], str] = {}
    for st in states:
        for img in st.images:
            key = (img.ImageId, img.RegionId)
            if key in merged and merged[key] != img:
                raise InputError(f"{st.source}: ImageId {img.ImageId} in {img.RegionId} also in {origin[key]} "
                                 "with other values")
            merged[key] = img
            origin[key] = st.source
    ids: dict[str, Image] = {}
    for img in merged.values():
        other = ids.setdefault(img.ImageId, img)
        if other is not img and (img.ImageOwnerAlias is None or other.ImageOwnerAlias is None):
            raise InputError(f"{st.source}: ImageId {img.ImageId} is in {other.RegionId} and {img.RegionId}; "
                             "only public images share an ImageId across regions")
    times = [s.taken_at for s in states if s.taken_at is not None]
    undercount = [UNDERCOUNT.format(src=s.source) for s in states]
    notes = [n for s in states for n in s.notes if n not in undercount]
    api = [img for s in states if s.from_api for img in s.images]
    if api and not _has_unavailable(api):  # judged on all the DescribeImages input together
        notes.append(UNDERCOUNT.format(src=", ".join(s.source for s in states if s.from_api)))
    configs: dict[str, ScalingConfiguration] = {}
    instances: dict[str, Instance] = {}
    for st in states:  # the same consumer in two files must agree
        for cfg in st.consumers.configs.values():
            if configs.setdefault(cfg.ScalingConfigurationId, cfg) != cfg:
                raise InputError(f"{st.source}: ScalingConfigurationId {cfg.ScalingConfigurationId} is also in "
                                 "another state file with other values")
        for inst in st.consumers.instances.values():
            if instances.setdefault(inst.InstanceId, inst) != inst:
                raise InputError(f"{st.source}: InstanceId {inst.InstanceId} is also in another state file "
                                 "with other values")
    return State(ImageStore(merged.values()), min(times) if times else None, ", ".join(s.source for s in states),
                 notes, any(s.from_api for s in states),
                 consumers=ConsumerStore(configs.values(), instances.values()))


# ---- plans ----

#: Lower-case step keys: ``caller``, ``channel``, ``creates`` and ``region`` (the endpoint's region of
#: an Auto Scaling call, which has no RegionId parameter) are read; ``name`` and ``comment`` are
#: free text for people. Any other lower-case key is an error.
METADATA_KEYS = ("caller", "channel", "creates", "region", "name", "comment")
_INDEXED = re.compile(r"^([A-Za-z]+)\.(\d+)$")
#: The API's documented range of each modelled integer parameter.
INT_RANGES: dict[str, tuple[int, int]] = {"Amount": (1, 100)}  # RunInstances Amount: "Valid values: 1 to 100"


@dataclass
class Step:
    index: int
    action: str
    request: Request
    caller: str
    channel: Channel = "api"
    creates: str | None = None
    line: int | None = None
    warnings: list[str] = field(default_factory=list)  # step-level notices (none today: unknown keys are errors)
    #: where the step came from in a Terraform plan or a script: {"kind": "terraform", "address": ...}
    #: or {"kind": "script", "line": N}; None for a native plan (see imagefam.engine.planformats)
    source: dict[str, Any] | None = None
    #: request parameters whose value is not known until apply -> where that value comes from
    unknown: dict[str, str] = field(default_factory=dict)
    #: the ``region`` key: the region an Auto Scaling call (no RegionId parameter) is sent to
    region: str | None = None


@dataclass
class Plan:
    caller: str
    steps: list[Step]
    source: str = "<memory>"
    #: what a Terraform plan or script held that is not a checked API call: [{"source": ..., "reason": ...}]
    skipped: list[dict[str, Any]] | None = None
    #: values a Terraform plan marks sensitive: outputs show "(sensitive)" instead
    sensitive: tuple[str, ...] = ()


_JSON_TOKENS = re.compile(r'["{}\[\]\n]')


def _json_step_lines(text: str) -> list[int]:
    """Lines of the objects directly inside the top-level "steps" array of a JSON document."""
    lines: list[int] = []
    line, depth, steps_depth = 1, 0, -1
    last_key: str | None = None
    pos = 0
    for m in _JSON_TOKENS.finditer(text):
        ch = m.group()
        if m.start() < pos:
            continue
        if ch == "\n":
            line += 1
        elif ch == '"':
            end = m.start() + 1
            while True:  # find the closing quote, skipping escapes
                end = text.find('"', end)
                if end < 0:
                    return []
                k = end - 1
                while text[k] == "\\":
                    k -= 1
                if (end - 1 - k) % 2 == 0:  # an even run of backslashes: the quote is real
                    break
                end += 1
            if depth == 1:
                last_key = text[m.start() + 1:end]
            line += text.count("\n", m.start(), end)
            pos = end + 1
        elif ch in "{[":
            depth += 1
            if ch == "[" and depth == 2 and last_key == "steps":
                steps_depth = depth
            elif ch == "{" and depth == steps_depth + 1 and steps_depth > 0:
                lines.append(line)
        else:
            if depth == steps_depth and ch == "]":
                steps_depth = -1
            depth -= 1
    return lines


def _node_step_lines(root: Any) -> list[int]:
    """1-based line of each step of a composed YAML plan, or [] when unknown."""
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if getattr(key, "value", None) == "steps" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _step_lines(text: str, is_json: bool = False) -> list[int]:
    """1-based line of each step in the file (YAML and JSON alike), or [] when unknown."""
    if is_json:
        return _json_step_lines(text)
    try:
        _, root = compose_yaml(text, "<plan>")
    except InputError:
        return []
    return _node_step_lines(root)


def load_plan(path: str | Path, stdin_format: Format | None = None) -> Plan:
    """Load a plan file (``caller``, ``steps``; ``-``: standard input); see docs/formats.md."""
    raw = read_input(path)
    name = display_name(path)
    text = decode(raw, name)
    if is_yaml(path, stdin_format, raw):
        loader, root = compose_yaml(text, name)
        lines = _node_step_lines(root)
        data = construct_yaml(loader, root, name)
    else:
        data = parse_json(text, name)
        lines = _json_step_lines(text)
    return plan_from_data(data, name, lines)


def _account(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value) == "":
        raise InputError(f"{where}: an account UID (string) is required, got {json.dumps(value, default=str)}")
    return str(value)


def plan_from_data(data: Any, source: str = "<memory>", lines: list[int] | None = None) -> Plan:
    lines = lines or []
    if not isinstance(data, dict):
        raise InputError(f"{source}: a plan is an object with 'caller' and 'steps'")
    for key in data:
        if key not in ("caller", "steps"):
            hint = did_you_mean(str(key), ("caller", "steps"))
            raise InputError(f"{source}: unknown top-level key {key!r}" + (f"; {hint}" if hint else
                             "; expected 'caller' and 'steps'"))
    steps_data = data.get("steps")
    if not isinstance(steps_data, list):
        raise InputError(f"{source}: 'steps' must be a list of API calls")
    caller = _account(data["caller"], f"{source}: caller") if data.get("caller") is not None else None
    steps = []
    for i, raw in enumerate(steps_data):
        line = lines[i] if i < len(lines) else None
        where = f"{source}:{line}: step {i}" if line else f"{source}: step {i}"
        steps.append(_step(raw, i, caller, where, line))
    return Plan(caller or "", steps, source)


def _step(raw: Any, index: int, plan_caller: str | None, where: str, line: int | None) -> Step:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: a step is an object with 'Action' and the request parameters")
    action = raw.get("Action")
    if not isinstance(action, str):
        raise InputError(f"{where}: 'Action' (the ECS API action) is required")
    spec = ACTIONS.get(action)
    if spec is None:
        hint = did_you_mean(action, ACTIONS)
        raise InputError(f"{where}: unknown Action {action!r}" + (f"; {hint}" if hint else
                         f"; supported: {', '.join(ACTIONS)}"))
    where = f"{where} ({action})"
    params, meta = _step_keys(raw, action, spec.request, where)
    request = _step_request(spec.request, params, where)
    warnings: list[str] = []
    caller = _account(meta["caller"], f"{where}: caller") if "caller" in meta else plan_caller
    if caller is None:
        raise InputError(f"{where}: no caller: set 'caller' on the plan or the step")
    channel = meta.get("channel", "api")
    if channel not in CHANNELS:
        raise InputError(f"{where}: channel must be {' or '.join(map(repr, CHANNELS))}, got {channel!r}")
    creates = meta.get("creates")
    if creates is not None:
        if not spec.creates:
            makers = " and ".join(a.name for a in ACTIONS.values() if a.creates)
            raise InputError(f"{where}: 'creates' applies only to {makers}")
        if not isinstance(creates, str) or not creates:
            raise InputError(f"{where}: 'creates' must be the id (a string) of what the step creates")
    region = meta.get("region")
    if region is not None:
        if action not in SCALING_ACTIONS:
            raise InputError(f"{where}: 'region' applies only to {' and '.join(SCALING_ACTIONS)} (they have no "
                             "RegionId parameter); this action takes RegionId")
        if not isinstance(region, str) or not region:
            raise InputError(f"{where}: 'region' must be a region id (a string), e.g. cn-hangzhou")
    return Step(index, action, request, caller, channel, creates, line, warnings, region=region)


def _step_keys(raw: dict[Any, Any], action: str, model: type[Request], where: str
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    """A step's request parameters (``Name.N`` keys gathered into lists) and its metadata keys;
    every unknown or malformed key is an error, up to ten of them reported at once."""
    params: dict[str, Any] = {}
    indexed: dict[str, dict[int, Any]] = {}
    meta: dict[str, Any] = {}
    fields = model.model_fields
    problems: list[str] = []
    for key, value in raw.items():
        key = str(key)
        if key == "Action":
            continue
        if key in METADATA_KEYS:
            meta[key] = value
            continue
        if not key[:1].isupper():
            hint = did_you_mean(key, [*METADATA_KEYS, *catalogue()[action].top_level])
            problems.append(f"{where}: unknown key {key!r}" + (f"; {hint}" if hint else
                            f" (lower-case keys are {', '.join(METADATA_KEYS)}; API parameters are PascalCase)"))
            continue
        problem = key_problem(action, key, value, METADATA_KEYS)
        if problem:
            problems.append(f"{where}: {problem}")
            continue
        m = _INDEXED.match(key)
        if m and m.group(1) in fields:
            indexed.setdefault(m.group(1), {})[int(m.group(2))] = value
        elif key in fields:
            params[key] = value
    if problems:
        raise InputError("\n".join(problems[:10]))
    for name, items in indexed.items():
        existing = params.get(name) or []
        if not isinstance(existing, list):
            raise InputError(f"{where}: {name} must be a list")
        params[name] = list(existing) + [items[k] for k in sorted(items)]
    return params, meta


def _step_request(model: type[Request], params: dict[str, Any], where: str) -> Request:
    """The validated request model of a step's parameters."""
    for name in ("AddAccount", "RemoveAccount"):
        if name in params and isinstance(params[name], list):
            params[name] = [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in params[name]]
    try:
        request = model.model_validate(params)
    except ValidationError as err:
        msgs = []
        for e in err.errors()[:5]:
            loc = ".".join(str(x) for x in e["loc"])
            what = "required parameter is missing" if e["type"] == "missing" else e["msg"]
            got = f" (got {json.dumps(e['input'], default=str)[:60]})" if e["type"] != "missing" else ""
            msgs.append(f"{where}: {loc}: {what}{got}{_literal_hint(e)}")
        raise InputError("\n".join(msgs)) from None
    for name, (low, high) in INT_RANGES.items():
        number = getattr(request, name, None)
        if isinstance(number, int) and not low <= number <= high:
            raise InputError(f"{where}: {name}: must be {low} to {high}, got {number}")
    return request
