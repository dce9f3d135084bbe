"""One matcher: the same order stream, against the same book timeline (and trades), sent to the paper venue
in-process and to the Gate sandbox over loopback (a real ccxt gate client, signed requests), gives the same
fills, the same order outcomes and the same balances."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from execution.sandbox_rig import PAIR, SYMBOL, live_gate, sandbox_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arb.domain.market import MarketRules, Side
from arb.domain.venue import OrderRequest, Venue
from arb.errors import ArbError
from arb.venues.gate.sandbox import Sandbox
from arb.venues.paper import PaperConfig, PaperVenue

D = Decimal
START = {"USDT": D("100000"), "LINK": D("1000")}
RULES = MarketRules("paper", SYMBOL, D("0.01"), D("0.01"), PAIR.min_base_amount, PAIR.min_quote_amount)
TICKS = st.integers(1990, 2010)  # prices in cents around 20.00, on the pair's 0.01 step
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
SIZES = st.integers(1, 500).map(lambda n: D(n) / 100)


@dataclass(frozen=True)
class Book:
    kind: str
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]


@dataclass(frozen=True)
class Order:
    side: Side
    price: Decimal
    amount: Decimal
    tif: str


@dataclass(frozen=True)
class Cancel:
    index: int  # of an earlier order


@dataclass(frozen=True)
class Trade:
    price: Decimal
    amount: Decimal
    aggressor: str


def _levels(side: str) -> st.SearchStrategy[tuple[tuple[Decimal, Decimal], ...]]:
    lo, hi = (1990, 2000) if side == "bids" else (2000, 2010)
    return st.lists(st.tuples(st.integers(lo, hi).map(lambda t: D(t) / 100), SIZES), max_size=4,
                    unique_by=lambda lv: lv[0]).map(tuple)


STEPS = st.lists(st.one_of(
    st.builds(Book, st.sampled_from(["snapshot", "delta"]), _levels("bids"), _levels("asks")),
    st.builds(Order, st.sampled_from(list(Side)), TICKS.map(lambda t: D(t) / 100), SIZES,
              st.sampled_from(["ioc", "gtc"])),  # the Venue protocol's two (post-only: the maker issue)
    st.builds(Cancel, st.integers(0, 20)),
    st.builds(Trade, TICKS.map(lambda t: D(t) / 100), SIZES, st.sampled_from(["buy", "sell"])),
), min_size=1, max_size=25)


def _now_ms() -> int:
    return int(time.time() * 1000)  # both venues' clock: the wall's


async def _outcome(venue: Venue, outcome: list[object], request: OrderRequest | None = None,
                   cancel: str | None = None) -> None:
    try:
        if request is not None:
            report = await venue.place(request)
            # Its trades are compared once fetched at the end: Gate's answer to a placement carries none.
            outcome.append(("placed", report.status, report.filled))
        elif cancel is not None:
            # Only its effect is compared (later fills, balances): the answer to cancelling a finished order is
            # protocol, not matching (Gate finds an order by client id only while it is open).
            await venue.cancel(cancel, SYMBOL)
    except ArbError as exc:
        if cancel is not None:
            return
        outcome.append(("refused", type(exc).__name__))


async def _both(steps: list[object]) -> tuple[list[object], list[object]]:
    paper = PaperVenue("paper", None, {SYMBOL: RULES}, START, config=PaperConfig(fee_rate=PAIR.taker_fee))
    paper_out: list[object] = []
    gate_out: list[object] = []
    async with Sandbox(sandbox_config()) as sb, live_gate("gate", sb) as gate:
        sb.push_book(PAIR.id, [], [], "snapshot")
        ids = itertools.count(1)
        sent: list[str] = []
        for step in steps:
            if isinstance(step, Book):
                paper.on_book(SYMBOL, step.kind, step.bids, step.asks, _now_ms())
                sb.push_book(PAIR.id, step.bids, step.asks, step.kind)
            elif isinstance(step, Trade):
                paper.on_trade(SYMBOL, step.price, step.amount, step.aggressor, _now_ms())
                sb.push_trade(PAIR.id, step.price, step.amount, step.aggressor)
            elif isinstance(step, Order):
                request = OrderRequest(f"t-p{next(ids)}", SYMBOL, step.side, step.amount, step.price, step.tif)
                sent.append(request.client_order_id)
                await _outcome(paper, paper_out, request)
                await _outcome(gate, gate_out, request)
            elif isinstance(step, Cancel) and step.index < len(sent):
                await _outcome(paper, paper_out, cancel=sent[step.index])
                await _outcome(gate, gate_out, cancel=sent[step.index])
        fills = {name: sorted((f.price, f.amount, f.fee, f.fee_currency, f.side) for f in await v.fetch_fills(SYMBOL, _EPOCH))
                 for name, v in (("paper", paper), ("gate", gate))}
        balances = {name: {a: (b.free, b.used) for a, b in (await v.balances()).items() if b.free or b.used}
                    for name, v in (("paper", paper), ("gate", gate))}
    paper_out += [fills["paper"], balances["paper"]]
    gate_out += [fills["gate"], balances["gate"]]
    return paper_out, gate_out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STEPS)
def test_the_paper_venue_and_the_gate_sandbox_fill_one_order_stream_alike(steps: list[object]) -> None:
    paper, gate = asyncio.run(_both(steps))
    assert paper == gate
