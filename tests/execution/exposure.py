"""The unhedged position over time, as arb knew it, from the route's own moments: each maker fill when the
stream hands it to the route (``seen``), each hedge when it is recorded before sending (``sent``) and when
its answer comes back (``answered``, ``refused``), on one monotonic clock.

What a maker route promises (issue #34: "the unhedged position is never above the bound for longer than the
hedge's round trip") is checked per fill, base matched to hedges oldest first: every fill's base is covered by
hedges *sent at once*: within ``slack`` of the fill being seen, or, when its base was still uncovered as a
hedge of its side answered, within ``slack`` of that answer (hedges of one side go one at a time, so the next
cannot leave before). So each fill is unhedged for at most the time to send its hedge plus that hedge's round
trip (plus the one before it). The round trips themselves are never counted against the slack: they are the
venue's and the machine's, and a loaded machine stretches them. Base below the taker's minimum may wait for
the next fill (dust), and must be under that minimum at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from arb.domain.market import Side
from arb.domain.venue import FillReport

ZERO = Decimal(0)


@dataclass
class _Fill:
    trade_id: str
    seen: float
    left: Decimal
    due: float  # when its hedge had to go: when seen, or when a hedge of its side answered with it uncovered
    dust: bool  # all its side had unhedged then was below the taker's minimum: it may wait for the next fill
    sent: list[float] = field(default_factory=list)  # when each hedge that covered part of it was sent


@dataclass
class Exposure:
    min_amount: Decimal
    clock: Callable[[], float] = time.monotonic
    _seen: set[str] = field(default_factory=set)
    _fills: dict[Side, list[_Fill]] = field(default_factory=lambda: {Side.BUY: [], Side.SELL: []})
    _on_wire: dict[str, tuple[Side, float]] = field(default_factory=dict)  # hedge id -> maker side, sent
    _problems: list[str] = field(default_factory=list)
    hedges: int = 0

    def seen(self, fill: FillReport) -> None:
        """A stream listener (after the route's): a fill of one of the route's quotes, reaching the route."""
        if not (fill.client_order_id or "").startswith("t-quote") or fill.trade_id in self._seen:
            return
        self._seen.add(fill.trade_id)
        now = self.clock()
        unhedged = sum((f.left for f in self._fills[fill.side]), fill.amount)
        self._fills[fill.side].append(_Fill(fill.trade_id, now, fill.amount, now, dust=unhedged < self.min_amount))

    def sent(self, client_order_id: str, hedge_side: Side) -> None:
        self._on_wire[client_order_id] = (hedge_side.opposite, self.clock())

    def answered(self, client_order_id: str, filled: Decimal) -> None:
        wire = self._on_wire.pop(client_order_id, None)
        if wire is None:
            return  # not a hedge
        side, sent = wire
        self.hedges += 1
        covered = filled
        for fill in self._fills[side]:
            if covered <= 0:
                break
            if fill.left <= 0:
                continue
            take = min(fill.left, covered)
            fill.left -= take
            covered -= take
            fill.sent.append(sent)
        # What is still uncovered could not go before this answer, even when it was seen while the route was
        # already recording the hedge that just answered (before ``sent``): from now its hedge is due.
        now = self.clock()
        for fill in self._fills[side]:
            if fill.left > 0:
                fill.due = max(fill.due, now)

    def assert_hedged_at_once(self, slack_s: float) -> None:
        """Every fill's base went out as hedges within ``slack_s`` of when it was due (module docstring); at
        the end, each side's unhedged base is below the taker's minimum and no hedge is left on the wire."""
        assert not self._on_wire, f"hedges never answered: {sorted(self._on_wire)}"
        assert any(self._fills.values()), "no maker fill reached the route: nothing was checked"
        for side, fills in self._fills.items():
            left = sum((f.left for f in fills), ZERO)
            assert left < self.min_amount, f"{side}: {left} of the fills never hedged"
            for n, fill in enumerate(fills):
                if not fill.sent:
                    assert fill.left < self.min_amount, f"{fill.trade_id}: no hedge covered it"
                    continue  # dust: rides with the next fill's hedge
                # Dust is due with the next fill of its side (the first that can make a hedge of it).
                due = fills[n + 1].seen if fill.dust and n + 1 < len(fills) else fill.due
                late = max(fill.sent) - max(due, fill.due)
                assert late <= slack_s, (f"fill {fill.trade_id}: its last hedge was sent {late * 1000:.1f} ms "
                                         f"after it was due")
