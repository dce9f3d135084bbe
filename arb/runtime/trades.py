"""What the executor did this run, kept in memory for the live surfaces (status view, metrics, dashboard).

The decision loop records every pair the executor answered (:meth:`TradeLog.record`); the surfaces read it
on their own timers and never query the database. It keeps:

- the last ``keep`` executed pairs (:class:`TradeRecord`: route, size, expected and realized PnL, outcome);
- every order the executor sent, by venue and the status it resolved to, and the fills they carried: the
  same orders the run summary counts from the database (``orders_by_status``, ``fills``);
- per venue, the time from handing an order to the venue to its answer, for orders the venue answered
  directly (those the store gives an ``acked_at``: the summary's ``venue_latency_ms`` counts the same
  orders), on two clocks: ``order_latency`` on the host's performance counter (what the machine spent;
  in a simulation not the simulated venue latency) and ``order_latency_market`` on the run's clock, the
  order's ``acked_at - sent_at`` to the microsecond, exactly what the summary's latencies are made of;
- the open positions the settled pairs left (``open_base`` at its cost ``open_price``: :mod:`arb.positions`
  values them) and the realized PnL per route (symbol, buy venue, sell venue), as settled.

Orders the executor did not send (a leg that could not be prepared) and statuses changed later by a
reconciliation or the shutdown's cancels are not seen here.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from arb.domain.outcomes import pair_outcome
from arb.positions import OpenLot
from arb.runtime.latency import LatencyRecorder

if TYPE_CHECKING:
    from arb.detection import Opportunity
    from arb.execution.executor import PairResult

RECENT_TRADES = 20
_US = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """One executed pair as the decision loop saw it finish."""

    opportunity_id: int
    at: datetime  # when the executor answered, on the run's clock
    symbol: str
    buy_venue: str
    sell_venue: str
    size: Decimal  # base
    expected: Decimal  # quote, detection's expected profit
    realized: Decimal | None  # quote, as settled; None while an order is not final
    outcome: str  # arb.domain.outcomes: filled | partial | unwound | completed | imbalanced | halted | ...


class TradeLog:
    def __init__(self, keep: int = RECENT_TRADES) -> None:
        self.recent: deque[TradeRecord] = deque(maxlen=keep)
        self.orders: Counter[tuple[str, str]] = Counter()  # (venue, status) -> orders
        self.fills: Counter[str] = Counter()  # venue -> fills
        self.order_latency: dict[str, LatencyRecorder] = {}  # venue -> send-to-answer, ns, host clock
        self.order_latency_market: dict[str, LatencyRecorder] = {}  # the same orders, ns, run's clock
        self.lots: list[OpenLot] = []  # settled pairs' open positions
        self.realized_by_route: dict[tuple[str, str, str], Decimal] = {}  # (symbol, buy, sell) -> settled

    def record(self, opp: Opportunity, result: PairResult, at: datetime) -> None:
        """The executor's answer for ``opp``: its orders, and the pair itself when it was executed."""
        for leg in (*result.legs, *result.corrective):
            self.orders[(leg.venue, leg.status.value)] += 1
            self.fills[leg.venue] += len(leg.fills)
            if leg.error is None:  # the venue answered (an ack or an IOC's result): acked
                self.order_latency.setdefault(leg.venue, LatencyRecorder()).add(leg.answered_ns - leg.sent_ns)
                if leg.sent_at is not None and leg.answered_at is not None:  # as the store's acked_at - sent_at
                    market_us = (leg.answered_at - leg.sent_at) // _US
                    self.order_latency_market.setdefault(leg.venue, LatencyRecorder()).add(market_us * 1000)
        if result.executed and result.realized_pnl is not None:
            route = (opp.symbol, opp.buy_venue, opp.sell_venue)
            self.realized_by_route[route] = self.realized_by_route.get(route, Decimal(0)) + result.realized_pnl
            if result.open_base and result.open_price is not None:
                self.lots.append(OpenLot(opp.buy_venue, opp.sell_venue, opp.symbol, result.open_base,
                                         result.open_price))
        if result.executed:
            self.recent.append(TradeRecord(result.opportunity_id, at, opp.symbol, opp.buy_venue, opp.sell_venue,
                                           opp.size, opp.expected_profit, result.realized_pnl, outcome_word(result)))


    def record_maker_pair(self, record: TradeRecord, open_base: Decimal, open_price: Decimal | None) -> None:
        """A maker pair as it settled (``runtime/quoting.py``): the recent trades, the realized PnL per route
        and its open position. Its orders are not in the executor's counters above: the summary's order
        counts (from the database) hold them."""
        route = (record.symbol, record.buy_venue, record.sell_venue)
        if record.realized is not None:
            self.realized_by_route[route] = self.realized_by_route.get(route, Decimal(0)) + record.realized
        if open_base and open_price is not None:
            self.lots.append(OpenLot(record.buy_venue, record.sell_venue, record.symbol, open_base, open_price))
        self.recent.append(record)


def outcome_word(result: PairResult) -> str:
    """What happened to an executed pair, in the one vocabulary people read (:mod:`arb.domain.outcomes`):
    the word ``arb trades`` and the dashboard derive from the stored rows, here from the executor's answer."""
    entry_complete = bool(result.legs) and all(leg.filled >= leg.request.amount for leg in result.legs)
    return pair_outcome(result.outcome, result.policy, entry_complete, settled=True)
