"""`report --format html` over generated states: load, report and page time, page size, peak RSS.

    python bench/bench_html.py [--sizes 10000,100000,1000000] [--json PATH] [--keep DIR]

One fresh interpreter per size. ``--keep DIR`` keeps the pages (``report-<N>.html``) for a look in a
browser.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _common as C  # noqa: E402
import gen  # noqa: E402


def worker(path: str, keep: str | None) -> None:
    from imagefam.engine.html import report_html
    from imagefam.engine.loader import load_state
    from imagefam.engine.policy import load_policy
    from imagefam.engine.report import report

    policy = load_policy()
    t0, c0 = time.perf_counter(), time.process_time()
    state = load_state(path)
    t1, c1 = time.perf_counter(), time.process_time()
    rep = report(state, policy)
    t2, c2 = time.perf_counter(), time.process_time()
    page = report_html(state, rep, policy, sources=[Path(path).name])
    t3, c3 = time.perf_counter(), time.process_time()
    data = page.encode("utf-8")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / f"report-{rep.images}.html").write_bytes(data)
    print(json.dumps({"images": rep.images, "families": rep.families, "findings": len(rep.findings),
                      "load_s": t1 - t0, "report_s": t2 - t1, "html_s": t3 - t2, "html_cpu_s": c3 - c2,
                      "load_cpu_s": c1 - c0, "report_cpu_s": c2 - c1, "total_s": t3 - t0, "total_cpu_s": c3 - c0, "html_mb": len(data) / 1e6, "marks": page.count(' data-id="'),
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--json")
    ap.add_argument("--keep", help="keep the pages in this folder")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, args.keep)
        return 0
    keep = ["--keep", str(Path(args.keep).resolve())] if args.keep else []  # the worker runs in the repo root

    def line(row: dict[str, Any]) -> str:
        return (f"{row['n']:>9,} images: load {row['load_s']:.1f} s, report {row['report_s']:.1f} s, "
                f"html {row['html_s']:.1f} s (CPU {row['html_cpu_s']:.1f} s; all three {row['total_s']:.1f} s, "
                f"CPU {row['total_cpu_s']:.1f} s), {row['html_mb']:.1f} MB, "
                f"{row['marks']:,} images drawn, peak RSS {row['peak_rss_mib']:,.0f} MiB")

    C.per_size(args.sizes, lambda n: [__file__, "--worker", str(gen.ensure_state(n, log=C.log)), *keep], line,
               args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
