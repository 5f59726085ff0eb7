"""The HTML report in a real browser: the demo report opened in headless Chromium.

Driven through the DevTools protocol over a pipe (``--remote-debugging-pipe``: JSON messages
ending in NUL on file descriptors 3 and 4), so no web socket library is needed. The test checks
that the page logs no console error (a blocked fetch or script would), that its screenshot is not
blank, and that in the rendered SVG the image the family launches sits right of every older
Available image of its region.

The screenshot is kept as an artifact: ``$IMAGEFAM_ARTIFACTS/report.png`` (default
``build/test-artifacts/``). With ``IMAGEFAM_REPORT_PNG=PATH`` it is also written to PATH, with a
thumbnail beside it (``make report-png`` regenerates ``docs/images/report.png`` that way).
Chromium comes from Debian's ``chromium`` package (``.ci/run`` installs it); where it is missing
the test is skipped and says so.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from imagefam import load_state
from imagefam.engine.demo import _path as demo_path
from imagefam.engine.demo import report_page

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=1100,1300"]
TIMEOUT = 60.0


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


class DevTools:
    """A minimal DevTools protocol client over Chromium's debugging pipe."""

    def __init__(self, binary: str, profile: str) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def fds() -> None:  # in the child: commands on fd 3, replies on fd 4
            a, b = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=fds, close_fds=False)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._from_child], [], [], left)
            if ready:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed the debugging pipe")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)  # type: ignore[no-any-return]

    def send(self, method: str, params: dict[str, Any] | None = None, *, browser: bool = False) -> dict[str, Any]:
        self._next += 1
        msg: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if self.session and not browser:
            msg["sessionId"] = self.session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})  # type: ignore[no-any-return]
            self.events.append(reply)

    def wait_for(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        for ev in self.events:
            if ev.get("method") == method:
                return ev
        while True:
            ev = self._read_message(deadline)
            self.events.append(ev)
            if ev.get("method") == method:
                return ev

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.send("Browser.close", browser=True)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_child)
        os.close(self._from_child)


def console_errors(events: list[dict[str, Any]]) -> list[str]:
    out = []
    for ev in events:
        m, p = ev.get("method"), ev.get("params", {})
        if m == "Runtime.exceptionThrown":
            out.append(f"exception: {p['exceptionDetails'].get('text')}")
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append("console.error: " + " ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
        elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
            out.append(f"log ({p['entry'].get('source')}): {p['entry'].get('text')}")
    return out


# Read from the rendered page: for every timeline row, the screen x of the launched image and the
# screen x and creation time of every Available image.
POSITIONS = """JSON.stringify([...document.querySelectorAll('g.row')].map(row => ({
  family: row.closest('details').dataset.family, owner: row.closest('details').dataset.owner,
  region: row.dataset.region, chosen: row.dataset.chosen,
  marks: [...row.querySelectorAll('use[data-id]')].map(u => { const r = u.getBoundingClientRect();
    return {id: u.dataset.id, available: u.getAttribute('href') === '#av',
            chosen: u.classList.contains('chosen'), x: r.left + r.width / 2, w: r.width}; })
})))"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    binary = chromium()
    if binary is None and os.environ.get("IMAGEFAM_REQUIRE_BROWSER"):
        pytest.fail("Chromium is not installed (IMAGEFAM_REQUIRE_BROWSER is set)")
    if binary is None:
        pytest.skip("Chromium is not installed, so the HTML report is not checked in a browser: "
                    "`apt-get install -y chromium` as root (.ci/run does this) to run this test")
    folder = tmp_path_factory.mktemp("browser")
    page = folder / "report.html"
    page.write_text(report_page(), "utf-8")
    profile = tempfile.mkdtemp(prefix="imagefam-chromium-", dir=folder)  # a fresh profile per run
    dt = DevTools(binary, profile)
    try:
        targets = dt.send("Target.getTargets")["targetInfos"]
        target = next(t for t in targets if t["type"] == "page")
        dt.session = dt.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True},
                             browser=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            dt.send(f"{domain}.enable")
        dt.send("Emulation.setDeviceMetricsOverride",
                {"width": 1100, "height": 1300, "deviceScaleFactor": 1, "mobile": False})
        dt.send("Page.navigate", {"url": page.as_uri()})
        dt.wait_for("Page.loadEventFired")
        rows = json.loads(dt.send("Runtime.evaluate", {"expression": POSITIONS, "returnByValue": True})
                          ["result"]["value"])
        height = dt.send("Runtime.evaluate", {"expression": "document.documentElement.scrollHeight",
                                              "returnByValue": True})["result"]["value"]
        shot = dt.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": 1100, "height": min(int(height), 4000), "scale": 1}})
        png = base64.b64decode(shot["data"])
        errors = console_errors(dt.events)
        requests = [ev["params"]["request"]["url"] for ev in dt.events
                    if ev.get("method") == "Network.requestWillBeSent"]
    finally:
        dt.close()
    artifacts = Path(os.environ.get("IMAGEFAM_ARTIFACTS", ROOT / "build" / "test-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / "report.png").write_bytes(png)
    (artifacts / "report.html").write_text(page.read_text("utf-8"), "utf-8")
    docs_png = os.environ.get("IMAGEFAM_REPORT_PNG")
    if docs_png:
        write_docs_images(png, Path(docs_png))
    return {"rows": rows, "png": png, "errors": errors, "requests": requests, "url": page.as_uri()}


def write_docs_images(png: bytes, target: Path) -> None:
    """The screenshot for the docs, and a 360-pixel-wide thumbnail beside it for the README."""
    from PIL import Image

    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(png)
    with Image.open(io.BytesIO(png)) as img:
        top = img.crop((0, 0, img.width, min(img.height, img.width)))
        top.thumbnail((360, 360))
        top.save(target.with_name(target.stem + "-thumb.png"), optimize=True)


def test_the_page_logs_no_console_error(rendered: dict[str, Any]) -> None:
    assert rendered["errors"] == []


def test_the_page_requests_nothing_but_itself(rendered: dict[str, Any]) -> None:
    assert rendered["requests"] == [rendered["url"]]


def test_the_screenshot_is_not_blank(rendered: dict[str, Any]) -> None:
    from PIL import Image, ImageStat

    with Image.open(io.BytesIO(rendered["png"])) as img:
        rgb = img.convert("RGB")
        assert rgb.width >= 1000 and rgb.height >= 600
        colours = rgb.getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 50  # text, marks and badges, not one flat colour
        assert max(ImageStat.Stat(rgb).stddev) > 20


def created(rendered: dict[str, Any]) -> None:
    """Give each mark read from the page its image's CreationTime, from the demo state."""
    times = {(i.ImageId, i.RegionId): i.CreationTime for i in load_state(demo_path("state.yaml")).images}
    for r in rendered["rows"]:
        for m in r["marks"]:
            m["created"] = times[(m["id"], r["region"])]


def test_the_launched_image_sits_right_of_every_older_available_image(rendered: dict[str, Any]) -> None:
    created(rendered)
    rows = {(r["owner"], r["family"], r["region"]): r for r in rendered["rows"]}
    row = rows[("100001", "app-a", "cn-hangzhou")]
    assert row["chosen"] == "m-b1"  # the newest Available image (m-x1, Deprecated, is skipped)
    chosen = next(m for m in row["marks"] if m["chosen"])
    assert chosen["id"] == "m-b1" and chosen["w"] > 0
    older = [m for m in row["marks"] if m["available"] and not m["chosen"] and m["created"] < chosen["created"]]
    assert [m["id"] for m in older] == ["m-a1"]
    for m in older:
        assert m["x"] + 1 < chosen["x"], (m, chosen)
    # every row on the page: the launched image is right of each older Available image
    checked = 0
    for r in rendered["rows"]:
        picked = [m for m in r["marks"] if m["chosen"]]
        if not picked:
            continue
        for m in r["marks"]:
            if m["available"] and m["created"] < picked[0]["created"]:
                assert m["x"] < picked[0]["x"], (r["family"], r["region"], m, picked[0])
                checked += 1
    assert checked >= 1


def test_regions_of_a_family_share_the_time_axis(rendered: dict[str, Any]) -> None:
    created(rendered)
    rows = {(r["owner"], r["family"], r["region"]): r for r in rendered["rows"]}
    hz = {m["id"]: m for m in rows[("100001", "app-a", "cn-hangzhou")]["marks"]}
    sh = {m["id"]: m for m in rows[("100001", "app-a", "cn-shanghai")]["marks"]}
    # m-a1 (cn-hangzhou) and m-s1 (cn-shanghai) were both created 2020-01-01T00:00:00Z
    assert hz["m-a1"]["created"] == sh["m-s1"]["created"]
    assert abs(hz["m-a1"]["x"] - sh["m-s1"]["x"]) < 0.5
