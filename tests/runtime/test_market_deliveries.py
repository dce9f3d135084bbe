"""The market source's pending deliveries (``arb/runtime/feeds._Deliveries``): whatever order lines come due in,
an instant takes every delivery due then, in read order, exactly as one heap over (due, read order) gives
them; the queue that spares the heap only changes the cost."""

from __future__ import annotations

import heapq

from hypothesis import given, settings
from hypothesis import strategies as st

from arb.runtime.feeds import _Deliveries

# Each step: read a line due at its time plus a lag (0 for most: a feed with an even lag reads in due order),
# or deliver the next instant.
_steps = st.lists(st.one_of(st.tuples(st.just("read"), st.integers(0, 3), st.sampled_from([0, 0, 0, 5, -20, 40])),
                            st.just(("deliver", 0, 0))), max_size=200)


@settings(max_examples=300, deadline=None)
@given(steps=_steps)
def test_an_instant_takes_what_one_heap_would_in_the_same_order(steps: list[tuple[str, int, int]]) -> None:
    deliveries, heap = _Deliveries(), []
    now = read = 0
    taken, expected = [], []
    for kind, gap, lag in steps + [("deliver", 0, 0)] * len(steps):
        if kind == "read":
            now += gap
            read += 1
            entry = (now + lag, read, "gate", None, now, 3)
            deliveries.push(entry)  # type: ignore[arg-type]  # no line: only the order is under test
            heapq.heappush(heap, entry)
            continue
        due = deliveries.first_due()
        assert due == (heap[0][0] if heap else None)
        if due is None:
            continue
        taken.append(deliveries.take(due))
        instant = []
        while heap and heap[0][0] == due:
            instant.append(heapq.heappop(heap))
        expected.append(instant)
    assert taken == expected
    assert deliveries.first_due() is None
