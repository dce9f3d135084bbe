"""One capture line parsed and checked, strictly (``docs/CAPTURE.md``): what the reader reads every line
through and what the writer checks every line with, so nothing is written that arb cannot read back.

Every line of a capture passes here, so the usual well-formed line is checked in a few C-level passes
(compiled, ``drops.capture_side``: one C pass per side; else one regex over a side's strings); anything
those do not prove well formed takes the checks that find the first problem and name it. A trade line's
checks sit where a book line never goes.
"""

from __future__ import annotations

import re
from decimal import Decimal
from itertools import chain
from operator import gt, itemgetter, lt
from typing import Any, TypeGuard

import orjson

from arb.errors import CaptureFormatError
from arb.marketdata.capture.events import CaptureEvent, CaptureFunding, CaptureLine, CaptureTrade, Level
from arb.marketdata.drops import BOUNDED_DECIMAL, COMPILED, capture_side

_TYPES = frozenset(("snapshot", "delta", "reset", "gap"))
# ``reset``: the book went back to ``syncing`` (a lost connection); ``gap``: a feed lost an update the ids do
# not show (a dropped frame, a broken chain): unusable until the next snapshot. Both carry no levels.
_LOSSES = frozenset(("reset", "gap"))
_REQUIRED = ("ts", "venue", "symbol", "type", "bids", "asks")
_OPTIONAL = ("exchange_ts", "seq", "first_seq")
_REQUIRED_SET = frozenset(_REQUIRED)
_KNOWN = frozenset(_REQUIRED + _OPTIONAL)
# Plain non-negative decimals: what venues send and what Decimal(str) round-trips. No exponents, signs,
# NaN or whitespace: a writer that produced those has a bug we want to hear about.
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
# A whole side joined as ``"price,size,...,price,size,"``: each string a plain decimal of at most 15 integer
# digits (``drops.BOUNDED_DECIMAL``; a float may even make a larger one inf), each price at most 16 characters (longer ones are the only ones ``check_precision`` can refuse).
_SIDE = re.compile(r"(?:(?=[0-9.]{1,16},)0*[0-9]{1,15}(?:\.[0-9]+)?,0*[0-9]{1,15}(?:\.[0-9]+)?,)*")
_LIST = {list}
_PAIR = {2}

# A trade line: its own fields in the documented order (``exchange_ts`` optional), no levels.
_TRADE_REQUIRED = ("ts", "venue", "symbol", "type", "price", "amount", "side", "id")
_TRADE_KNOWN = frozenset((*_TRADE_REQUIRED, "exchange_ts"))
_SIDES = frozenset(("buy", "sell"))
# The last instant a capture's time may be: 9999-12-31T23:59:59.999Z, the last a datetime holds (the store and
# every report turn a line's time into one). A real capture is within years of now; 1e18 (year ~31.7 million)
# is a damaged line, and a replay stepping its clock towards it would never end.
MAX_TS = 253_402_300_799_999


def _ts_problem(name: str, ts: object) -> str | None:
    if not _is_int(ts) or ts < 0:
        return f"{name!r} must be a non-negative integer (ms since epoch), got {_short(ts)}"
    if ts > MAX_TS:
        return f"{name!r} {ts} is after 9999-12-31 (ms since epoch; a damaged line)"
    return None


def _trade_problem(ts: object, venue: object, symbol: object, price: object, amount: object, side: object,
                   trade_id: object, exchange_ts: object) -> str | None:
    """What is wrong with a trade's fields, or ``None``: the one rule the reader, the converters and the
    feeds apply."""
    if (problem := _ts_problem("ts", ts)) is not None:
        return problem
    if not isinstance(venue, str) or not venue:
        return "'venue' must be a non-empty string"
    if not isinstance(symbol, str) or not symbol:
        return "'symbol' must be a non-empty string"
    if "/" not in symbol:
        return f"'symbol' must be a ccxt unified symbol BASE/QUOTE, got {_short(symbol)}"
    for key, value in (("price", price), ("amount", amount)):
        # BOUNDED_DECIMAL: the plain decimals of a book level; then anything but zero.
        if not isinstance(value, str) or not BOUNDED_DECIMAL.fullmatch(value) or not value.strip("0."):
            return (f"{key!r} must be a positive plain decimal string below 1e15, as the venue sent it, "
                    f"got {_short(value)}")
    if not isinstance(side, str) or side not in _SIDES:
        return f"'side' must be 'buy' or 'sell' (the aggressor's side), got {_short(side)}"
    if not isinstance(trade_id, str) or not trade_id:
        return f"'id' must be a non-empty string (the venue's trade id), got {_short(trade_id)}"
    if exchange_ts is not None and not _is_int(exchange_ts):
        return f"'exchange_ts' must be an integer when present, got {_short(exchange_ts)}"
    return None


def checked_trade(ts: int, venue: str, symbol: str, price: str, amount: str, side: str, trade_id: str,
                  exchange_ts: int | None = None) -> CaptureTrade:
    """A :class:`CaptureTrade` from outside input (a converter's, a feed's), checked by the reader's own
    rule; ``ValueError`` naming the problem when the reader would refuse the line."""
    problem = _trade_problem(ts, venue, symbol, price, amount, side, trade_id, exchange_ts)
    if problem is not None:
        raise ValueError(problem)
    return CaptureTrade(ts, venue, symbol, price, amount, side, trade_id, exchange_ts)  # type: ignore[arg-type]  # each field's type checked by _trade_problem


def _check_fields(obj: dict[str, Any], required: tuple[str, ...], known: frozenset[str], what: str,
                  fail: Any) -> None:
    """A line of a kind without levels (a trade, a funding line) has its own fields, all those it needs."""
    keys = obj.keys()
    if not keys >= set(required):
        fail(f"missing field(s) of {what}: {', '.join(k for k in required if k not in obj)}")
    if not keys <= known:
        fail(f"unknown field(s) of {what}: {', '.join(sorted(set(obj) - known))}")


def _parse_trade(obj: dict[str, Any], fail: Any) -> CaptureTrade:
    """A trade line's object (``type`` is ``"trade"``), checked as strictly as a book line."""
    _check_fields(obj, _TRADE_REQUIRED, _TRADE_KNOWN, "a trade", fail)
    problem = _trade_problem(obj["ts"], obj["venue"], obj["symbol"], obj["price"], obj["amount"], obj["side"],
                             obj["id"], obj.get("exchange_ts"))
    if problem is not None:
        fail(problem)
    return CaptureTrade(obj["ts"], obj["venue"], obj["symbol"], obj["price"], obj["amount"], obj["side"], obj["id"],
                        obj.get("exchange_ts"))


_FUNDING_REQUIRED = ("ts", "venue", "symbol", "type", "mark", "rate", "funding_ts")
_FUNDING_KNOWN = frozenset((*_FUNDING_REQUIRED, "index", "exchange_ts"))
_SIGNED_DECIMAL = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]+)?")


def _parse_funding(obj: dict[str, Any], fail: Any) -> CaptureFunding:
    """A funding line's object (``type`` is ``"funding"``), checked as strictly as a trade."""
    _check_fields(obj, _FUNDING_REQUIRED, _FUNDING_KNOWN, "a funding line", fail)
    problem = _funding_problem(obj["ts"], obj["venue"], obj["symbol"], obj["mark"], obj["rate"], obj["funding_ts"],
                               obj.get("index"), obj.get("exchange_ts"))
    if problem is not None:
        fail(problem)
    return CaptureFunding(obj["ts"], obj["venue"], obj["symbol"], obj["mark"], obj["rate"], obj["funding_ts"],
                          obj.get("index"), obj.get("exchange_ts"))


def _funding_problem(ts: object, venue: object, symbol: object, mark: object, rate: object, funding_ts: object,
                     index: object, exchange_ts: object) -> str | None:
    """What is wrong with a funding line's fields, or ``None``: the one rule the reader and the writer apply."""
    problem = _trade_problem(ts, venue, symbol, mark, "1", "buy", "-", exchange_ts)
    if problem is not None:
        return problem.replace("'price'", "'mark'")
    if index is not None and (not isinstance(index, str) or not BOUNDED_DECIMAL.fullmatch(index)):
        return f"'index' must be a plain decimal string below 1e15 when present, got {_short(index)}"
    # A rate is a fraction per funding interval; a venue caps it at a few percent (Binance: 3% on most).
    if not isinstance(rate, str) or not _SIGNED_DECIMAL.fullmatch(rate) or abs(Decimal(rate)) >= 1:
        return f"'rate' must be a signed decimal string between -1 and 1 (the funding rate), got {_short(rate)}"
    return _ts_problem("funding_ts", funding_ts)


def checked_funding(ts: int, venue: str, symbol: str, mark: str, rate: str, funding_ts: int,
                    index: str | None = None, exchange_ts: int | None = None) -> CaptureFunding:
    """A :class:`CaptureFunding` from outside input (a converter's, a feed's), checked by the reader's own
    rule; ``ValueError`` naming the problem when the reader would refuse the line."""
    problem = _funding_problem(ts, venue, symbol, mark, rate, funding_ts, index, exchange_ts)
    if problem is not None:
        raise ValueError(problem)
    return CaptureFunding(ts, venue, symbol, mark, rate, funding_ts, index, exchange_ts)


def _is_int(value: object) -> TypeGuard[int]:
    # bool is an int subclass; true/false is not a timestamp.
    return isinstance(value, int) and not isinstance(value, bool)


def _levels(raw: object, field: str, fail: Any) -> tuple[Level, ...]:
    """The levels of one side, validated. Every line of a capture passes here, so the usual well-formed side
    is checked in a few C-level passes (one regex over all its strings); anything that fails them is checked
    level by level, which finds the first bad level and says what is wrong with it."""
    if raw == []:  # noqa: PLC1901 - an empty array, not any falsy value
        return ()
    if type(raw) is list and set(map(type, raw)) == _LIST and set(map(len, raw)) == _PAIR:
        try:
            joined = ",".join(chain.from_iterable(raw)) + ","  # TypeError: a price or size not a string
        except TypeError:
            joined = ""
        # As many separators as strings (none of them holds a comma), each one a plain decimal in bounds,
        # every price short enough to key without a precision check.
        if joined.count(",") == 2 * len(raw) and _SIDE.fullmatch(joined):
            return tuple(map(tuple, raw))
    return _levels_one_by_one(raw, field, fail)


def _levels_one_by_one(raw: Any, field: str, fail: Any) -> tuple[Level, ...]:
    if not isinstance(raw, list):
        fail(f"{field!r} must be an array of [price, size] pairs")
    out: list[Level] = []
    for i, level in enumerate(raw):
        if not isinstance(level, list) or len(level) != 2:
            fail(f"{field}[{i}] must be a [price, size] pair")
        price, size = level
        if not isinstance(price, str) or not isinstance(size, str):
            fail(f"{field}[{i}]: price and size must be decimal strings, got {_short(level)}")
        if not BOUNDED_DECIMAL.fullmatch(price) or not BOUNDED_DECIMAL.fullmatch(size):
            if not _DECIMAL.fullmatch(price) or not _DECIMAL.fullmatch(size):
                fail(f"{field}[{i}]: not a plain non-negative decimal: {_short(level)}")
            fail(f"{field}[{i}]: {_short(level)} is 1e15 or more, beyond any price or amount arb handles")
        if len(price) > 16:  # shorter, it has at most 15 digits
            # Here, not at the top: the book imports numpy (~0.15 s), which `arb config check` (reading a
            # capture's first line) never needs but for a price this long.
            from arb.marketdata.book_side import check_precision

            try:
                check_precision(price)  # what the book can key: the rule it applies itself
            except ValueError as exc:
                fail(f"{field}[{i}]: {exc}")
        out.append((price, size))
    return tuple(out)


def _short(value: object, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters: an error line stays a line whatever the input."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_snapshot_order(levels: tuple[Level, ...], field: str, descending: bool, fail: Any) -> None:
    # Floats first: rounding to a float never reverses an order, so strictly ordered floats prove the
    # decimals strictly ordered. Only prices too close for a float to tell apart take the exact path.
    floats = list(map(float, map(itemgetter(0), levels)))
    if all(map(gt if descending else lt, floats[:-1], floats[1:])):
        return
    prices = [Decimal(p) for p, _ in levels]
    for i in range(1, len(prices)):
        ok = prices[i] < prices[i - 1] if descending else prices[i] > prices[i - 1]
        if not ok:
            order = "descending" if descending else "ascending"
            fail(f"snapshot {field} must be strictly {order} (best first); level {i} is {levels[i][0]}")


def parse_event(line: bytes | str, source: str = "<capture>", line_no: int = 1) -> CaptureLine:
    """Parse and validate one capture line, a book event or a trade (without cross-line checks such as
    ``ts`` order). The trade's branch is taken where a book line never goes (a line without levels, or an
    unknown type), so book lines pay nothing for it."""

    def fail(problem: str) -> None:
        raise CaptureFormatError(source, line_no, problem)

    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise CaptureFormatError(source, line_no, f"malformed JSON: {exc}") from None
    if not isinstance(obj, dict):
        fail("each line must be a JSON object")
    keys = obj.keys()
    if not keys >= _REQUIRED_SET:
        if obj.get("type") == "trade":
            return _parse_trade(obj, fail)
        if obj.get("type") == "funding":
            return _parse_funding(obj, fail)
        fail(f"missing field(s): {', '.join(k for k in _REQUIRED if k not in obj)}")
    kind = obj["type"]
    if not keys <= _KNOWN:
        if kind == "trade":  # a trade with a book line's fields: say which fields a trade does not have
            return _parse_trade(obj, fail)
        fail(f"unknown field(s): {', '.join(sorted(set(obj) - _KNOWN))}")
    if not isinstance(kind, str) or kind not in _TYPES:
        if kind == "trade":  # likewise
            return _parse_trade(obj, fail)
        fail(f"unknown type {_short(kind)} (expected 'snapshot', 'delta', 'reset', 'gap', 'trade' or 'funding')")
    if (problem := _ts_problem("ts", obj["ts"])) is not None:
        fail(problem)
    for key in ("venue", "symbol"):
        if not isinstance(obj[key], str) or not obj[key]:
            fail(f"{key!r} must be a non-empty string")
    if "/" not in obj["symbol"]:
        fail(f"'symbol' must be a ccxt unified symbol BASE/QUOTE, got {_short(obj['symbol'])}")
    for key in _OPTIONAL:
        if key in obj and not _is_int(obj[key]):
            fail(f"{key!r} must be an integer when present, got {_short(obj[key])}")
    snapshot = kind == "snapshot"
    # Compiled, both sides in one C pass each (drops.capture_side); a side it does not prove well formed
    # (or interpreted) takes the checks below, which find the first problem and name it.
    bids = capture_side(obj["bids"], 1 if snapshot else 0) if COMPILED else None
    asks = capture_side(obj["asks"], -1 if snapshot else 0) if bids is not None else None
    proven = bids is not None and asks is not None
    if bids is None or asks is None:  # not proven
        bids = _levels(obj["bids"], "bids", fail)
        asks = _levels(obj["asks"], "asks", fail)
    if kind in _LOSSES and (bids or asks):
        fail(f"a {kind} carries no levels ('bids' and 'asks' are [])")
    if snapshot and not proven:
        _check_snapshot_order(bids, "bids", True, fail)
        _check_snapshot_order(asks, "asks", False, fail)
    first_seq, seq = obj.get("first_seq"), obj.get("seq")
    if first_seq is not None and seq is not None and first_seq > seq:
        fail(f"first_seq {first_seq} > seq {seq}")
    # Positional: the fields' order (a frozen dataclass built per line: keywords cost a third more).
    return CaptureEvent(obj["ts"], obj["venue"], obj["symbol"], kind, bids, asks, obj.get("exchange_ts"), seq,
                        first_seq)
