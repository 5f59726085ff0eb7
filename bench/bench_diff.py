"""`diff` of two generated snapshots a week apart: load both, diff, one process per size.

    python bench/bench_diff.py [--sizes 10000,100000,1000000] [--json PATH]

OLD is bench/gen.py's state of N images. NEW (``state-<N>-next.json``, cached next to it) is OLD a
week later, changed deterministically: ~1% of Available images deprecated, ~0.5% removed, ~0.5%
new images added to existing families (newer, Available), ~0.2% shared with or unshared from an
account, ~0.2% moved to another family or out of one. Timings are for the whole command's work:
both loads and the diff (image changes, then the resolutions that can have changed, in both).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _common as C  # noqa: E402
import gen  # noqa: E402


def next_path(old: Path) -> Path:
    return old.with_name(old.stem + "-next.json")


def _fmt(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_next(old: Path, out: Path, seed: int = gen.DEFAULT_SEED) -> None:
    """NEW: OLD a week later, with the changes listed in the module docstring."""
    rng = random.Random(seed + 14)
    data = json.loads(old.read_text("utf-8"))
    taken = datetime.fromisoformat(data["TakenAt"].replace("Z", "+00:00"))
    week = taken + timedelta(days=7)
    images: list[dict[str, Any]] = []
    added: list[dict[str, Any]] = []
    uids = sorted({i["ImageOwnerId"] for i in data["Images"] if i.get("ImageOwnerId")})
    for k, img in enumerate(data["Images"]):
        custom = img.get("ImageOwnerAlias") is None
        r = rng.random()
        if custom and r < 0.005:
            continue  # removed
        img = dict(img)
        if custom and img["Status"] == "Available" and r < 0.015:
            img["Status"] = "Deprecated"
        elif custom and r < 0.017:
            shared = list(img.get("SharedWith") or [])
            if shared and rng.random() < 0.5:
                shared.pop(rng.randrange(len(shared)))
            else:
                shared.append(rng.choice(uids))
            img["SharedWith"] = sorted(set(shared))
        elif custom and r < 0.019:
            img["ImageFamily"] = None if img.get("ImageFamily") else "moved-in"
        if custom and img.get("ImageFamily") and rng.random() < 0.005:
            fresh = {key: v for key, v in img.items() if key not in ("SharedWith", "IsPublic")}
            fresh.update(ImageId=f"{img['ImageId']}-n{k}", Status="Available",
                         CreationTime=_fmt(taken + timedelta(hours=rng.randrange(1, 160))))
            added.append(fresh)
        images.append(img)
    body = json.dumps({"TakenAt": _fmt(week), "Images": added + images}, separators=(",", ":"))
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(body)
    os.replace(tmp, out)


def ensure_pair(n: int) -> tuple[Path, Path]:
    old = gen.ensure_state(n, log=C.log)
    new = next_path(old)
    if not new.exists():
        t = time.perf_counter()
        write_next(old, new)
        C.log(f"generated {new.name} in {time.perf_counter() - t:.1f}s")
    return old, new


def worker(old: str, new: str) -> None:
    from imagefam.engine.diff import diff_states
    from imagefam.engine.loader import load_state
    from imagefam.engine.policy import load_policy

    policy = load_policy()
    t0, c0 = time.perf_counter(), time.process_time()
    a, b = load_state(old), load_state(new)
    t1, c1 = time.perf_counter(), time.process_time()
    d = diff_states(a, b, policy)
    t2, c2 = time.perf_counter(), time.process_time()
    print(json.dumps({"images_old": len(a.images), "images_new": len(b.images),
                      "resolution_changes": len(d.resolution_changes), "added": len(d.added),
                      "removed": len(d.removed), "status": len(d.status), "family": len(d.family),
                      "sharing": len(d.sharing), "load_s": t1 - t0, "load_cpu_s": c1 - c0,
                      "diff_s": t2 - t1, "diff_cpu_s": c2 - c1, "total_s": t2 - t0,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--json")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return 0
    def line(row: dict[str, Any]) -> str:
        return (f"{row['n']:>9,} images: load both {row['load_s']:.1f} s (CPU {row['load_cpu_s']:.1f} s) + diff "
                f"{row['diff_s']:.1f} s (CPU {row['diff_cpu_s']:.1f} s) = {row['total_s']:.1f} s; "
                f"{row['resolution_changes']:,} resolution changes, {row['added']:,} added, {row['removed']:,} "
                f"removed, {row['status']:,} status; peak RSS {row['peak_rss_mib']:,.0f} MiB")

    C.per_size(args.sizes, lambda n: [__file__, "--worker", *map(str, ensure_pair(n))], line, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
