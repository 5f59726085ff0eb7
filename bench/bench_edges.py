"""Bounded cost at the edges: a 100,000-term `and` chain, and `matches` on RE2.

    python bench/bench_edges.py            # 100,000 terms
    python bench/bench_edges.py --terms 20000

Prints a small markdown table: load time of a rule whose condition is an `and` chain of N terms
(parse, type check and compile; time linear in N), the per-call cost of the shipped family-name
pattern on RE2 (and on Python's backtracking `re`, for comparison), and the nested-quantifier
pattern `^(a+)+$` against a 41-character family (on `re` this takes hours: not run).
"""

from __future__ import annotations

import argparse
import os
import re
import time
import timeit

os.environ.setdefault("IMAGEFAM_NO_CACHE", "1")  # measure parsing too, not the parse cache

from imagefam.engine.policy import load_policy
from imagefam.rules.errors import Reporter, Source
from imagefam.rules.parser import parse_module
from imagefam.rules.regex import searcher

FAMILY_PATTERN = "^[A-Za-z一-龥][A-Za-z0-9一-龥.:_-]{1,127}\\z"


def chain_load(terms: int) -> tuple[float, float]:
    text = ("rule big\n  on DeleteImage\n  deny when " + " and ".join(["true"] * terms)
            + '\n  message "m"\n  cites "c"\n')
    load_policy(default=False, sources=[Source("warm.rules", 'def a = 1\n')])  # grammar built
    src = Source("big.rules", text)
    t = time.perf_counter()
    parse_module(src, Reporter(src))
    parse = time.perf_counter() - t
    t = time.perf_counter()
    load_policy(default=False, sources=[src])
    return time.perf_counter() - t, parse


def per_call(fn: object, arg: str, number: int = 200_000) -> float:
    return timeit.timeit(lambda: fn(arg), number=number) / number  # type: ignore[operator]


def per_distinct_call(fn: object, args: list[str]) -> float:
    """Every value new (no memo hit after the pattern's memo is flushed)."""
    t = time.perf_counter()
    for a in args:
        fn(a)  # type: ignore[operator]
    return (time.perf_counter() - t) / len(args)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--terms", type=int, default=100_000)
    args = ap.parse_args()
    total, parse = chain_load(args.terms)
    rows = [(f"load a rule with an `and` chain of {args.terms:,} terms", f"{total:.2f} s"),
            ("… of which parsing (Lark)", f"{parse:.2f} s")]
    fam = "app-a-web.frontend_2024"
    distinct = [f"app-{i}-web.frontend" for i in range(200_000)]
    rows.append(("`matches` family-name pattern, RE2, per call, every value new",
                 f"{per_distinct_call(searcher(FAMILY_PATTERN), distinct) * 1e6:.2f} µs"))
    rows.append(("`matches` family-name pattern, RE2, per call, a repeated value (memo)",
                 f"{per_call(searcher(FAMILY_PATTERN), fam) * 1e6:.2f} µs"))
    py = re.compile(FAMILY_PATTERN.replace("\\z", "\\Z")).search
    rows.append(("the same pattern on Python `re`, per call (before)", f"{per_call(py, fam) * 1e6:.2f} µs"))
    evil = searcher("^(a+)+$")
    rows.append(("`^(a+)+$` against 40 × `a` + `!` (+ a counter: no memo hit), RE2, per call",
                 f"{per_distinct_call(evil, [f'{chr(97) * 40}!{i}' for i in range(20_000)]) * 1e6:.2f} µs"))
    with open("/proc/loadavg") as fh:
        load = " ".join(fh.read().split()[:3])
    print(f"| measurement (load average {load}) | time |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
