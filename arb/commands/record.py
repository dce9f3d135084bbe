"""``arb record`` (live books -> capture file) and ``arb convert`` (raw venue recordings -> capture).

Both fail fast and honestly: malformed arguments are rejected before anything connects (exit 2); a
recording that reaches no venue gives up after ``--connect-timeout`` seconds (exit 1); a conversion whose
inputs are not what the command expects, or that yields no events, exits non-zero. Neither leaves an empty
or partial output file behind.

Venues come from the registry: ``arb record --venues`` takes what a config's venue names take (an arb
adapter key or a ccxt exchange id), each recorded by its adapter's own book feed, which records the venue's
public trades too where it can subscribe to them, and a perpetual's mark and funding rate as funding lines
(Binance USD-M and COIN-M, Gate USDT perpetuals); ``arb convert`` has one subcommand per adapter with a
converter.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from arb.display import printable
from arb.domain.market import Symbol
from arb.errors import ConfigError
from arb.eventloop.clock import wall_ms
from arb.marketdata.books import BookStore
from arb.marketdata.convert import check_out
from arb.marketdata.drops import FrameDrops
from arb.marketdata.feed_setup import FeedSetup
from arb.marketdata.recorder import Feed, record
from arb.marketdata.trades import TradeTape
from arb.venues.adapter import Endpoint
from arb.venues.registry import ADAPTERS, UnknownVenue, resolve

# The deepest book a recording can hold: the deepest snapshot any venue serves (a spot REST snapshot of 5,000
# levels per side is the largest); more levels than a venue ever sends record nothing more, and the books are
# allocated at their depth (--depth 10^7 took 2.5 GB before it connected).
MAX_DEPTH = 5000


def register(subparsers: Any) -> None:
    rec = subparsers.add_parser("record")
    rec.add_argument("--venues", required=True,
                     help=f"comma-separated venues: an arb adapter ({', '.join(ADAPTERS)}) or a ccxt exchange id")
    rec.add_argument("--symbols", required=True, help="comma-separated unified symbols, e.g. BTC/USDT")
    rec.add_argument("--out", required=True, type=Path, help="capture file (.jsonl or .jsonl.gz)")
    rec.add_argument("--duration", type=float, default=None, help="seconds to record (default: until ^C)")
    rec.add_argument("--connect-timeout", type=float, default=30.0, metavar="SECONDS",
                     help="give up (exit 1, no file) when no venue has delivered a book by then (default: 30)")
    rec.add_argument("--depth", type=int, default=20, help=f"levels per side kept in the recorded books, 1 to {MAX_DEPTH} (default: 20)")
    rec.add_argument("--market", action="append", default=[], metavar="VENUE:SYMBOL=NAME",
                     help="VENUE names SYMBOL's market NAME (e.g. htx:LINK/USDT=LNK/USDT; a USDT perpetual "
                          "as ccxt names a contract: VENUE:ETH/USDT=ETH/USDT:USDT): subscribed as NAME, recorded "
                          "as SYMBOL, as a config's market_names does; repeatable")
    rec.add_argument("--endpoint", action="append", default=[], metavar="VENUE=REST_URL,WS_URL",
                     help="connect VENUE's feed to these URLs instead of the venue's servers (a sandbox or a "
                          "proxy); for venues with their own adapter; repeatable")
    rec.set_defaults(func=cmd_record)

    conv = subparsers.add_parser("convert")
    sub = conv.add_subparsers(dest="format", required=True)
    for adapter in ADAPTERS.values():
        adapter.add_convert_command(sub)


def _split(text: str, key: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise ConfigError("command line", key, "give at least one value")
    return items


def _endpoints(values: list[str], venues: list[str]) -> dict[str, Endpoint]:
    found: dict[str, Endpoint] = {}
    for value in values:
        name, eq, urls = value.partition("=")
        rest_url, comma, ws_url = urls.partition(",")
        if not eq or not comma or not rest_url.startswith("http") or not ws_url.startswith("ws"):
            raise ConfigError("command line", "--endpoint", f"{value!r} is not VENUE=REST_URL,WS_URL "
                              "(http(s)://... and ws(s)://...)")
        if name not in venues:
            raise ConfigError("command line", "--endpoint", f"{name!r} is not one of --venues")
        found[name] = Endpoint(rest_url, ws_url)
    return found


def _markets(values: list[str], venues: list[str], symbols: list[str]) -> dict[str, dict[str, str]]:
    """``--market VENUE:SYMBOL=NAME`` options as venue -> engine symbol -> the venue's name for it."""
    found: dict[str, dict[str, str]] = {}
    for value in values:
        venue, colon, rest = value.partition(":")
        symbol, eq, name = rest.partition("=")
        if not colon or not eq:
            raise ConfigError("command line", "--market", f"{value!r} is not VENUE:SYMBOL=NAME "
                              "(e.g. htx:LINK/USDT=LNK/USDT)")
        if venue not in venues:
            raise ConfigError("command line", "--market", f"{venue!r} is not one of --venues")
        if symbol not in symbols:
            raise ConfigError("command line", "--market", f"{symbol!r} is not one of --symbols")
        try:
            Symbol.parse_market(name)  # a pair, or a contract: ETH/USDT:USDT, a USDT perpetual
        except ValueError as exc:
            raise ConfigError("command line", "--market", f"{value}: {exc}") from None
        if symbol in found.get(venue, {}):
            raise ConfigError("command line", "--market", f"{venue} {symbol} named twice")
        found.setdefault(venue, {})[symbol] = name
    return found


def build_feeds(venues: list[str], symbols: list[str], store: BookStore, args: argparse.Namespace,
                trades: TradeTape | None = None) -> list[Feed]:
    """Each venue's own book feed, from its adapter (checked before anything connects), putting the venue's
    trades and a perpetual's funding lines on ``trades`` where it can."""
    endpoints = _endpoints(args.endpoint, venues)
    markets = _markets(args.market, venues, symbols)
    drops = FrameDrops()
    feeds: list[Feed] = []
    for venue in venues:
        try:
            ref = resolve(venue)
        except UnknownVenue as exc:
            raise ConfigError("command line", "--venues", str(exc)) from None
        refusal = ref.adapter.books_refusal(ref.ccxt_id)
        if refusal is not None:
            raise ConfigError("command line", "--venues", f"{venue}: {refusal}")
        try:
            setup = FeedSetup(ref.name, clock_ms=wall_ms, drops=drops, market_names=markets.get(venue, {}),
                              trades=trades)
            feeds.append(ref.adapter.book_feed(ref, store, symbols, setup, depth=args.depth,
                                               endpoint=endpoints.get(venue)))
        except ValueError as exc:
            raise ConfigError("command line", "--endpoint", f"{venue}: {exc}") from None
    return feeds


def _symbols(text: str) -> list[str]:
    symbols = _split(text, "--symbols")
    for symbol in symbols:
        try:
            Symbol.parse(symbol)
        except ValueError as exc:
            raise ConfigError("command line", "--symbols", str(exc)) from None
    return symbols


def cmd_record(args: argparse.Namespace) -> int:
    venues = _split(args.venues, "--venues")
    symbols = _symbols(args.symbols)
    check_out(args.out)
    for option, value in (("--duration", args.duration), ("--connect-timeout", args.connect_timeout)):
        if value is not None and not 0 < value < float("inf"):
            raise ConfigError("command line", option, f"must be a positive number of seconds (got {value})")
    if not 1 <= args.depth <= MAX_DEPTH:
        raise ConfigError("command line", "--depth", f"must be 1 to {MAX_DEPTH}, the deepest snapshot a venue "
                          f"serves (got {args.depth})")
    seen: set[str] = set()

    tape = TradeTape()

    async def main() -> int:
        store = BookStore(depth=args.depth)
        store.add_listener(lambda event, _book: seen.add(event.venue))
        feeds = build_feeds(venues, symbols, store, args, tape)
        try:
            return await record(feeds, store, args.out, duration_s=args.duration,
                                connect_timeout_s=args.connect_timeout, trades=tape)
        finally:
            for feed in feeds:
                exchange = getattr(feed, "exchange", None)
                if exchange is not None:
                    await exchange.close()

    count = asyncio.run(main())
    silent = [venue for venue in venues if venue not in seen]
    note = f" (nothing from {', '.join(silent)})" if silent else ""
    print(printable(f"recorded {count} events ({tape.trades} trades, {tape.funding_lines} funding lines) "
                    f"to {args.out}{note}"))
    return 0
