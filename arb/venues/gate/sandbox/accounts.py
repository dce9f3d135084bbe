"""The sandbox's accounts trade with one another, as users of one exchange do: the one matcher
(``arb/venues/sim/matching.py``) with one rule added, :class:`AccountsMatcher`.

The matcher's book is the recorded (or simulated) market; the sandbox's accounts' resting orders are not in
it. An incoming order of one account that reaches another account's resting order trades with it, as on
Gate:

- **Price, then time.** The incoming order walks the prices it reaches best first; at each price it takes the
  market's displayed size first (those orders were there before: the conservative reading for the resting
  order, as the matcher's queue rule reads cancels), then the accounts' resting orders there in time order.
  What it takes of the displayed size shrinks the queue ahead of the resting orders at that price.
- **At the resting order's price**, the incoming order as taker, the resting one as maker, each at its own
  fee rate; one trade id for both sides (Gate gives a trade one id, which both parties' records show), so the
  public tape prints the trade once.
- **Post-only** (``poc``) orders that would trade with another account's order are refused as when they
  would take from the book; ``fok`` counts the accounts' orders it reaches as depth.
- **Never with itself.** An account's orders do not trade with each other, as under Gate's self-trade
  prevention (which a Gate account may leave off, and then its orders do match): an account alone in the
  sandbox trades exactly as before.

Resting orders still fill from the market (book events, trade prints) by the matcher's queue rule; two
accounts' resting orders never cross, since the later one would have traded on arrival.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from decimal import Decimal

from arb.domain.market import exact
from arb.venues.sim.book import Book
from arb.venues.sim.matching import Event, Matcher, OrderEvent, Refusal, Refused
from arb.venues.sim.orders import ZERO, Role, SimMarket, SimOrder


class AccountsMatcher(Matcher):
    """The one matcher with the module's rules for orders between the sandbox's accounts."""

    def __init__(self, markets: Iterable[SimMarket], *, new_id: Callable[[], int]) -> None:
        self._fresh_id = new_id
        self._shared_id: int | None = None  # the next trade is the other side of this one
        super().__init__(markets, new_id=self._next_id)

    def _next_id(self) -> int:
        shared, self._shared_id = self._shared_id, None
        return shared if shared is not None else self._fresh_id()

    def makers(self, account: str, market_id: str, side: str, price: Decimal) -> list[SimOrder]:
        """Other accounts' resting orders that an order of ``account`` on ``side`` at ``price`` reaches, in time
        order."""
        if side == "buy":
            return [o for o in self.open_orders(None, market_id)
                    if o.account != account and o.side == "sell" and o.price <= price]
        return [o for o in self.open_orders(None, market_id)
                if o.account != account and o.side == "buy" and o.price >= price]

    @exact
    def place(self, account: str, market_id: str, side: str, price: Decimal, amount: Decimal,
              time_in_force: str, client_id: str, now_ms: int) -> tuple[SimOrder, list[Event]]:
        makers = self.makers(account, market_id, side, price)
        if not makers or time_in_force not in ("poc", "fok"):
            return super().place(account, market_id, side, price, amount, time_in_force, client_id, now_ms)
        market = self.market(market_id)
        self.check(market, side, price, amount, time_in_force)  # its refusals come first, as in ``place``
        if time_in_force == "poc":
            raise Refused(Refusal.POST_ONLY_WOULD_TAKE)
        reached = _book_depth(self.book(market_id), side, price) + sum((m.left for m in makers), ZERO)
        if reached < amount:
            return super().place(account, market_id, side, price, amount, time_in_force, client_id, now_ms)
        # All of it fills: what an ``ioc`` does then, to the letter. The matcher's own ``fok`` check counts the
        # book alone, so the order goes in as ``ioc`` and is recorded, pushed included, as the ``fok`` it is.
        order, events = super().place(account, market_id, side, price, amount, "ioc", client_id, now_ms)
        order.time_in_force = time_in_force
        return order, [OrderEvent(e.account, dataclasses.replace(e.order, time_in_force=time_in_force), e.event)
                       if isinstance(e, OrderEvent) and e.order.id == order.id else e for e in events]

    @exact
    def amend(self, order: SimOrder, now_ms: int, *, amount: Decimal | None = None,
              price: Decimal | None = None) -> list[Event]:
        new_amount = order.amount if amount is None else amount
        # The matcher's own order of refusals: a finished order, then an amount that cancels, then the rules.
        if (price is not None and price != order.price and order.time_in_force == "poc" and order.is_open
                and new_amount > order.filled_amount
                and self.makers(order.account, order.market.id, order.side, price)):
            self.check(order.market, order.side, price, new_amount, order.time_in_force)
            raise Refused(Refusal.POST_ONLY_WOULD_TAKE)
        return super().amend(order, now_ms, amount=amount, price=price)

    def _take(self, order: SimOrder, book: Book, now_ms: int, events: list[Event], role: Role = "taker") -> None:
        makers = self.makers(order.account, order.market.id, order.side, order.price) if role == "taker" else []
        if not makers:  # the market's book alone (a resting order crossed by the book comes here too)
            super()._take(order, book, now_ms, events, role)
            return
        buying = order.side == "buy"
        levels = book.asks if buying else book.bids
        book_side = "asks" if buying else "bids"
        reached = {p for p in levels if (p <= order.price if buying else p >= order.price)}
        for price in sorted(reached | {m.price for m in makers}, reverse=not buying):
            if order.left == 0:
                break
            shown = levels.get(price, ZERO)
            if shown > 0:
                qty = min(order.left, shown)
                self._trade(order, qty, price, "taker", now_ms, events)
                update = book.consume(book_side, price, qty, now_ms)
                if update:
                    events.append(update)
            for maker in (m for m in makers if m.price == price):
                maker.queue_ahead = min(maker.queue_ahead, levels.get(price, ZERO))
                if order.left > 0:
                    self._match(order, maker, min(order.left, maker.left), now_ms, events)

    def _match(self, taker: SimOrder, maker: SimOrder, qty: Decimal, now_ms: int, events: list[Event]) -> None:
        """One trade between two accounts at the resting order's price, both sides under one trade id."""
        self._trade(taker, qty, maker.price, "taker", now_ms, events)
        self._shared_id = self.trades[-1].id
        self._trade(maker, qty, maker.price, "maker", now_ms, events)
        if maker.left == 0:
            self._finish(maker, "closed", "filled", now_ms, events)


def _book_depth(book: Book, side: str, price: Decimal) -> Decimal:
    """The market's displayed size an order on ``side`` at ``price`` reaches."""
    if side == "buy":
        return sum((s for p, s in book.asks.items() if p <= price), ZERO)
    return sum((s for p, s in book.bids.items() if p >= price), ZERO)
