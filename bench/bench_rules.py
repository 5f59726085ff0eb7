"""Rule benchmarks: loading the shipped policy, and the per-decision cost of compiled rules.

(a) ``load_policy()`` (parse + check + compile of ``imagefam/policy/*.rules``): warm (median of
    repeated in-process runs), cold (a fresh interpreter per run: import time and first load), and
    memory (tracemalloc peak of a first load in a fresh interpreter, and what the Policy retains).
(b) ``rule.cond(ctx)`` with a prebuilt :class:`imagefam.rules.runtime.Ctx` against a hand-written
    Python function doing the same check, timed with ``timeit`` (autoranged loops, best of 5):
    ``family-name-acs-prefix`` (a scalar rule) and ``family-image-quota-create`` (a collection rule
    answered from the store's hash index) over a state of 10,000 images.

    python bench/bench_rules.py [--json OUT] [--state-size 10000] [--cold-runs 7]
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import os
import statistics
import sys
import time
import timeit
import tracemalloc
from pathlib import Path
from typing import Any

import _common as C

TARGET_RATIO = 2.0
QUOTA_FIELDS = ("ImageFamily", "ImageOwnerId", "RegionId")  # the compiler's index for images_in_family


# ---------------------------------------------------------------- (a) policy loading


def cold_worker(trace_memory: bool) -> None:
    """In a fresh interpreter: import time and the first load_policy (optionally under tracemalloc)."""
    t0 = time.perf_counter()
    import imagefam

    t1 = time.perf_counter()
    if trace_memory:
        gc.collect()
        tracemalloc.start()
        policy = imagefam.load_policy()
        _, peak = tracemalloc.get_traced_memory()
        gc.collect()
        retained, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        C.emit({"peak": peak, "retained": retained, "rules": len(policy.rules)})
        return
    policy = imagefam.load_policy()
    t2 = time.perf_counter()
    C.emit({"import": t1 - t0, "first_load": t2 - t1, "rules": len(policy.rules), "rss_mb": C.peak_rss_mb()})


def bench_policy(warm_runs: int, cold_runs: int) -> dict[str, Any]:
    import imagefam
    from imagefam.engine.policy import shipped_sources
    from imagefam.rules.errors import Reporter
    from imagefam.rules.parser import parse_module

    policy = imagefam.load_policy()  # first load in this process: builds the grammar (cached)
    sources = shipped_sources()
    med, best, _ = C.median_time(imagefam.load_policy, warm_runs)

    def parse_all() -> None:
        for src in sources:
            parse_module(src, Reporter(src))

    parse_med, _, _ = C.median_time(parse_all, warm_runs)
    # Warm memory: a second load in this process, under tracemalloc.
    gc.collect()
    tracemalloc.start()
    p2 = imagefam.load_policy()
    _, warm_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del p2
    me = str(Path(__file__).resolve())
    colds = [C.run_worker([me, "--cold-worker"]) for _ in range(cold_runs)]
    os.environ["IMAGEFAM_NO_CACHE"] = "1"  # the same, parsing every rule file (no AST cache)
    try:
        uncached = [C.run_worker([me, "--cold-worker"]) for _ in range(cold_runs)]
    finally:
        del os.environ["IMAGEFAM_NO_CACHE"]
    mems = [C.run_worker([me, "--cold-worker", "--trace-memory"]) for _ in range(3)]
    return {
        "files": len(sources), "lines": sum(len(s.text.splitlines()) for s in sources),
        "rules": len(policy.rules), "warm_runs": warm_runs, "cold_runs": cold_runs,
        "warm_median_s": med, "warm_min_s": best, "parse_median_s": parse_med,
        "cold_uncached_first_load_median_s": statistics.median(c["first_load"] for c in uncached),
        "cold_uncached_import_median_s": statistics.median(c["import"] for c in uncached),
        "cold_import_median_s": statistics.median(c["import"] for c in colds),
        "cold_first_load_median_s": statistics.median(c["first_load"] for c in colds),
        "cold_first_load_min_s": min(c["first_load"] for c in colds),
        "cold_rss_mb": statistics.median(c["rss_mb"] for c in colds),
        "cold_peak_bytes": statistics.median(m["peak"] for m in mems),
        "retained_bytes": statistics.median(m["retained"] for m in mems),
        "warm_peak_bytes": warm_peak,
    }


# ---------------------------------------------------------------- (b) per-decision cost


def hand_acs_prefix(c: Any) -> bool:
    """family-name-acs-prefix: is_set(request.ImageFamily) and request.ImageFamily startswith "acs"
    (matched as written: other letter cases are family-name-prefix-case's warning, not a deny)."""
    fam = c.request.ImageFamily
    return fam is not None and fam != "" and fam.startswith("acs")


def hand_family_image_quota(c: Any) -> bool:
    """family-image-quota-create: is_set(request.ImageFamily) and
    count(images where ImageOwnerId == caller and RegionId == request.RegionId
                   and ImageFamily == request.ImageFamily and ImageId != "") >= 100,
    answered from the same store index the compiled rule uses."""
    req = c.request
    fam = req.ImageFamily
    if fam is None or fam == "":
        return False
    n = 0
    for img in c.images.lookup(QUOTA_FIELDS, (fam, c.caller, req.RegionId)):
        if img.ImageId != "":
            n += 1
    return n >= 100


def time_call(fn: Any, ctx: Any, repeat: int = 5) -> tuple[float, int]:
    """Best-of-``repeat`` ns per ``fn(ctx)``, with timeit's autoranged loop count (>= 0.2 s a run)."""
    timer = timeit.Timer("fn(ctx)", globals={"fn": fn, "ctx": ctx})
    number, _ = timer.autorange()
    number = max(number, 1000)
    best = min(timer.repeat(repeat=repeat, number=number))
    return best / number * 1e9, number


def bench_decisions(state_size: int) -> dict[str, Any]:
    import gen

    import imagefam
    from imagefam.engine.environment import EcsContext as Ctx
    from imagefam.engine.models import CreateImageRequest

    policy = imagefam.load_policy()
    acs = policy.rule("family-name-acs-prefix")
    quota = policy.rule("family-image-quota-create")
    assert acs is not None and quota is not None
    from imagefam.rules.compiled import compiled as compile_now

    acs.cond, quota.cond = compile_now(acs.cond), compile_now(quota.cond)  # compiled on first call: time the closures
    state = imagefam.load_state(gen.ensure_state(state_size, log=C.log))
    store = state.images

    def ctx_for(region: str, family: str | None, caller: str) -> Ctx:
        req = CreateImageRequest(RegionId=region, ImageFamily=family, InstanceId="i-bench")
        return Ctx(store, request=req, image=None, caller=caller, channel="api", action="CreateImage",
                   taken_at=state.taken_at, resolve=None)

    # The hand-written functions must decide exactly as the compiled rules do.
    sizes = collections.Counter((i.ImageFamily, i.ImageOwnerId, i.RegionId) for i in store
                                if i.ImageFamily and i.ImageOwnerId)
    names = [*sorted({k[0] for k in sizes}), "", "acs", "ACS:x", "Acs-base", "acsx", "a", "aliyun-x"]
    some_owner, some_region = next(iter(sizes))[1:]
    for name in [*names, None]:
        c = ctx_for(some_region, name, some_owner)
        assert acs.cond(c) == hand_acs_prefix(c), name
    for (fam, owner, region), _ in sizes.most_common(200) + sizes.most_common()[-200:]:
        c = ctx_for(region, fam, owner)
        assert quota.cond(c) == hand_family_image_quota(c), (fam, owner, region)

    by_size = sorted(sizes.items(), key=lambda kv: kv[1])
    median_key, median_n = by_size[len(by_size) // 2]
    full_key, full_n = by_size[-1]
    owner, region = median_key[1], median_key[2]
    cases: list[tuple[str, str, Any, Any, Any, str]] = [
        ("family-name-acs-prefix", "ordinary name (allowed)", acs.cond, hand_acs_prefix,
         ctx_for(region, "web-alinux3-prod", owner), ""),
        ("family-name-acs-prefix", "acs-prefixed name (fires)", acs.cond, hand_acs_prefix,
         ctx_for(region, "acs-base", owner), ""),
        ("family-name-acs-prefix", "no ImageFamily", acs.cond, hand_acs_prefix, ctx_for(region, None, owner), ""),
        ("family-image-quota-create", f"median family ({median_n} images, allowed)", quota.cond,
         hand_family_image_quota, ctx_for(median_key[2], median_key[0], median_key[1]), f"{median_n} images"),
        ("family-image-quota-create", f"largest family ({full_n} images, fires)", quota.cond,
         hand_family_image_quota, ctx_for(full_key[2], full_key[0], full_key[1]), f"{full_n} images"),
        ("family-image-quota-create", "no ImageFamily", quota.cond, hand_family_image_quota,
         ctx_for(region, None, owner), ""),
    ]
    rows = []
    for rule_id, case, compiled, hand, ctx, _ in cases:
        verdict = compiled(ctx)
        assert verdict == hand(ctx)
        compiled(ctx), hand(ctx)  # warm: the store index is built before timing
        ns_c, loops_c = time_call(compiled, ctx)
        ns_h, loops_h = time_call(hand, ctx)
        rows.append({"rule": rule_id, "case": case, "verdict": verdict, "compiled_ns": ns_c,
                     "hand_ns": ns_h, "ratio": ns_c / ns_h, "loops": min(loops_c, loops_h),
                     "within_target": ns_c / ns_h <= TARGET_RATIO})
    return {"state_size": len(store), "target_ratio": TARGET_RATIO, "cases": rows}


# ---------------------------------------------------------------- report


def print_report(res: dict[str, Any]) -> None:
    from tabulate import tabulate

    p = res["policy"]
    print(f"\nShipped policy: {p['files']} files, {p['lines']} lines, {p['rules']} rules")
    print(tabulate([
        [f"load_policy() warm, median of {p['warm_runs']}", f"{p['warm_median_s'] * 1e3:.1f} ms"],
        ["parse_module of every file, uncached (median)", f"{p['parse_median_s'] * 1e3:.1f} ms"],
        ["cold: first load_policy(), IMAGEFAM_NO_CACHE=1", f"{p['cold_uncached_first_load_median_s'] * 1e3:.0f} ms"],
        [f"cold: import imagefam, median of {p['cold_runs']} processes", f"{p['cold_import_median_s'] * 1e3:.0f} ms"],
        ["cold: first load_policy(), median", f"{p['cold_first_load_median_s'] * 1e3:.0f} ms"],
        ["tracemalloc peak, first load (fresh process)", f"{p['cold_peak_bytes'] / 2**20:.1f} MiB"],
        ["tracemalloc peak, warm load", f"{p['warm_peak_bytes'] / 2**20:.1f} MiB"],
        ["retained after first load (grammar + policy)", f"{p['retained_bytes'] / 2**20:.1f} MiB"],
    ], headers=["policy load", "value"], tablefmt="github"))
    d = res["decisions"]
    print(f"\nPer decision (timeit, best of 5), state of {d['state_size']:,} images; target ratio <= {d['target_ratio']}x")
    print(tabulate([[c["rule"], c["case"], c["verdict"], f"{c['compiled_ns']:.0f}", f"{c['hand_ns']:.0f}",
                     f"{c['ratio']:.1f}x", "ok" if c["within_target"] else "MISSED"] for c in d["cases"]],
                   headers=["rule", "case", "fires", "compiled ns", "hand ns", "ratio", "target"],
                   tablefmt="github"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="imagefam rule benchmarks")
    ap.add_argument("--json", help="also write the results as JSON here")
    ap.add_argument("--state-size", type=int, default=10_000)
    ap.add_argument("--warm-runs", type=int, default=15)
    ap.add_argument("--cold-runs", type=int, default=7)
    ap.add_argument("--cold-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--trace-memory", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.cold_worker:
        cold_worker(args.trace_memory)
        return 0
    C.log("bench_rules: policy load ...")
    res: dict[str, Any] = {"policy": bench_policy(args.warm_runs, args.cold_runs)}
    C.log("bench_rules: per-decision cost ...")
    res["decisions"] = bench_decisions(args.state_size)
    print_report(res)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
