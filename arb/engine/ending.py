"""How a run ends: what rests on the venues is cancelled (the pair in flight has finished through the
executor's own policy by then), the run's summary (what its row and ``arb report`` keep), and the run's
result, with the one line a trader acts on when it halted."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from arb.errors import ArbError
from arb.runtime.funnel import Funnel
from arb.runtime.incidents import Incident
from arb.runtime.latency import LatencyRecorder
from arb.runtime.state import RunState
from arb.runtime.venues import VenueSet
from arb.store import orders as orders_repo
from arb.store.settlement import settle_pending
from arb.valuation import EndBook

# The engine's records keep the engine's logger name, which log filters and JSON log consumers key on.
log = logging.getLogger("arb.engine")


@dataclass
class RunResult:
    run_id: int
    summary: dict[str, Any]
    funnel: Funnel
    hot_path: LatencyRecorder
    interrupted: bool = False
    halted: str | None = None  # the run ended ``halted``: why, and the open positions it left


def run_summary(sessions: Any, run_id: int, marks: Mapping[tuple[str, str], Decimal | None],
                books: Mapping[tuple[str, str], EndBook], *, funnel: Funnel,
                hot_path: LatencyRecorder, stop_reason: str | None, incidents: Sequence[Incident],
                state: RunState, handled: Mapping[str, Any], market_trades: int | None,
                queue_models: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The run's summary: its funnel, the stored totals valued at ``marks`` (``runtime/summary.py``), its
    decision latency, why it stopped, its incidents and what was handled underneath (``handled``);
    ``market_trades`` (a simulation's) says which rule filled resting orders, and ``queue_models`` (venue ->
    model) under which assumption."""
    from arb.runtime.summary import run_totals

    with sessions() as s:
        totals = run_totals(s, run_id, marks, books)
    return {
        "funnel": funnel.as_dict(),
        **totals,
        "hot_path_us": hot_path.summary_us(),
        "stop_reason": stop_reason,
        "incidents": [i.as_row() for i in incidents],
        "balance_snapshot_gaps": state.balance_snapshot_gaps,
        **handled,
        # Which rule filled resting orders (arb/venues/sim/matching.py): a simulation's, said once.
        **({"market_trades": market_trades} if market_trades is not None else {}),
        **({"queue_models": dict(queue_models)} if queue_models is not None else {}),
    }


def halt_reason(stop_reason: str | None, summary: Mapping[str, Any], mode: str) -> str:
    """One line a trader can act on: what halted the run, each open position it left (venue, amount, cost,
    notional at the mark), and what to do next."""
    held = [f"{p['venue']} {p['amount'].normalize():f} {p['symbol'].split('/')[0]} at cost {p['cost'].normalize():f}"
            + (f" (notional {abs(p['amount']) * p['mark']:.2f} {p['symbol'].split('/')[1]} at mid {p['mark'].normalize():f})"
               if p["mark"] is not None else "")
            for p in summary.get("open_positions") or ()]
    positions = "; open: " + ", ".join(held) if held else "; no open position left"
    action = " - flatten it on the venue, then start again" if held else ""
    return f"{stop_reason or 'halted'} ({mode}){positions}{action}"


async def cancel_resting(venues: VenueSet, symbols: Iterable[str], sessions: Any, now: Callable[[], datetime],
                         ) -> None:
    """Cancel what rests on the venues at shutdown, and record the venue's answer for orders arb knows
    (an order left ``open`` in the database would wait for the next start's reconciliation)."""
    symbols = tuple(symbols)
    for name, venue in venues.venues.items():
        for symbol in symbols:
            try:
                for order in await venue.fetch_open_orders(symbol):
                    report = await venue.cancel(order.client_order_id, symbol)
                    with sessions.begin() as s:
                        known = orders_repo.order_by_client_id(s, report.client_order_id)
                        if known is not None:
                            orders_repo.record_report(s, known.id, report, now(), detail="canceled at shutdown")
                            settle_pending(s, now())
            except ArbError as exc:
                log.warning("could not cancel resting orders on %s: %s", name, exc)
