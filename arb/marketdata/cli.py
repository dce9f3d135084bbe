"""``arb record`` (live books -> capture file) and ``arb convert`` (raw venue recordings -> capture)."""

from __future__ import annotations

import argparse
import asyncio
import gzip
from pathlib import Path
from typing import Any

from arb.errors import ConfigError
from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureWriter
from arb.marketdata.gate_feed import GATE_REST_URL, GATE_WS_URL, GateBookFeed
from arb.marketdata.recorder import Feed, record


def register(subparsers: Any) -> None:
    rec = subparsers.add_parser("record", help="record live order books to a capture file")
    rec.add_argument("--venues", required=True, help="comma-separated ccxt exchange ids, e.g. gate,binance")
    rec.add_argument("--symbols", required=True, help="comma-separated unified symbols, e.g. BTC/USDT")
    rec.add_argument("--out", required=True, type=Path, help="capture file (.jsonl or .jsonl.gz)")
    rec.add_argument("--duration", type=float, default=None, help="seconds to record (default: until ^C)")
    rec.add_argument("--depth", type=int, default=20, help="levels per side kept from ccxt feeds")
    rec.add_argument("--gate-ws-url", default=GATE_WS_URL)
    rec.add_argument("--gate-rest-url", default=GATE_REST_URL)
    rec.set_defaults(func=cmd_record)

    conv = subparsers.add_parser("convert", help="convert raw venue recordings to the capture format")
    sub = conv.add_subparsers(dest="format", required=True)
    b = sub.add_parser("binance", help="raw '<ns> <json>' depth stream + REST snapshot line")
    b.add_argument("raw", type=Path)
    b.add_argument("--symbol", required=True)
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


def cmd_record(args: argparse.Namespace) -> int:
    venues = _split(args.venues, "--venues")
    symbols = _split(args.symbols, "--symbols")

    async def main() -> int:
        store = BookStore(depth=args.depth)
        feeds = build_feeds(venues, symbols, store, args)
        try:
            return await record(feeds, store, args.out, duration_s=args.duration)
        finally:
            for feed in feeds:
                exchange = getattr(feed, "exchange", None)
                if exchange is not None:
                    await exchange.close()

    count = asyncio.run(main())
    print(f"recorded {count} events to {args.out}")
    return 0


def cmd_convert_binance(args: argparse.Namespace) -> int:
    from arb.marketdata.convert import binance_raw_events

    opener = gzip.open if args.raw.suffix == ".gz" else open
    with opener(args.raw, "rb") as fh, CaptureWriter(args.out) as writer:
        writer.write_all(binance_raw_events(fh, args.symbol))
        count = writer.count
    print(f"wrote {count} events to {args.out}")
    return 0


def cmd_convert_gate(args: argparse.Namespace) -> int:
    from arb.marketdata.convert import gate_ws_sample_events

    with open(args.ws) as ws, open(args.http) as http, CaptureWriter(args.out) as writer:
        writer.write_all(gate_ws_sample_events(ws, http))
        count = writer.count
    print(f"wrote {count} events to {args.out}")
    return 0
