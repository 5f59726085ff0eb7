"""Start-up: `imagefam check` on a one-step plan, whole process, against `python -c pass` and
`python -c "import pydantic"` (median of N runs: wall time, and CPU time, which waiting for a shared core
does not inflate). Also the floor of any check command built like imagefam's: a process that builds one
pydantic validator (BaseModel and the validator machinery load, and pydantic's plugin loader imports
importlib.metadata), imports PyYAML (the bench's state and plan are YAML) and argparse.
Writes JSON with --json."""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "imagefam" / "engine" / "demo" / "state.yaml"
FLOOR = "from pydantic import BaseModel, TypeAdapter; TypeAdapter(int).validate_python(1); import yaml, argparse"


def median_ms(cmd: list[str], runs: int, env: dict[str, str] | None = None) -> tuple[float, float]:
    """The median wall time and the median CPU time (user + system) of ``cmd``, in ms. On a shared
    machine the CPU time is the figure to compare: waiting for a core does not count."""
    times, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env)
        times.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(times) * 1000, statistics.median(cpu) * 1000


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
        # warm the grammar-table cache and the OS file cache, and write the bytecode (.pyc) an installed
        # package has: with PYTHONDONTWRITEBYTECODE set, every run would compile imagefam from source
        # (about 100 ms of CPU, measured) and the figure would say nothing about start-up as installed
        median_ms(check, 2, env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})
        runs = {
            "python -c pass": median_ms([sys.executable, "-c", "pass"], args.runs),
            "python -c 'import pydantic'": median_ms([sys.executable, "-c", "import pydantic"], args.runs),
            "floor: a pydantic validator, PyYAML, argparse": median_ms([sys.executable, "-c", FLOOR], args.runs),
            "imagefam check (one step)": median_ms(check, args.runs),
            "imagefam check (one step), IMAGEFAM_NO_CACHE=1": median_ms(
                check, args.runs, env={**os.environ, "IMAGEFAM_NO_CACHE": "1"}),
        }
    res = {k: wall for k, (wall, _) in runs.items()}
    res["ratio_to_pydantic_import"] = res["imagefam check (one step)"] / res["python -c 'import pydantic'"]
    for k, (_, cpu) in runs.items():
        res[f"{k}, CPU"] = cpu
    res["ratio_to_pydantic_import, CPU"] = (res["imagefam check (one step), CPU"]
                                            / res["python -c 'import pydantic', CPU"])
    res["floor_ratio_to_pydantic_import, CPU"] = (res["floor: a pydantic validator, PyYAML, argparse, CPU"]
                                                  / res["python -c 'import pydantic', CPU"])
    for k, v in res.items():
        print(f"{k:55} {v:8.1f}{'x' if 'ratio' in k else ' ms'}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
