"""Run every imagefam benchmark and print one markdown table (also written to bench/out/latest.md).

    python bench/run.py            # rules + scale over 10k, 100k and 1M images (~6-8 minutes)
    python bench/run.py --quick    # scale over 10k and 100k only
    python bench/run.py --sizes 10000,50000 --steps 2000

Each benchmark runs in its own interpreter (bench_rules.py, bench_scale.py with one more
interpreter per state size), so memory figures are per run. Generated inputs are cached in
bench/data/ (git-ignored); the raw results are kept as JSON in bench/out/.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _common as C

FLAT = 1.5  # a per-step / per-query ratio (largest / smallest state) above this is called growth


def load_average() -> str:
    try:
        with open("/proc/loadavg") as fh:
            return " ".join(fh.read().split()[:3])
    except OSError:
        return "?"


def sub(script: str, args: list[str]) -> None:
    """Run a benchmark script; its progress goes to stderr, its own tables are not repeated."""
    cmd = [sys.executable, str(C.HERE / script), *args]
    C.log("$ " + " ".join(cmd[1:]))
    proc = subprocess.run(cmd, cwd=C.ROOT, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout)
        raise SystemExit(f"{script} failed with exit code {proc.returncode}")


def ms(s: float) -> str:
    return f"{s * 1e3:,.1f} ms"


def rule_rows(r: dict[str, Any]) -> list[list[str]]:
    p = r["policy"]
    rows = [
        ["policy", f"load_policy() warm, median of {p['warm_runs']}", "-", ms(p["warm_median_s"]),
         f"parsing every file uncached: {ms(p['parse_median_s'])}; "
         f"{p['files']} files, {p['rules']} rules"],
        ["policy", f"cold: import imagefam, median of {p['cold_runs']} processes", "-",
         ms(p["cold_import_median_s"]), ""],
        ["policy", f"cold: first load_policy(), median of {p['cold_runs']} processes", "-",
         ms(p["cold_first_load_median_s"]),
         f"min {ms(p['cold_first_load_min_s'])}; with IMAGEFAM_NO_CACHE=1: "
         f"{ms(p['cold_uncached_first_load_median_s'])} (import {ms(p['cold_uncached_import_median_s'])})"],
        ["policy", "tracemalloc peak: first load / warm load", "-",
         f"{p['cold_peak_bytes'] / 2**20:.1f} / {p['warm_peak_bytes'] / 2**20:.1f} MiB",
         f"retained after first load {p['retained_bytes'] / 2**20:.1f} MiB"],
    ]
    d = r["decisions"]
    for c in d["cases"]:
        state = C.human_n(d["state_size"]) if "quota" in c["rule"] else "-"
        rows.append(["rule decision", f"{c['rule']}: {c['case']}", state,
                     f"{c['compiled_ns']:,.0f} ns vs {c['hand_ns']:,.0f} ns hand-written",
                     f"{c['ratio']:.1f}x (target <= {d['target_ratio']:.0f}x: "
                     f"{'ok' if c['within_target'] else 'MISSED'})"])
    return rows


def scale_rows(s: dict[str, Any]) -> list[list[str]]:
    rows: list[list[str]] = []
    for r in s["rows"]:
        n = C.human_n(r["n"])
        rows.append(["load", "load_state", n, f"{r['load_s']:.2f} s",
                     f"{r['state_mb']:.0f} MB file; peak RSS {r['load_peak_rss_mb']:,.0f} MiB "
                     f"(interpreter + policy {r['rss_base_mb']:.0f} MiB)"])
    for r in s["rows"]:
        n = C.human_n(r["n"])
        rows.append(["check", f"check, {r['steps']:,}-step plan", n,
                     f"{r['steps_per_s']:,.0f} steps/s = {r['us_per_step']:,.0f} µs/step",
                     f"CPU {r['cpu_us_per_step']:,.0f} µs/step; marginal {r['marginal_us_per_step']:,.0f} µs/step "
                     f"+ fixed {r['fixed_check_s']:.2f} s; "
                     f"{r['allowed_steps']:,} allowed; peak RSS {r['check_peak_rss_mb']:,.0f} MiB"])
    for r in s["rows"]:
        n = C.human_n(r["n"])
        rows.append(["resolve", "Resolver.image", n, f"{r['image_qps']:,.0f} q/s = {r['image_us']:,.0f} µs/query",
                     f"CPU {r['image_cpu_us']:,.0f} µs; "
                     f"{r['resolve_found'] * 100:.0f}% resolve to an image"])
    for r in s["rows"]:
        n = C.human_n(r["n"])
        rows.append(["resolve", "Resolver.trace", n, f"{r['trace_qps']:,.0f} q/s = {r['trace_us']:,.0f} µs/query",
                     f"CPU {r['trace_cpu_us']:,.0f} µs; {r['candidates_mean']:,.0f} candidates per trace "
                     f"(max {r['candidates_max']:,}); peak RSS {r['peak_rss_mb']:,.0f} MiB"])
    for r in s["rows"]:
        rows.append(["plan", f"load_plan, {r['steps']:,} steps (JSON)", C.human_n(r["n"]),
                     f"{r['plan_load_s']:.2f} s", ""])
    if s["ratios"]:
        lo, hi = C.human_n(s["rows"][0]["n"]), C.human_n(s["rows"][-1]["n"])
        for key, label in (("us_per_step", "check µs/step"), ("marginal_us_per_step", "check marginal µs/step"),
                           ("cpu_us_per_step", "check CPU µs/step"),
                           ("image_us", "Resolver.image µs/query"), ("image_cpu_us", "Resolver.image CPU µs/query"),
                           ("trace_us", "Resolver.trace µs/query"),
                           ("candidates_mean", "candidates per trace")):
            ratio = s["ratios"][key]
            rows.append(["flatness", f"{label}: {hi} / {lo}", f"{hi} / {lo}", f"{ratio:.2f}x",
                         "flat" if ratio <= FLAT else f"GROWS with state size (flat means <= {FLAT}x)"])
    return rows


def peer_rows(peers: dict[str, Any]) -> list[list[str]]:
    out = []
    for r in peers["rows"]:
        if r["engine"] in ("python (hand-written)", "imagefam compiled") or "once" in r["engine"] \
                or r["engine"] == "rule-engine":
            out.append(["per decision", f"{r['decision']}: {r['engine']}", "-", f"{r['us_per_decision']:.2f} µs",
                        f"{r['ratio_to_hand_written']:.1f}x hand-written; {r['ratio_to_imagefam_compiled']:.1f}x "
                        "imagefam compiled" if r["engine"] != "imagefam compiled"
                        else f"{r['ratio_to_hand_written']:.1f}x hand-written (target <= 2x)"])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="run all imagefam benchmarks")
    ap.add_argument("--quick", action="store_true", help="scale over 10k and 100k images only")
    ap.add_argument("--sizes", help="comma-separated state sizes (default 10000,100000,1000000)")
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--skip-rules", action="store_true")
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--skip-peers", action="store_true", help="skip Rego/Cedar/rule-engine (extra: bench)")
    ap.add_argument("--skip-startup", action="store_true")
    ap.add_argument("--skip-planformats", action="store_true", help="skip the Terraform plan / script check")
    ap.add_argument("--out", default=str(C.OUT / "latest.md"))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    C.OUT.mkdir(parents=True, exist_ok=True)
    rows: list[list[str]] = []
    results: dict[str, Any] = {}
    if not args.skip_rules:
        sub("bench_rules.py", ["--json", str(C.OUT / "rules.json")])
        results["rules"] = json.loads((C.OUT / "rules.json").read_text())
        rows += rule_rows(results["rules"])
    if not args.skip_scale:
        scale_args = ["--json", str(C.OUT / "scale.json"), "--steps", str(args.steps)]
        if args.sizes:
            scale_args += ["--sizes", args.sizes]
        elif args.quick:
            scale_args.append("--quick")
        sub("bench_scale.py", scale_args)
        results["scale"] = json.loads((C.OUT / "scale.json").read_text())
        rows += scale_rows(results["scale"])
    if not args.skip_scale:
        report_args = ["--json", str(C.OUT / "report.json")]
        if args.sizes:
            report_args += ["--sizes", args.sizes]
        elif args.quick:
            report_args += ["--sizes", "10000,100000"]
        sub("bench_report.py", report_args)
        for r in json.loads((C.OUT / "report.json").read_text())["rows"]:
            rows.append(["report", "load_state + report (all audit rules)", C.human_n(r["n"]),
                         f"{r['load_s']:.1f} s + {r['report_s']:.1f} s",
                         f"report CPU {r['report_cpu_s']:.1f} s; {r['families']:,} families, "
                         f"{r['findings']:,} findings; peak RSS {r['peak_rss_mib']:,.0f} MiB"])
        sub("bench_html.py", [*report_args[:1], str(C.OUT / "html.json"), *report_args[2:]])
        for r in json.loads((C.OUT / "html.json").read_text())["rows"]:
            rows.append(["report html", "load_state + report + HTML page", C.human_n(r["n"]),
                         f"{r['load_s']:.1f} s + {r['report_s']:.1f} s + {r['html_s']:.1f} s",
                         f"CPU {r['load_cpu_s']:.1f} + {r['report_cpu_s']:.1f} + {r['html_cpu_s']:.1f} s "
                         f"(target: all three under 30 s at 1M); {r['html_mb']:.1f} MB page (target <= 50 MB), "
                         f"{r['marks']:,} images drawn; peak RSS {r['peak_rss_mib']:,.0f} MiB"])
    if not args.skip_scale:
        diff_args = ["--json", str(C.OUT / "diff.json")]
        if args.sizes:
            diff_args += ["--sizes", args.sizes]
        elif args.quick:
            diff_args += ["--sizes", "10000,100000"]
        sub("bench_diff.py", diff_args)
        for r in json.loads((C.OUT / "diff.json").read_text())["rows"]:
            rows.append(["diff", "load two snapshots a week apart + diff", C.human_n(r["n"]),
                         f"{r['load_s']:.1f} s + {r['diff_s']:.1f} s = {r['total_s']:.1f} s",
                         f"CPU {r['load_cpu_s']:.1f} s + {r['diff_cpu_s']:.1f} s (target: under 30 s in all); "
                         f"{r['resolution_changes']:,} resolution changes, {r['status']:,} status changes; "
                         f"peak RSS {r['peak_rss_mib']:,.0f} MiB"])
    if not args.skip_peers:
        try:
            import cedarpy  # noqa: F401
            import regopy  # noqa: F401
            import rule_engine  # noqa: F401
        except ImportError:
            rows.append(["peers", "Rego / Cedar / rule-engine", "-", "skipped", "pip install -e '.[bench]'"])
        else:
            sub("bench_peers.py", ["--json", str(C.OUT / "peers.json")])
            results["peers"] = json.loads((C.OUT / "peers.json").read_text())
            rows += peer_rows(results["peers"])
    if not args.skip_planformats:
        sub("bench_planformats.py", ["--json", str(C.OUT / "planformats.json")])
        for r in json.loads((C.OUT / "planformats.json").read_text())["rows"]:
            what = "Terraform plan" if r["kind"] == "terraform" else "aliyun CLI script"
            rows.append(["plan formats", f"imagefam check, {r['resources']:,}-entry {what} (whole process)",
                         "2k", f"{r['process_median_s']:.2f} s",
                         f"target < 2 s; CPU {r['process_cpu_s']:.2f} s; in-process: read {r['read_s'] * 1e3:,.0f} ms, check "
                         f"{r['check_s'] * 1e3:,.0f} ms; {r['steps']:,} steps, {r['skipped']:,} skipped"])
    if not args.skip_startup:
        sub("bench_startup.py", ["--json", str(C.OUT / "startup.json")])
        startup = json.loads((C.OUT / "startup.json").read_text())
        for key, value in startup.items():
            shown = f"{value:.2f}x" if key.startswith("ratio") else f"{value:.1f} ms"
            note = "target <= 2x" if key.startswith("ratio") else "median, whole process"
            rows.append(["start-up", key, "-", shown, note])
    total = time.perf_counter() - t0

    from tabulate import tabulate

    m = C.machine()
    argv_shown = " ".join(["python bench/run.py", *(argv if argv is not None else sys.argv[1:])])
    head = [
        "# imagefam benchmarks",
        "",
        f"- command: `{argv_shown}` ({total:.0f} s in all, input generation included)",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['memory']} RAM; {m['platform']}",
        f"- Python {m['python']}, pydantic {m['pydantic']}, imagefam {m['imagefam']} (commit {m['commit']})",
        f"- date: {m['date']}; load average at the end {load_average()} (other work on the machine "
        "inflates wall times: compare the CPU figures)",
        "- states: bench/gen.py (seeded): ~1,000 images per account, 10 regions, <= 100 families per account "
        "and region, <= 100 images per family, family names shared across accounts with a Zipf skew",
        "",
    ]
    table = tabulate(rows, headers=["area", "measure", "state", "result", "notes"], tablefmt="github",
                     disable_numparse=True)
    text = "\n".join(head) + "\n" + table + "\n"
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    C.log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
