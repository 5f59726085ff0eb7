"""Regenerate imagefam/engine/params.json, the catalogue of every request parameter of every action.

    .venv/bin/python tools/gen_params.py            # rewrite the catalogue
    .venv/bin/python tools/gen_params.py --check    # exit 1 if the committed catalogue is stale

Each action's parameters come from the official SDK's request model (``alibabacloud_ecs20140526``,
installed by the ``test`` extra), walked through its nested models and flattened to the names the
API and the aliyun CLI use: an object becomes ``SystemDisk.Category``, a list of objects
``DataDisk.N.Size``, a list of scalars ``SecurityGroupIds.N``. A map-valued parameter (sent as one
JSON string) is recorded as ``Name.*``: any key under it is accepted. To that the script adds the
parameters the API reference documents but the SDK lacks (``DOCUMENTED``) and imagefam's own
extensions (``EXTENSIONS``). An action of another API version (Auto Scaling: the aliyun CLI calls
2014-08-28, the SDK is 2022-02-22) lists both names through ``RENAMES``.

Adding an action is one entry in ``SOURCES`` (and its request model in imagefam.engine.models).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import typing
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "imagefam" / "engine" / "params.json"

ECS = "alibabacloud_ecs20140526"
ESS = "alibabacloud_ess20220222"

#: action -> (SDK package, request model class). The actions imagefam supports.
SOURCES: dict[str, tuple[str, str]] = {
    "CreateImage": (ECS, "CreateImageRequest"),
    "CopyImage": (ECS, "CopyImageRequest"),
    "ModifyImageAttribute": (ECS, "ModifyImageAttributeRequest"),
    "ModifyImageSharePermission": (ECS, "ModifyImageSharePermissionRequest"),
    "DeleteImage": (ECS, "DeleteImageRequest"),
    "RunInstances": (ECS, "RunInstancesRequest"),
    "CreateInstance": (ECS, "CreateInstanceRequest"),
    "ReplaceSystemDisk": (ECS, "ReplaceSystemDiskRequest"),
    "DescribeImageFromFamily": (ECS, "DescribeImageFromFamilyRequest"),
    "CreateScalingConfiguration": (ESS, "CreateScalingConfigurationRequest"),
    "ModifyScalingConfiguration": (ESS, "ModifyScalingConfigurationRequest"),
}

#: Actions of other SDKs the generator knows how to read but imagefam does not model (none today).
OPTIONAL_SOURCES: dict[str, tuple[str, str]] = {}

#: Per SDK package: a 2022-02-22 name -> the older API version's name the aliyun CLI sends. Both
#: are accepted (Auto Scaling's ``DataDisks.N.Size`` is the CLI's ``DataDisk.N.Size``).
RENAMES: dict[str, dict[str, str]] = {
    ESS: {"DataDisks": "DataDisk", "SpotPriceLimits": "SpotPriceLimit",
          "InstancePatternInfos": "InstancePatternInfo", "InstanceTypeOverrides": "InstanceTypeOverride"},
}

#: Parameters the ECS API reference documents that the SDK's request model lacks.
DOCUMENTED: dict[str, tuple[str, ...]] = {
    "CreateImage": ("StorageLocationArn", "ImageFeatures.NvmeSupport"),
    "ModifyImageAttribute": ("ImageFeatures.NvmeSupport",),
}

#: imagefam's own parameters (documented in docs/formats.md).
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "ReplaceSystemDisk": ("RegionId",),
}


def _hints(cls: type) -> dict[str, Any]:
    module = sys.modules[cls.__module__]
    return typing.get_type_hints(cls.__init__, globalns=vars(module))


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and hasattr(tp, "to_map") and hasattr(tp, "from_map")


class _Probe:
    """Stands in for a nested model: its ``to_map`` returns a marker to find in the parent's map."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def to_map(self) -> dict[str, str]:
        return {self.marker: self.marker}


def _api_names(cls: type) -> dict[str, str]:
    """attribute -> API name, read from the model's own ``to_map`` (the SDK's serialisation)."""
    hints = {k: v for k, v in _hints(cls).items() if k != "return"}
    names: dict[str, str] = {}
    for attr, tp in hints.items():
        marker = f"@probe:{attr}"
        origin = typing.get_origin(tp)
        if origin is list:
            (item,) = typing.get_args(tp)
            value: Any = [_Probe(marker) if _is_model(item) else marker]
        elif origin is dict:
            value = {marker: marker}
        elif _is_model(tp):
            value = _Probe(marker)
        else:
            value = marker
        obj = cls()
        setattr(obj, attr, value)
        found = [k for k, v in obj.to_map().items() if marker in repr(v)]
        if len(found) != 1:
            raise SystemExit(f"{cls.__name__}.{attr}: cannot find its API name (got {found})")
        names[attr] = found[0]
    return names


def flatten(cls: type, prefix: str = "", depth: int = 0) -> set[str]:
    """Every parameter name of ``cls`` with its nested models, as the API spells them."""
    if depth > 6:
        raise SystemExit(f"{cls.__name__}: nested too deeply")
    hints = _hints(cls)
    out: set[str] = set()
    for attr, name in _api_names(cls).items():
        tp = hints[attr]
        full = f"{prefix}{name}"
        origin = typing.get_origin(tp)
        if origin is list:
            (item,) = typing.get_args(tp)
            if _is_model(item):
                out |= flatten(item, f"{full}.N.", depth + 1)
            else:
                out.add(f"{full}.N")
        elif origin is dict:
            out.add(f"{full}.*")
        elif _is_model(tp):
            out |= flatten(tp, f"{full}.", depth + 1)
        else:
            out.add(full)
    return out


def _renamed(names: set[str], renames: dict[str, str]) -> set[str]:
    out = set(names)
    for name in names:
        root, dot, rest = name.partition(".")
        if root in renames:
            out.add(renames[root] + dot + rest)
    return out


def action_params(action: str, package: str, model: str) -> list[str]:
    models = importlib.import_module(f"{package}.models")
    names = flatten(getattr(models, model))
    names = _renamed(names, RENAMES.get(package, {}))
    names |= set(DOCUMENTED.get(action, ())) | set(EXTENSIONS.get(action, ()))
    return sorted(names)


def build(include_optional: bool = False) -> dict[str, Any]:
    sources = dict(SOURCES)
    if include_optional:
        sources |= OPTIONAL_SOURCES
    versions = {}
    for package in sorted({p for p, _ in sources.values()}):
        from importlib.metadata import version

        versions[package.replace("_", "-")] = version(package.replace("_", "-"))
    return {
        "about": "Generated by tools/gen_params.py from the official SDK request models; do not edit.",
        "sdk": versions,
        "actions": {a: action_params(a, p, m) for a, (p, m) in sources.items()},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the committed catalogue differs")
    ap.add_argument("--print", metavar="ACTION", help="print one action's parameters (any known action)")
    args = ap.parse_args(argv)
    if args.print:
        package, model = (SOURCES | OPTIONAL_SOURCES)[args.print]
        print("\n".join(action_params(args.print, package, model)))
        return 0
    text = json.dumps(build(), indent=1, sort_keys=False) + "\n"
    if args.check:
        current = OUT.read_text("utf-8") if OUT.exists() else ""
        if json.loads(current or "{}").get("actions") != json.loads(text)["actions"]:
            print(f"{OUT} is stale: run tools/gen_params.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, "utf-8")
    print(f"wrote {OUT}: {sum(len(v) for v in json.loads(text)['actions'].values())} parameters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
