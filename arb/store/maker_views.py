"""A maker run's quoting figures, defined once: every surface (the run summary, ``arb report``, the
dashboard, the Prometheus metrics) reads :func:`maker_routes`.

Per route (symbol, the venue quotes rest on and the one their fills are hedged on), from the stored orders
and fills:

- ``directions``: the (buy venue, sell venue) its quotes took, in order of the first quote of each (a bid
  buys on the maker venue and its hedge sells on the taker; an ask the other way round: :func:`direction`);
  ``label``: those as every surface names a route (``arb.display.route``, buy -> sell);

- ``quotes``: quote orders sent; ``refused``: the venue refused them (post-only would take, funds);
  ``quotes_filled``: quotes with at least one fill; ``maker_fills``: their fills;
- ``hedges``: hedge orders sent; ``flattens``: the leg policy's;
- ``fill_to_hedge_ms``: for each hedge, from the latest fill of its quote received before it was sent (a
  fill's ``received_at``: when the route took it, before the hedge it set off went out) to its sending
  (:func:`answered_fill`; in a simulation, market time: arb's own work takes none, what remains is the fill's
  and the hedge's trips through the configured latencies);
- ``unhedged_ms``: for each pair whose hedges answered all its base, from its quote's first fill to the last
  hedge fill that completed it;
- ``unhedged_base``: base filled on the maker venue that no hedge or flatten answered, at the end (dust
  below the taker's minimum, or what a failed hedge left);
- ``adverse``, ``hedge_slippage``: the settled pairs' ``pnl_slippage`` in its two parts (``arb/accounting.py``):
  what the taker book's move between quote and hedge made, and the hedges' own slippage.

:func:`maker_pairs`: the same figures pair by pair (the route's are their sums and concatenations), with each
pair's expected and realized PnL, for the analysis notebook.

:func:`resting_quotes`: the quotes resting on their venue as the store has them (``open`` or
``partially_filled``); at a run's end none, unless it ended without cancelling them (a crash).
:func:`maker_now`: both at once, what a live surface reads on its timer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from statistics import median

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from arb.display import route as route_name
from arb.store.maker_pairs import answered as answered_base
from arb.store.maker_pairs import answering_orders
from arb.store.models import Opportunity, Order, Run

ZERO = Decimal(0)
_MS = Decimal(1000)
_US = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class MakerRoute:
    symbol: str
    maker_venue: str
    taker_venue: str
    quotes: int
    refused: int
    quotes_filled: int
    maker_fills: int
    hedges: int
    flattens: int
    fill_to_hedge_ms: tuple[Decimal, ...]
    unhedged_ms: tuple[Decimal, ...]
    unhedged_base: Decimal
    adverse: Decimal
    hedge_slippage: Decimal
    directions: tuple[tuple[str, str], ...] = ()  # (buy venue, sell venue) of its quotes, first quoted first

    @property
    def label(self) -> str:
        """Its route as every surface names one (buy -> sell; a route quoting both sides, both directions)."""
        return ", ".join(route_name(buy, sell) for buy, sell in self.directions)

    @staticmethod
    def spread(values: Sequence[Decimal]) -> tuple[Decimal, Decimal] | None:
        """(median, max) of ``values``, to 0.01 ms; None when there are none."""
        if not values:
            return None
        return Decimal(median(values)).quantize(Decimal("0.01")), max(values).quantize(Decimal("0.01"))


@dataclass(frozen=True, slots=True)
class MakerPair:
    """One maker-taker pair's figures: a quote's fills and the hedges (and flattens) answering them."""

    opportunity_id: int
    symbol: str
    maker_venue: str
    taker_venue: str
    first_fill_at: datetime | None  # when arb recorded the quote's first fill (run's clock)
    filled: Decimal  # base the quote filled
    hedges: int
    flattens: int
    fill_to_hedge_ms: tuple[Decimal, ...]  # per hedge or flatten of its own sent after a fill of its quote
    unhedged_ms: Decimal | None  # first fill -> the answer fill completing it (wherever linked); None: never completed
    unhedged_base: Decimal  # filled minus what the answers filled
    expected: Decimal | None  # at quote time, as stored on the pair
    realized: Decimal | None  # settled; None while unsettled
    adverse: Decimal  # the taker book's move between quote and hedge (part of pnl_slippage)
    hedge_slippage: Decimal  # the rest of pnl_slippage: the hedges' own


def maker_pairs(session: Session, run_id: int) -> list[MakerPair]:
    """The run's maker pairs, in order of their id (the order they opened)."""
    pairs = session.scalars(
        select(Opportunity).where(Opportunity.run_id == run_id, Opportunity.strategy == "maker")
        .options(selectinload(Opportunity.orders).selectinload(Order.fills)).order_by(Opportunity.id)).all()
    return [_pair(pair) for pair in pairs]


def _pair(pair: Opportunity) -> MakerPair:
    quotes = [o for o in pair.orders if o.purpose == "quote"]
    maker = quotes[0].venue
    quote_fills = sorted((f for o in quotes for f in o.fills), key=lambda f: (f.received_at or f.ts))
    # Counted, and their reaction to the pair's fills timed (fill -> hedge), where they are linked; what
    # answered its base anywhere (a later quote's hedge carrying its dust) ends its time unhedged.
    answers = [o for o in pair.orders if o.purpose in ("hedge", "flatten")]
    latency: list[Decimal] = []
    seen = [f.received_at for f in quote_fills if f.received_at is not None]
    for order in answers:
        fill = answered_fill(seen, order)
        if fill is not None:
            latency.append(_ms(fill, answer_sent(order)))
    filled = sum((f.amount for f in quote_fills), ZERO)
    answered = answered_base(pair)
    answer_fills = sorted(f.received_at for o in answering_orders(pair) for f in o.fills if f.received_at is not None)
    first = quote_fills[0].received_at if quote_fills else None
    unhedged_ms = (_ms(first, answer_fills[-1]) if filled and answered >= filled and first is not None
                   and answer_fills else None)
    adverse = pair.pnl_adverse or ZERO
    return MakerPair(
        pair.id, pair.symbol, maker, pair.sell_venue if pair.buy_venue == maker else pair.buy_venue, first, filled,
        sum(1 for o in answers if o.purpose == "hedge"), sum(1 for o in answers if o.purpose == "flatten"),
        tuple(latency), unhedged_ms, filled - answered, pair.expected_profit, pair.realized_pnl, adverse,
        (pair.pnl_slippage or ZERO) - adverse)


def answer_sent(order: Order) -> datetime:
    """When a hedge or flatten went out: its ``sent_at``, or ``created_at`` for one never marked sent."""
    return order.sent_at or order.created_at


def answered_fill(quote_fills_seen: Iterable[datetime], order: Order) -> datetime | None:
    """What triggered the hedge or flatten ``order``: the latest fill of its pair's quote that arb received
    (``fills.received_at``) at or before the order went out (:func:`answer_sent`); None if none had been.

    The one definition of the start of fill -> hedge (here) and of a hedge's or flatten's trigger -> sent in the
    legs table (``arb.store.views.legs``; ``v_leg_latency`` in SQL, migration 0012)."""
    sent = answer_sent(order)
    return max((t for t in quote_fills_seen if t <= sent), default=None)


def direction(side: str, maker_venue: str, taker_venue: str) -> tuple[str, str]:
    """(buy venue, sell venue) of a quote on ``side`` of ``maker_venue`` hedged on ``taker_venue``: a bid buys
    on the maker venue and the hedge sells on the taker; an ask sells on the maker venue, the hedge buys."""
    return (maker_venue, taker_venue) if side == "buy" else (taker_venue, maker_venue)


def configured_taker(snapshot: dict[str, object] | None, symbol: str, maker_venue: str) -> str:
    """The venue the run's config hedges ``symbol``'s quotes on ``maker_venue`` on (the other venue of its
    ``[maker]`` section, which quotes on both with ``both_ways``); "" when the snapshot does not say."""
    symbols = (snapshot or {}).get("symbols")
    section = (symbols.get(symbol) or {}).get("maker") if isinstance(symbols, dict) else None
    if not isinstance(section, dict):
        return ""
    maker, taker = section.get("maker_venue"), section.get("taker_venue")
    return str(taker if maker_venue == maker else maker if maker_venue == taker else "")


def maker_routes(session: Session, run_id: int) -> list[MakerRoute]:
    """The run's routes, in order of their first quote; empty for a run without maker symbols."""
    quotes = session.scalars(select(Order).where(Order.run_id == run_id, Order.purpose == "quote")
                             .options(selectinload(Order.fills)).order_by(Order.id)).all()
    if not quotes:
        return []
    pairs: dict[tuple[str, str], list[MakerPair]] = defaultdict(list)
    for pair in maker_pairs(session, run_id):
        pairs[pair.symbol, pair.maker_venue].append(pair)
    by_route: dict[tuple[str, str], list[Order]] = defaultdict(list)
    for quote in quotes:
        by_route[quote.symbol, quote.venue].append(quote)
    snapshot = session.get_one(Run, run_id).config_snapshot
    out = []
    for (symbol, maker), route_quotes in by_route.items():
        route_pairs = pairs.get((symbol, maker), [])
        taker = route_pairs[0].taker_venue if route_pairs else configured_taker(snapshot, symbol, maker)
        out.append(MakerRoute(
            symbol, maker, taker, len(route_quotes),
            sum(1 for q in route_quotes if q.status == "rejected"),
            sum(1 for q in route_quotes if q.fills), sum(len(q.fills) for q in route_quotes),
            sum(p.hedges for p in route_pairs), sum(p.flattens for p in route_pairs),
            tuple(ms for p in route_pairs for ms in p.fill_to_hedge_ms),
            tuple(p.unhedged_ms for p in route_pairs if p.unhedged_ms is not None),
            sum((p.unhedged_base for p in route_pairs), ZERO), sum((p.adverse for p in route_pairs), ZERO),
            sum((p.hedge_slippage for p in route_pairs), ZERO),
            tuple(dict.fromkeys(direction(q.side, maker, taker) for q in route_quotes))))
    return out


RESTING = ("open", "partially_filled")


def resting_quotes(session: Session, run_id: int) -> list[Order]:
    """The run's quotes resting now (status ``open`` or ``partially_filled``), oldest first."""
    return list(session.scalars(select(Order).where(Order.run_id == run_id, Order.purpose == "quote",
                                                    Order.status.in_(RESTING)).order_by(Order.id)))


@dataclass(frozen=True, slots=True)
class MakerNow:
    """A run's maker figures as stored now: its routes, and the quotes resting per route."""

    routes: tuple[MakerRoute, ...]
    resting: dict[tuple[str, str], int]  # (symbol, maker venue) -> quotes resting


def maker_now(session: Session, run_id: int) -> MakerNow:
    resting: dict[tuple[str, str], int] = defaultdict(int)
    for quote in resting_quotes(session, run_id):
        resting[quote.symbol, quote.venue] += 1
    return MakerNow(tuple(maker_routes(session, run_id)), dict(resting))


def read_maker_now(sessions: sessionmaker[Session], run_id: int) -> MakerNow:
    """:func:`maker_now` in a session of its own (a worker thread's: sessions are not shared across threads)."""
    with sessions() as session:
        return maker_now(session, run_id)


def _ms(start: datetime, end: datetime) -> Decimal:
    """Milliseconds from ``start`` to ``end``, exact to the microsecond (0 if it went backwards)."""
    return Decimal((end - start) // _US) / _MS if end >= start else ZERO
