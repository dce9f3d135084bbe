"""What one run's lifecycle (``arb/engine/``) and its decision loop (``runtime/decisions.py``) share.

The lifecycle reads and sets it at start, on a signal and at shutdown; the decision loop while it trades.
Both run on the run's one event loop, so nothing here needs a lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from arb.margin import AccountMargin
from arb.runtime.trades import TradeLog


@dataclass
class RunState:
    # venue -> asset -> what sizing reads as free: the free balance; on a margin account its buying power
    # (``VenueSet.sizing_funds``). ``free`` is what the venue said, which the status view shows.
    balances: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    free: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # venue -> asset -> free, as read
    # Margin accounts' figures at the last balance read (``arb/margin.py``), and who is told of each (the
    # risk gate: alerts and the margin halt).
    margin: dict[str, AccountMargin] = field(default_factory=dict)
    on_margin: Callable[[str, AccountMargin], None] | None = None
    # Venues whose last balance read failed mid-run: their old numbers may be wrong, so no pair trades
    # there until a read succeeds (retried at each decision that needs them).
    stale_balances: set[str] = field(default_factory=set)
    balance_snapshot_gaps: int = 0  # (venue, snapshot) pairs left out of a balance snapshot: the read failed
    stop: asyncio.Event = field(default_factory=asyncio.Event)  # set: no new decisions; the run winds down
    stop_reason: str | None = None
    halted: bool = False  # the leg policy halted the run: it ends ``halted``, naming its open positions
    reconcile_pending: bool = False  # orders were sent but not recorded: reconcile before trading
    trades: TradeLog = field(default_factory=TradeLog)  # what the executor did: the live surfaces read it
