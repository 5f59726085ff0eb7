"""Start-up: `imagefam check` on a one-step plan, whole process, against `python -c pass` and
`python -c "import pydantic"` (median of N runs). Writes JSON with --json."""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "imagefam" / "engine" / "demo" / "state.yaml"


def median_ms(cmd: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    import os

    with tempfile.TemporaryDirectory() as tmp:
        plan = Path(tmp) / "one.yaml"
        plan.write_text('caller: "100001"\nsteps:\n  - {Action: RunInstances, RegionId: cn-hangzhou, '
                        "ImageFamily: app-a}\n", "utf-8")
        check = [sys.executable, "-m", "imagefam.cli", "check", str(plan), "--state", str(DEMO)]
        median_ms(check, 2)  # warm the grammar-table cache and the OS file cache
        res = {
            "python -c pass": median_ms([sys.executable, "-c", "pass"], args.runs),
            "python -c 'import pydantic'": median_ms([sys.executable, "-c", "import pydantic"], args.runs),
            "imagefam check (one step)": median_ms(check, args.runs),
            "imagefam check (one step), IMAGEFAM_NO_CACHE=1": median_ms(
                check, args.runs, env={**os.environ, "IMAGEFAM_NO_CACHE": "1"}),
        }
    res["ratio_to_pydantic_import"] = res["imagefam check (one step)"] / res["python -c 'import pydantic'"]
    for k, v in res.items():
        print(f"{k:50} {v:8.1f}{'x' if k.startswith('ratio') else ' ms'}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
