"""Raw Binance recordings -> capture events (``arb convert binance``), through the live sync code.

Input: ``<receive ns> <json>`` lines: combined-stream frames (``{"stream": ..., "data": ...}``:
``depthUpdate`` builds the book, ``trade`` gives the capture's trades when they are asked for (``arb
convert`` does), ``bookTicker`` is passed over) plus REST depth snapshot lines (``{"lastUpdateId": ...}``),
as hftbacktest records them. Spot, USD-M and COIN-M recordings are told apart
by what their lines carry (futures diffs carry ``pu``, COIN-M diffs ``ps``; futures snapshots ``T``, COIN-M
snapshots ``pair``), or named with ``market``; a line of another market is an error, never guessed past.

Receive times are clamped to be non-decreasing (the recorder stamps frames of one connection a few
microseconds out of order), so the capture stays in ``ts`` order, across depth and trades alike.
:class:`ConvertStats` says what happened to every depth update: used, already in a snapshot, or waiting for
a snapshot that lines up (before the first one, or after a gap when the recording has no later snapshot);
and to every trade: written, or passed over as another symbol's.

Trades are kept wherever they fall, before the first usable snapshot and across gaps too: a trade happened
on the venue whatever our book knew, and needs no book to be read (``docs/CAPTURE.md``). Trades that come
before the recording shows its market (spot, USD-M or COIN-M: told from the first depth line) wait for it.

A spot REST snapshot carries no exchange time (futures snapshots carry ``E``): it takes one from the first
diff applied on it, by the capture format's rule (``marketdata/capture/snapshot_time.py``), so a replay
applies it before that diff at the venue, as the venue did.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, overload

import orjson

from arb.display import printable
from arb.errors import CaptureFormatError, ConfigError, UsageError
from arb.marketdata.capture import CaptureEvent, CaptureLine, SnapshotTimes, bounded_lines
from arb.marketdata.convert import (
    BAD_LINE,
    Position,
    check_out,
    collecting_store,
    input_file,
    open_raw,
    stamped,
    write_capture,
)
from arb.marketdata.diffsync import DiffSync
from arb.venues.binance.markets import COINM, MARKETS, SPOT, USDM, BinanceMarket, market_of, split_symbol
from arb.venues.binance.sync import book_sync, on_depth_snapshot, on_depth_update
from arb.venues.binance.trades import funding_of, trade_of


@dataclass(slots=True)
class ConvertStats:
    """What a conversion did with the recording's depth updates and trades (filled in as it runs)."""

    market: BinanceMarket | None = None
    venue: str = ""
    symbol: str = ""
    updates: int = 0  # depthUpdate lines of the symbol
    snapshots: int = 0  # snapshot lines
    trades: int = 0  # trades of the symbol written (when asked for)
    other_trades: int = 0  # trades of another symbol, passed over
    funding: int = 0  # a perpetual's mark price updates written as funding lines (when trades are asked for)
    timed: int = 0  # snapshots without exchange time given one from their first diff
    sync: DiffSync | None = field(default=None, repr=False)

    @property
    def used(self) -> int:
        return self.sync.applied if self.sync else 0

    @property
    def contained(self) -> int:
        return self.sync.contained if self.sync else 0

    @property
    def waiting(self) -> int:
        return self.updates - self.used - self.contained

    @property
    def gaps(self) -> int:
        return self.sync.gaps if self.sync else 0

    def summary(self) -> str:
        label = self.market.label if self.market else "?"
        text = (f"{label} {self.symbol} as {self.venue}: used {self.used} of {self.updates} depth updates; "
                f"skipped {self.contained} already in a snapshot, {self.waiting} waiting for a snapshot that "
                f"lines up")
        if self.gaps:
            text += f"; {self.gaps} gap{'s' if self.gaps > 1 else ''} (book unusable until the next snapshot)"
        if self.trades or self.other_trades:
            text += f"; {self.trades} trades"
            if self.other_trades:
                text += f" (passed over {self.other_trades} of other symbols)"
        if self.funding:
            text += f"; {self.funding} funding lines (mark price and rate)"
        if self.timed:
            text += (f"; {self.timed} snapshot{'s' if self.timed > 1 else ''} without exchange time timed by "
                     "the first diff on it")
        return text


def _snapshot_market(body: Mapping[str, Any]) -> BinanceMarket:
    if "pair" in body or "symbol" in body:
        return COINM
    return USDM if "T" in body else SPOT


def _update_market(data: Mapping[str, Any]) -> BinanceMarket:
    if "pu" not in data:
        return SPOT
    return COINM if "ps" in data else USDM


def check_symbol(symbol: str, market: str | None = None) -> None:
    """Raise :class:`UsageError` when ``symbol`` is malformed, or does not fit ``market`` when it is named."""
    if market is not None:
        market_of(market).unified(symbol)
    else:
        split_symbol(symbol)


@overload
def raw_events(lines: Iterable[bytes], symbol: str, venue: str | None = None, *,
               source: str = "<binance recording>", market: str | None = None, stats: ConvertStats | None = None,
               trades: Literal[False] = False, at: Position | None = None) -> Iterator[CaptureEvent]: ...
@overload
def raw_events(lines: Iterable[bytes], symbol: str, venue: str | None = None, *,
               source: str = "<binance recording>", market: str | None = None, stats: ConvertStats | None = None,
               trades: bool, at: Position | None = None) -> Iterator[CaptureLine]: ...
def raw_events(lines: Iterable[bytes], symbol: str, venue: str | None = None, *,
               source: str = "<binance recording>", market: str | None = None,
               stats: ConvertStats | None = None, trades: bool = False,
               at: Position | None = None) -> Iterator[CaptureLine]:
    """Capture events from a raw Binance depth recording of one symbol (spot, USD-M or COIN-M), and with
    ``trades=True`` the symbol's trades, interleaved in receive order.

    ``venue`` defaults to the market's ccxt id; ``symbol`` is put in the market's unified form
    (``BTC/USDT`` on a USD-M recording is ``BTC/USDT:USDT``). Depth updates of another symbol are an error
    (spot and USD-M snapshot lines do not say their symbol, so a mixed recording cannot be split); so is a
    recording with no depth updates of ``symbol`` or no snapshot. A trade says its symbol: another symbol's
    is passed over (counted); a malformed one of ours is an error naming its line. ``at`` is kept at the
    line the events being yielded come from (for the writer's errors)."""
    stats = stats if stats is not None else ConvertStats()
    check_symbol(symbol, market)  # a malformed symbol fails before the first line
    fixed = market_of(market) if market is not None else None
    store, out = collecting_store()  # the store's events; trades join them in the order they are read
    times = SnapshotTimes()  # a spot snapshot's exchange time, from its first diff
    sync: DiffSync | None = None
    chosen: BinanceMarket | None = None
    wanted = ""  # Binance's id of the symbol, once the market is known
    waiting: list[tuple[int, int, dict[str, Any]]] = []  # trades before the market is known: (line, ts, data)
    last_ts = 0

    def choose(found: BinanceMarket) -> None:
        nonlocal chosen, wanted
        chosen = found
        stats.market, stats.symbol, stats.venue = found, found.unified(symbol), venue or found.ccxt_id
        wanted = found.venue_id(stats.symbol)

    def take_trade(line_no: int, ts: int, data: dict[str, Any]) -> None:
        """A trade, or a perpetual's mark price and funding rate (``markPriceUpdate``): the tape's lines."""
        funding = data.get("e") == "markPriceUpdate"
        if str(data.get("s", "")).upper() != wanted:
            stats.other_trades += not funding
            return
        try:
            out.append(funding_of(data, ts, stats.venue, stats.symbol) if funding
                       else trade_of(data, ts, stats.venue, stats.symbol))
        except (KeyError, ValueError) as exc:
            what = "mark price update" if funding else "trade"
            raise CaptureFormatError(source, line_no, f"a malformed {what}: {type(exc).__name__}: {exc}") from None
        if funding:
            stats.funding += 1
        else:
            stats.trades += 1

    def start(found: BinanceMarket, line_no: int, what: str) -> DiffSync:
        if chosen is not None and found is not chosen:
            raise CaptureFormatError(source, line_no, f"a {found.label} {what} in a {chosen.label} recording")
        choose(found)
        stats.sync = book_sync(store, found, stats.venue, stats.symbol)
        for waited in waiting:  # the market is known now: they are before this line's events
            take_trade(*waited)
        waiting.clear()
        return stats.sync

    def synced(found: BinanceMarket, line_no: int, what: str) -> DiffSync:
        """The book's sync for a depth line of market ``found``: started by the first one; a depth line of
        another market than the recording's is an error naming its line."""
        if sync is None:
            return start(found, line_no, what)
        if found is not chosen:
            raise CaptureFormatError(source, line_no, f"a {found.label} {what} in a "
                                     f"{chosen.label if chosen else '?'} recording")
        return sync

    if fixed is not None:
        choose(fixed)
    at = at if at is not None else Position()
    at.source = source
    for line_no, raw in enumerate(lines, 1):
        at.line_no = line_no
        raw = raw.strip()
        if not raw:
            continue
        try:
            ns, _, payload = raw.partition(b" ")
            ts = max(int(ns) // 1_000_000, last_ts)
            msg = orjson.loads(payload)
            if "lastUpdateId" in msg:
                sync = synced(_snapshot_market(msg), line_no, "depth snapshot")
                named = msg.get("symbol")
                if named is not None and named != wanted:
                    raise CaptureFormatError(source, line_no, f"a depth snapshot of {named!r}, not of "
                                             f"{stats.symbol} (the symbol asked for)")
                on_depth_snapshot(sync, msg, ts)
                stats.snapshots += 1
                last_ts = ts
            else:
                data = msg.get("data", msg)
                kind = data.get("e")
                if kind == "depthUpdate":
                    found = _update_market(data)
                    sync = synced(found, line_no, "depth update")
                    if str(data.get("s", "")).upper() != wanted:
                        raise CaptureFormatError(source, line_no, f"a depth update of {data.get('s')!r}, "
                                                 f"not of {stats.symbol} (the symbol asked for)")
                    on_depth_update(sync, data, ts, found.futures)
                    stats.updates += 1
                    last_ts = ts
                elif kind in ("trade", "markPriceUpdate") and trades:
                    if wanted:
                        take_trade(line_no, ts, data)
                    else:
                        waiting.append((line_no, ts, data))
                    last_ts = ts
        except UsageError as exc:  # the symbol does not fit the market the recording turned out to be
            raise UsageError(f"{source}: {exc}") from None
        except BAD_LINE as exc:
            raise CaptureFormatError(source, line_no, "not a raw Binance depth recording line "
                                     f"('<receive ns> <json>'): {type(exc).__name__}: {exc}") from None
        yield from stamped(times, out)
        out.clear()
        stats.timed = times.stamped
    yield from times.flush()
    if not stats.updates:
        raise UsageError(f"{source}: no Binance depth updates (depthUpdate) of {symbol} in it")
    if not stats.snapshots:
        raise UsageError(f"{source}: no depth snapshot line ({{\"lastUpdateId\": ...}}) to start the book from")


def last_book_ticker(lines: Iterable[bytes]) -> tuple[str, str] | None:
    """The last ``bookTicker`` best bid/ask in a raw Binance recording (to check a rebuilt book)."""
    last = None
    for raw in lines:
        if b"bookTicker" in raw:
            data = orjson.loads(raw.partition(b" ")[2])["data"]
            last = (data["b"], data["a"])
    return last


def add_convert_command(sub: Any) -> None:
    """``arb convert binance RAW --symbol S [--market auto|spot|usdm|coinm] --out FILE``."""
    b = sub.add_parser("binance", help="raw '<ns> <json>' depth and trade streams + REST snapshot line (spot, "
                       "USD-M, COIN-M)")
    b.add_argument("raw", type=Path)
    b.add_argument("--symbol", required=True, help="unified symbol: BTC/USDT, BTC/USDT:USDT (USD-M), BTC/USD:BTC (COIN-M)")
    b.add_argument("--market", choices=["auto", *MARKETS], default="auto",
                   help="which Binance market the recording is (default: told from its lines)")
    b.add_argument("--out", required=True, type=Path)
    b.set_defaults(func=cmd_convert)


def cmd_convert(args: argparse.Namespace) -> int:
    input_file(args.raw)
    market = None if args.market == "auto" else args.market
    stats = ConvertStats()
    try:
        check_symbol(args.symbol, market)
    except UsageError as exc:
        raise ConfigError("command line", "--symbol", str(exc)) from None
    check_out(args.out, args.raw)
    at = Position()
    with open_raw(args.raw) as fh:
        events = raw_events(bounded_lines(fh, str(args.raw)), args.symbol, source=str(args.raw), market=market,
                            stats=stats, trades=True, at=at)
        count = write_capture(events, args.out, str(args.raw), at)
    print(printable(f"wrote {count} events to {args.out}: {stats.summary()}"))
    return 0
