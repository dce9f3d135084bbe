"""The decision latency's start in a simulation: an instant all applied delivers its dirty symbols at once,
and a symbol still dirty from an earlier instant keeps its older start (``decisions.stamp_delivered``)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from arb.runtime.decisions import UNDELIVERED, stamp_delivered

SYMBOLS = [f"S{k}/USDT" for k in range(6)]
# What the decision loop does to ``dirty``: a book update marks its symbol (``on_book``), an instant ends
# (``delivered``), a symbol is decided (its entry popped).
step = st.one_of(st.tuples(st.just("update"), st.sampled_from(SYMBOLS)), st.tuples(st.just("deliver")),
                 st.tuples(st.just("decide"), st.sampled_from(SYMBOLS)))


@given(steps=st.lists(step, max_size=60))
def test_each_symbol_starts_when_its_first_undecided_update_was_delivered(steps: list[tuple[str, ...]]) -> None:
    dirty: dict[str, int] = {}
    expected: dict[str, int] = {}  # the rule itself: a symbol's start is the first delivery after it was marked
    for now, (action, *symbol) in enumerate(steps, 1):
        if action == "update":
            dirty.setdefault(symbol[0], UNDELIVERED)
            expected.setdefault(symbol[0], UNDELIVERED)
        elif action == "deliver":
            stamp_delivered(dirty, now)
            expected = {s: now if since == UNDELIVERED else since for s, since in expected.items()}
        else:
            dirty.pop(symbol[0], None)
            expected.pop(symbol[0], None)
        assert dirty == expected


def test_an_older_start_is_kept_beside_new_symbols() -> None:
    dirty = {"A/USDT": 5, "B/USDT": UNDELIVERED, "C/USDT": UNDELIVERED}
    stamp_delivered(dirty, 9)
    assert dirty == {"A/USDT": 5, "B/USDT": 9, "C/USDT": 9}
