"""The JSON text of arb's JSON columns: ``json.dumps``' own, made quickly for a flat object.

Every database engine arb makes serializes its JSON columns (``make_engine``'s ``json_serializer``) with
:func:`dumps`. A decision's ``detail`` is a flat object of a few strings and a flag, and the batched writer
stores ~100 of them every instant on 100 symbols: ``json.dumps`` spends ~5 µs on each, most of it building its
encoder afresh, against ~1.5 µs here. Anything else (nesting, numbers other than an ``int``, keys that are not
strings) goes to ``json.dumps`` itself, so the text is always its text (``tests/store/test_json_text.py``).
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii as _quoted  # json.dumps' own, as ensure_ascii has it
from typing import Any

_CONSTANTS = {True: "true", False: "false", None: "null"}


def dumps(value: Any) -> str:
    """``json.dumps(value)``."""
    if type(value) is not dict:
        return json.dumps(value)
    parts = []
    for key, item in value.items():
        if type(key) is not str:
            return json.dumps(value)
        kind = type(item)
        if kind is str:
            parts.append(f"{_quoted(key)}: {_quoted(item)}")
        elif kind is bool or item is None:
            parts.append(f"{_quoted(key)}: {_CONSTANTS[item]}")
        elif kind is int:
            parts.append(f"{_quoted(key)}: {int.__repr__(item)}")
        else:
            return json.dumps(value)
    return "{" + ", ".join(parts) + "}"
