"""The levels map of a tick-mode book side (``tick_map.py``): compiled, a C hash table; it must be a dict."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from arb.marketdata.tick_map import COMPILED, TickMap

# Ticks from a narrow band (the probe runs collide and wrap, deletes shift them) and from the whole range.
TICKS = st.one_of(st.integers(0, 300), st.integers(0, 10**16 - 1))
# Sizes held as exact integers, and two held as text: padded, and more significant digits than one spells.
SIZES = st.sampled_from(["1", "2.5", "0.1", "0.00118000", "01.5", "0.123456789012345678901"])
OPS = st.lists(st.tuples(st.sampled_from(["put", "remove", "get"]), TICKS, SIZES), max_size=400)


@settings(max_examples=300, deadline=None)
@given(ops=OPS)
def test_tick_map_is_a_dict(ops: list[tuple[str, int, str]]) -> None:
    table, ref = TickMap(), {}
    for op, tick, size in ops:
        if op == "put":
            assert table.put(tick, size) is (tick not in ref)
            ref[tick] = size
        elif op == "remove":
            assert table.remove(tick) is (ref.pop(tick, None) is not None)
        else:
            assert table.get(tick) == ref.get(tick)
            if tick in ref:  # read, and then kept (compiled) until the level changes or moves
                assert table.size_float(tick) == float(ref[tick])
        assert len(table) == len(ref)
    assert sorted(table.items()) == sorted(ref.items())
    keys = np.empty(len(ref), dtype=np.int64)
    assert table.keys_into(keys) == len(ref) and sorted(keys.tolist()) == sorted(ref)
    assert all(table.get(tick) == size for tick, size in ref.items())
    assert all(table.size_float(tick) == float(size) for tick, size in ref.items())
    if COMPILED:  # only the sizes no exact integer spells are held as text (interpreted, every size is)
        assert table.texts == {tick: size for tick, size in ref.items() if size in ("01.5", "0.123456789012345678901")}
    table.clear()  # emptied in place at a new map's size, or a new map after it grew
    assert len(table) == 0 and table.items() == [] and all(table.get(tick) is None for tick in ref)
    assert not table.texts
    # and then as a new one: every level new again, the same dict after
    assert all(table.put(tick, size) for tick, size in ref.items())
    assert sorted(table.items()) == sorted(ref.items()) and len(table) == len(ref)


def test_tick_map_grows_and_shrinks_through_thousands_of_levels() -> None:
    table = TickMap()
    ticks = [6_173_763_000_000 + 1_000_000 * i for i in range(5_000)]  # a real book's ticks, 0.01 apart
    for tick in ticks:
        assert table.put(tick, "1")
    for tick in ticks[::2]:
        assert table.remove(tick)
    assert len(table) == 2_500 and not table.remove(ticks[0])
    assert sorted(t for t, _ in table.items()) == ticks[1::2]
    assert all(table.get(t) == "1" for t in ticks[1::2]) and all(table.get(t) is None for t in ticks[::2])
    assert all(table.size_float(t) == 1.0 for t in ticks[1::2])
