"""Helpers shared by the benchmarks: paths, timing, memory, subprocess JSON workers, machine info."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def median_time(fn: Callable[[], Any], runs: int) -> tuple[float, float, list[float]]:
    """(median, min, all) wall seconds of ``runs`` calls."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), times


def run_worker(args: Sequence[str], timeout: float = 1800) -> dict[str, Any]:
    """Run ``python <args>`` in a fresh interpreter; its last stdout line is a JSON object."""
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "0"})
    if proc.returncode != 0:
        raise RuntimeError(f"worker {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def per_size(sizes: str, worker_args: Callable[[int], Sequence[str]], line: Callable[[dict[str, Any]], str],
             json_out: str | None) -> list[dict[str, Any]]:
    """One fresh worker process per state size in ``sizes`` (comma-separated): ``worker_args(n)``
    is its command line after the interpreter, its JSON result plus ``n`` is a row, and
    ``line(row)`` is printed. The rows are written to ``json_out`` as ``{"rows": [...]}``."""
    rows = []
    for n in (int(s) for s in sizes.split(",")):
        row = {"n": n, **run_worker(worker_args(n))}
        rows.append(row)
        print(line(row), flush=True)
    if json_out:
        Path(json_out).write_text(json.dumps({"rows": rows}, indent=1), "utf-8")
    return rows


def emit(result: dict[str, Any]) -> None:
    """A worker's result: one JSON line on stdout."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
        mem = f"{kb / 2**20:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=ROOT, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "imagefam"], capture_output=True,
                               text=True, cwd=ROOT, timeout=10).stdout.strip()
        commit += " (imagefam/ modified)" if dirty else ""
    except (OSError, subprocess.SubprocessError):
        commit = "?"
    import pydantic

    import imagefam

    return {
        "cpu": cpu_model(), "cores": os.cpu_count(), "memory": mem,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(), "imagefam": imagefam.__version__, "pydantic": pydantic.VERSION,
        "commit": commit, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def human_n(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)
