"""Converters from raw venue recordings to the capture format, through the live sync code.

- Binance: ``<receive ns> <json>`` lines of combined-stream frames (``{"stream": ..., "data": ...}``) plus
  REST depth snapshot lines (``{"lastUpdateId": ...}``), spot, USD-M or COIN-M, as in
  ``tests/data/binance-*.gz``: the Binance adapter's converter (``arb/venues/binance/convert.py``).
- Gate: cryptofeed ``ws-samples`` recordings: ``GATEIO.ws.*`` (received frames ``<ts>: <json>``; sent
  frames and headers contain ``<-``/``<->``) and ``GATEIO.http.*`` (``<url> -> <ts>: <body>``: the
  ``order_book?with_id=true`` snapshots).

Both run the frames through :class:`DiffSync` and a :class:`BookStore` and emit what the store saw, so
a converted capture holds exactly the events a live feed would have recorded, gaps included.

Inputs are checked, not guessed at: a line that is not in the expected shape is a
:class:`~arb.errors.CaptureFormatError` naming the file and line (a file in another format, or the two Gate
inputs swapped, fails on its first line), and an input with nothing to convert (no depth data for the
symbol asked for, no snapshots) is a :class:`~arb.errors.UsageError`, never an empty capture.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from arb.errors import CaptureFormatError, UsageError
from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureEvent
from arb.marketdata.diffsync import DiffSync
from arb.venues.binance import convert as binance_convert
from arb.venues.binance.convert import ConvertStats
from arb.venues.binance.convert import check_symbol as check_binance_symbol

# What a malformed line raises while it is parsed and applied (orjson's decode error is a ValueError).
_BAD_LINE = (ValueError, ArithmeticError, KeyError, IndexError, TypeError, AttributeError)


def _collecting_store() -> tuple[BookStore, list[CaptureEvent]]:
    store = BookStore()
    out: list[CaptureEvent] = []
    store.add_listener(lambda event, _book: out.append(event))
    return store, out


def _drain(out: list[CaptureEvent]) -> Iterator[CaptureEvent]:
    yield from out
    out.clear()


def gate_symbol(currency_pair: str) -> str:
    """``BTC_USDT`` -> ``BTC/USDT``."""
    base, _, quote = currency_pair.partition("_")
    if not base or not quote:
        raise ValueError(f"not a Gate currency pair: {currency_pair!r}")
    return f"{base}/{quote}"


def _sec_to_ms(text: str) -> int:
    return int(Decimal(text) * 1000)


# ------------------------------------------------------------------- Binance


__all__ = ["ConvertStats", "binance_last_book_ticker", "binance_raw_events", "check_binance_symbol",
           "gate_symbol", "gate_ws_sample_events"]


def binance_raw_events(lines: Iterable[bytes], symbol: str, venue: str | None = None, *,
                       source: str = "<binance recording>", market: str | None = None,
                       stats: ConvertStats | None = None) -> Iterator[CaptureEvent]:
    """Capture events from a raw Binance spot, USD-M or COIN-M depth recording of one symbol: the
    Binance adapter's converter (``arb/venues/binance/convert.py``), where its sync rules live."""
    return binance_convert.raw_events(lines, symbol, venue, source=source, market=market, stats=stats)


def binance_last_book_ticker(lines: Iterable[bytes]) -> tuple[str, str] | None:
    """The last ``bookTicker`` best bid/ask in a raw Binance recording (to check a rebuilt book)."""
    return binance_convert.last_book_ticker(lines)


# ---------------------------------------------------------------------- Gate


def _gate_ws_frames(lines: Iterable[str], source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for line_no, line in enumerate(lines, 1):
        line = line.strip()
        if not line or " <-" in line or " <->" in line:
            continue  # header or a frame we sent
        try:
            ts, _, payload = line.partition(": ")
            ts_ms, msg = _sec_to_ms(ts), orjson.loads(payload)
            if msg.get("channel") == "spot.order_book_update" and msg.get("event") == "update":
                yield ts_ms, dict(msg["result"])
        except _BAD_LINE as exc:
            raise CaptureFormatError(source, line_no, "not a Gate WebSocket recording line ('<ts>: <json frame>'; "
                                     f"the HTTP recording goes second): {type(exc).__name__}") from None


def _gate_http_snapshots(lines: Iterable[str], source: str) -> Iterator[tuple[int, str, dict[str, Any]]]:
    for line_no, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        head, _, body = line.partition(": ")
        url, arrow, ts = head.partition(" -> ")
        if not arrow:
            raise CaptureFormatError(source, line_no, "not a Gate HTTP recording line ('<url> -> <ts>: <body>'; "
                                     "the WebSocket recording goes first)")
        query = parse_qs(urlsplit(url).query)
        if "currency_pair" not in query or not urlsplit(url).path.endswith("/spot/order_book"):
            continue
        try:
            yield _sec_to_ms(ts), query["currency_pair"][0], dict(orjson.loads(body))
        except _BAD_LINE as exc:
            raise CaptureFormatError(source, line_no, f"not a Gate order book snapshot: {type(exc).__name__}") from None


def gate_ws_sample_events(
    ws_lines: Iterable[str], http_lines: Iterable[str], venue: str = "gate", *,
    ws_source: str = "<gate ws recording>", http_source: str = "<gate http recording>",
) -> Iterator[CaptureEvent]:
    """Capture events from a Gate ``spot.order_book_update`` recording and its ``with_id`` snapshots.

    Frames and snapshots are merged by receive time (a snapshot received after a frame was fetched after
    it), then synced per pair by the update-id rule. An input with no frames, or no snapshots, is an error.
    """
    timeline: list[tuple[int, int, str, dict[str, Any]]] = []
    for ts, frame in _gate_ws_frames(ws_lines, ws_source):
        timeline.append((ts, len(timeline), "diff", frame))
    if not timeline:
        raise UsageError(f"{ws_source}: no spot.order_book_update frames in it (is it the WebSocket recording?)")
    frames = len(timeline)
    for ts, pair, body in _gate_http_snapshots(http_lines, http_source):
        timeline.append((ts, len(timeline), "snapshot", {"pair": pair, **body}))
    if len(timeline) == frames:
        raise UsageError(f"{http_source}: no spot/order_book snapshots in it (is it the HTTP recording?)")
    timeline.sort(key=lambda item: (item[0], item[1]))
    store, out = _collecting_store()
    syncs: dict[str, DiffSync] = {}
    for ts, _, kind, msg in timeline:
        try:
            pair = msg["pair"] if kind == "snapshot" else msg["s"]
            sync = syncs.get(pair)
            if sync is None:
                sync = syncs[pair] = DiffSync(store, venue, gate_symbol(pair))
            if kind == "snapshot":
                sync.on_snapshot(msg["bids"], msg["asks"], int(msg["id"]), ts,
                                 msg.get("update") or msg.get("current"))
            else:
                sync.on_diff(msg["b"], msg["a"], int(msg["U"]), int(msg["u"]), ts, msg.get("t"))
        except _BAD_LINE as exc:
            where = http_source if kind == "snapshot" else ws_source
            raise UsageError(f"{where}: a {kind} at {ts} ms is malformed: {type(exc).__name__}: {exc}") from None
        yield from _drain(out)
