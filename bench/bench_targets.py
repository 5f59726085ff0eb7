"""Whole-process and setup measures for the big-estate targets (docs/performance.md), at one
state size (default 1M images), each repeated: CPU time (user + system), wall time and peak RSS
of every process (``os.wait4``), so a busy machine shows as wall > CPU, not as a slower figure.

* ``imagefam check`` of a 20-step plan, whole process (interpreter start and load included): the
  generator's plan (its steps name 8 of the 10 regions) and one whose steps name only the two
  largest regions (``gen.py plan --regions``; 40% of the images): a check indexes only the
  regions its plan names (imagefam/engine/prune.py);
* ``load_state``, whole process, and where its time goes (in one process): the loader's fast path
  (msgspec decoding into images, with the key count and the checks that pydantic would agree; see
  imagefam/engine/fastjson.py), the pydantic path it replaces for most files (parsing alone with
  ``pydantic_core.from_json``, parsing + validation with ``validate_json``, and how much of that is
  the cyclic garbage collector), the loader's per-image checks and building the store;
* check setup: ``Session()`` and the first 20 steps on a fresh load (lazy index building
  included), then the same 20 steps again (warm).

    python bench/bench_targets.py [--n 1000000] [--repeat 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _common as C
import gen

#: The regions of the two-region plan: the generator's two largest (40% of the images).
TWO_REGIONS = ("cn-hangzhou", "cn-shanghai")


def run_process(cmd: list[str]) -> dict[str, float]:
    """Run ``cmd``; its wall and CPU seconds and peak RSS (MiB), from the kernel's accounting."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=C.ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):  # 1: a step denied, a normal outcome of check
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {err[-2000:]}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mib": usage.ru_maxrss / 1024}


def summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {"runs": runs}
    for key in ("wall_s", "cpu_s", "peak_rss_mib"):
        values = [r[key] for r in runs]
        out[key] = statistics.median(values)
        out[key + "_min"], out[key + "_max"] = min(values), max(values)
    return out


def load_split(path: str) -> dict[str, float]:
    """Where load_state's time goes, CPU seconds, in this process."""
    import pydantic_core

    from imagefam.engine import loader, store

    out: dict[str, float] = {}
    raw = Path(path).read_bytes()
    c = time.process_time()
    parsed = pydantic_core.from_json(raw)
    out["parse_s"] = time.process_time() - c
    del parsed
    gc.collect()
    adapter = loader._state_adapter()
    adapter.validate_json(b'{"Images": []}')  # build the validator outside the timings
    gc.disable()
    c = time.process_time()
    sf = adapter.validate_json(raw)
    out["parse_validate_nogc_s"] = time.process_time() - c
    gc.enable()
    del sf
    gc.collect()
    c = time.process_time()
    sf = adapter.validate_json(raw)
    out["parse_validate_s"] = time.process_time() - c
    out["validate_s"] = out["parse_validate_s"] - out["parse_s"]
    out["gc_in_validate_s"] = out["parse_validate_s"] - out["parse_validate_nogc_s"]
    # the loader's fast path: msgspec decodes into images, then checks that pydantic would agree
    from imagefam.engine import fastjson

    c = time.process_time()
    raw.count(b'"'), fastjson._LONG_FRACTION.search(raw)  # the two scans of the whole text
    out["key_scan_s"] = time.process_time() - c
    c = time.process_time()
    took = fastjson.decode_state(raw) is not None
    out["fast_path_s"] = time.process_time() - c
    out["fast_path_taken"] = took
    built = []
    real_init = store.ImageStore.__init__

    def timed_init(self: Any, *args: Any, **kw: Any) -> None:
        t = time.process_time()
        real_init(self, *args, **kw)
        built.append(time.process_time() - t)

    store.ImageStore.__init__ = timed_init  # type: ignore[method-assign]
    c = time.process_time()
    loader._finish_state(sf, Path(path), None)
    finish = time.process_time() - c
    store.ImageStore.__init__ = real_init  # type: ignore[method-assign]
    out["store_build_s"] = built[0]
    out["image_checks_s"] = finish - built[0]
    return out


def setup_worker(state_path: str, plan_path: str) -> None:
    import imagefam
    from imagefam.engine.preflight import Session

    policy = imagefam.load_policy()
    c = time.process_time()
    state = imagefam.load_state(state_path)
    out: dict[str, Any] = {"load_cpu_s": time.process_time() - c}
    plan = imagefam.load_plan(plan_path)
    c = time.process_time()
    session = Session(state, policy)
    out["session_cpu_s"] = time.process_time() - c
    c = time.process_time()
    for step in plan.steps:
        session.step(step)
    out["first_steps_cpu_s"] = time.process_time() - c
    out["steps"] = len(plan.steps)
    inits = []
    for _ in range(5):
        c = time.process_time()
        session = Session(state, policy)
        inits.append(time.process_time() - c)
    out["session_cpu_s_median"] = statistics.median(inits)
    c = time.process_time()
    for step in plan.steps:
        session.step(step)
    out["warm_steps_cpu_s"] = time.process_time() - c
    del session, state
    gc.collect()
    out.update(load_split(state_path))
    C.emit(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="whole-process and setup measures at one state size")
    ap.add_argument("--n", type=int, default=1_000_000, help="state size (default 1000000)")
    ap.add_argument("--steps", type=int, default=20, help="plan steps for the whole-process check (default 20)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each whole-process measure (default 3)")
    ap.add_argument("--json", help="write the results as JSON here")
    ap.add_argument("--worker", nargs=2, metavar=("STATE", "PLAN"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        setup_worker(*args.worker)
        return 0
    state = str(gen.ensure_state(args.n, log=C.log))
    plan = str(gen.ensure_plan(args.steps, args.n, log=C.log))
    two = str(gen.ensure_plan(args.steps, args.n, log=C.log, regions=list(TWO_REGIONS)))
    py = sys.executable
    res: dict[str, Any] = {"n": args.n, "steps": args.steps, "repeat": args.repeat}
    C.log(f"bench_targets: {C.human_n(args.n)} images: check of {args.steps} steps and load, "
          f"whole process, x{args.repeat} ...")
    check_cmd = [py, "-m", "imagefam.cli", "check", plan, "--state", state, "--format", "json"]
    load_cmd = [py, "-c", "import sys, imagefam; imagefam.load_state(sys.argv[1])", state]
    res["check_whole"] = summary([run_process(check_cmd) for _ in range(args.repeat)])
    res["check_two_regions"] = summary([run_process([*check_cmd[:4], two, *check_cmd[5:]])
                                        for _ in range(args.repeat)])
    res["load_whole"] = summary([run_process(load_cmd) for _ in range(args.repeat)])
    C.log("bench_targets: setup and load split, in one process ...")
    res["setup"] = C.run_worker([str(Path(__file__).resolve()), "--worker", state, plan])
    for key in ("check_whole", "check_two_regions", "load_whole"):
        r = res[key]
        C.log(f"  {key}: CPU {r['cpu_s']:.2f} s (min {r['cpu_s_min']:.2f}, max {r['cpu_s_max']:.2f}), "
              f"wall {r['wall_s']:.2f} s, peak RSS {r['peak_rss_mib']:,.0f} MiB")
    s = res["setup"]
    C.log(f"  Session() {s['session_cpu_s'] * 1e3:.2f} ms, first {s['steps']} steps {s['first_steps_cpu_s'] * 1e3:.1f} ms, "
          f"again {s['warm_steps_cpu_s'] * 1e3:.1f} ms; load: fast path {s['fast_path_s']:.2f} s "
          f"(text scans {s['key_scan_s']:.2f} s; taken: {s['fast_path_taken']}); pydantic path: parse {s['parse_s']:.2f} s, validate {s['validate_s']:.2f} s "
          f"(GC {s['gc_in_validate_s']:.2f} s), image checks {s['image_checks_s']:.2f} s, store {s['store_build_s']:.2f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
