"""Shared helpers for the engine / CLI / contract tests (test_cli, test_contract, test_loader,
test_resolver_properties, test_preflight_properties).

Holds: paths, a cached shipped policy, builders for state and plan files, CLI runners
(in-process and subprocess), file hashing, the JSON-contract shape checkers, and an
independent, deliberately simple reference of family resolution written from the seed text.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the package may not be installed into the venv
    sys.path.insert(0, str(ROOT))

from imagefam.engine.models import Image  # noqa: E402
from imagefam.engine.policy import load_policy  # noqa: E402
from imagefam.rules.compiled import Policy  # noqa: E402

DEMO_DIR = ROOT / "imagefam" / "engine" / "demo"
POLICY_DIR = ROOT / "imagefam" / "policy"
SEED = ROOT.parent / "shared" / "seed" / "ecs-image-families.txt"

# The seed's accounts: M publishes, N is M's sharee, P sees only what is public.
M, N, P = "100001", "200002", "300003"

FUZZ_EXAMPLES = int(os.environ.get("IMAGEFAM_FUZZ_EXAMPLES", "150"))


@cache
def shipped_policy() -> Policy:
    """The shipped policy, loaded once per test process."""
    return load_policy()


def shipped_rule_ids() -> list[str]:
    """Every rule and audit id declared in the shipped *.rules files (read with a plain regex)."""
    ids = []
    for f in sorted(POLICY_DIR.glob("*.rules")):
        ids += re.findall(r"^(?:rule|audit)\s+([A-Za-z0-9_-]+)", f.read_text("utf-8"), flags=re.M)
    return ids


# ---------------------------------------------------------------- building inputs


def img(image_id: str, *, region: str = "cn-hangzhou", created: str = "2020-01-01T00:00:00Z",
        status: str = "Available", owner: str | None = M, family: str | None = None, **extra: Any) -> dict[str, Any]:
    """One image as a state file holds it (DescribeImages field names)."""
    out: dict[str, Any] = {"ImageId": image_id, "RegionId": region, "CreationTime": created, "Status": status}
    if owner is not None:
        out["ImageOwnerId"] = owner
    if family is not None:
        out["ImageFamily"] = family
    out.update(extra)
    return out


def write_state(folder: Path, images: list[dict[str, Any]], *, name: str = "state.json",
                taken_at: str | None = None) -> Path:
    """Write a state file: YAML when ``name`` ends in .yaml/.yml, else JSON."""
    data: dict[str, Any] = {"Images": images}
    if taken_at is not None:
        data = {"TakenAt": taken_at, **data}
    return write_data(folder / name, data)


def write_plan(folder: Path, steps: list[dict[str, Any]], *, caller: str | None = M,
               name: str = "plan.yaml") -> Path:
    data: dict[str, Any] = {"steps": steps}
    if caller is not None:
        data = {"caller": caller, **data}
    return write_data(folder / name, data)


def write_data(path: Path, data: Any) -> Path:
    if path.suffix.lower() in (".yaml", ".yml"):
        path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    else:
        path.write_text(json.dumps(data, indent=2), "utf-8")
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_hashes(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under ``folder`` (to prove inputs are untouched)."""
    return {str(p.relative_to(folder)): sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- running the CLI


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(*args: str | Path, cwd: Path | None = None, timeout: float = 120) -> Run:
    """``python -m imagefam.cli ARGS`` in a subprocess: the real exit code, stdout and stderr."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("PYTHONWARNINGS", None)
    proc = subprocess.run([sys.executable, "-m", "imagefam.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=timeout, check=False)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def run_main(capsys: Any, *args: str | Path) -> Run:
    """``imagefam.cli.main(ARGS)`` in-process (fast); argparse exits become the exit code."""
    from imagefam.cli import main

    capsys.readouterr()
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


def assert_clean_error(run: Run) -> None:
    """Exit 2 with a message on stderr and no traceback anywhere."""
    assert run.code == 2, (run.code, run.out, run.err)
    assert run.err.strip(), "an input error must say what is wrong on stderr"
    assert "Traceback" not in run.err and "Traceback" not in run.out
    assert "internal error" not in run.err


# ---------------------------------------------------------------- contract shapes


def _opt(value: Any, kind: type | tuple[type, ...]) -> bool:
    return value is None or isinstance(value, kind)


def assert_check_json(doc: Any) -> None:
    """The ``imagefam check --format json`` contract (extra keys allowed)."""
    assert isinstance(doc, dict)
    assert isinstance(doc["allowed"], bool)
    assert isinstance(doc["steps"], list)
    assert isinstance(doc["family_changes"], list)
    for i, s in enumerate(doc["steps"]):
        assert isinstance(s, dict)
        assert s["index"] == i and isinstance(s["index"], int) and not isinstance(s["index"], bool)
        assert isinstance(s["action"], str) and s["action"]
        assert isinstance(s["caller"], str) and s["caller"]
        assert s["decision"] in ("allow", "deny")
        assert isinstance(s["violations"], list) and isinstance(s["warnings"], list)
        for v in s["violations"]:
            assert isinstance(v["rule"], str) and v["rule"]
            assert isinstance(v["message"], str) and v["message"]
            assert "error_code" in v and _opt(v["error_code"], str)
        for w in s["warnings"]:
            assert isinstance(w["rule"], str) and w["rule"]
            assert isinstance(w["message"], str) and w["message"]
        assert "resolved_image_id" in s and _opt(s["resolved_image_id"], str)
        assert (s["decision"] == "deny") == bool(s["violations"])
    assert doc["allowed"] == all(s["decision"] == "allow" for s in doc["steps"])
    for c in doc["family_changes"]:
        assert isinstance(c["step"], int) and 0 <= c["step"] < len(doc["steps"])
        assert isinstance(c["region"], str) and isinstance(c["family"], str)
        assert "owner" in c and _opt(c["owner"], str)
        assert "before" in c and _opt(c["before"], str)
        assert "after" in c and _opt(c["after"], str)
        assert c["before"] != c["after"]
        assert doc["steps"][c["step"]]["decision"] == "allow", "a denied step changes no family"


def assert_trace_json(doc: Any) -> None:
    """The ``imagefam resolve --format json`` contract (extra keys allowed)."""
    assert isinstance(doc, dict)
    for key in ("family", "region", "caller"):
        assert isinstance(doc[key], str)
    assert "image_id" in doc and _opt(doc["image_id"], str)
    assert isinstance(doc["tie"], bool)
    assert isinstance(doc["candidates"], list)
    verdicts = [c["verdict"] for c in doc["candidates"]]
    for c in doc["candidates"]:
        assert isinstance(c["image_id"], str)
        assert isinstance(c["creation_time"], str)
        datetime.fromisoformat(c["creation_time"].replace("Z", "+00:00"))
        assert isinstance(c["status"], str)
        assert c["verdict"] in ("chosen", "eligible", "excluded")
        assert "requirement" in c and _opt(c["requirement"], str)
        assert isinstance(c["reason"], str) and c["reason"]
        assert (c["verdict"] == "excluded") == (c["requirement"] is not None)
    if doc["image_id"] is None:
        assert "chosen" not in verdicts and "eligible" not in verdicts
    else:
        assert verdicts.count("chosen") == 1 and verdicts[0] == "chosen"
        assert doc["candidates"][0]["image_id"] == doc["image_id"]


# ---------------------------------------------------------------- reference resolution


def ref_visible(image: Image, caller: str) -> bool:
    """Seed "Supported image types": own images, public (system/marketplace) images, images shared
    with the caller and community images are visible."""
    return (image.ImageOwnerAlias in ("system", "marketplace") or image.ImageOwnerId == caller
            or caller in image.SharedWith or image.IsPublic)


def ref_seen_as(image: Image, caller: str) -> str | None:
    """Seed "Family name visibility": the owner (and everyone, for public images) sees the raw
    name; others see acs:<owner UID>:<family>."""
    if image.ImageFamily is None:
        return None
    if image.ImageOwnerAlias in ("system", "marketplace") or image.ImageOwnerId == caller:
        return image.ImageFamily
    return f"acs:{image.ImageOwnerId}:{image.ImageFamily}"


def ref_short(name: str) -> str:
    """acs:<uid>:<family> -> <family>; anything else (web, acs:ubuntu_24_04_x64) is kept."""
    parts = name.split(":", 2)
    if len(parts) == 3 and parts[0] == "acs" and parts[1]:
        return parts[2]
    return name


def ref_eligible(images: list[Image], family: str, region: str, caller: str) -> list[Image]:
    return [i for i in images if i.RegionId == region and i.Status == "Available"
            and ref_visible(i, caller) and ref_seen_as(i, caller) == family]


def ref_resolve(images: list[Image], family: str, region: str, caller: str) -> Image | None:
    """The newest Available image the caller can see under that name in that region (ImageId
    breaks ties, as the shipped policy documents)."""
    ok = ref_eligible(images, family, region, caller)
    return max(ok, key=lambda i: (i.CreationTime, i.ImageId)) if ok else None


def ref_tie(images: list[Image], family: str, region: str, caller: str) -> bool:
    ok = ref_eligible(images, family, region, caller)
    if not ok:
        return False
    newest = max(i.CreationTime for i in ok)
    return sum(1 for i in ok if i.CreationTime == newest) > 1


def ref_candidates(images: list[Image], family: str, region: str) -> set[str]:
    short = ref_short(family)
    return {i.ImageId for i in images if i.RegionId == region and i.ImageFamily == short}
