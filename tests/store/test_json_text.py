"""arb's JSON columns are serialized by ``json_text.dumps``: ``json.dumps``' text, whatever the value."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from arb.store.json_text import dumps

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
_KEYS = st.text() | st.integers() | st.booleans() | st.none()
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)


@given(st.dictionaries(_KEYS, _VALUES, max_size=6) | _VALUES)
def test_the_text_is_json_dumps_text(value: Any) -> None:
    assert dumps(value) == json.dumps(value)


def test_a_decision_s_detail() -> None:
    """The flat object the writer stores for every decision, with what needs escaping in a string."""
    detail = {"buy_amount": "0.0125", "best_ask": "27123.4", "note": 'a "quoted"\\ ünïcode\n', "sized": False,
              "seq": 17, "none": None, "big": 10**30, "neg": -3}
    assert dumps(detail) == json.dumps(detail)
    assert dumps({}) == "{}"


def test_a_subclass_of_a_scalar_is_left_to_json_dumps() -> None:
    """An ``int`` or ``str`` subclass (an enum) prints as ``json.dumps`` prints it, not by its own repr."""
    import enum

    class Level(enum.IntEnum):
        HIGH = 2

    class Side(enum.StrEnum):
        BUY = "buy"

    value = {"level": Level.HIGH, "side": Side.BUY}
    assert dumps(value) == json.dumps(value)
