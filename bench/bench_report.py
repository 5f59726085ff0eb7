"""`report` over generated states: load and report time, CPU and peak RSS, one process per size.

    python bench/bench_report.py [--sizes 10000,100000,1000000] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _common as C  # noqa: E402
import gen  # noqa: E402


def worker(path: str) -> None:
    from imagefam.engine.loader import load_state
    from imagefam.engine.policy import load_policy
    from imagefam.engine.report import report

    policy = load_policy()
    t0, c0 = time.perf_counter(), time.process_time()
    state = load_state(path)
    t1, c1 = time.perf_counter(), time.process_time()
    rep = report(state, policy)
    t2, c2 = time.perf_counter(), time.process_time()
    print(json.dumps({"images": rep.images, "families": rep.families, "findings": len(rep.findings),
                      "by_severity": rep.summary()["by_severity"], "load_s": t1 - t0, "load_cpu_s": c1 - c0,
                      "report_s": t2 - t1, "report_cpu_s": c2 - c1,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--json")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return 0
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        path = gen.ensure_state(n, log=C.log)
        proc = subprocess.run([sys.executable, __file__, "--worker", str(path)], capture_output=True, text=True,
                              check=True)
        row = {"n": n, **json.loads(proc.stdout)}
        rows.append(row)
        print(f"{n:>9,} images: load {row['load_s']:.1f} s, report {row['report_s']:.1f} s "
              f"(CPU {row['report_cpu_s']:.1f} s), {row['findings']:,} findings, peak RSS {row['peak_rss_mib']:,.0f} MiB")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows}, indent=1), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
