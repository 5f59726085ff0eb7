"""Terraform plans and aliyun CLI scripts: a 5,000-resource plan (and a 5,000-line script) checked.

    python bench/bench_planformats.py [--resources 5000] [--runs 3] [--json out.json]

Inputs are generated deterministically into bench/data/: a state of 2,000 images, half of them the
caller's (in 40 families), a ``terraform show -json`` plan of N resource changes (1/5 image creates, 1/5 shares
of those images by reference, 1/10 deletes, 1/10 renames, 1/5 instance launches, 1/5 other
resources, which are skipped) and a script of N ``aliyun ecs`` lines of the same mix. Reported:
the whole ``imagefam check`` process (median of --runs), and in-process reading + translation and
checking. Target: the 5,000-resource plan in under 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as C

OWNER = "1000000000000001"
REGION = "cn-hangzhou"


def state(n: int = 2000, accounts: int = 10) -> dict[str, Any]:
    """n images: half the caller's (m-bench00000.., 40 families), half of ``accounts`` others."""
    images = [{"ImageId": f"m-bench{i:05d}", "RegionId": REGION,
               "ImageOwnerId": OWNER if i < n // 2 else f"1{i % accounts:015d}",
               "ImageFamily": f"fam-{i % 40}", "ImageName": f"img-{i}", "Status": "Available",
               "CreationTime": f"2024-01-01T00:{(i // 60) % 60:02d}:{i % 60:02d}Z"} for i in range(n)]
    return {"TakenAt": "2024-06-01T00:00:00Z", "Images": images}


def terraform(n: int) -> dict[str, Any]:
    changes: list[dict[str, Any]] = []
    resources: list[dict[str, Any]] = []

    def add(type_: str, name: str, actions: list[str], before: Any, after: Any, unknown: dict[str, Any],
            expressions: dict[str, Any]) -> None:
        changes.append({"address": f"{type_}.{name}", "mode": "managed", "type": type_, "name": name,
                        "provider_name": "registry.terraform.io/aliyun/alicloud",
                        "change": {"actions": actions, "before": before, "after": after, "after_unknown": unknown}})
        resources.append({"address": f"{type_}.{name}", "mode": "managed", "type": type_, "name": name,
                          "provider_config_key": "alicloud", "expressions": expressions})

    k = n // 10
    for i in range(2 * k):
        add("alicloud_image", f"new{i}", ["create"], None,
            {"instance_id": f"i-{i}", "image_family": f"fam-{i % 40}", "image_name": f"new-{i}", "force": False},
            {"id": True}, {"instance_id": {"constant_value": f"i-{i}"}})
    for i in range(2 * k):
        add("alicloud_image_share_permission", f"share{i}", ["create"], None, {"account_id": f"2{i:015d}"},
            {"id": True, "image_id": True},
            {"image_id": {"references": [f"alicloud_image.new{i}.id", f"alicloud_image.new{i}"]}})
    for i in range(k):
        add("alicloud_image", f"old{i}", ["delete"], {"id": f"m-bench{i:05d}", "force": False}, None, {}, {})
    for i in range(k):
        j = k + i
        add("alicloud_image", f"ren{i}", ["update"], {"id": f"m-bench{j:05d}", "image_name": f"img-{j}"},
            {"id": f"m-bench{j:05d}", "image_name": f"renamed-{j}"}, {}, {})
    for i in range(2 * k):
        add("alicloud_instance", f"vm{i}", ["create"], None,
            {"image_id": f"m-bench{k + i % k:05d}", "instance_type": "ecs.g7.large"}, {"id": True}, {})
    for i in range(n - len(changes)):
        add("alicloud_vpc", f"vpc{i}", ["create"], None, {"cidr_block": "10.0.0.0/8"}, {"id": True}, {})
    return {"format_version": "1.2", "terraform_version": "1.9.5", "resource_changes": changes,
            "configuration": {"provider_config": {"alicloud": {"name": "alicloud", "expressions": {
                "region": {"constant_value": REGION}}}}, "root_module": {"resources": resources}}}


def script(n: int) -> str:
    lines = ["#!/bin/sh", "set -eu"]
    k = n // 10
    for i in range(2 * k):
        lines.append(f"ID{i}=$(aliyun ecs CreateImage --RegionId {REGION} --InstanceId i-{i} "
                     f"--ImageFamily fam-{i % 40} | jq -r .ImageId)")
    for i in range(2 * k):
        lines.append(f'aliyun ecs ModifyImageSharePermission --RegionId {REGION} --ImageId "$ID{i}" '
                     f"--AddAccount.1 2{i:015d}")
    for i in range(k):
        lines.append(f"aliyun ecs DeleteImage --region {REGION} --ImageId m-bench{i:05d}")
    for i in range(k):
        lines.append(f"aliyun ecs ModifyImageAttribute --RegionId {REGION} --ImageId m-bench{k + i:05d} \\\n"
                     f"  --ImageName 'renamed {i}'")
    for i in range(2 * k):
        lines.append(f"aliyun ecs RunInstances --RegionId {REGION} --ImageId m-bench{k + i % k:05d}")
    while len(lines) < n + 2:
        lines.append(f"echo step {len(lines)}")
    return "\n".join(lines) + "\n"


def write(path: Path, text: str) -> Path:
    if not path.exists():
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, "utf-8")
        tmp.replace(path)
    return path


def process_time(plan: Path, st: Path, runs: int) -> tuple[float, float, float]:
    """(median wall, best wall, median CPU) seconds of the whole ``imagefam check`` process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        cmd = [sys.executable, "-m", "imagefam.cli", "check", str(plan), "--state", str(st), "--caller", OWNER,
               "--format", "json", "-o", str(out)]
        times, cpus = [], []
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            proc = subprocess.run(cmd, cwd=C.ROOT, capture_output=True, text=True)
            times.append(time.perf_counter() - t)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            if proc.returncode not in (0, 1):
                raise SystemExit(f"imagefam check failed ({proc.returncode}): {proc.stderr}")
        times.sort()
        cpus.sort()
        return times[len(times) // 2], times[0], cpus[len(cpus) // 2]


def in_process(plan: Path, st: Path) -> dict[str, Any]:
    from imagefam.engine.loader import load_state
    from imagefam.engine.planformats import load_any_plan
    from imagefam.engine.policy import load_policy
    from imagefam.engine.preflight import check

    policy = load_policy()
    state_ = load_state(st)
    t = time.perf_counter()
    p = load_any_plan(plan, caller=OWNER)
    read_s = time.perf_counter() - t
    t = time.perf_counter()
    result = check(state_, p, policy)
    check_s = time.perf_counter() - t
    return {"read_s": read_s, "check_s": check_s, "steps": len(p.steps), "skipped": len(p.skipped or []),
            "denied": sum(not s.allowed for s in result.steps)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resources", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args()
    data = C.HERE / "data"
    data.mkdir(exist_ok=True)
    st = write(data / "planformats-state.json", json.dumps(state()))
    tf = write(data / f"terraform-plan-{args.resources}.json", json.dumps(terraform(args.resources)))
    sh = write(data / f"deploy-{args.resources}.sh", script(args.resources))
    rows = []
    for kind, path in (("terraform", tf), ("aliyun-cli", sh)):
        C.log(f"checking {path.name}")
        median, best, cpu = process_time(path, st, args.runs)
        rows.append({"kind": kind, "resources": args.resources, "process_median_s": median, "process_min_s": best,
                     "process_cpu_s": cpu,
                     **in_process(path, st)})
    result = {"rows": rows, "machine": C.machine()}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2), "utf-8")
    for r in rows:
        print(f"{r['kind']:>10} {r['resources']:,} entries: process {r['process_median_s']:.2f} s (median, best "
              f"{r['process_min_s']:.2f} s, CPU {r['process_cpu_s']:.2f} s); read {r['read_s'] * 1e3:.0f} ms, check {r['check_s'] * 1e3:.0f} ms; "
              f"{r['steps']:,} steps, {r['skipped']:,} skipped, {r['denied']:,} denied")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
