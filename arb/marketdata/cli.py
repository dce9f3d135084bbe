"""``arb record`` (live books -> capture file) and ``arb convert`` (raw venue recordings -> capture).

Both fail fast and honestly: malformed arguments are rejected before anything connects (exit 2); a
recording that reaches no venue gives up after ``--connect-timeout`` seconds (exit 1); a conversion whose
inputs are not what the command expects, or that yields no events, exits non-zero. Neither leaves an empty
or partial output file behind.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, cast

from arb.display import printable
from arb.domain.market import Symbol
from arb.errors import ConfigError, UsageError
from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureEvent, CaptureWriter
from arb.marketdata.recorder import Feed, partial_path, record
from arb.venues.gate.feed import GATE_REST_URL, GATE_WS_URL, GateBookFeed


def register(subparsers: Any) -> None:
    rec = subparsers.add_parser("record", help="record live order books to a capture file")
    rec.add_argument("--venues", required=True, help="comma-separated ccxt exchange ids, e.g. gate,binance")
    rec.add_argument("--symbols", required=True, help="comma-separated unified symbols, e.g. BTC/USDT")
    rec.add_argument("--out", required=True, type=Path, help="capture file (.jsonl or .jsonl.gz)")
    rec.add_argument("--duration", type=float, default=None, help="seconds to record (default: until ^C)")
    rec.add_argument("--connect-timeout", type=float, default=30.0, metavar="SECONDS",
                     help="give up (exit 1, no file) when no venue has delivered a book by then (default: 30)")
    rec.add_argument("--depth", type=int, default=20, help="levels per side kept from ccxt feeds")
    rec.add_argument("--gate-ws-url", default=GATE_WS_URL)
    rec.add_argument("--gate-rest-url", default=GATE_REST_URL)
    rec.set_defaults(func=cmd_record)

    conv = subparsers.add_parser("convert", help="convert raw venue recordings to the capture format")
    sub = conv.add_subparsers(dest="format", required=True)
    b = sub.add_parser("binance", help="raw '<ns> <json>' depth stream + REST snapshot line (spot, USD-M, COIN-M)")
    b.add_argument("raw", type=Path)
    b.add_argument("--symbol", required=True, help="unified symbol: BTC/USDT, BTC/USDT:USDT (USD-M), BTC/USD:BTC (COIN-M)")
    b.add_argument("--market", choices=["auto", "spot", "usdm", "coinm"], default="auto",
                   help="which Binance market the recording is (default: told from its lines)")
    b.add_argument("--out", required=True, type=Path)
    b.set_defaults(func=cmd_convert_binance)
    g = sub.add_parser("gate", help="spot.order_book_update frames + order_book?with_id=true snapshots")
    g.add_argument("ws", type=Path)
    g.add_argument("http", type=Path)
    g.add_argument("--out", required=True, type=Path)
    g.set_defaults(func=cmd_convert_gate)


def _split(text: str, key: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise ConfigError("command line", key, "give at least one value")
    return items


def build_feeds(venues: list[str], symbols: list[str], store: BookStore, args: argparse.Namespace) -> list[Feed]:
    import ccxt.pro

    feeds: list[Feed] = []
    for venue in venues:
        if venue == "gate":  # our own update-id sync (ccxt's gate spot feed does not detect gaps)
            feeds.append(GateBookFeed(store, symbols, ws_url=args.gate_ws_url, rest_url=args.gate_rest_url))
            continue
        if venue not in ccxt.pro.exchanges:
            raise ConfigError("command line", "--venues", f"unknown ccxt exchange id {venue!r}")
        from arb.marketdata.ccxt_feed import CcxtBookFeed

        feeds.append(CcxtBookFeed(store, getattr(ccxt.pro, venue)(), symbols, limit=args.depth))
    return feeds


def _symbols(text: str) -> list[str]:
    symbols = _split(text, "--symbols")
    for symbol in symbols:
        try:
            Symbol.parse(symbol)
        except ValueError as exc:
            raise ConfigError("command line", "--symbols", str(exc)) from None
    return symbols


def _check_out(out: Path) -> None:
    if not out.parent.is_dir():
        raise ConfigError("command line", "--out", f"directory {str(out.parent)!r} does not exist")
    if out.is_dir():
        raise ConfigError("command line", "--out", f"{str(out)!r} is a directory")


def cmd_record(args: argparse.Namespace) -> int:
    venues = _split(args.venues, "--venues")
    symbols = _symbols(args.symbols)
    _check_out(args.out)
    for option, value in (("--duration", args.duration), ("--connect-timeout", args.connect_timeout)):
        if value is not None and not 0 < value < float("inf"):
            raise ConfigError("command line", option, f"must be a positive number of seconds (got {value})")
    if args.depth < 1:
        raise ConfigError("command line", "--depth", f"must be at least 1 (got {args.depth})")
    seen: set[str] = set()

    async def main() -> int:
        store = BookStore(depth=args.depth)
        store.add_listener(lambda event, _book: seen.add(event.venue))
        feeds = build_feeds(venues, symbols, store, args)
        try:
            return await record(feeds, store, args.out, duration_s=args.duration,
                                connect_timeout_s=args.connect_timeout)
        finally:
            for feed in feeds:
                exchange = getattr(feed, "exchange", None)
                if exchange is not None:
                    await exchange.close()

    count = asyncio.run(main())
    silent = [venue for venue in venues if venue not in seen]
    note = f" (nothing from {', '.join(silent)})" if silent else ""
    print(printable(f"recorded {count} events to {args.out}{note}"))
    return 0


def _input(path: Path) -> Path:
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    return path


def _open_raw(path: Path) -> IO[bytes]:
    """A raw recording, gunzipped when it is gzip (by its magic bytes, not its name)."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return cast(IO[bytes], gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb"))


def _convert(events: Iterable[CaptureEvent], out: Path, inputs: str) -> int:
    """Write ``events`` to ``out`` through a partial file that becomes ``out`` only when the conversion
    finished with at least one event: a failed or empty conversion leaves nothing behind."""
    partial = partial_path(out)
    try:
        with CaptureWriter(partial) as writer:
            writer.write_all(events)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        partial.unlink(missing_ok=True)
        raise UsageError(f"{inputs}: cannot read the input: {exc.__class__.__name__}: {exc}") from None
    except ValueError as exc:  # the writer refuses events out of time order
        partial.unlink(missing_ok=True)
        raise UsageError(f"{inputs}: {exc}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if not writer.count:
        partial.unlink(missing_ok=True)
        raise UsageError(f"{inputs}: nothing to convert: no book events came out; {out} not written")
    os.replace(partial, out)
    return writer.count


def cmd_convert_binance(args: argparse.Namespace) -> int:
    from arb.marketdata.convert import ConvertStats, binance_raw_events, check_binance_symbol

    _input(args.raw)
    market = None if args.market == "auto" else args.market
    stats = ConvertStats()
    try:
        check_binance_symbol(args.symbol, market)
    except UsageError as exc:
        raise ConfigError("command line", "--symbol", str(exc)) from None
    _check_out(args.out)
    with _open_raw(args.raw) as fh:
        events = binance_raw_events(fh, args.symbol, source=str(args.raw), market=market, stats=stats)
        count = _convert(events, args.out, str(args.raw))
    print(printable(f"wrote {count} events to {args.out}: {stats.summary()}"))
    return 0


def cmd_convert_gate(args: argparse.Namespace) -> int:
    from arb.marketdata.convert import gate_ws_sample_events

    _input(args.ws)
    _input(args.http)
    _check_out(args.out)
    # errors="replace": a binary file is then a malformed first line (file:line), not a decoding traceback.
    with open(args.ws, errors="replace") as ws, open(args.http, errors="replace") as http:
        events = gate_ws_sample_events(ws, http, ws_source=str(args.ws), http_source=str(args.http))
        count = _convert(events, args.out, f"{args.ws} + {args.http}")
    print(printable(f"wrote {count} events to {args.out}"))
    return 0
