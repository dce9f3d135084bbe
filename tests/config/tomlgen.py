"""Hostile configs for the fuzz tests: the shipped config as data, mutated, and written back as TOML."""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config.toml"
BUNDLED = ROOT / "arb/data/linkusdt-binance-huobi-2021-08-20.jsonl.gz"


def shipped() -> dict[str, Any]:
    return tomllib.loads(SHIPPED.read_text())


# ------------------------------------------------------------------ TOML out


def _string(text: str) -> str:
    # JSON's escapes are TOML's; DEL must be escaped in TOML too.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


class Raw(str):
    """A TOML literal written as it is: a float of more digits than a Python float holds (``0.00012345678901234567
    89``), an exponent past its range (``1e400``)."""


def _value(value: Any) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_string(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def to_toml(doc: dict[str, Any]) -> str:
    """``doc`` as TOML: top-level scalars first, then one table per nested dict (dicts inside lists and
    below the second level inline)."""
    lines = [f"{_string(k)} = {_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]

    def table(path: list[str], node: dict[str, Any]) -> None:
        lines.append("[" + ".".join(_string(p) for p in path) + "]")
        nested = {}
        for k, v in node.items():
            if isinstance(v, dict) and len(path) < 2 and v and all(isinstance(x, dict) for x in v.values()):
                nested[k] = v
            else:
                lines.append(f"{_string(k)} = {_value(v)}")
        for k, v in nested.items():
            for kk, vv in v.items():
                table([*path, k, kk], vv)

    for k, v in doc.items():
        if isinstance(v, dict):
            table([k], v)
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ mutations


def paths(node: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every key path in ``node`` (tables and values)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*prefix, k)
            yield from paths(v, (*prefix, k))


def _parent(doc: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    node = doc
    for part in path[:-1]:
        node = node[part]
    return node


NUMBER_TEXT = st.one_of(
    st.sampled_from([
        "NaN", "nan", "-nan", "sNaN", "inf", "-inf", "Infinity", "1e400", "1e-400", "-1", "0", "-0", "1e-30",
        "1e-19", "1e-18", "1e15", "1e16", "1e30", "0.003", "0.25", "10", "1E+3", "", " ", "1_000", "0x10",
        "１２", "1.0.0", "0.0001", "0.01", "5", "99999999999999999999999999999999", "0.00000000000000000001",
    ]),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
)
SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([0, -1, 1, 10**18, 2**63 - 1, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 1e300, 0.5, 5e-324]),
    NUMBER_TEXT,
    st.text(max_size=12),
    st.sampled_from([
        "replay", "paper", "live", "sandbox", "gate", "htx", "binance", "huobi", "LINK/USDT", "BTC/USDT",
        "sqlite://", "sqlite:///", "sqlite:foo", "sqlite:////nonexistent-dir/x.db", "sqlite:///x.db?mode=ro",
        "postgresql", "postgresql://u@h:notaport/db", "postgresql+nodriver://h/db", "postgresql+psycopg2://h/d",
        "http://", "http://[::1", "http://127.0.0.1:99999", "ftp://x", "bundled:nope", "bundled:", "/",
        "/dev/null", "/etc", "\x00", "a\nb", "\x1b[31mred", "base", "quote", "unwind", "halt", "DEBUG", "off",
    ]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6,
)
KEYS = st.one_of(
    st.sampled_from([
        "gate", "htx", "binance", "kind", "taker_fee", "capture_venue", "markets", "price_step", "LINK/USDT",
        "BTC/USDT", "max_size", "speed", "url", "port", "mode", "secret", "apiKey", "USDT", "KEY",
    ]),
    st.text(max_size=8),
)


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any] | None = None, rounds: int = 3) -> dict[str, Any]:
    """The shipped config (or ``base``) after 1..``rounds`` mutations: a value replaced, a key removed, a
    key added, a venue copied under another name."""
    doc = json.loads(json.dumps(base if base is not None else shipped()))
    for _ in range(draw(st.integers(1, rounds))):
        all_paths = list(paths(doc))
        op = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add", "copy_venue"]))
        if op == "copy_venue" and isinstance(doc.get("venues"), dict) and doc["venues"]:
            name = draw(st.sampled_from(sorted(doc["venues"])))
            doc["venues"][draw(KEYS)] = json.loads(json.dumps(doc["venues"][name]))
            continue
        if not all_paths:
            doc[draw(KEYS)] = draw(VALUES)
            continue
        path = draw(st.sampled_from(all_paths))
        parent = _parent(doc, path)
        if op == "replace":
            parent[path[-1]] = draw(VALUES)
        elif op == "delete":
            del parent[path[-1]]
        else:
            target = parent[path[-1]] if isinstance(parent[path[-1]], dict) else parent
            target[draw(KEYS)] = draw(VALUES)
    return doc


# TOML floats no binary float holds: more than 17 significant digits, or an exponent past a double's range.
LONG_FLOATS = st.one_of(
    st.builds(lambda m, e: Raw(f"{m}e{e}"), st.integers(10**17, 10**24), st.integers(-40, 0)),
    st.sampled_from([Raw("0.0001234567890123456789"), Raw("1e400"), Raw("1e-400"), Raw("-0.0"),
                     Raw("0.10000000000000000000001"), Raw("1000000000000000.0000001")]),
)
NUMERIC = st.one_of(
    NUMBER_TEXT,
    LONG_FLOATS,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([0, 1, 2, 1000, 10**9, 10**15, 10**16, 2**63 - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1e-300, 1e300, 0.001, 1e6, 1e7, 86400.0, 1e15]),
)


def leaves(node: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Key paths of the scalar values in ``node``."""
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(v, dict):
                yield from leaves(v, (*prefix, k))
            else:
                yield (*prefix, k)


@st.composite
def revalued(draw: st.DrawFn, base: dict[str, Any] | None = None, rounds: int = 3,
             only: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The shipped config (or ``base``) with 1..``rounds`` of its values replaced by hostile numbers or
    strings (``only``: the leaf paths to choose from, dotted). The structure stays valid, so the
    validation past types is what gets exercised."""
    doc = json.loads(json.dumps(base if base is not None else shipped()))
    choices = sorted(leaves(doc)) if only is None else [tuple(p.split("|")) for p in only]
    for _ in range(draw(st.integers(1, rounds))):
        path = draw(st.sampled_from(choices))
        parent = _parent(doc, path)
        parent[path[-1]] = draw(st.one_of(NUMERIC, NUMERIC, SCALARS))
    return doc
