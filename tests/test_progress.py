"""Progress on stderr: only in a terminal unless --progress, never with --quiet, never on stdout;
Ctrl-C exits 130 and leaves the output file as it was."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers_engine import DEMO_DIR, ROOT, run_main

from imagefam import progress
from imagefam.engine import aliyun

STATE = DEMO_DIR / "state.yaml"
PLAN = DEMO_DIR / "rollback-fixed.yaml"


@pytest.fixture(autouse=True)
def _auto_mode() -> Iterator[None]:
    yield
    progress.set_mode("auto")


def env(**extra: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k != "CI"}
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e["IMAGEFAM_PROGRESS_DELAY"] = "0"  # show bars even for the demo's quick work
    e.update(extra)
    return e


def run_with_terminal(*args: str | Path) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal: (exit code, stdout, what the terminal got)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
    proc = subprocess.Popen([sys.executable, "-m", "imagefam.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=slave, env=env(), cwd=ROOT)
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            proc.kill()
            raise TimeoutError("the command did not finish")
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        seen += chunk
    out = proc.stdout.read().decode() if proc.stdout else ""
    code = proc.wait(timeout=60)
    os.close(master)
    return code, out, seen.decode(errors="replace")


def test_no_progress_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_main(capsys, "report", "--state", STATE)
    assert run.code == 0 and "audit rules" not in run.err and "\r" not in run.err


def test_progress_is_forced_on_stderr_only(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_main(capsys, "report", "--state", STATE, "--format", "json", "--progress")
    assert run.code == 0
    assert "audit rules over each family" in run.err and "checking state.yaml" not in run.out
    json.loads(run.out)  # stdout holds the output alone
    run = run_main(capsys, "check", PLAN, "--state", STATE, "--progress")
    assert run.code == 0 and "checking steps" in run.err and "it/s" not in run.out


def test_progress_and_quiet_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(capsys, "report", "--state", STATE, "--progress", "--quiet").code == 2


def test_a_terminal_gets_progress_and_quiet_silences_it() -> None:
    code, out, tty = run_with_terminal("report", "--state", STATE, "--format", "html")
    assert code == 0 and out.startswith("<!DOCTYPE html>")
    assert "audit rules over each" in tty and "laying out the page" in tty
    assert "audit rules" not in out
    code, out, tty = run_with_terminal("report", "--state", STATE, "--format", "html", "--quiet")
    assert code == 0 and out.startswith("<!DOCTYPE html>")
    assert tty.strip() == ""


def test_reading_with_progress_gives_the_same_bytes(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    data = os.urandom(progress.CHUNK * 2 + 123)
    big.write_bytes(data)
    progress.set_mode("on")
    assert progress.read_bytes(big) == data
    progress.set_mode("off")
    assert progress.read_bytes(big) == data


def test_track_yields_every_item_in_every_mode() -> None:
    for mode in ("on", "off", "auto"):
        progress.set_mode(mode)
        assert list(progress.track(iter(range(5)), "x")) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError):
        progress.set_mode("loud")


def test_paging_shows_items_against_the_total(capsys: pytest.CaptureFixture[str]) -> None:
    pages = {1: {"TotalCount": 3, "Items": [1, 2]}, 2: {"TotalCount": 3, "Items": [3]}}
    progress.set_mode("on")
    capsys.readouterr()
    got = aliyun._pages(lambda n: pages[n], lambda b: b["Items"], 2, "DescribeImages cn-hangzhou")
    assert [b["Items"] for b in got] == [[1, 2], [3]]
    err = capsys.readouterr().err
    assert "DescribeImages cn-hangzhou" in err and "/3" in err


def big_state(path: Path, n: int) -> None:
    images = [{"ImageId": f"m-{i}", "RegionId": f"r{i % 5}", "ImageOwnerId": str(1000 + i % 40),
               "ImageFamily": f"fam-{i % 300}", "CreationTime": f"2024-01-{1 + i % 28:02d}T00:00:{i % 60:02d}Z",
               "Status": "Available" if i % 7 else "Deprecated"} for i in range(n)]
    path.write_text(json.dumps({"TakenAt": "2024-02-01T00:00:00Z", "Images": images}), "utf-8")


def test_ctrl_c_exits_130_and_leaves_the_output_alone(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    big_state(state, 40_000)
    out = tmp_path / "report.html"
    out.write_text("the previous report\n", "utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "imagefam.cli", "report", "--state", str(state), "--format",
                             "html", "-o", str(out), "--progress"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env(), cwd=ROOT)
    assert proc.stderr is not None
    seen = b""
    deadline = time.monotonic() + 120
    while b"audit rules over each image" not in seen:  # the report has started: interrupt it
        assert time.monotonic() < deadline, seen[-500:]
        ready, _, _ = select.select([proc.stderr], [], [], 5)
        if ready:
            chunk = os.read(proc.stderr.fileno(), 65536)
            assert chunk, f"the command ended before it could be interrupted: {seen[-500:]!r}"
            seen += chunk
    proc.send_signal(signal.SIGINT)
    rest: Any = proc.communicate(timeout=60)
    err = (seen + rest[1]).decode(errors="replace")
    assert proc.returncode == 130, err[-2000:]
    assert "imagefam: interrupted" in err and "Traceback" not in err
    before = err[: err.index("imagefam: interrupted")]
    assert before == "" or before[-1] in "\r\n"  # the bar was cleared first: the message starts a line
    assert out.read_text("utf-8") == "the previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "state.json"]  # no temp file left


def test_close_all_clears_open_bars(capsys: pytest.CaptureFixture[str]) -> None:
    progress.set_mode("on")
    items = progress.track(range(10), "half done")
    next(items)
    assert progress._open
    progress.close_all()
    assert not progress._open
