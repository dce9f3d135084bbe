"""Resting orders on a real recording: post-only bids and asks at and behind the touch on Binance BTC/USDT
spot (6 minutes of depth diffs and 9,757 trades), simulated by the paper venue on ``arb convert binance``'s
capture (its book and trades fed as the market source feeds them), and every fill (time, amount) checked
against a recomputation straight from the raw recording under the documented queue rule
(``arb/venues/sim/matching.py``):

- an order joins behind the displayed size at its price; what is ahead only shrinks, by trades at its price
  and to the level's new size when the book shows less there;
- it fills at its own price by trades at its price (after the queue ahead), by trades through it (up to
  their amount, shared in price priority), and when the book crosses it (taking the crossing levels).

The recomputation shares no code with arb: its own JSON parsing, its own Binance snapshot + diff sync, its
own book and queue bookkeeping. The same fills reach a listener of the venue's fill stream, once each."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from arb.cli import main
from arb.domain.market import MarketRules, Side
from arb.domain.venue import FillReport, OrderRequest
from arb.marketdata.capture import CaptureTrade
from arb.marketdata.timeline import read_timeline
from arb.venues.paper import PaperConfig, PaperVenue

RAW = Path(__file__).parents[2] / "data" / "binance-spot-btcusdt-20240808.gz"
SYMBOL = "BTC/USDT"
D = Decimal
STEP = D("0.01")
AMOUNT = D("0.5")
# Three rounds of four orders, after the book's snapshot: the market falls through the first round's bids
# and bounces up through the later rounds' asks.
ROUNDS_MS = (60_000, 220_000, 260_000)
OFFSETS = (D(0), D(-2), D(0), D(2))  # bid at the touch, bid 2 USDT behind, ask at the touch, ask 2 behind
SIDES = (Side.BUY, Side.BUY, Side.SELL, Side.SELL)


# ---- the recomputation, from the raw recording ----------------------------------------------------------
@dataclass
class Resting:
    side: str
    price: Decimal
    left: Decimal
    ahead: Decimal
    fills: list[tuple[int, Decimal]] = field(default_factory=list)


def _raw_events() -> list[tuple[int, str, dict]]:
    """(ts ms, kind, data) in file order: ``snapshot`` once synced (with the diffs buffered before it that
    follow it), then ``diff``s that continue the chain, and ``trade``s. ts: receive time, never decreasing."""
    out: list[tuple[int, str, dict]] = []
    buffered: list[tuple[int, dict]] = []
    last_id: int | None = None
    last_ts = 0
    with gzip.open(RAW, "rb") as f:
        for line in f:
            ns, _, body = line.partition(b" ")
            ts = last_ts = max(int(ns) // 1_000_000, last_ts)
            msg = json.loads(body)
            if "lastUpdateId" in msg:
                last_id = msg["lastUpdateId"]
                out.append((ts, "snapshot", msg))
                for _, diff in buffered:
                    if diff["u"] > last_id:
                        assert diff["U"] <= last_id + 1
                        out.append((ts, "diff", diff))
                        last_id = diff["u"]
                continue
            data = msg["data"]
            if data.get("e") == "trade":
                out.append((ts, "trade", data))
            elif data.get("e") == "depthUpdate":
                if last_id is None:
                    buffered.append((ts, data))
                elif data["u"] > last_id:
                    assert data["U"] == last_id + 1, "the recording's chain is complete"
                    out.append((ts, "diff", data))
                    last_id = data["u"]
    return out


def _recompute(events: list[tuple[int, str, dict]]) -> tuple[list[int], list[Decimal], list[Resting]]:
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}

    def set_levels(book: dict[Decimal, Decimal], levels: list[list[str]]) -> None:
        for p, q in levels:
            if D(q) == 0:
                book.pop(D(p), None)
            else:
                book[D(p)] = D(q)

    start = next(ts for ts, kind, _ in events if kind == "snapshot")
    rounds = [start + after for after in ROUNDS_MS]
    orders: list[Resting] = []
    prices: list[Decimal] = []
    for ts, kind, data in events:
        if len(orders) < 4 * len(rounds) and ts > rounds[len(orders) // 4]:
            # Every event at or before the round's instant is in (the arrival rule): place its four.
            best_bid, best_ask = max(bids), min(asks)
            for side, offset in zip(SIDES, OFFSETS, strict=True):  # the round's four
                price = best_bid + offset if side is Side.BUY else best_ask + offset
                book = bids if side is Side.BUY else asks
                orders.append(Resting(side.value, price, AMOUNT, book.get(price, D(0))))
                prices.append(price)
        if kind == "snapshot":
            bids, asks = {}, {}
            set_levels(bids, data["bids"])
            set_levels(asks, data["asks"])
        elif kind == "diff":
            set_levels(bids, data["b"])
            set_levels(asks, data["a"])
        if not orders:
            continue
        if kind == "trade":
            price, left = D(data["p"]), D(data["q"])
            hit = "sell" if data["m"] is False else "buy"  # m: the buyer was the maker, so a sell took it
            reached = [o for o in orders if o.side == hit and o.left > 0
                       and (o.price >= price if hit == "buy" else o.price <= price)]
            reached.sort(key=lambda o: -o.price if hit == "buy" else o.price)
            for o in reached:
                if o.price == price:
                    used = min(o.ahead, left)
                    o.ahead -= used
                    left -= used
                take = min(left, o.left)
                if take > 0:
                    left -= take
                    o.left -= take
                    o.fills.append((ts, take))
            continue
        for o in orders:
            if o.left == 0:
                continue
            own, other = (bids, asks) if o.side == "buy" else (asks, bids)
            o.ahead = min(o.ahead, own.get(o.price, D(0)))
            crossing = sorted(p for p in other if (p <= o.price if o.side == "buy" else p >= o.price))
            for p in crossing if o.side == "buy" else reversed(crossing):
                take = min(o.left, other[p])
                if take <= 0:
                    break
                o.left -= take
                o.fills.append((ts, take))
                other[p] -= take  # taken until the market sets the level again
                if other[p] == 0:
                    del other[p]
    return rounds, prices, orders


def _initial_queue(price: Decimal, at: int) -> Decimal:
    """The bid size shown at ``price`` when the first round was placed, recomputed once more."""
    bids: dict[Decimal, Decimal] = {}
    for ts, kind, data in _raw_events():
        if ts > at:
            break
        if kind == "snapshot":
            bids = {D(p): D(q) for p, q in data["bids"]}
        elif kind == "diff":
            bids.update({D(p): D(q) for p, q in data["b"]})
    return bids.get(price, D(0))


# ---- arb ---------------------------------------------------------------------------------------------------
async def _simulated(capture: Path, rounds: list[int], prices: list[Decimal]) -> list[list[tuple[int, Decimal]]]:
    rules = MarketRules("binance", SYMBOL, STEP, D("0.00001"), D("0.00001"), D("5"))
    venue = PaperVenue("binance", None, {SYMBOL: rules}, {"USDT": D("10000000"), "BTC": D("100")},
                       config=PaperConfig(fee_rate=D("0.001"), maker_fee_rate=D("-0.0001")))
    pushed: list[FillReport] = []
    venue.watch_fills(pushed.append)
    placed = 0
    for event in read_timeline(capture, trades=True):
        if placed < len(prices) and event.ts > rounds[placed // 4]:
            for i in range(placed, placed + 4):
                report = await venue.place(OrderRequest(f"q{i}", SYMBOL, SIDES[i % 4], AMOUNT, prices[i], "poc"))
                assert report.filled == 0 and report.state.value == "open", report  # post-only: it rests
            placed += 4
        if isinstance(event, CaptureTrade):
            venue.on_trade(SYMBOL, D(event.price), D(event.amount), event.side, event.ts)
        else:
            venue.on_book(SYMBOL, event.type, event.bids, event.asks, event.ts)
    fills = await venue.fetch_fills(SYMBOL, datetime(2000, 1, 1, tzinfo=UTC))
    # The fill stream (what a maker quote is hedged from) pushed every fill once, as the venue reports them,
    # each at the maker rate: a rebate, paid in what the fill gives (a buy's base, a sell's quote).
    assert pushed == fills and len({f.trade_id for f in pushed}) == len(pushed) > 0
    assert all(f.fee == -(f.amount if f.side is Side.BUY else f.amount * f.price) * D("0.0001") for f in pushed)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return [[((f.ts - epoch) // timedelta(milliseconds=1), f.amount) for f in fills if f.client_order_id == f"q{i}"]
            for i in range(len(prices))]


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("queue") / "btc.jsonl.gz"
    assert main(["convert", "binance", str(RAW), "--symbol", SYMBOL, "--out", str(out)]) == 0
    return out


async def test_resting_orders_fill_as_the_recording_and_the_queue_rule_say(capture: Path) -> None:
    rounds, prices, expected = _recompute(_raw_events())
    simulated = await _simulated(capture, rounds, prices)
    assert simulated == [o.fills for o in expected]
    # Something to compare: bids and asks, at and behind the touch, filled, over many prints; and the queue
    # held the first touch bid back: sells printed at its price before its first fill went to the queue ahead.
    filled = [sum((a for _, a in fills), D(0)) for fills in simulated]
    assert all(any(filled[i] for i in range(k, len(filled), 4)) for k in range(4)), filled
    assert len(simulated[0]) > 1 and len(simulated[1]) > 1, simulated  # print by print, not one crossing
    held = sum(D(d["q"]) for ts, kind, d in _raw_events() if kind == "trade" and rounds[0] < ts < simulated[0][0][0]
               and D(d["p"]) == prices[0] and d["m"] is True)
    assert 0 < held < _initial_queue(prices[0], rounds[0]), held
