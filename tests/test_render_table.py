"""The text table written without tabulate (imagefam/engine/simpletable.py) is tabulate's, byte for
byte, whenever it is written; tables it cannot be sure of go to tabulate."""

from __future__ import annotations

import string
import sys
from typing import Any

import pytest
from helpers_engine import FUZZ_EXAMPLES
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tabulate import tabulate

from imagefam.engine import render
from imagefam.engine.simpletable import simple_table

TRICKY = ["", "-", ".", "+", ",", "--", "1-2", "2025-06-01", "1.2.3", "10,000", "1,00", "007", "0", "-5", "+5",
          "1.5", ".5", "1e5", "inf", "-inf", "nan", "NaN", "Infinity", "1_000", "0x1f", "True", "False", "true",
          "a b", " pad", "pad ", "a\nb", "tab\there", "é", "宽", "\x1b[31mred\x1b[0m", "(none)", "rule-x (warn)"]
CELLS = st.one_of(
    st.integers(min_value=-10**6, max_value=10**12), st.booleans(), st.none(), st.floats(allow_nan=False),
    st.sampled_from(TRICKY), st.integers(min_value=0, max_value=10**9).map(str),
    st.text(string.ascii_letters + string.digits + " -_.,:+()/", min_size=1, max_size=12),
    st.text(min_size=0, max_size=6))


@st.composite
def tables(draw: Any) -> tuple[list[list[Any]], list[str]]:
    ncol = draw(st.integers(1, 6))
    headers = draw(st.lists(st.text(string.ascii_lowercase + " ", min_size=0, max_size=9), min_size=ncol,
                            max_size=ncol))
    rows = draw(st.lists(st.lists(CELLS, min_size=ncol, max_size=ncol), min_size=0, max_size=5))
    return rows, headers


@settings(max_examples=max(FUZZ_EXAMPLES, 300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
@example(([[0, "RunInstances", "app-a", "100001", "ALLOW", "-", "m-b1"]],
          ["step", "action", "target", "caller", "decision", "rules", "image"]))
@example(([["1,000", "x"], ["2", "y"]], ["n", "s"]))
@example(([["", ""], ["", "1"]], ["e", "n"]))
def test_the_table_is_tabulates_or_not_written(table: tuple[list[list[Any]], list[str]]) -> None:
    rows, headers = table
    text = simple_table(rows, headers)
    if text is not None:
        assert text == tabulate(rows, headers=headers, tablefmt="simple")


def test_a_check_table_of_plain_cells_does_not_import_tabulate(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [[0, "RunInstances", "app-a", "100001", "ALLOW", "-", "m-b1"],
            [1, "DeleteImage", "m-old", "100001", "DENY", "image-in-use", ""]]
    headers = ["step", "action", "target", "caller", "decision", "rules", "image"]
    want = tabulate(rows, headers=headers, tablefmt="simple")
    monkeypatch.setitem(sys.modules, "tabulate", None)  # importing it now fails
    assert render.tabulate(rows, headers=headers, tablefmt="simple") == want
    with pytest.raises(ImportError):  # a cell tabulate reads as a float: tabulate writes it
        render.tabulate([[1, "1e5"]], headers=["a", "b"], tablefmt="simple")
    with pytest.raises(ImportError):  # several lines in a cell (denied steps' rules): tabulate
        render.tabulate([[1, "a\nb"]], headers=["a", "b"], tablefmt="simple")
