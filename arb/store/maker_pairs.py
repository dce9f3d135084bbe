"""A maker-taker pair's row: one quote's fills and the hedges that answer them, as one ``opportunities`` row
with ``strategy = 'maker'`` (the only code that writes one).

The row is opened at the quote's first fill (or the first hedge answering it, whichever is recorded first:
a hedge is sent before its fill is journalled) and links the quote's order. Its expectation is taken at
quote time: ``buy_price``/``sell_price`` are the quote's price and the hedge's walked average, on the venues
the quote's side puts them, and ``expected_profit`` is that quote's profit per base unit times what the
quote has filled (``size``), kept current as fills are recorded. It is settled by ``arb/accounting.py``
like any pair (``arb/store/settlement.py``: the quote and hedges are its legs, a flatten corrects).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session, object_session, selectinload

from arb.accounting import money
from arb.domain.market import Side
from arb.domain.orders import OrderStatus
from arb.store.core_rows import update_row
from arb.store.models import Opportunity, Order
from arb.store.orders import link_to_opportunity

# A quote in one of these may still trade on its venue (reconciliation has looked it up by then).
_RESTING = frozenset({OrderStatus.OPEN.value, OrderStatus.PARTIALLY_FILLED.value})


@dataclass(frozen=True, slots=True)
class MakerPairTerms:
    """What a quote promised, as its pair's row records it."""

    symbol: str
    buy_venue: str
    sell_venue: str
    buy_price: Decimal  # the quote's price (a bid) or the hedge's walked average (an ask's hedge buys)
    sell_price: Decimal
    buy_limit: Decimal
    sell_limit: Decimal
    buy_fee_rate: Decimal
    sell_fee_rate: Decimal
    unit_profit: Decimal  # quote currency per base unit, after both fees, at quote time
    mark_price: Decimal  # the buy venue's best bid net of its taker fee at quote time (arb/accounting.py)
    quote_amount: Decimal
    quoted_at: datetime


def open_pair(session: Session, run_id: int, quote_order_id: int, terms: MakerPairTerms) -> int:
    """The pair's row for the quote ``quote_order_id``, which it now owns; returns its id."""
    row = Opportunity(
        run_id=run_id, detected_at=terms.quoted_at, symbol=terms.symbol, strategy="maker",
        buy_venue=terms.buy_venue, sell_venue=terms.sell_venue, size=Decimal(0),
        buy_price=terms.buy_price, sell_price=terms.sell_price, buy_limit=terms.buy_limit,
        sell_limit=terms.sell_limit, expected_profit=Decimal(0), mark_price=terms.mark_price,
        edge_bps=money(terms.unit_profit * 10_000 / terms.buy_price).quantize(Decimal("0.0001")),
        decision="executed", buy_fee_rate=terms.buy_fee_rate, sell_fee_rate=terms.sell_fee_rate,
        detail={"quote_amount": str(terms.quote_amount), "unit_profit": str(terms.unit_profit)},
    )
    session.add(row)
    session.flush()
    link_to_opportunity(session, quote_order_id, row.id)
    return row.id


def quote_filled(session: Session, opportunity_id: int, quote_order_id: int) -> Decimal:
    """The pair's size and expectation brought to its quote's stored fills (the order's ``filled``: their sum
    once their transition is written, as every writer of fills does in the same transaction); returns the size."""
    detail = session.execute(_PAIR_DETAIL, {"opportunity_id": opportunity_id}).scalar_one()
    size = session.execute(_ORDER_FILLED, {"order_id": quote_order_id}).scalar_one()
    update_row(session, Opportunity, opportunity_id,
               {"size": size, "expected_profit": money(Decimal(detail["unit_profit"]) * size)})
    return size


# quote_filled's reads, built once (it runs at every fill of a quote): the two columns, not the rows as ORM
# objects.
_PAIR_DETAIL = select(Opportunity.__table__.c.detail).where(Opportunity.__table__.c.id == bindparam("opportunity_id"))
_ORDER_FILLED = select(Order.__table__.c.filled).where(Order.__table__.c.id == bindparam("order_id"))


def quote_amended(session: Session, opportunity_id: int, amount: Decimal) -> None:
    """The pair's quote was cut in place to ``amount`` (its expectation per unit unchanged)."""
    opp = session.get_one(Opportunity, opportunity_id)
    opp.detail = {**(opp.detail or {}), "quote_amount": str(amount)}  # a new dict: the JSON column sees it


def carry(session: Session, from_pair: int, to_pair: int, order_id: int, amount: Decimal) -> None:
    """``amount`` of ``from_pair``'s quote base was answered by order ``order_id`` of ``to_pair`` (a hedge or a
    flatten): dust too small to hedge alone, carried with a later fill's hedge. The order stays linked where
    it was sent; the pairs' details say which part of its fills is whose, in order: ``answered_for`` on
    ``to_pair`` (the pair, the order, the base), ``answered_by`` on ``from_pair`` (the order, the base of it
    before this part, the base), which :func:`answered` and the settlement (``store/settlement.trades_of``)
    read."""
    to = session.get_one(Opportunity, to_pair)
    lent = list((to.detail or {}).get("answered_for", []))
    start = sum((Decimal(p["amount"]) for p in lent if p["order_id"] == order_id), Decimal(0))
    # new dicts and lists: the JSON column sees the change
    to.detail = {**(to.detail or {}), "answered_for": [
        *lent, {"opportunity_id": from_pair, "order_id": order_id, "amount": str(amount)}]}
    src = session.get_one(Opportunity, from_pair)
    src.detail = {**(src.detail or {}), "answered_by": [
        *(src.detail or {}).get("answered_by", []), {"order_id": order_id, "start": str(start), "amount": str(amount)}]}


def answered(pair: Opportunity) -> Decimal:
    """The base of ``pair``'s quote fills that hedges and flattens answered: its own answers' fills, less the
    parts of them that answered other quotes' base, plus the parts of other pairs' answers that did its own
    (:func:`carry`)."""
    detail = pair.detail or {}
    own = sum((o.filled for o in pair.orders if o.purpose in ("hedge", "flatten")), Decimal(0))
    lent = sum((Decimal(p["amount"]) for p in detail.get("answered_for", [])), Decimal(0))
    borrowed = sum((Decimal(p["amount"]) for p in detail.get("answered_by", [])), Decimal(0))
    return own - lent + borrowed


def answering_orders(pair: Opportunity) -> list[Order]:
    """The orders whose fills answered ``pair``'s quote base: its own hedges and flattens, and the ones linked
    to another pair that carried part of its base (:func:`carry`), whose times are its own too."""
    own = [o for o in pair.orders if o.purpose in ("hedge", "flatten")]
    carriers = {p["order_id"] for p in (pair.detail or {}).get("answered_by", [])}
    if not carriers:
        return own
    session = object_session(pair)
    assert session is not None  # a stored row
    return [*own, *(session.get_one(Order, order_id) for order_id in sorted(carriers))]


@dataclass(frozen=True, slots=True)
class PairRow:
    """A settled pair as the live surfaces take it."""

    opportunity_id: int
    symbol: str
    buy_venue: str
    sell_venue: str
    size: Decimal
    expected_profit: Decimal
    flattened: bool  # the leg policy flattened some of its base
    halted: bool  # the run halted with its base owed a hedge (``halt_pair``)


def link(session: Session, order_id: int, opportunity_id: int) -> None:
    """A hedge or flatten joins the pair of the quote it answers (after its write-ahead record)."""
    link_to_opportunity(session, order_id, opportunity_id)


def pair_row(session: Session, opportunity_id: int) -> PairRow:
    opp = session.get_one(Opportunity, opportunity_id)
    return PairRow(opp.id, opp.symbol, opp.buy_venue, opp.sell_venue, opp.size, opp.expected_profit,
                   any(o.purpose == "flatten" and o.filled for o in opp.orders), halted(opp))


def halt_pair(session: Session, opportunity_id: int) -> None:
    """The run halted (the ``halt`` leg policy) while this pair's base was owed a hedge: trading stopped on it,
    which its outcome says (``halted``, as a taker pair the executor halted on)."""
    opp = session.get_one(Opportunity, opportunity_id)
    opp.detail = {**(opp.detail or {}), "halted": True}  # a new dict: the JSON column sees the change


def halted(opp: Opportunity) -> bool:
    return bool((opp.detail or {}).get("halted"))


@dataclass(frozen=True, slots=True)
class UnfinishedQuote:
    """A quote an earlier run left behind (read at start, after reconciliation): still resting on the venue,
    or with fills no hedge has answered yet."""

    order_id: int
    client_order_id: str
    side: Side
    price: Decimal
    amount: Decimal
    filled: Decimal
    hedged: Decimal  # what hedges and flattens answered of its fills (``answered``)
    resting: bool  # still open on the venue
    pair_id: int | None
    trade_ids: tuple[str, ...]
    sent_at: datetime


def unfinished_quotes(session: Session, maker_venue: str, symbol: str) -> list[UnfinishedQuote]:
    """Quotes on ``maker_venue`` for ``symbol``, oldest first, that rest or that filled more than their pair's
    hedges answered; not the base of a pair the run halted on (``halt_pair``): the halt told the operator to
    flatten it by hand, so hedging it again at the next start would open the opposite position."""
    quotes = session.scalars(
        select(Order).where(Order.purpose == "quote", Order.venue == maker_venue, Order.symbol == symbol,
                            or_(Order.status.in_(_RESTING), Order.filled > 0))  # the others are finished
        .options(selectinload(Order.fills)).order_by(Order.id)).all()
    out = []
    for quote in quotes:
        resting = quote.status in _RESTING
        hedged = Decimal(0)
        if quote.opportunity_id is not None:
            pair = session.get_one(Opportunity, quote.opportunity_id)
            if halted(pair) and not resting:
                continue
            hedged = answered(pair)
        if not resting and quote.filled <= hedged:
            continue
        trade_ids = tuple(f.trade_id for f in quote.fills)
        out.append(UnfinishedQuote(quote.id, quote.client_order_id, Side(quote.side), quote.price, quote.amount,
                                   quote.filled, hedged, resting, quote.opportunity_id, trade_ids,
                                   quote.sent_at or quote.created_at))
    return out
