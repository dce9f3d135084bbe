"""``top_screen``: its one pass over every pair's tops decides what the array screen decides, compiled and run
as Python, and the batch with it decides as the reference does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path
from typing import Any
from unittest.mock import patch

import numpy as np
import pytest
from detection_books import book
from detection_reference import detect_reference
from hypothesis import given
from hypothesis import strategies as st
from test_detection_properties import PROPS, params_st, venues

import arb.detection.batch
import arb.marketdata.book_side
from arb.compiled import source_module
from arb.detection import DetectionParams, Opportunity, Reason, Rejection, VenueBook, top_screen
from arb.detection.batch import detect_batch

SOURCE = Path(top_screen.__file__).with_name("top_screen.py")


AS_PYTHON = source_module("arb.detection.top_screen")  # loaded from its .py, whether or not an extension shadows it
SCREENS: dict[str, Callable[..., Any] | None] = {
    "array": None,  # the array path alone (a build without Cython)
    "imported": top_screen.TopScreen if top_screen.COMPILED else AS_PYTHON.TopScreen,
    "python": AS_PYTHON.TopScreen,
}


@pytest.mark.parametrize("screen", SCREENS)
@PROPS
@given(symbols=st.lists(venues(), min_size=1, max_size=6), params=params_st, per_symbol=st.booleans(),
       data=st.data())
def test_each_screen_decides_as_the_reference(
    screen: str, symbols: list[list[VenueBook]], params: DetectionParams, per_symbol: bool, data: st.DataObject
) -> None:
    # Every symbol on as many venues: the pass runs on items of as many rows. Books in every state (stale,
    # not live, abnormal edges, empty sides, no balance), fees that leave most crossed pairs unprofitable
    # and some that pay: symbols it decides alone, symbols it leaves to the array path, in one batch.
    n = min(len(books) for books in symbols)
    # More books out of the screen than the shared strategy draws: stale and not-live venues on either side
    # of the reported pair are where the pass's early reasons could differ from the array screen's.
    states = st.tuples(st.sampled_from(["live", "live", "live", "syncing"]), st.sampled_from([0, 999, 1000, 1001]))
    items = [(f"S{k}/USDT", [replace(b, health=health, age_ms=age) for b, (health, age) in
                             zip(books[:n], data.draw(st.lists(states, min_size=n, max_size=n)), strict=True)])
             for k, books in enumerate(symbols)]
    each = data.draw(st.lists(params_st, min_size=len(items), max_size=len(items))) if per_symbol else params
    with patch.object(arb.detection.batch, "_TopScreen", SCREENS[screen]):
        decided = detect_batch(items, each)
    every = each if isinstance(each, list) else [each] * len(items)
    assert decided == [detect_reference(s, books, p) for (s, books), p in zip(items, every, strict=True)]


def test_the_pass_is_compiled_where_the_book_is() -> None:
    """setup.py builds both or neither; a stale build would shadow an edited ``.py``."""
    assert top_screen.COMPILED == arb.marketdata.book_side.COMPILED
    if top_screen.COMPILED:
        built = Path(top_screen.__file__)
        for source in (SOURCE, SOURCE.with_suffix(".pxd")):
            assert built.stat().st_mtime >= source.stat().st_mtime, f"rebuild {built.name}: `pip install -e .`"


@pytest.mark.parametrize("screen", ["imported", "python"])
def test_arrays_of_different_lengths_are_refused(screen: str) -> None:
    """Compiled, the loop reads without bounds checks: lengths are checked once, when the screen is built, and
    the outputs on each pass."""
    rows, venues_each = 4, 2
    uint8 = np.zeros(rows, dtype=np.uint8)
    inputs: list[Any] = [np.zeros((rows, 2)), uint8, uint8, np.zeros(rows, dtype=np.intp), uint8, 10,
                         np.zeros((rows, 5)), venues_each, np.zeros(2, dtype=np.intp), np.zeros(2), np.zeros(2)]
    outputs: list[Any] = [np.zeros(2, dtype=np.uint8), np.zeros((4, 2), dtype=np.intp), np.zeros((3, 2)),
                          [None] * 2, tuple, None]
    kind = SCREENS[screen]
    assert kind is not None
    assert kind(*inputs).screen(0, *outputs) == (0, 0)
    refused = list(inputs)
    refused[6] = np.zeros((rows - 1, 5))  # factors for fewer rows
    with pytest.raises(ValueError, match="different lengths"):
        kind(*refused)
    fewer = list(outputs)
    fewer[3] = [None]  # fewer results than items: compiled, a list is written unchecked too
    with pytest.raises(ValueError, match="different lengths"):
        kind(*inputs).screen(0, *fewer)


@pytest.mark.parametrize("screen", SCREENS)
def test_ties_report_the_first_pair_and_the_pass_hands_on_what_pays(screen: str) -> None:
    """Two pairs cross by the same gross edge (c and d bid alike against a's ask): the reported pair is the first
    in pair order, (a, c). The second symbol, fees aside, pays at its top: sized by the array path in the same
    batch. The third crosses nowhere."""
    fee_bound = [book("a", [(99.0, 1)], [(100.0, 1)], fee="0.01"), book("b", [(98.0, 1)], [(101.0, 1)], fee="0.01"),
                 book("c", [(100.2, 1)], [(101.0, 1)], fee="0.01"), book("d", [(100.2, 1)], [(101.5, 1)], fee="0.01")]
    paying = [replace(b, taker_fee=D(0)) for b in fee_bound]
    apart = [book(v, [(90.0 + k, 1)], [(110.0 + k, 1)]) for k, v in enumerate("abcd")]
    items = [("T/USDT", fee_bound), ("P/USDT", paying), ("N/USDT", apart)]
    params = DetectionParams(max_size=D(1))
    with patch.object(arb.detection.batch, "_TopScreen", SCREENS[screen]):
        tie, pays, none = detect_batch(items, params)
    assert isinstance(tie, Rejection) and (tie.reason, tie.buy_venue, tie.sell_venue) == (
        Reason.UNPROFITABLE_AFTER_FEES, "a", "c")
    assert isinstance(pays, Opportunity)
    assert none == detect_reference("N/USDT", apart, params)
    assert [tie, pays] == [detect_reference(s, books, params) for s, books in items[:2]]
