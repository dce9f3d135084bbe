"""The arb capture format, version 1 (``docs/CAPTURE.md``): a strict reader and an exact writer.

A capture is JSON Lines, optionally gzip-compressed (``.gz``), one event per line: a book event
(:class:`CaptureEvent`) or a trade (:class:`CaptureTrade`). It is the contract between ``arb record``, the
converters, replay and the tests, so the reader refuses anything the format does not allow (and names the
file and line), and the writer never reformats a number: levels, trade prices and amounts stay the decimal
strings the venue sent, so a record -> replay round trip is byte-exact.

Readers yield book events only unless asked for trades (``trades=True``): everything that reads books
(replay, the sandbox's copy, analysis) reads a capture with trades exactly as one without, while every trade
line is still read and checked, and counts for the ``ts`` order.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import chain
from operator import gt, itemgetter, lt
from pathlib import Path
from typing import IO, Any, ClassVar, Literal, overload

import orjson

from arb.errors import CaptureFormatError
from arb.marketdata.book_side import check_precision
from arb.marketdata.drops import BOUNDED_DECIMAL, COMPILED, capture_side

EventType = Literal["snapshot", "delta", "reset", "gap"]
Level = tuple[str, str]
"""One price level as recorded: ``(price, size)`` decimal strings, exactly as in the file."""

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
# What reading a damaged file raises: OSError (a missing or unreadable file, a bad gzip header or CRC),
# EOFError (gzip cut short), zlib.error (corrupt deflate data). Never a traceback: a file:line error.
UNREADABLE = (OSError, EOFError, zlib.error)
# A whole side joined as ``"price,size,...,price,size,"``: each string a plain decimal of at most 15 integer
# digits (``drops.BOUNDED_DECIMAL``; a float may even make a larger one inf), each price at most 16 characters (longer ones are the only ones ``check_precision`` can refuse).
_SIDE = re.compile(r"(?:(?=[0-9.]{1,16},)0*[0-9]{1,15}(?:\.[0-9]+)?,0*[0-9]{1,15}(?:\.[0-9]+)?,)*")
_LIST = {list}
_PAIR = {2}

TradeSide = Literal["buy", "sell"]
# A trade line: its own fields in the documented order (``exchange_ts`` optional), no levels.
_TRADE_REQUIRED = ("ts", "venue", "symbol", "type", "price", "amount", "side", "id")
_TRADE_REQUIRED_SET = frozenset(_TRADE_REQUIRED)
_TRADE_KNOWN = frozenset((*_TRADE_REQUIRED, "exchange_ts"))
_SIDES = frozenset(("buy", "sell"))

# The longest line a capture (or a raw recording read by ``arb convert``) may have, refused before it is
# parsed. The deepest book a venue serves in one snapshot (Binance's 5,000 levels a side) is ~0.3 MB as a
# line: 16 MiB leaves 50x that, while bounding what one line can cost: its bytes, and the objects parsing
# makes of them (~10x), well under 500 MB. Without it one line is read whole, and a 2 MB gzip holding one
# 2 GiB line took a reader to 4-5 GB.
MAX_LINE = 16 << 20
EMPTY = "empty: a capture holds at least one event (arb never writes an empty one)"


@dataclass(frozen=True, slots=True)
class CaptureEvent:
    """One line of a capture: a whole-book ``snapshot``, a ``delta`` of changed levels, or a ``reset``
    (back to ``syncing``) or ``gap`` (unusable until the next snapshot) with no levels.

    ``ts`` is the receive time in ms since the epoch; ``seq`` is the venue's update id after the event
    (the snapshot id for a snapshot) and ``first_seq`` the update id that must follow the previous event's
    ``seq`` for no update to be lost, where the venue provides them: the first update id in the event
    (Gate, Binance spot ``U``), or ``pu + 1`` on Binance futures, whose streams chain events by ``pu``
    (the previous event's ``u``) and skip ids between events. In a delta a size of ``"0"`` removes the level.
    """

    ts: int
    venue: str
    symbol: str
    type: EventType
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    exchange_ts: int | None = None
    seq: int | None = None
    first_seq: int | None = None

    def to_json(self) -> bytes:
        """The event as one compact JSON line (without the newline), fields in the documented order."""
        obj: dict[str, Any] = {"ts": self.ts, "venue": self.venue, "symbol": self.symbol, "type": self.type}
        if self.exchange_ts is not None:
            obj["exchange_ts"] = self.exchange_ts
        if self.seq is not None:
            obj["seq"] = self.seq
        if self.first_seq is not None:
            obj["first_seq"] = self.first_seq
        obj["bids"] = self.bids
        obj["asks"] = self.asks
        return orjson.dumps(obj)


@dataclass(frozen=True, slots=True)
class CaptureTrade:
    """One trade line of a capture: a trade printed on the venue's public tape.

    ``ts`` is the receive time in ms since the epoch, as for a book event; ``price`` and ``amount`` are the
    decimal strings the venue sent (never reformatted; ``amount`` in the unit the venue's book sizes are in:
    contracts on Binance COIN-M); ``side`` is the aggressor's (the taker's) side: ``"buy"`` when a buy
    order took an ask. ``trade_id`` is the venue's trade id as a string (``"id"`` in the file) and
    ``exchange_ts`` the venue's trade time in ms, where it gives one. A trade needs no book: it may come
    before its book's first snapshot, or for a book the capture never has. Build one from outside input
    with :func:`checked_trade`.
    """

    type: ClassVar[Literal["trade"]] = "trade"  # read like a book event's ``type``; not a field

    ts: int
    venue: str
    symbol: str
    price: str
    amount: str
    side: TradeSide
    trade_id: str
    exchange_ts: int | None = None

    def to_json(self) -> bytes:
        """The trade as one compact JSON line (without the newline), fields in the documented order."""
        obj: dict[str, Any] = {"ts": self.ts, "venue": self.venue, "symbol": self.symbol, "type": "trade",
                               "price": self.price, "amount": self.amount, "side": self.side, "id": self.trade_id}
        if self.exchange_ts is not None:
            obj["exchange_ts"] = self.exchange_ts
        return orjson.dumps(obj)


CaptureLine = CaptureEvent | CaptureTrade
"""Any line of a capture: what the readers yield with ``trades=True`` and what the writer takes."""


def _trade_problem(ts: object, venue: object, symbol: object, price: object, amount: object, side: object,
                   trade_id: object, exchange_ts: object) -> str | None:
    """What is wrong with a trade's fields, or ``None``: the one rule the reader, the converters and the
    feeds apply."""
    if not isinstance(ts, int) or isinstance(ts, bool) or ts < 0:
        return f"'ts' must be a non-negative integer (ms since epoch), got {_short(ts)}"
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
    return CaptureTrade(ts, venue, symbol, price, amount, side, trade_id, exchange_ts)  # type: ignore[arg-type]


def _parse_trade(obj: dict[str, Any], fail: Any) -> CaptureTrade:
    """A trade line's object (``type`` is ``"trade"``), checked as strictly as a book line."""
    keys = obj.keys()
    if not keys >= _TRADE_REQUIRED_SET:
        fail(f"missing field(s) of a trade: {', '.join(k for k in _TRADE_REQUIRED if k not in obj)}")
    if not keys <= _TRADE_KNOWN:
        fail(f"unknown field(s) of a trade: {', '.join(sorted(set(obj) - _TRADE_KNOWN))}")
    problem = _trade_problem(obj["ts"], obj["venue"], obj["symbol"], obj["price"], obj["amount"], obj["side"],
                             obj["id"], obj.get("exchange_ts"))
    if problem is not None:
        fail(problem)
    return CaptureTrade(obj["ts"], obj["venue"], obj["symbol"], obj["price"], obj["amount"], obj["side"], obj["id"],
                        obj.get("exchange_ts"))


def _open_binary(path: Path, mode: Literal["rb", "wb"]) -> IO[bytes]:
    if path.suffix == ".gz":
        return gzip.open(path, mode)  # type: ignore[return-value]
    return open(path, mode)  # noqa: SIM115 - the caller closes it


def _is_int(value: object) -> bool:
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
            return tuple(map(tuple, raw))  # type: ignore[arg-type]
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
        fail(f"missing field(s): {', '.join(k for k in _REQUIRED if k not in obj)}")
    kind = obj["type"]
    if not keys <= _KNOWN:
        if kind == "trade":  # a trade with a book line's fields: say which fields a trade does not have
            return _parse_trade(obj, fail)
        fail(f"unknown field(s): {', '.join(sorted(set(obj) - _KNOWN))}")
    if not isinstance(kind, str) or kind not in _TYPES:
        if kind == "trade":  # likewise
            return _parse_trade(obj, fail)
        fail(f"unknown type {_short(kind)} (expected 'snapshot', 'delta', 'reset', 'gap' or 'trade')")
    if not _is_int(obj["ts"]) or obj["ts"] < 0:
        fail(f"'ts' must be a non-negative integer (ms since epoch), got {_short(obj['ts'])}")
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
    if not proven:
        bids = _levels(obj["bids"], "bids", fail)
        asks = _levels(obj["asks"], "asks", fail)
    if kind in _LOSSES and (bids or asks):
        fail(f"a {kind} carries no levels ('bids' and 'asks' are [])")
    if snapshot and not proven:
        _check_snapshot_order(bids, "bids", True, fail)  # type: ignore[arg-type]
        _check_snapshot_order(asks, "asks", False, fail)  # type: ignore[arg-type]
    first_seq, seq = obj.get("first_seq"), obj.get("seq")
    if first_seq is not None and seq is not None and first_seq > seq:
        fail(f"first_seq {first_seq} > seq {seq}")
    # Positional: the fields' order (a frozen dataclass built per line: keywords cost a third more).
    return CaptureEvent(obj["ts"], obj["venue"], obj["symbol"], kind, bids, asks, obj.get("exchange_ts"), seq,
                        first_seq)


def _too_long(limit: int = MAX_LINE) -> str:
    return f"a line longer than {limit >> 20} MiB (the longest line arb reads): refused before it is parsed"


def bounded_lines(fh: IO[bytes], source: str, limit: int = MAX_LINE) -> Iterator[bytes]:
    """The lines of ``fh`` (newline kept), none read past ``limit`` bytes: a longer one is a
    :class:`CaptureFormatError` naming ``source`` and its line, raised having read ``limit`` bytes of it (a
    gzip bomb of one endless line costs ``limit``, not the line). The reader and the converters read every
    line through here."""
    readline = fh.readline
    line_no = 0
    while raw := readline(limit + 1):
        line_no += 1
        if len(raw) > limit and raw[-1] != 10:  # 10: b"\n"; a last line may end without one
            raise CaptureFormatError(source, line_no, _too_long(limit))
        yield raw


def _open_capture(path: Path, source: str) -> IO[bytes]:
    try:
        return _open_binary(path, "rb")
    except OSError as exc:
        raise CaptureFormatError(source, 1, f"cannot open: {exc.strerror or exc}") from None


def check_not_empty(path: str | Path) -> None:
    """Raise :class:`CaptureFormatError` (line 1) when ``path`` cannot be opened, is damaged at its start,
    or holds nothing (0 bytes, or a gzip of nothing), as :func:`read_capture` would: a reader of many files
    (``timeline.py``) asks this of each before reading any."""
    path = Path(path)
    source = str(path)
    with _open_capture(path, source) as fh:
        try:
            empty = not fh.read(1)
        except UNREADABLE as exc:
            raise CaptureFormatError(source, 1, f"unreadable: {exc}") from None
    if empty:
        raise CaptureFormatError(source, 1, EMPTY)


@overload
def read_capture(path: str | Path, *, snapshotted: set[tuple[str, str]] | None = None,
                 trades: Literal[False] = False,
                 after: tuple[str, int] | None = None) -> Generator[CaptureEvent, None, int]: ...
@overload
def read_capture(path: str | Path, *, snapshotted: set[tuple[str, str]] | None = None, trades: bool,
                 after: tuple[str, int] | None = None) -> Generator[CaptureLine, None, int]: ...
def read_capture(path: str | Path, *, snapshotted: set[tuple[str, str]] | None = None, trades: bool = False,
                 after: tuple[str, int] | None = None) -> Generator[CaptureLine, None, int]:
    """Yield the events of a capture file, strictly: its book events, and with ``trades=True`` its trades
    too, interleaved in file order.

    Raises :class:`CaptureFormatError` naming the file and 1-based line number for a malformed line (a
    trade line too, yielded or not), an unknown ``type``, a ``ts`` lower than the line before (book or
    trade), or a ``delta`` (``reset``, ``gap``) for a (venue, symbol) that has had no ``snapshot`` yet; a
    trade needs none. Blank lines are errors too: the writer never produces them; so is a line longer than
    :data:`MAX_LINE` (before it is parsed, having read no more of it), and a file with no lines at all (0
    bytes, or a gzip of nothing). A file that cannot be opened, or a damaged gzip stream (cut short,
    corrupt, a bad CRC), is one too: the line it failed at.

    When it continues a timeline of files (``arb/marketdata/timeline.py``): ``snapshotted`` holds the
    (venue, symbol) books already snapshotted before this file (the reader adds this file's snapshots to
    it), and ``after`` names the previous file and the ``ts`` its last line had, before which this file
    must not start. Returns the ``ts`` of the file's last line: what ``yield from`` hands the timeline.
    """
    path = Path(path)
    source = str(path)
    last_ts = -1 if after is None else after[1]
    seen: set[tuple[str, str]] = set() if snapshotted is None else snapshotted
    with _open_capture(path, source) as fh:
        line_no = 0
        try:
            for line_no, raw in enumerate(bounded_lines(fh, source), start=1):  # noqa: B007 - used after the loop
                if raw.endswith(b"\n"):
                    raw = raw[:-1]
                if not raw.strip():
                    raise CaptureFormatError(source, line_no, "blank line")
                event = parse_event(raw, source, line_no)
                if event.ts < last_ts:
                    raise CaptureFormatError(source, line_no, _backwards(event.ts, last_ts, line_no, after))
                last_ts = event.ts
                kind = event.type
                if kind == "snapshot":
                    seen.add((event.venue, event.symbol))
                elif kind == "trade":
                    if trades:
                        yield event
                    continue
                elif (event.venue, event.symbol) not in seen:
                    raise CaptureFormatError(
                        source, line_no, f"{kind} for {event.venue} {event.symbol} before any snapshot"
                    )
                yield event
        except UNREADABLE as exc:  # truncated or corrupt gzip
            raise CaptureFormatError(source, line_no + 1, f"unreadable: {exc}") from None
    if not line_no:
        raise CaptureFormatError(source, 1, EMPTY)
    return last_ts


def _backwards(ts: int, last_ts: int, line_no: int, after: tuple[str, int] | None) -> str:
    if line_no == 1 and after is not None:
        return (f"starts at ts {ts}, before {after[0]} ends (ts {after[1]}): the files of one timeline must "
                "follow each other in time, in name order")
    return f"ts {ts} is before the previous line's ts {last_ts}"


class RefusedEvent(ValueError):
    """An event the capture reader would refuse: :func:`checked_line` (and so the writer) does not write it.
    The message is the reader's own (``parse_event``), without a file or line: the writer's caller knows
    which input it came from."""


def checked_line(event: CaptureLine) -> bytes:
    """``event`` as its capture line (without the newline), checked by the reader's own rule: the line is
    parsed by :func:`parse_event` as a reader would parse it, so nothing is written that arb cannot read
    back. :class:`RefusedEvent` says what the reader would say."""
    line = event.to_json()
    if len(line) > MAX_LINE:
        raise RefusedEvent(_too_long())
    try:
        parse_event(line)
    except CaptureFormatError as exc:
        raise RefusedEvent(exc.problem) from None
    return line


class CaptureWriter:
    """Writes events, book events and trades, to a capture file (gzip when the name ends in ``.gz``), one
    JSON line each.

    Writes only what the reader reads back: an event the reader would refuse (a level of ``NaN``, a
    negative size, a price of 1e15: :func:`checked_line`) is :class:`RefusedEvent`, and one whose ``ts``
    is before the previous one a ``ValueError``; neither is written. Use as a context manager, or call
    :meth:`close`.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fh: IO[bytes] = _open_binary(self.path, "wb")
        self._last_ts = -1
        self.count = 0

    def write(self, event: CaptureLine) -> None:
        if event.ts < self._last_ts:
            raise ValueError(f"capture events must be in ts order: {event.ts} after {self._last_ts}")
        line = checked_line(event)
        self._last_ts = event.ts
        self._fh.write(line + b"\n")
        self.count += 1

    def write_all(self, events: Iterable[CaptureLine]) -> None:
        for event in events:
            self.write(event)

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def dumps_events(events: Iterable[CaptureLine]) -> bytes:
    """All events as capture text (for tests and small in-memory captures)."""
    buf = io.BytesIO()
    for event in events:
        buf.write(event.to_json() + b"\n")
    return buf.getvalue()
