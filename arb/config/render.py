"""The effective config written back as TOML (``arb config check``).

Hand-written rather than on a library: no TOML writer is among arb's dependencies (tomllib only reads), and
what this one must do beyond writing TOML is arb's: a comment after a key or a table's header (where a value
came from), every string escaped so the output is safe to print on a terminal (C1 controls and bidi
overrides too, which TOML allows raw and a library would write raw), and output that re-parses to the same
values (``tests/config/test_render_toml.py``) and that ``arb config check`` accepts again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_TOML_UNSAFE = re.compile('["\\\\\\x00-\\x1f\\x7f-\\x9f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]')
_TOML_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string that re-parses to exactly ``text`` and is safe to print."""
    return '"' + _TOML_UNSAFE.sub(lambda m: _TOML_ESCAPES.get(m.group(), f"\\u{ord(m.group()):04X}"), text) + '"'


def render_toml(data: Mapping[str, Any], notes: Mapping[str, str] | None = None) -> str:
    """A small TOML writer for the effective config (tables of scalars, lists, inline tables in lists and
    nested tables).

    ``notes``: a comment for a dotted key (``risk.daily_loss_limit``), written after its line (a table's:
    after its header); ``arb config check`` marks the values set from the environment with it.

    Strings and keys come from the user's file and are escaped (:func:`toml_string`): the output always
    re-parses (``tests/config/test_render_toml.py``) and never carries a raw control character."""
    lines: list[str] = []

    def scalar(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return repr(value)  # inf, nan and 1e+20 are TOML as Python writes them
        if isinstance(value, Decimal):
            if not value.is_finite():
                return "nan" if value.is_nan() else ("-inf" if value < 0 else "inf")
            return str(value)
        if isinstance(value, (list, tuple)):
            return "[" + ", ".join(scalar(v) for v in value) + "]"
        if isinstance(value, Mapping):  # a table inside a list (an order budget's windows): inline
            return "{ " + ", ".join(f"{key(k)} = {scalar(v)}" for k, v in value.items()) + " }" if value else "{}"
        return toml_string(str(value))

    def key(part: str) -> str:
        return part if _TOML_BARE_KEY.fullmatch(part) else toml_string(part)

    def note(dotted: str) -> str:
        text = (notes or {}).get(dotted)
        return f"  # {printable_note(text)}" if text else ""

    def table(name: str, dotted: str, node: Mapping[str, Any]) -> None:
        plain = {k: v for k, v in node.items() if not isinstance(v, Mapping) and v is not None}
        nested = {k: v for k, v in node.items() if isinstance(v, Mapping)}
        if plain or not nested or note(dotted):
            lines.append(f"[{name}]{note(dotted)}")
            lines.extend(f"{key(k)} = {scalar(v)}{note(f'{dotted}.{k}')}" for k, v in plain.items())
            lines.append("")
        for k, v in nested.items():
            table(f"{name}.{key(k)}", f"{dotted}.{k}", v)

    def printable_note(text: str) -> str:
        return toml_string(text)[1:-1]  # escaped like a string: a comment cannot hold a line break

    for name, node in data.items():
        if isinstance(node, Mapping):
            table(key(name), name, node)
    return "\n".join(lines)
