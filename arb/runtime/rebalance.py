"""Rebalancing during a run: the rule of ``arb/rebalance.py`` fed the venues' free balances once every
``[rebalance] check_s`` of the run's clock (market time in a simulation), its plans stored and, where asked,
made.

- ``transfers = "plan"``: a venue out of its band gets its plan stored (``transfers``, status ``planned``) and
  one WARNING line, once until the asset is back within its band: what a desk would do, for a trader to do.
- ``transfers = "auto"`` in a simulation: each plan's row is stored ``sent`` before anything moves (as an order
  is recorded before it is sent), then its amount leaves its source's simulated wallet at once
  (``VenueSet.ledgers``: the paper venue's matcher) and, once its route's delay has passed on the run's clock,
  what is left after its fee is credited to its destination and the row marked ``arrived``. Both venues'
  balances are read again after each move, so sizing sees them.
- ``transfers = "auto"`` between venues whose adapter can withdraw (``VenueSet.transfers``: live venues, and
  sandboxes in a live-mode run): the route's fee and minimum are the source venue's own where it states them;
  the row is stored ``sent`` with the withdrawal's client id before the withdrawal is sent, then followed in a
  task of its own (``runtime/live_transfers.py``) until the destination credits it (``arrived``, both venues'
  balances read again) or the venue refuses or fails it (``failed`` with its reason, and an alert).

A transfer's fee is valued when it is planned (``fee_value``: in the quote currency of a symbol it is the quote
of, itself; of a base, at that symbol's mid on the source venue) and counted once, in the run's equity
(``arb/positions.py``, ``store/transfers.transfer_fees``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
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
from arb.runtime.live_transfers import LiveTransfers, TransferFailed, TransferUnknown
from arb.runtime.state import RunState
from arb.runtime.venues import VenueSet
from arb.store import transfers as stored
from arb.venues.transfers import Withdrawal, WithdrawalTerms

log = logging.getLogger(__name__)


@dataclass(slots=True)
class InFlight:
    """A transfer that left its source and has not arrived."""

    id: int
    plan: Plan
    live: asyncio.Task[None] | None = None  # a live transfer's task: it arrives when its venues say so


class Rebalancer:
    """One run's rebalancing: :meth:`run` is its task on the run's clock."""

    def __init__(self, config: Config, venues: VenueSet, state: RunState, books: BookStore,
                 sessions: sessionmaker[Session], run_id: int, *, now_ms: Callable[[], int],
                 simulated: bool, environ: Mapping[str, str] = os.environ) -> None:
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
        # Told of each automatic transfer a venue refused or failed, or whose outcome is unknown: the alerts.
        self.on_failure: Callable[[str, str], None] | None = None
        live = {} if self.section.transfers != "auto" or simulated else venues.transfers
        self.live = LiveTransfers(live, environ, poll_s=min(self.section.check_s, 1.0)) if live else None
        self._terms: dict[tuple[str, str, str], WithdrawalTerms] = {}  # (source, asset, network): the venue's
        self.targets = {asset: Target(dict(a.targets), a.band) for asset, a in self.section.assets.items()}

    def route(self, asset: str) -> Callable[[str, str], Route]:
        terms: RebalanceAsset = self.section.assets[asset]

        def route(source: str, dest: str) -> Route:
            r = terms.route(source, dest)
            said = self._terms.get((source, asset, r.network)) if self.live and self.live.handles(source, dest) else None
            if said is not None:  # the venue's own fee and minimum, over the config's
                return Route(said.fee, max(said.minimum, r.minimum), round(r.delay_s * 1000), r.network)
            return Route(r.fee, r.minimum, round(r.delay_s * 1000), r.network)
        return route

    async def read_terms(self) -> None:
        """The live source venues' withdrawal terms now, for :meth:`route`."""
        if self.live is None:
            return
        for asset, terms in self.section.assets.items():
            for source in terms.targets:
                for dest in terms.targets:
                    if source != dest and self.live.handles(source, dest):
                        network = terms.route(source, dest).network
                        if (source, asset, network) not in self._terms:
                            said = await self.live.terms(source, asset, network)
                            if said is not None:
                                self._terms[(source, asset, network)] = said

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
        for f in [f for f in self.in_flight if f.live is None and f.plan.arrives_ms <= now]:
            self.in_flight.remove(f)
            await self._arrive(f, now)
        await self.read_terms()
        for p in self.plans():
            if self.live is not None and self.live.handles(p.source, p.dest):
                await self._start_live(p)
            else:
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

    async def _start_live(self, p: Plan) -> None:
        """Stored ``sent`` with its client id, then sent and followed in a task of its own."""
        assert self.live is not None
        value, currency = self.fee_value(p)
        planned = from_ms(p.planned_ms)
        with self.sessions.begin() as session:  # recorded before anything is sent; its id names the withdrawal
            transfer_id = stored.record(
                session, self.run_id, asset=p.asset, amount=p.amount, source=p.source, dest=p.dest,
                network=p.network, fee=p.fee, minimum=p.minimum, fee_value=value, value_currency=currency,
                status="sent", reason=p.reason, planned_at=planned, expected_at=from_ms(p.arrives_ms),
                sent_at=planned)
            client_id = self.live.client_id(p.source, self.run_id, transfer_id)
            stored.set_client_id(session, transfer_id, client_id)
        log.info("transfer %d sent: %f %s %s -> %s on %s, fee %f, withdrawal %s (%s)", transfer_id, p.amount,
                 p.asset, p.source, p.dest, p.network, p.fee, client_id, p.reason)
        if value is not None and currency is not None:
            self._fees[currency] = self._fees.get(currency, Decimal(0)) + value
        f = InFlight(transfer_id, p)
        f.live = asyncio.create_task(self._follow(f, client_id, value, currency), name=f"transfer-{transfer_id}")
        self.in_flight.append(f)

    async def _follow(self, f: InFlight, client_id: str, value: Decimal | None, currency: str | None) -> None:
        assert self.live is not None
        p = f.plan

        def withdrawn(w: Withdrawal) -> None:
            with self.sessions.begin() as session:
                stored.withdrawn(session, f.id, w.venue_id, w.amount, w.fee)
            log.info("transfer %d: %s withdrawal %s (%s), fee %s", f.id, p.source, w.venue_id, w.venue_status,
                     w.fee)

        try:
            # The destination's clock may trail the source's: deposits are asked for from well before the plan.
            deposit = await self.live.make(p, client_id, p.planned_ms - 3_600_000, withdrawn)
        except TransferFailed as exc:
            with self.sessions.begin() as session:
                stored.failed(session, f.id, str(exc))
            if value is not None and currency is not None:
                self._fees[currency] -= value
            self.in_flight.remove(f)
            self._tell_failure(f"transfer {f.id} failed: {exc}", p.source)
            await refresh_balances(self.venues, self.state, [p.source], strict=False)
            return
        except TransferUnknown as exc:  # kept in flight: never planned (and sent) again while it may be under way
            self._tell_failure(f"transfer {f.id} outcome unknown: {exc}", p.source)
            return
        except Exception as exc:  # a venue's answer arb cannot read, say: kept in flight as unknown, and said
            log.exception("transfer %d", f.id)
            self._tell_failure(f"transfer {f.id} ({client_id}) outcome unknown: {type(exc).__name__}: {exc}",
                               p.source)
            return
        with self.sessions.begin() as session:
            stored.arrived(session, f.id, from_ms(self.now_ms()))
        self.in_flight.remove(f)
        log.info("transfer %d arrived: %f %s on %s (deposit %s)", f.id, deposit.amount, p.asset, p.dest,
                 deposit.venue_id)
        await refresh_balances(self.venues, self.state, [p.source, p.dest], strict=False)

    def _tell_failure(self, line: str, venue: str) -> None:
        log.error("%s", line)
        if self.on_failure is not None:
            self.on_failure(line, venue)

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
        try:
            await self._run(every)
        finally:  # the run ends: its live transfers stop being followed (their rows say where they were)
            for f in self.in_flight:
                if f.live is not None:
                    f.live.cancel()

    async def _run(self, every: float) -> None:
        while True:
            await self.step()
            simulated = [f.plan.arrives_ms for f in self.in_flight if f.live is None]
            if simulated:
                due = min(simulated) - self.now_ms()
                await asyncio.sleep(max(0.0, min(every, due / 1000)))
            elif self.in_flight:
                await asyncio.sleep(every)
            else:
                await tick(every, self.idle)
