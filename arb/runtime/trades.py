"""What the executor did this run, kept in memory for the live surfaces (status view, metrics, dashboard).

The decision loop records every pair the executor answered (:meth:`TradeLog.record`); the surfaces read it
on their own timers and never query the database. It keeps:

- the last ``keep`` executed pairs (:class:`TradeRecord`: route, size, expected and realized PnL, outcome);
- every order the executor sent, by venue and the status it resolved to, and the fills they carried: the
  same orders the run summary counts from the database (``orders_by_status``, ``fills``);
- per venue, the time from handing an order to the venue to its answer, for orders the venue answered
  directly (those the store gives an ``acked_at``: the summary's ``venue_latency_ms`` counts the same
  orders). Measured on the host's performance counter: in a simulation this is host time, not the
  simulated venue latency the store records in market time.

Orders the executor did not send (a leg that could not be prepared) and statuses changed later by a
reconciliation or the shutdown's cancels are not seen here.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from arb.domain.outcomes import pair_outcome
from arb.runtime.latency import LatencyRecorder

if TYPE_CHECKING:
    from arb.detection import Opportunity
    from arb.execution.executor import PairResult

RECENT_TRADES = 20


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
        self.order_latency: dict[str, LatencyRecorder] = {}  # venue -> send-to-answer, ns

    def record(self, opp: Opportunity, result: PairResult, at: datetime) -> None:
        """The executor's answer for ``opp``: its orders, and the pair itself when it was executed."""
        for leg in (*result.legs, *result.corrective):
            self.orders[(leg.venue, leg.status.value)] += 1
            self.fills[leg.venue] += len(leg.fills)
            if leg.error is None:  # the venue answered (an ack or an IOC's result): acked
                self.order_latency.setdefault(leg.venue, LatencyRecorder()).add(leg.answered_ns - leg.sent_ns)
        if result.executed:
            self.recent.append(TradeRecord(result.opportunity_id, at, opp.symbol, opp.buy_venue, opp.sell_venue,
                                           opp.size, opp.expected_profit, result.realized_pnl, outcome_word(result)))


def outcome_word(result: PairResult) -> str:
    """What happened to an executed pair, in the one vocabulary people read (:mod:`arb.domain.outcomes`):
    the word ``arb trades`` and the dashboard derive from the stored rows, here from the executor's answer."""
    entry_complete = bool(result.legs) and all(leg.filled >= leg.request.amount for leg in result.legs)
    return pair_outcome(result.outcome, result.policy, entry_complete, settled=True)
