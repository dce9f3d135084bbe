"""The one venue protocol the executor sees, and the exact types that cross it.

Everything here is already normalized: ``Decimal`` amounts, our :class:`~arb.domain.market.Side`, our
:class:`~arb.domain.orders.VenueState`. No ccxt dict and no raw message passes this boundary; each
implementation (live ccxt-backed, paper) maps its own payloads once, at its edge.

Placing is two steps, ``prepare`` then ``send``, so a pair can build and sign *both* legs before
either is written and then write them back to back (``place`` is the two in a row). ``prepare`` never
reaches the venue with the order: any error from it means nothing was sent. A prepared order carries a
timestamped signature: prepare it right before sending it, never ahead of time.

Errors are the :mod:`arb.errors` tree: ``OrderNotFound`` from ``fetch_order`` means "not found *now*"
(a just-placed order may briefly be unknown); ``TransientVenueError`` from ``send``/``place`` means the
outcome is unknown and the order must be looked up by its client id, never re-sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from arb.domain.ids import ClientIdFormat
from arb.domain.market import EXACT, MarketRules, Side
from arb.domain.orders import OrderStatus, VenueState, status_from_report


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A limit order as it will be sent. ``client_order_id`` is stored before this leaves."""

    client_order_id: str
    symbol: str
    side: Side
    amount: Decimal  # base units, already rounded to the venue's step
    price: Decimal  # limit, already rounded toward the safe side
    time_in_force: str = "ioc"  # "ioc" | "gtc"


@dataclass(frozen=True, slots=True)
class PreparedOrder:
    """An order built (and, for a live venue, signed) and ready to be written; nothing has been sent.

    ``wire`` is the implementation's own payload (a live venue's URL, headers and body). It is left out
    of ``repr`` and comparisons: signed headers carry the API key.
    """

    venue: str
    request: OrderRequest
    wire: object = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class FillReport:
    """One trade of one of our orders. ``(venue, trade_id)`` identifies it: recording is idempotent."""

    venue: str
    trade_id: str
    client_order_id: str | None
    venue_order_id: str | None
    symbol: str
    side: Side
    price: Decimal
    amount: Decimal  # base units
    fee: Decimal
    fee_currency: str
    ts: datetime
    # The fee currency's price in the symbol's quote when the fee was charged in a third currency (a fee
    # token: Gate's GT) and the venue knew one at the fill; None otherwise (the fee is then unpriced).
    fee_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class OrderReport:
    """What a venue says about one order: the answer to a placement, a cancel or a lookup."""

    venue: str
    client_order_id: str
    venue_order_id: str | None
    symbol: str
    side: Side
    price: Decimal
    amount: Decimal
    filled: Decimal  # base units executed so far: the truth, whatever the status word says
    state: VenueState
    venue_status: str | None = None  # the venue's own words, for the event log ("closed/ioc")
    average: Decimal | None = None
    ts: datetime | None = None
    fills: tuple[FillReport, ...] = field(default=())  # trades known with the report (may be empty)

    @property
    def status(self) -> OrderStatus:
        return status_from_report(self.amount, self.filled, self.state)

    @property
    def finished_unfilled(self) -> bool:
        """Final with nothing filled: no fill of it can follow (what a maker route and its journal forget
        a quote by, ``execution/maker.FINISHED_KEPT_MS`` on)."""
        return self.state is not VenueState.OPEN and not self.filled


@dataclass(frozen=True, slots=True)
class BalanceReport:
    asset: str
    free: Decimal
    used: Decimal

    @property
    def total(self) -> Decimal:
        return EXACT.add(self.free, self.used)


@runtime_checkable
class Venue(Protocol):
    """A place to trade. Implementations: ``arb.venues.live.LiveVenue``, ``arb.venues.paper.PaperVenue``."""

    name: str
    client_ids: ClientIdFormat  # what this venue accepts as a client order id (its adapter declares it)
    # ``amend`` cuts a resting order's amount in place, keeping its place in the queue (Gate's amend; a paper
    # venue, whose matcher is Gate's rule). False: a smaller order is a cancel and a new one.
    amends: bool

    def market_rules(self, symbol: str) -> MarketRules: ...

    async def prepare(self, request: OrderRequest) -> PreparedOrder: ...

    async def send(self, prepared: PreparedOrder) -> OrderReport: ...

    async def place(self, request: OrderRequest) -> OrderReport: ...

    async def cancel(self, client_order_id: str, symbol: str) -> OrderReport: ...

    async def amend(self, client_order_id: str, symbol: str, amount: Decimal) -> OrderReport:
        """A resting order's amount (its total, what has filled included) cut to ``amount`` in place; only
        where ``amends``. At or below what has filled, the venue finishes the order."""
        ...

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderReport: ...

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderReport]: ...

    async def fetch_fills(self, symbol: str, since: datetime, order_id: str | None = None) -> list[FillReport]:
        """The account's trades in ``symbol`` since ``since``; with ``order_id`` (the venue's id of one order)
        only that order's trades, asked of the venue by order where it can be (not a page of every trade
        the account made meanwhile, which on a busy account need not even hold the order's)."""
        ...

    async def balances(self) -> dict[str, BalanceReport]: ...


@runtime_checkable
class DeadMansSwitch(Protocol):
    """A venue that cancels the account's open orders by itself once arb falls silent: a countdown arb sets
    and keeps setting again before it runs out (Gate's ``countdown_cancel_all``). Quotes then do not outlive
    a process killed while it quotes, when nothing of arb's is left to cancel them.

    Optional, beside :class:`Venue`: ask ``isinstance(venue, DeadMansSwitch) and venue.cancels_on_silence``.
    A wrapper (throttle guard, latency) has the method whatever it wraps and says in ``cancels_on_silence``
    whether the venue inside has one; a wrapper that does not forward it hides it, which reads as "none"."""

    cancels_on_silence: bool

    async def arm_cancel_all(self, timeout_s: int, symbol: str | None = None) -> datetime | None:
        """Set the countdown to ``timeout_s`` seconds from now, or afresh if set (0 ends it): when it runs out,
        the venue cancels the account's open orders, in ``symbol`` only when one is given. The time it would
        fire, by the venue's clock; None once ended. A venue without one raises ``VenueError``."""
        ...


@dataclass(frozen=True, slots=True)
class FundingReport:
    """A perpetual's funding paid into (``amount`` > 0) or out of the account at one funding time."""

    venue: str
    symbol: str
    ts: datetime  # the funding time
    # The rate, mark and position it was paid at: a simulated venue's own; None where a live venue's funding
    # history does not state them (Gate's account book lists the amount alone).
    rate: Decimal | None
    mark: Decimal | None
    position: Decimal | None  # base, signed, held then
    amount: Decimal  # settle currency
    currency: str


FillListener = Callable[[FillReport], None]


@runtime_checkable
class FillStream(Protocol):
    """A venue's push of the account's own trades as they happen: Gate's private ``spot.usertrades`` channel,
    the paper venue's matcher filling a resting order on a market event. Resting (maker) orders are only
    known to fill this way; a listener sees each trade at least once (a reconnect may repeat one: key by
    ``(venue, trade_id)``), in the order the venue sent them, which need not be the order of its order
    updates."""

    def watch_fills(self, listener: FillListener) -> None:
        """Call ``listener`` with every trade of the account from now on (on the run's event loop)."""
        ...
