"""The HTML report (``report --format html``): structure, what it highlights, escaping of every value,
self-containment, and how it summarises large states. The page in a real browser: test_browser.py."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagefam.cli import main
from imagefam.engine import html as H
from imagefam.engine.demo import _path as demo_path
from imagefam.engine.demo import report_page
from imagefam.engine.loader import load_state
from imagefam.engine.models import Image
from imagefam.engine.policy import load_policy
from imagefam.engine.report import report
from imagefam.engine.state import State

T0 = datetime(2024, 1, 1, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]


class Page(HTMLParser):
    """Every element with its attributes, the text inside each, and the text of the whole page."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.texts: list[str] = []
        self.titles: list[str] = []
        self._in_title = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        self._in_title = tag == "title"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
        if self._in_title:
            self.titles.append(data)

    def tags(self, name: str, **attrs: str) -> list[dict[str, str]]:
        return [a for t, a in self.elements if t == name and all(a.get(k) == v for k, v in attrs.items())]

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.texts).split())


def img(image_id: str, days: float = 0, **kw: Any) -> Image:
    fields: dict[str, Any] = {"RegionId": "r1", "CreationTime": T0 + timedelta(days=days), "Status": "Available",
                              "ImageOwnerId": "1001", "ImageFamily": "web"}
    fields.update(kw)
    return Image(ImageId=image_id, **fields)


def page_of(images: list[Image], **kw: Any) -> str:
    policy = load_policy()
    state = State.of(images, T0 + timedelta(days=400))
    return H.report_html(state, report(state, policy), policy, **kw)


@pytest.fixture(scope="module")
def demo() -> Page:
    return Page(report_page())


def test_the_page_is_self_contained(demo: Page) -> None:
    text = report_page()
    csp = demo.tags("meta", **{"http-equiv": "Content-Security-Policy"})
    assert csp and "default-src 'none'" in csp[0]["content"]
    assert not demo.tags("script") and not demo.tags("link") and not demo.tags("img") and not demo.tags("iframe")
    assert all("src" not in a for _, a in demo.elements)
    for _, a in demo.elements:  # links and SVG references stay inside the page
        for key in ("href", "xlink:href"):
            if key in a:
                assert a[key].startswith("#"), a
    assert "url(" not in text and "@import" not in text and "http://" not in text and "https://" not in text


def test_every_link_has_its_target(demo: Page) -> None:
    ids = [a["id"] for _, a in demo.elements if "id" in a]
    assert len(ids) == len(set(ids))
    for _, a in demo.elements:
        if a.get("href", "").startswith("#"):
            assert a["href"][1:] in ids, a


def test_the_demo_timeline_marks_what_launches(demo: Page) -> None:
    rows = {(a["data-region"]): a for a in demo.tags("g", **{"class": "row"})}
    assert rows["cn-hangzhou"]["data-chosen"] in ("m-b1", "ubuntu_24_04_x64_20G_alibase_20200101.vhd")
    fams = {a["data-family"]: a for a in demo.tags("details") if "data-family" in a}
    assert set(fams) == {"app-a", "acs:ubuntu_24_04_x64"}
    assert fams["app-a"]["data-owner"] == "100001"
    chosen = {a["data-id"] for a in demo.tags("use", **{"class": "chosen"})}
    assert chosen == {"m-b1", "m-s1", "ubuntu_24_04_x64_20G_alibase_20200101.vhd"}
    marks = {a["data-id"]: a["href"] for a in demo.tags("use") if "data-id" in a}
    assert marks["m-x1"] == "#dp"  # Deprecated: its own shape
    assert marks["m-a1"] == marks["m-b1"] == "#av"
    assert "launches m-b1 (app-a-v3)" in demo.text and "launches m-s1 (app-a-v1)" in demo.text
    # the community sees only m-a1; the sharee 200002 also gets m-b1, so only the community is noted
    assert "an account it is not shared with launching acs:100001:app-a gets m-a1 (app-a-v1), not m-b1" in demo.text
    assert "account 200002 launching" not in demo.text
    assert "Shared with 200002." in demo.text


def test_the_summary_counts_and_links_findings(demo: Page) -> None:
    cells = [a for a in demo.tags("td") if a.get("class", "").startswith("sev-")]
    assert [c["class"] for c in cells] == ["sev-deny", "sev-warn", "sev-info"]
    assert "0 2 1 3" in demo.text  # deny, warn, info, total
    assert "family-region-drift [cn-hangzhou]" in demo.text
    group = demo.tags("details", **{"class": "fgroup"})[0]
    assert "open" in group  # few findings: every group is open
    assert demo.tags("a", href="#family-1", **{"class": "jump"})
    assert demo.tags("a", href="#" + group["id"])


def test_deny_families_come_first_and_ties_are_flagged() -> None:
    images = [img(f"w-{i}", i) for i in range(6)]  # a bigger family without findings
    images += [img("x-1", 1, ImageFamily="aliyun-bad"), img("x-2", 1, ImageFamily="aliyun-bad"),  # tie
               img("x-0", 0, ImageFamily="aliyun-bad", Status="Deprecated", SharedWith=("2002",))]  # deny
    page = Page(page_of(images))
    fams = [a["data-family"] for a in page.tags("details") if "data-family" in a]
    assert fams == ["aliyun-bad", "web"]
    assert "Families with deny findings" in page.text
    tie_rows = {a["data-chosen"] for a in page.tags("g", **{"class": "row"})}
    assert "x-2" in tie_rows  # ImageId breaks the tie
    assert "launches x-2 · tie with x-1" in page.text
    assert len(page.tags("circle", **{"class": "tiering"})) == 2  # the legend's and x-1's


def test_unknown_sharees_are_said() -> None:
    page = Page(page_of([img("u-1", 0, SharedWithUnknown=True), img("u-0", 1)]))
    assert "Shared with accounts the snapshot does not list" in page.text
    assert "does not list" not in Page(page_of([img("u-0", 1)])).text


def test_a_family_without_available_image_launches_nothing() -> None:
    page = Page(page_of([img("d-1", 0, Status="Deprecated"), img("c-1", 1, Status="CreateFailed")]))
    assert "launches nothing: no Available image" in page.text
    assert not page.tags("use", **{"class": "chosen"})


HOSTILE = ["<script>alert(1)</script>", "\"' onload=alert(1) x='", "a\x00b\x07c\x1b[31m\x7f\x85",
           "\u202eevil\u2066", "</svg></details><script>x</script>", "&amp;&lt;", "l1\nl2\r\tl3"]


@pytest.mark.parametrize("value", HOSTILE)
def test_every_value_is_escaped(value: str) -> None:
    images = [img(value, 0, ImageName=value, RegionId=value, ImageOwnerId=value, ImageFamily="f" + value,
                  SharedWith=(value,), Description=value),
              img("other", 1, ImageName=value, RegionId=value, ImageOwnerId=value, ImageFamily="f" + value,
                  IsPublic=True)]
    text = page_of(images)
    page = Page(text)
    assert not page.tags("script") and len(page.tags("svg")) == 2  # the legend and one timeline
    assert all(not k.startswith("on") for _, a in page.elements for k in a)
    shown = H.visible_text(value)
    assert {a["data-id"] for a in page.tags("use") if "data-id" in a} == {shown, "other"}
    assert [a["data-family"] for a in page.tags("details") if "data-family" in a] == ["f" + shown]
    assert [a["data-region"] for a in page.tags("g", **{"class": "row"})] == [shown]
    assert any(t.startswith(shown + " · " + shown + " · ") for t in page.titles)
    for ch in "\x00\x07\x1b\x7f\x85\u202e\u2066\r":
        assert ch not in text
    if value == HOSTILE[2]:
        assert "a\\x00b\\x07c\\x1b[31m\\x7f\\x85" in page.text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(min_size=1, max_size=12), st.text(min_size=2, max_size=12))
def test_any_name_reads_back_as_text(image_id: str, family: str) -> None:
    page = Page(page_of([img(image_id, 0, ImageName=image_id, ImageFamily=family)]))
    assert not page.tags("script")
    assert [a["data-id"] for a in page.tags("use") if "data-id" in a] == [H.visible_text(image_id)]
    fam = [a["data-family"] for a in page.tags("details") if "data-family" in a]
    assert fam == ([H.visible_text(family)] if family.strip() else fam)


def test_visible_text_leaves_ordinary_text_alone() -> None:
    assert H.visible_text("web-alinux3 · 中文 ü") == "web-alinux3 · 中文 ü"
    assert H.visible_text("a\tb") == "a\\x09b"
    assert H.visible_text(3) == 3


def test_large_states_are_summarised_deny_first() -> None:
    images = [img(f"big-{i}", i, ImageFamily="big") for i in range(30)]
    images += [img(f"mid-{i}", i, ImageFamily="mid", RegionId=r) for i in range(5) for r in ("r1", "r2")]
    images += [img("bad-1", 0, ImageFamily="aliyun-x", Status="Deprecated", SharedWith=("2002",))]  # deny
    page = Page(page_of(images, mark_budget=12))
    drawn = [a["data-family"] for a in page.tags("details") if "data-family" in a]
    assert drawn == ["aliyun-x", "mid"]  # deny first; then the largest that fits; big (30) does not
    assert "Families without a timeline" in page.text
    rows = page.tags("tr", id="family-2")  # big ranks before mid (larger)
    assert rows  # the table row of "big" carries its anchor
    assert len([a for a in page.tags("use") if "data-id" in a]) == 11


def test_many_findings_open_only_deny_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(H, "FINDINGS_OPEN", 1)
    images = [img("bad-1", 0, ImageFamily="aliyun-x", Status="Deprecated", SharedWith=("2002",)),  # deny
              img("one", 0, ImageFamily="solo")]
    page = Page(page_of(images))
    groups = {a["id"]: "open" in a for a in page.tags("details", **{"class": "fgroup"})}
    assert list(groups.values()) == [True, False]  # aliyun-x (deny) open, solo (info) closed


def test_findings_beyond_the_cap_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(H, "FINDINGS_CAP", 1)
    images = [img("bad-1", 0, ImageFamily="aliyun-x", Status="Deprecated", SharedWith=("2002",)),  # deny
              img("one", 0, ImageFamily="solo")]
    page = Page(page_of(images))
    assert "more findings are counted above but not listed" in page.text
    assert "DENY" in page.text


def test_cli_html_report_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.html"
    state = str(demo_path("state.yaml"))
    assert main(["report", "--state", state, "--format", "html", "-o", str(out)]) == 0
    first = out.read_text("utf-8")
    assert first.startswith("<!DOCTYPE html>") and "app-a" in first
    assert main(["report", "--state", state, "--format", "html", "-o", str(out)]) == 0
    assert out.read_text("utf-8") == first  # byte-identical runs
    bad = tmp_path / "bad.yaml"
    bad.write_text("Images:\n  - {ImageId: x, RegionId: r, CreationTime: 2020-01-01T00:00:00Z, Status: Available,"
                   " ImageOwnerId: '1', ImageFamily: aliyun-x}\n"
                   "  - {ImageId: y, RegionId: r, CreationTime: 2020-01-01T00:00:00Z, Status: Deprecated,"
                   " ImageOwnerId: '1', ImageFamily: aliyun-x, SharedWith: ['2']}\n", "utf-8")
    assert main(["report", "--state", str(bad), "--format", "html"]) == 1  # a deny finding, as in text
    assert "aliyun-x" in capsys.readouterr().out


def test_the_page_is_the_same_under_any_hash_seed(tmp_path: Path) -> None:
    pages = []
    for seed in ("0", "12345"):
        proc = subprocess.run([sys.executable, "-m", "imagefam.cli", "report", "--state", str(demo_path("state.yaml")),
                               "--format", "html"], capture_output=True, text=True, timeout=120, check=False,
                              env={**os.environ, "PYTHONHASHSEED": seed,
                                   "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")})
        assert proc.returncode == 0, proc.stderr
        pages.append(proc.stdout)
    assert pages[0] == pages[1]


def test_demo_write_includes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--write", str(tmp_path)]) == 0
    assert "report.html" in capsys.readouterr().out
    page = (tmp_path / "report.html").read_text("utf-8")
    assert page == report_page()
    state = load_state(tmp_path / "state.yaml")
    assert len(state.images) == 5


def test_the_page_counts_who_launches_from_each_family() -> None:
    from imagefam.engine.consumers import ConsumerStore
    from imagefam.engine.models import Instance, ScalingConfiguration

    policy = load_policy()
    state = State.of([img("m-1"), img("m-2", 1)], T0 + timedelta(days=400))
    assert "Who launches from each family" not in H.report_html(state, report(state, policy), policy)
    state.consumers = ConsumerStore(
        [ScalingConfiguration("asc-1", "asg-1", "r1", "1001", "web"),
         ScalingConfiguration("asc-2", "asg-2", "r1", "2002", "acs:1001:web", LifecycleState="Inactive")],
        [Instance("i-1", "r1", "1001", "m-1")])
    page = Page(H.report_html(state, report(state, policy), policy))
    assert "Who launches from each family (1 families)" in page.text
    assert "1001 r1 web 2 1 1" in page.text
