"""Rebalancing during a run: the rule of ``arb/rebalance.py`` fed the venues' free balances once every
``[rebalance] check_s`` of the run's clock (market time in a simulation), its plans stored and, where asked,
made.

- ``transfers = "plan"``: a venue out of its band gets its plan stored (``transfers``, status ``planned``) and
  one WARNING line, once until the asset is back within its band: what a desk would do, for a trader to do.
- ``transfers = "auto"`` in a simulation: each plan's row is stored ``sent`` before anything moves (as an order
  is recorded before it is sent), then its amount leaves its source's simulated wallet at once
  (``VenueSet.ledgers``: the paper venue's matcher) and, once its route's delay has passed on the run's clock,
  what is left after its fee is credited to its destination and the row marked ``arrived``. Both venues'
  balances are read again after each move, so sizing sees them. Live transfers are not built: preflight
  refuses ``auto`` on a venue that has no simulated wallet.

A transfer's fee is valued when it is planned (``fee_value``: in the quote currency of a symbol it is the quote
of, itself; of a base, at that symbol's mid on the source venue) and counted once, in the run's equity
(``arb/positions.py``, ``store/transfers.transfer_fees``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from arb.config import Config
from arb.config.schema import RebalanceAsset
from arb.eventloop.clock import from_ms
from arb.eventloop.simloop import tick
from arb.marketdata.books import BookStore
from arb.positions import mid
from arb.rebalance import Plan, Route, Target, plan
from arb.runtime.balances import refresh_balances
from arb.runtime.state import RunState
from arb.runtime.venues import VenueSet
from arb.store import transfers as stored

log = logging.getLogger(__name__)


@dataclass(slots=True)
class InFlight:
    """A transfer that left its source and has not arrived."""

    id: int
    plan: Plan


class Rebalancer:
    """One run's rebalancing: :meth:`run` is its task on the run's clock."""

    def __init__(self, config: Config, venues: VenueSet, state: RunState, books: BookStore,
                 sessions: sessionmaker[Session], run_id: int, *, now_ms: Callable[[], int],
                 simulated: bool) -> None:
        self.config = config
        self.section = config.rebalance
        self.venues = venues
        self.state = state
        self.books = books
        self.sessions = sessions
        self.run_id = run_id
        self.now_ms = now_ms
        self.simulated = simulated
        self.in_flight: list[InFlight] = []
        self._planned: set[str] = set()  # plan mode: assets whose plan was said, until back within band
        self._fees: dict[str, Decimal] = {}  # value currency -> the stored fee_value of every transfer sent
        # Told of each plan not made (plan mode, or a route arb holds no wallet of): the engine's alerts.
        self.on_plan: Callable[[str, str], None] | None = None
        self.targets = {asset: Target(dict(a.targets), a.band) for asset, a in self.section.assets.items()}

    def route(self, asset: str) -> Callable[[str, str], Route]:
        terms: RebalanceAsset = self.section.assets[asset]

        def route(source: str, dest: str) -> Route:
            r = terms.route(source, dest)
            return Route(r.fee, r.minimum, round(r.delay_s * 1000), r.network)
        return route

    def needs(self, asset: str) -> dict[str, Decimal]:
        """Venue -> what full-size trading there takes of ``asset`` (a spot wallet's: the depletion watch's
        figure, ``runtime/depletion.py``; a margin account's is its band alone)."""
        out: dict[str, Decimal] = {}
        for venue in self.targets[asset].shares:
            if venue in self.venues.margin:
                continue
            for symbol in self.config.venue_markets(venue).symbols:
                base, quote = symbol.split("/")
                size = self.config.symbols[symbol].size
                if asset == base:
                    out[venue] = max(out.get(venue, Decimal(0)), size)
                elif asset == quote and (ask := self.books.book(venue, symbol).best_ask()) is not None:
                    out[venue] = max(out.get(venue, Decimal(0)), size * ask)
        return out

    def plans(self) -> list[Plan]:
        """What the rule plans now, every asset (none for an asset whose plan mode already said it)."""
        now = self.now_ms()
        out = []
        for asset, target in self.targets.items():
            free = {v: self.state.free.get(v, {}).get(asset, Decimal(0)) for v in target.shares}
            coming: dict[str, Decimal] = {}
            for f in self.in_flight:
                if f.plan.asset == asset:
                    coming[f.plan.dest] = coming.get(f.plan.dest, Decimal(0)) + f.plan.received
            found = plan(asset, target, free, coming, self.route(asset), now, self.needs(asset))
            if not found:
                self._planned.discard(asset)
            elif asset not in self._planned:
                out += found
        return out

    def fee_value(self, p: Plan) -> tuple[Decimal | None, str | None]:
        """The fee in a quote currency: itself for a quote asset, at the symbol's mid on the source for a base."""
        for symbol in self.config.engine.symbols:
            if symbol.split("/")[1] == p.asset:
                return p.fee, p.asset
        for symbol in self.config.engine.symbols:
            base, quote = symbol.split("/")
            if base == p.asset:
                for venue in (p.source, p.dest):
                    book = self.books.book(venue, symbol)
                    mark = mid(book.best_bid(), book.best_ask())
                    if mark is not None:
                        return p.fee * mark, quote
        return None, None

    async def step(self) -> None:
        """One look: arrivals due credited, then new plans stored (and, with ``auto``, sent)."""
        now = self.now_ms()
        for f in [f for f in self.in_flight if f.plan.arrives_ms <= now]:
            self.in_flight.remove(f)
            await self._arrive(f, now)
        for p in self.plans():
            await self._start(p)

    async def _start(self, p: Plan) -> None:
        value, currency = self.fee_value(p)
        send = self.section.transfers == "auto" and p.source in self.venues.ledgers and p.dest in self.venues.ledgers
        planned = from_ms(p.planned_ms)
        with self.sessions.begin() as session:  # recorded before anything moves
            transfer_id = stored.record(
                session, self.run_id, asset=p.asset, amount=p.amount, source=p.source, dest=p.dest,
                network=p.network, fee=p.fee, minimum=p.minimum, fee_value=value, value_currency=currency,
                status="sent" if send else "planned", reason=p.reason, planned_at=planned,
                expected_at=from_ms(p.arrives_ms), sent_at=planned if send else None)
        line = (f"transfer {transfer_id} {'sent' if send else 'planned'}: {p.amount:f} {p.asset} {p.source} -> "
                f"{p.dest}, fee {p.fee:f}, arrives in {(p.arrives_ms - p.planned_ms) / 1000:g} s ({p.reason})")
        if not send:
            self._planned.add(p.asset)
            log.warning("%s", line)
            if self.on_plan is not None:
                self.on_plan(line, p.dest)
            return
        if not self.venues.ledgers[p.source](p.asset, -p.amount):  # less free than read: nothing moved
            with self.sessions.begin() as session:
                stored.not_sent(session, transfer_id)
            log.warning("transfer %d not sent: %s holds less than %f %s free now", transfer_id, p.source,
                        p.amount, p.asset)
            return
        log.info("%s", line)
        if value is not None and currency is not None:
            self._fees[currency] = self._fees.get(currency, Decimal(0)) + value
        self.in_flight.append(InFlight(transfer_id, p))
        await refresh_balances(self.venues, self.state, [p.source], strict=False)

    async def _arrive(self, f: InFlight, now_ms: int) -> None:
        p = f.plan
        self.venues.ledgers[p.dest](p.asset, p.received)
        with self.sessions.begin() as session:
            stored.arrived(session, f.id, from_ms(now_ms))
        log.info("transfer %d arrived: %f %s on %s", f.id, p.received, p.asset, p.dest)
        await refresh_balances(self.venues, self.state, [p.dest], strict=False)

    def transfer_fees(self) -> dict[str, Decimal]:
        """The fees of the transfers this run sent, per currency, as stored (``store/transfers.transfer_fees``
        sums the same rows): what the live surfaces take off the equity."""
        return dict(self._fees)

    def idle(self) -> bool:
        """Nothing to do until something else in the run happens: nothing on its way, nothing to plan."""
        return not self.in_flight and not self.plans()

    async def run(self) -> None:
        """The task: a look once every ``check_s`` of the run's clock, sooner when a transfer is due."""
        every = self.section.check_s
        while True:
            await self.step()
            if self.in_flight:
                due = min(f.plan.arrives_ms for f in self.in_flight) - self.now_ms()
                await asyncio.sleep(max(0.0, min(every, due / 1000)))
            else:
                await tick(every, self.idle)
