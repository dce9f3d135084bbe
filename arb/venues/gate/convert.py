"""Gate recordings -> capture events (``arb convert gate``), through the live sync code.

Input: cryptofeed ``ws-samples`` recordings: ``GATEIO.ws.*`` (received frames ``<ts>: <json>``; sent frames
and headers contain ``<-``/``<->``) and ``GATEIO.http.*`` (``<url> -> <ts>: <body>``: the
``order_book?with_id=true`` snapshots). Frames and snapshots are merged by receive time and synced per pair
by the update-id rule (:class:`DiffSync`), so the capture holds exactly what a live feed would have
recorded, gaps included. With trades asked for (``arb convert gate`` asks), every ``spot.trades`` update
becomes a trade in its place on that timeline, of any pair, before its book's first snapshot too (a trade
needs no book). Inputs are checked, not guessed at (``arb/marketdata/convert.py``).
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal, overload
from urllib.parse import parse_qs, urlsplit

import orjson

from arb.display import printable
from arb.errors import CaptureFormatError, UsageError
from arb.marketdata.capture import CaptureEvent, CaptureLine, SnapshotTimes, bounded_lines
from arb.marketdata.convert import (
    BAD_LINE,
    Position,
    check_out,
    collecting_store,
    input_file,
    stamped,
    write_capture,
)
from arb.marketdata.diffsync import DiffSync
from arb.venues.gate import trades as gate_trades


def gate_symbol(currency_pair: str) -> str:
    """``BTC_USDT`` -> ``BTC/USDT``."""
    base, _, quote = currency_pair.partition("_")
    if not base or not quote:
        raise ValueError(f"not a Gate currency pair: {currency_pair!r}")
    return f"{base}/{quote}"


def _sec_to_ms(text: str) -> int:
    return int(Decimal(text) * 1000)


def _gate_ws_frames(lines: Iterable[str], source: str, venue: str,
                    trades: bool) -> Iterator[tuple[int, int, dict[str, Any] | CaptureLine]]:
    """``(receive ms, line, diff)`` for every ``spot.order_book_update`` update, and with ``trades``
    ``(receive ms, line, trade)`` for every ``spot.trades`` update, in the recording's order."""
    for line_no, line in enumerate(lines, 1):
        line = line.strip()
        if not line or " <-" in line or " <->" in line:
            continue  # header or a frame we sent
        try:
            ts, _, payload = line.partition(": ")
            ts_ms, msg = _sec_to_ms(ts), orjson.loads(payload)
            channel = msg.get("channel")
            if channel == "spot.order_book_update" and msg.get("event") == "update":
                yield ts_ms, line_no, dict(msg["result"])
            elif trades and channel == gate_trades.CHANNEL and msg.get("event") == "update":
                result = msg["result"]
                yield ts_ms, line_no, gate_trades.trade_of(result, ts_ms, venue,
                                                           gate_symbol(result["currency_pair"]))
        except BAD_LINE as exc:
            raise CaptureFormatError(source, line_no, "not a Gate WebSocket recording line ('<ts>: <json frame>'; "
                                     f"the HTTP recording goes second): {type(exc).__name__}: {exc}") from None


def _gate_http_snapshots(lines: Iterable[str], source: str) -> Iterator[tuple[int, int, str, dict[str, Any]]]:
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
            yield _sec_to_ms(ts), line_no, query["currency_pair"][0], dict(orjson.loads(body))
        except BAD_LINE as exc:
            raise CaptureFormatError(source, line_no, f"not a Gate order book snapshot: {type(exc).__name__}") from None


@overload
def gate_ws_sample_events(
    ws_lines: Iterable[str], http_lines: Iterable[str], venue: str = "gate", *,
    ws_source: str = "<gate ws recording>", http_source: str = "<gate http recording>",
    trades: Literal[False] = False, at: Position | None = None,
) -> Iterator[CaptureEvent]: ...
@overload
def gate_ws_sample_events(
    ws_lines: Iterable[str], http_lines: Iterable[str], venue: str = "gate", *,
    ws_source: str = "<gate ws recording>", http_source: str = "<gate http recording>", trades: bool,
    at: Position | None = None,
) -> Iterator[CaptureLine]: ...
def gate_ws_sample_events(
    ws_lines: Iterable[str], http_lines: Iterable[str], venue: str = "gate", *,
    ws_source: str = "<gate ws recording>", http_source: str = "<gate http recording>", trades: bool = False,
    at: Position | None = None,
) -> Iterator[CaptureLine]:
    """Capture events from a Gate ``spot.order_book_update`` recording and its ``with_id`` snapshots, and
    with ``trades=True`` the recording's ``spot.trades`` updates as trades, in their place.

    Frames and snapshots are merged by receive time (a snapshot received after a frame was fetched after
    it), then synced per pair by the update-id rule. An input with no book frames, or no snapshots, is an
    error; so is a malformed trade frame or snapshot (naming its line). ``at`` is kept at the input line the
    events being yielded come from (for the writer's errors).
    """
    timeline: list[tuple[int, int, str, Any, int]] = []  # (ts, order, kind, item, line of its recording)
    diffs = 0
    for ts, line_no, item in _gate_ws_frames(ws_lines, ws_source, venue, trades):
        if isinstance(item, dict):
            timeline.append((ts, len(timeline), "diff", item, line_no))
            diffs += 1
        else:
            timeline.append((ts, len(timeline), "trade", item, line_no))
    if not diffs:
        raise UsageError(f"{ws_source}: no spot.order_book_update frames in it (is it the WebSocket recording?)")
    frames = len(timeline)
    for ts, line_no, pair, body in _gate_http_snapshots(http_lines, http_source):
        timeline.append((ts, len(timeline), "snapshot", {"pair": pair, **body}, line_no))
    if len(timeline) == frames:
        raise UsageError(f"{http_source}: no spot/order_book snapshots in it (is it the HTTP recording?)")
    timeline.sort(key=lambda item: (item[0], item[1]))
    store, out = collecting_store()
    syncs: dict[str, DiffSync] = {}
    times = SnapshotTimes()  # Gate's snapshots say their time; one without it takes its first diff's
    at = at if at is not None else Position()
    for ts, _, kind, msg, line_no in timeline:
        at.source, at.line_no = (http_source if kind == "snapshot" else ws_source), line_no
        if kind == "trade":
            yield from stamped(times, (msg,))
            continue
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
        except BAD_LINE as exc:
            raise CaptureFormatError(at.source, line_no, f"a malformed {kind}: {type(exc).__name__}: {exc}"
                                     ) from None
        yield from stamped(times, out)
        out.clear()
    yield from times.flush()


def add_convert_command(sub: Any) -> None:
    """``arb convert gate WS HTTP --out FILE``."""
    g = sub.add_parser("gate", help="spot.order_book_update and spot.trades frames + order_book?with_id=true "
                       "snapshots")
    g.add_argument("ws", type=Path)
    g.add_argument("http", type=Path)
    g.add_argument("--out", required=True, type=Path)
    g.set_defaults(func=cmd_convert)


def cmd_convert(args: argparse.Namespace) -> int:
    input_file(args.ws)
    input_file(args.http)
    check_out(args.out, args.ws, args.http)
    kinds: Counter[str] = Counter()
    at = Position()
    with open(args.ws, "rb") as ws, open(args.http, "rb") as http:
        events = gate_ws_sample_events(_text_lines(ws, str(args.ws)), _text_lines(http, str(args.http)),
                                       ws_source=str(args.ws), http_source=str(args.http), trades=True, at=at)
        count = write_capture(_counted(events, kinds), args.out, f"{args.ws} + {args.http}", at)
    print(printable(f"wrote {count} events to {args.out}: {count - kinds['trade']} book events, "
                    f"{kinds['trade']} trades"))
    return 0


def _text_lines(fh: IO[bytes], source: str) -> Iterator[str]:
    """A recording's lines as text, each bounded before it is decoded (``capture.bounded_lines``);
    ``errors="replace"``: a binary file is then a malformed first line (file:line), not a decoding
    traceback."""
    for raw in bounded_lines(fh, source):
        yield raw.decode(errors="replace")


def _counted(events: Iterable[CaptureLine], kinds: Counter[str]) -> Iterator[CaptureLine]:
    """``events``, each counted by type in ``kinds`` as it passes."""
    for event in events:
        kinds[event.type] += 1
        yield event
