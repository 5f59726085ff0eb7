"""Scale benchmarks: check, resolve and load over states of growing size.

For each state size (default 10k, 100k and 1M images; ``--quick``: 10k and 100k) a fresh
interpreter loads the generated state file and a 10,000-step plan over it, then measures:

* load: ``load_state`` wall time, file size, peak RSS after loading (``resource.getrusage``);
* check: one check session over the plan -> steps/s and µs/step (wall and CPU); the session's
  setup and first ``--setup-steps`` steps are timed apart, so the marginal µs/step is
  (T(all) - T(setup + first S)) / (K - S) and the fixed per-check cost T(all) - K x marginal;
  peak RSS of the process after the check;
* resolve: ``Resolver.image`` and ``Resolver.trace`` queries/s over a fixed mix of queries (own
  families, ``acs:<uid>:<family>`` names of shared and community images, system families, unknown
  names), each run for at least ``--resolve-seconds``; the mean number of candidates a query
  examines (the size of the index bucket it is answered from).

Cost per step and per query should stay flat as the state grows: the report prints the ratio of
the largest to the smallest state.

    python bench/bench_scale.py [--sizes 10000,100000,1000000 | --quick] [--steps 10000] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import _common as C
import gen

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)


# ---------------------------------------------------------------- the worker (one state size)


def resolve_queries(state: Any, count: int, seed: int) -> list[tuple[str, str, str, str]]:
    """(kind, family, region, caller) queries drawn from the state's images."""
    rng = random.Random(seed)
    own, shared, community, system, accounts = [], [], [], [], set()
    for img in state.images:
        if img.ImageOwnerAlias is not None:
            if img.ImageFamily:
                system.append(img)
            continue
        accounts.add(img.ImageOwnerId)
        if not img.ImageFamily:
            continue
        own.append(img)
        if img.SharedWith:
            shared.append(img)
        if img.IsPublic:
            community.append(img)
    uids = sorted(accounts)
    out: list[tuple[str, str, str, str]] = []
    while len(out) < count:
        r = rng.random()
        if r < 0.5 and own:
            img = rng.choice(own)
            out.append(("own", img.ImageFamily, img.RegionId, img.ImageOwnerId))
        elif r < 0.7 and shared:
            img = rng.choice(shared)
            out.append(("shared", f"acs:{img.ImageOwnerId}:{img.ImageFamily}", img.RegionId,
                        rng.choice(img.SharedWith)))
        elif r < 0.75 and community:
            img = rng.choice(community)
            out.append(("community", f"acs:{img.ImageOwnerId}:{img.ImageFamily}", img.RegionId, rng.choice(uids)))
        elif r < 0.9 and system:
            img = rng.choice(system)
            out.append(("system", img.ImageFamily, img.RegionId, rng.choice(uids) if uids else "1"))
        elif own:  # a family name the caller does not have there (others may)
            img = rng.choice(own)
            out.append(("unknown", rng.choice(gen.family_vocabulary()), img.RegionId, rng.choice(uids)))
    return out


def timed_queries(fn: Any, queries: list[tuple[str, str, str, str]], min_seconds: float,
                  min_queries: int = 200) -> tuple[int, float, float, list[Any]]:
    """Run ``fn(family, region, caller)`` over the queries in order (cycling) until at least
    ``min_seconds`` and ``min_queries`` have passed; (queries run, wall s, CPU s, results)."""
    done, results, t0, cpu = 0, [], time.perf_counter(), time.process_time()
    while True:
        for _, fam, region, caller in queries:
            results.append(fn(fam, region, caller))
            done += 1
            if done % 16 == 0 and done >= min(min_queries, len(queries)):
                elapsed = time.perf_counter() - t0
                if elapsed >= min_seconds:
                    return done, elapsed, time.process_time() - cpu, results
        if done >= min(min_queries, len(queries)):
            elapsed = time.perf_counter() - t0
            if elapsed >= min_seconds:
                return done, elapsed, time.process_time() - cpu, results


def worker(args: argparse.Namespace) -> None:
    import imagefam
    from imagefam.engine.resolver import Resolver

    policy = imagefam.load_policy(args.policy or ())
    rss_base = C.peak_rss_mb()
    out: dict[str, Any] = {"n": args.n, "state_file": args.state, "state_mb": Path(args.state).stat().st_size / 1e6,
                           "rss_base_mb": rss_base}
    t, cpu = time.perf_counter(), time.process_time()
    state = imagefam.load_state(args.state)
    out["load_s"], out["load_cpu_s"] = time.perf_counter() - t, time.process_time() - cpu
    out["images"] = len(state.images)
    out["load_peak_rss_mb"] = C.peak_rss_mb()
    out["after_load_rss_mb"] = C.current_rss_mb()
    t = time.perf_counter()
    plan = imagefam.load_plan(args.plan)
    out["plan_load_s"] = time.perf_counter() - t
    steps = plan.steps
    out["steps"] = len(steps)

    # Fixed per-check cost: one check, the first S steps (and the session's setup) timed apart from
    # the rest, all on a fresh load (lazily built indexes included), so marginal = rest / (K - S).
    from imagefam.engine.preflight import Session

    s = min(args.setup_steps, len(steps))
    t, cpu = time.perf_counter(), time.process_time()
    session = Session(state, policy)
    results = [session.step(step) for step in steps[:s]]
    out["setup_check_s"], out["setup_check_cpu_s"] = time.perf_counter() - t, time.process_time() - cpu
    out["setup_steps"] = s
    results += [session.step(step) for step in steps[s:]]
    out["check_s"], out["check_cpu_s"] = time.perf_counter() - t, time.process_time() - cpu
    out["check_peak_rss_mb"] = C.peak_rss_mb()
    out["allowed_steps"] = sum(1 for r in results if r.allowed)
    out["family_changes"] = len(session.family_changes)
    out["resolved"] = sum(1 for r in results if r.resolved_image_id)
    del results, session

    queries = resolve_queries(state, args.queries, args.seed)
    resolver = Resolver(policy, state.images, state.taken_at)
    t = time.perf_counter()
    resolver.image(*queries[0][1:])  # the first query builds the resolution index
    out["resolve_first_s"] = time.perf_counter() - t
    done, elapsed, cpu, images = timed_queries(resolver.image, queries, args.resolve_seconds)
    out["image_qps"], out["image_us"], out["image_queries"] = done / elapsed, elapsed / done * 1e6, done
    out["image_cpu_us"] = cpu / done * 1e6
    out["resolve_found"] = sum(1 for i in images if i is not None) / len(images)
    done, elapsed, cpu, traces = timed_queries(resolver.trace, queries, args.resolve_seconds)
    out["trace_qps"], out["trace_us"], out["trace_queries"] = done / elapsed, elapsed / done * 1e6, done
    out["trace_cpu_us"] = cpu / done * 1e6
    sizes = [len(tr.candidates) for tr in traces]  # every candidate gets a verdict in the trace
    out["candidates_mean"] = statistics.fmean(sizes)
    out["candidates_max"] = max(sizes)
    del images, traces
    out["peak_rss_mb"] = C.peak_rss_mb()
    C.emit(out)


# ---------------------------------------------------------------- the driver


def derive(r: dict[str, Any]) -> dict[str, Any]:
    k, s = r["steps"], r["setup_steps"]
    r["steps_per_s"] = k / r["check_s"]
    r["us_per_step"] = r["check_s"] / k * 1e6
    r["marginal_us_per_step"] = (r["check_s"] - r["setup_check_s"]) / max(1, k - s) * 1e6
    r["fixed_check_s"] = max(0.0, r["check_s"] - r["marginal_us_per_step"] * k / 1e6)
    r["cpu_us_per_step"] = r["check_cpu_s"] / k * 1e6
    r["marginal_cpu_us_per_step"] = (r["check_cpu_s"] - r["setup_check_cpu_s"]) / max(1, k - s) * 1e6
    r["fixed_check_cpu_s"] = max(0.0, r["check_cpu_s"] - r["marginal_cpu_us_per_step"] * k / 1e6)
    r["cpu_share"] = r["check_cpu_s"] / r["check_s"]  # < 1: the process waited for a CPU (a busy machine)
    return r


RATIO_KEYS = [("us_per_step", "check µs/step"), ("marginal_us_per_step", "check marginal µs/step"),
              ("marginal_cpu_us_per_step", "check marginal CPU µs/step"), ("fixed_check_cpu_s", "check fixed CPU s"),
              ("fixed_check_s", "check fixed cost (s)"), ("image_us", "Resolver.image µs/query"),
              ("cpu_us_per_step", "check CPU µs/step"), ("image_cpu_us", "Resolver.image CPU µs/query"),
              ("trace_cpu_us", "Resolver.trace CPU µs/query"),
              ("trace_us", "Resolver.trace µs/query"), ("candidates_mean", "candidates per query"),
              ("load_s", "load_state s"), ("load_peak_rss_mb", "peak RSS after load MiB")]


def ratios(rows: list[dict[str, Any]]) -> dict[str, float]:
    lo, hi = rows[0], rows[-1]
    return {key: (hi[key] / lo[key] if lo[key] else float("inf")) for key, _ in RATIO_KEYS}


def run(sizes: list[int], steps: int, args: argparse.Namespace) -> dict[str, Any]:
    rows = []
    me = str(Path(__file__).resolve())
    for n in sizes:
        t = time.perf_counter()
        sp = gen.ensure_state(n, log=C.log)
        pp = gen.ensure_plan(steps, n, log=C.log)
        gen_s = time.perf_counter() - t
        C.log(f"bench_scale: {C.human_n(n)} images: loading, checking {steps} steps, resolving ...")
        wargs = [me, "--worker", "--n", str(n), "--state", str(sp), "--plan", str(pp),
                 "--setup-steps", str(args.setup_steps), "--queries", str(args.queries),
                 "--resolve-seconds", str(args.resolve_seconds), "--seed", str(args.seed)]
        for p in args.policy or ():
            wargs += ["--policy", p]
        t = time.perf_counter()
        r = C.run_worker(wargs)
        r["worker_s"] = time.perf_counter() - t
        r["generate_s"] = gen_s
        rows.append(derive(r))
        C.log(f"  done in {r['worker_s']:.0f}s: {r['us_per_step']:.0f} µs/step, "
              f"Resolver.image {r['image_us']:.0f} µs, peak RSS {r['peak_rss_mb']:.0f} MiB")
    return {"sizes": sizes, "steps": steps, "policy": args.policy or [], "rows": rows,
            "ratios": ratios(rows) if len(rows) > 1 else {}}


def print_report(res: dict[str, Any]) -> None:
    from tabulate import tabulate

    rows = res["rows"]
    heads = ["measure"] + [C.human_n(r["n"]) for r in rows]
    if res["ratios"]:
        heads.append(f"{C.human_n(rows[-1]['n'])} / {C.human_n(rows[0]['n'])}")

    def line(label: str, key: str, fmt: str, ratio: bool = False) -> list[str]:
        cells = [label] + [format(r[key], fmt) for r in rows]
        if res["ratios"]:
            cells.append(f"{res['ratios'][key]:.2f}x" if ratio else "")
        return cells

    table = [
        line("state file MB", "state_mb", ".1f"),
        line("load_state s", "load_s", ".2f", True),
        line("peak RSS after load MiB", "load_peak_rss_mb", ".0f", True),
        line(f"check steps/s ({res['steps']} steps)", "steps_per_s", ",.0f"),
        line("check µs/step (all)", "us_per_step", ",.0f", True),
        line("check marginal µs/step", "marginal_us_per_step", ",.0f", True),
        line("check CPU µs/step", "cpu_us_per_step", ",.0f", True),
        line("check marginal CPU µs/step", "marginal_cpu_us_per_step", ",.0f", True),
        line("check fixed CPU s (setup, first index builds)", "fixed_check_cpu_s", ".3f", True),
        line("check CPU time / wall time", "cpu_share", ".2f"),
        line("check fixed cost s (setup, first index builds)", "fixed_check_s", ".2f", True),
        line("peak RSS after check MiB", "check_peak_rss_mb", ".0f"),
        line("steps allowed", "allowed_steps", "d"),
        line("Resolver.image queries/s", "image_qps", ",.0f"),
        line("Resolver.image µs/query", "image_us", ",.1f", True),
        line("Resolver.image CPU µs/query", "image_cpu_us", ",.1f", True),
        line("Resolver.trace queries/s", "trace_qps", ",.0f"),
        line("Resolver.trace µs/query", "trace_us", ",.1f", True),
        line("candidates per trace (mean)", "candidates_mean", ",.1f", True),
        line("candidates per trace (max)", "candidates_max", ",d"),
        line(f"load_plan s ({res['steps']} steps)", "plan_load_s", ".2f"),
    ]
    print(tabulate(table, headers=heads, tablefmt="github", disable_numparse=True))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="imagefam scale benchmarks")
    ap.add_argument("--sizes", help="comma-separated state sizes (default 10000,100000,1000000)")
    ap.add_argument("--quick", action="store_true", help="10k and 100k only")
    ap.add_argument("--steps", type=int, default=10_000, help="plan steps (default 10000)")
    ap.add_argument("--setup-steps", type=int, default=50, help="steps of the fixed-cost check (default 50)")
    ap.add_argument("--queries", type=int, default=2000, help="distinct resolve queries (default 2000)")
    ap.add_argument("--resolve-seconds", type=float, default=2.0, help="minimum seconds per resolve measure (default 2)")
    ap.add_argument("--policy", action="append", metavar="PATH", help="extra rule file (e.g. a what-if fix)")
    ap.add_argument("--seed", type=int, default=gen.DEFAULT_SEED)
    ap.add_argument("--json", help="also write the results as JSON here")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--state", help=argparse.SUPPRESS)
    ap.add_argument("--plan", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    if args.sizes:
        sizes = [int(x.replace("_", "")) for x in args.sizes.split(",") if x.strip()]
    else:
        sizes = list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    res = run(sorted(sizes), args.steps, args)
    print_report(res)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
