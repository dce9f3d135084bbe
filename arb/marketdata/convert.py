"""Converters from raw venue recordings to the capture format, through the live sync code.

- Binance: ``<receive ns> <json>`` lines of combined-stream frames (``{"stream": ..., "data": ...}``) plus
  REST depth snapshot lines (``{"lastUpdateId": ...}``), as in ``tests/data/binance-spot-*.gz``.
- Gate: cryptofeed ``ws-samples`` recordings: ``GATEIO.ws.*`` (received frames ``<ts>: <json>``; sent
  frames and headers contain ``<-``/``<->``) and ``GATEIO.http.*`` (``<url> -> <ts>: <body>``: the
  ``order_book?with_id=true`` snapshots).

Both run the frames through :class:`DiffSync` and a :class:`BookStore` and emit what the store saw, so
a converted capture holds exactly the events a live feed would have recorded, gaps included.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureEvent
from arb.marketdata.diffsync import DiffSync


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


def binance_raw_events(lines: Iterable[bytes], symbol: str, venue: str = "binance") -> Iterator[CaptureEvent]:
    """Capture events from a raw Binance spot depth recording of one symbol."""
    store, out = _collecting_store()
    sync = DiffSync(store, venue, symbol)
    for raw in lines:
        raw = raw.strip()
        if not raw:
            continue
        ns, _, payload = raw.partition(b" ")
        ts = int(ns) // 1_000_000
        msg = orjson.loads(payload)
        if "lastUpdateId" in msg:
            sync.on_snapshot(msg["bids"], msg["asks"], msg["lastUpdateId"], ts)
        else:
            data = msg.get("data", msg)
            if data.get("e") == "depthUpdate":
                sync.on_diff(data["b"], data["a"], data["U"], data["u"], ts, data.get("E"))
        yield from _drain(out)


def binance_last_book_ticker(lines: Iterable[bytes]) -> tuple[str, str] | None:
    """The last ``bookTicker`` best bid/ask in a raw Binance recording (to check a rebuilt book)."""
    last = None
    for raw in lines:
        if b"bookTicker" in raw:
            data = orjson.loads(raw.partition(b" ")[2])["data"]
            last = (data["b"], data["a"])
    return last


# ---------------------------------------------------------------------- Gate


def _gate_ws_frames(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    for line in lines:
        line = line.strip()
        if not line or " <-" in line or " <->" in line:
            continue  # header or a frame we sent
        ts, _, payload = line.partition(": ")
        msg = orjson.loads(payload)
        if msg.get("channel") == "spot.order_book_update" and msg.get("event") == "update":
            yield _sec_to_ms(ts), msg["result"]


def _gate_http_snapshots(lines: Iterable[str]) -> Iterator[tuple[int, str, dict[str, Any]]]:
    for line in lines:
        line = line.strip()
        if not line:
            continue
        head, _, body = line.partition(": ")
        url, _, ts = head.partition(" -> ")
        query = parse_qs(urlsplit(url).query)
        if "currency_pair" not in query or not urlsplit(url).path.endswith("/spot/order_book"):
            continue
        yield _sec_to_ms(ts), query["currency_pair"][0], orjson.loads(body)


def gate_ws_sample_events(
    ws_lines: Iterable[str], http_lines: Iterable[str], venue: str = "gate"
) -> Iterator[CaptureEvent]:
    """Capture events from a Gate ``spot.order_book_update`` recording and its ``with_id`` snapshots.

    Frames and snapshots are merged by receive time (a snapshot received after a frame was fetched after
    it), then synced per pair by the update-id rule.
    """
    timeline: list[tuple[int, int, str, dict[str, Any]]] = []
    for ts, frame in _gate_ws_frames(ws_lines):
        timeline.append((ts, len(timeline), "diff", frame))
    for ts, pair, body in _gate_http_snapshots(http_lines):
        timeline.append((ts, len(timeline), "snapshot", {"pair": pair, **body}))
    timeline.sort(key=lambda item: (item[0], item[1]))
    store, out = _collecting_store()
    syncs: dict[str, DiffSync] = {}
    for ts, _, kind, msg in timeline:
        pair = msg["pair"] if kind == "snapshot" else msg["s"]
        sync = syncs.get(pair)
        if sync is None:
            sync = syncs[pair] = DiffSync(store, venue, gate_symbol(pair))
        if kind == "snapshot":
            sync.on_snapshot(msg["bids"], msg["asks"], int(msg["id"]), ts,
                             msg.get("update") or msg.get("current"))
        else:
            sync.on_diff(msg["b"], msg["a"], int(msg["U"]), int(msg["u"]), ts, msg.get("t"))
        yield from _drain(out)
