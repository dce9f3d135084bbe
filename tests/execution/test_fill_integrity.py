"""No fill silently dropped: idempotent re-delivery, recorded conflicts, and ``orders.filled`` = sum of fills.

On real databases (SQLite and PostgreSQL), through the order repository, the leg runner and reconciliation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from arb.domain.market import Side
from arb.domain.orders import OrderStatus, VenueState
from arb.domain.venue import FillReport, OrderReport, OrderRequest, PreparedOrder
from arb.execution.lookup import LookupPolicy
from arb.execution.order_runner import OrderRunner, StoreRecord
from arb.execution.reconciliation import reconcile
from arb.execution.risk import RiskGate, RiskLimits
from arb.store import orders as repo
from arb.store.fills import FillsAdded, add_fills, filled_by_fills
from arb.store.models import Fill, FillConflict, Order
from arb.venues.gate.sandbox import Sandbox
from arb.venues.live import LiveVenue
from arb.venues.paper import PaperVenue

from .conftest import new_run
from .fakes import FakeTime
from .harness import SYMBOL, make_book, paper
from .sandbox_rig import live_gate, sandbox_config

D = Decimal
NOW = datetime(2024, 8, 8, 23, 55, tzinfo=UTC)
LATER = NOW + timedelta(seconds=3)


def fills_of(session: Session, order_id: int) -> list[Fill]:
    return list(session.execute(select(Fill).where(Fill.order_id == order_id).order_by(Fill.id)).scalars())


def _order(factory: sessionmaker[Session], cid: str = "t-fill1", amount: str = "2") -> int:
    run_id = new_run(factory)
    with factory.begin() as s:
        oid = repo.create_order(s, repo.NewOrder(run_id, None, "gate", SYMBOL, "buy", D("20.5"), D(amount), cid), NOW)
        repo.record_transition(s, oid, OrderStatus.SUBMITTED, NOW, sent_at=NOW)
    return oid


def _fill(trade_id: str, amount: str, price: str = "20.4", fee: str = "0.002", cid: str = "t-fill1") -> FillReport:
    return FillReport("gate", trade_id, cid, "9", SYMBOL, Side.BUY, D(price), D(amount), D(fee), "LINK", NOW)


def _report(filled: str, *fills: FillReport, cid: str = "t-fill1", amount: str = "2") -> OrderReport:
    return OrderReport("gate", cid, "9", SYMBOL, Side.BUY, D("20.5"), D(amount), D(filled), VenueState.CLOSED,
                       "closed", fills=fills)


def assert_filled_is_sum_of_fills(factory: sessionmaker[Session]) -> None:
    with factory() as s:
        for order in s.scalars(select(Order)):
            assert order.filled == filled_by_fills(s, order.id), order.client_order_id


def _count(factory: sessionmaker[Session], model: type) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_identical_redelivery_is_idempotent_and_silent(
    session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    oid = _order(session_factory)
    fills = (_fill("101", "1.5"), _fill("102", "0.5"))
    with session_factory.begin() as s:
        repo.record_report(s, oid, _report("2", *fills), NOW)
    caplog.clear()
    # The same trades again, one of them rendered with trailing zeros: the same fill, by value.
    again = (_fill("101", "1.50", price="20.400"), replace(_fill("102", "0.5"), ts=LATER))
    with session_factory.begin() as s:
        assert add_fills(s, oid, again, received_at=LATER) == FillsAdded(repeated=2)
        repo.record_report(s, oid, _report("2", *again), LATER)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert (_count(session_factory, Fill), _count(session_factory, FillConflict)) == (2, 0)
    with session_factory() as s:
        # The first recording stands, including when arb received it.
        assert [f.received_at for f in fills_of(s, oid)] == [NOW, NOW]
        assert s.get_one(Order, oid).status == "filled"
    assert_filled_is_sum_of_fills(session_factory)


def test_a_different_fill_under_a_stored_trade_id_is_recorded_logged_and_the_stored_fill_kept(
    session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    oid = _order(session_factory)
    with session_factory.begin() as s:
        repo.record_report(s, oid, _report("1.5", _fill("201", "1.5")), NOW)
    caplog.clear()
    conflicting = _fill("201", "2", price="20.41")
    with session_factory.begin() as s:
        assert add_fills(s, oid, [conflicting], received_at=LATER) == FillsAdded(conflicts=1)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    message = errors[0].getMessage()
    assert all(word in message for word in ("gate", "201", "price", "amount")), message
    with session_factory() as s:
        [stored] = fills_of(s, oid)
        assert (stored.trade_id, stored.price, stored.amount, stored.fee) == ("201", D("20.4"), D("1.5"), D("0.002"))
        [conflict] = s.scalars(select(FillConflict))
        order = s.get_one(Order, oid)
        assert (conflict.fill_id, conflict.order_id, conflict.run_id) == (stored.id, oid, order.run_id)
        assert (conflict.venue, conflict.trade_id, conflict.ts) == ("gate", "201", LATER)
        assert conflict.detail == "price: stored 20.4, reported 20.41; amount: stored 1.5, reported 2"
        assert {k: conflict.reported[k] for k in ("order_id", "price", "amount", "fee", "fee_currency")} == {
            "order_id": str(oid), "price": "20.41", "amount": "2", "fee": "0.002", "fee_currency": "LINK"}
        assert order.filled == D("1.5")
    # The same conflicting report again (a later reconciliation pass) is not a second conflict.
    caplog.clear()
    with session_factory.begin() as s:
        assert add_fills(s, oid, [conflicting], received_at=LATER) == FillsAdded()
    assert _count(session_factory, FillConflict) == 1
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert_filled_is_sum_of_fills(session_factory)


def test_the_same_trade_reported_for_another_order_is_a_conflict(session_factory: sessionmaker[Session]) -> None:
    first = _order(session_factory, "t-first")
    second = _order(session_factory, "t-second")
    with session_factory.begin() as s:
        repo.record_report(s, first, _report("2", _fill("301", "2", cid="t-first"), cid="t-first"), NOW)
    # Run 2's venue restarted its trade ids: its fill collides with run 1's under (venue, trade_id).
    with session_factory.begin() as s:
        t = repo.record_report(s, second, _report("2", _fill("301", "2", cid="t-second"), cid="t-second"), LATER)
    assert t.to_status is OrderStatus.UNKNOWN  # the venue says 2 filled, none of it is stored for this order
    with session_factory() as s:
        [conflict] = s.scalars(select(FillConflict))
        assert (conflict.order_id, conflict.detail) == (second, f"order: stored {first}, reported {second}")
        assert (s.get_one(Order, first).filled, s.get_one(Order, second).filled) == (D("2"), D("0"))
    assert_filled_is_sum_of_fills(session_factory)


def test_a_report_claiming_more_than_its_fills_leaves_the_order_unknown_until_they_arrive(
    session_factory: sessionmaker[Session],
) -> None:
    oid = _order(session_factory)
    # The venue says all 2 filled but only one trade is known: filled follows the fills, the order stays
    # in flight (unknown) so that reconciliation fetches the rest; nothing claims a fill no row supports.
    with session_factory.begin() as s:
        t = repo.record_report(s, oid, _report("2", _fill("401", "1.5")), NOW, detail="ack")
    assert (t.to_status, t.filled) == (OrderStatus.UNKNOWN, D("1.5"))
    assert_filled_is_sum_of_fills(session_factory)
    with session_factory() as s:
        order = s.get_one(Order, oid)
        assert (order.status, order.filled) == ("unknown", D("1.5"))
        assert order.events[-1].detail == "ack; fills incomplete: the venue reports 2 filled, 1.5 recorded"
    with session_factory.begin() as s:
        t = repo.record_report(s, oid, _report("2", _fill("401", "1.5"), _fill("402", "0.5")), LATER)
    assert (t.to_status, t.filled) == (OrderStatus.FILLED, D("2"))
    with session_factory() as s:
        assert [f.received_at for f in fills_of(s, oid)] == [NOW, LATER]
        assert [e.to_status for e in s.get_one(Order, oid).events] == ["created", "submitted", "unknown", "filled"]
    assert_filled_is_sum_of_fills(session_factory)


def test_a_final_order_keeps_its_status_when_a_report_claims_more_than_its_fills(
    session_factory: sessionmaker[Session],
) -> None:
    oid = _order(session_factory)
    with session_factory.begin() as s:
        repo.record_report(s, oid, _report("1", _fill("501", "1")), NOW)  # an IOC: canceled after 1
    with session_factory.begin() as s:
        t = repo.record_report(s, oid, _report("1.5", _fill("502", "0.25")), LATER)
    assert (t.to_status, t.filled) == (OrderStatus.CANCELED, D("1.25"))
    assert_filled_is_sum_of_fills(session_factory)


def test_fills_found_without_a_report_move_filled_with_them(session_factory: sessionmaker[Session]) -> None:
    oid = _order(session_factory)
    with session_factory.begin() as s:
        added = repo.record_fills(s, oid, [_fill("601", "0.5")], NOW, detail="reconciliation: fills")
    assert added == FillsAdded(new=1, amount=D("0.5"))
    assert_filled_is_sum_of_fills(session_factory)
    with session_factory.begin() as s:
        repo.record_fills(s, oid, [_fill("601", "0.5"), _fill("602", "1.5")], LATER)
    with session_factory() as s:
        order = s.get_one(Order, oid)
        assert (order.status, order.filled) == ("filled", D("2"))
    assert_filled_is_sum_of_fills(session_factory)


def test_a_fill_recorded_reads_none_of_the_orders_earlier_fills(session_factory: sessionmaker[Session]) -> None:
    """A maker quote takes a fill per print (issue #47: 10^4 tiny prints on one quote slowed a replay
    super-linearly): recording the next fill, and the pair's size after it, reads no fill row back, so its cost
    does not grow with the fills before it; ``filled`` stays their sum."""
    from sqlalchemy import event

    oid = _order(session_factory, amount="1")
    with session_factory.begin() as s:
        repo.record_fills(s, oid, [_fill(f"7{i:02}", "0.01") for i in range(50)], NOW)
    reads: list[str] = []
    engine = session_factory.kw["bind"]

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT") and "FROM fills" in statement:
            reads.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        with session_factory.begin() as s:
            repo.record_fills(s, oid, [_fill("799", "0.01")], LATER)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert reads == []
    with session_factory() as s:
        assert s.get_one(Order, oid).filled == D("0.51")
    assert_filled_is_sum_of_fills(session_factory)


# -- the leg runner: trades the venue's answer does not carry ---------------------------------------------


@dataclass
class TradesApart:
    """A paper venue answering like ccxt's create_order (no trades in the answer); its trades become visible
    to ``fetch_fills`` only once ``visible`` is set."""

    inner: PaperVenue
    visible: bool = True

    @property
    def name(self) -> str:
        return self.inner.name

    def market_rules(self, symbol: str):  # noqa: ANN201 - delegated
        return self.inner.market_rules(symbol)

    async def prepare(self, request: OrderRequest) -> PreparedOrder:
        return await self.inner.prepare(request)

    async def send(self, prepared: PreparedOrder) -> OrderReport:
        return replace(await self.inner.send(prepared), fills=())

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderReport:
        return await self.inner.fetch_order(client_order_id, symbol)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        return await self.inner.fetch_open_orders(symbol)

    async def fetch_fills(self, symbol: str, since: datetime, order_id: str | None = None) -> list[FillReport]:
        return await self.inner.fetch_fills(symbol, since, order_id) if self.visible else []


async def _run_leg(sessions: sessionmaker[Session], venue: TradesApart, cid: str) -> tuple[int, object]:
    run_id = new_run(sessions)
    request = OrderRequest(cid, SYMBOL, Side.BUY, D("2"), D("20.00"))
    with sessions.begin() as s:
        oid = repo.create_order(s, repo.NewOrder(run_id, None, venue.name, SYMBOL, "buy", request.price,
                                                 request.amount, cid), NOW)
    risk = RiskGate(RiskLimits(max_notional_per_trade=D("1000"), max_unhedged_exposure=D("10"),
                               daily_loss_limit=D("50")))
    runner = OrderRunner(risk, lookup=LookupPolicy((0.1, 0.1)), sleep=FakeTime().sleep)
    outcome = await runner.run(venue, await venue.prepare(request),  # type: ignore[arg-type]
                               StoreRecord(sessions, oid, runner.clock), order_id=oid)
    return oid, outcome


async def test_a_leg_records_its_answer_and_fetched_trades_together(sqlite_sessions) -> None:
    venue = TradesApart(paper("alpha", make_book("alpha", [("19.90", "5")], [("19.99", "1"), ("20.00", "5")])))
    oid, outcome = await _run_leg(sqlite_sessions, venue, "t-leg1")
    assert outcome.status is OrderStatus.FILLED and outcome.fills_complete  # type: ignore[attr-defined]
    with sqlite_sessions() as s:
        order = s.get_one(Order, oid)
        assert (order.status, order.filled, len(order.fills)) == ("filled", D("2"), 2)
        # One answer, one transition: never an intermediate state with filled ahead of its fills.
        assert [e.to_status for e in order.events] == ["created", "submitted", "filled"]
        assert order.acked_at is not None and all(f.received_at is not None for f in order.fills)
    assert_filled_is_sum_of_fills(sqlite_sessions)


async def test_a_leg_whose_trades_cannot_be_found_stays_unresolved_until_reconciliation_finds_them(
    sqlite_sessions,
) -> None:
    venue = TradesApart(paper("alpha", make_book("alpha", [("19.90", "5")], [("20.00", "5")])), visible=False)
    oid, outcome = await _run_leg(sqlite_sessions, venue, "t-leg2")
    assert outcome.status is OrderStatus.UNKNOWN and not outcome.resolved  # type: ignore[attr-defined]
    with sqlite_sessions() as s:
        order = s.get_one(Order, oid)
        assert (order.status, order.filled) == ("unknown", D("0"))
    assert_filled_is_sum_of_fills(sqlite_sessions)

    venue.visible = True
    with sqlite_sessions() as s:
        run_id = s.get_one(Order, oid).run_id
    report = await reconcile({"alpha": venue}, sqlite_sessions, run_id, symbols=[SYMBOL],  # type: ignore[dict-item]
                             since=datetime(2000, 1, 1, tzinfo=UTC), lookup=LookupPolicy((0.1,)),
                             sleep=FakeTime().sleep)
    assert report.resolved == ["t-leg2"] and report.fills_added == 1 and report.fill_conflicts == 0
    with sqlite_sessions() as s:
        order = s.get_one(Order, oid)
        assert (order.status, order.filled) == ("filled", D("2"))
    assert_filled_is_sum_of_fills(sqlite_sessions)


@dataclass
class BusyAccount:
    """A live venue on an account that keeps trading: right after our order is answered, ``others`` more
    orders of the same account fill, so by the time the leg asks for its trades they are not the newest."""

    inner: LiveVenue
    others: int = 4

    @property
    def name(self) -> str:
        return self.inner.name

    async def prepare(self, request: OrderRequest) -> PreparedOrder:
        return await self.inner.prepare(request)

    async def send(self, prepared: PreparedOrder) -> OrderReport:
        report = await self.inner.send(prepared)
        for i in range(self.others):
            await self.inner.place(OrderRequest(f"t-other{i}", SYMBOL, Side.SELL, D("0.1"), D("19.90")))
        return report

    async def fetch_fills(self, symbol: str, since: datetime, order_id: str | None = None) -> list[FillReport]:
        return await self.inner.fetch_fills(symbol, since, order_id)


async def test_a_leg_finds_its_trades_by_order_on_an_account_busier_than_a_page(sqlite_sessions) -> None:
    # Gate's answer to an order carries no trades, so the leg asks for them. Asked as "the account's trades
    # since the order was sent", one page (3 here, 1000 on Gate) holds only the 4 newer trades of other
    # orders: the leg would end unknown and halt the pair. Asked by the order's id, it finds its own 2.
    async with Sandbox(sandbox_config()) as sb:
        sb.push_book("LINK_USDT", [("19.90", "5")], [("20.00", "1"), ("20.05", "1")])
        async with live_gate("gate", sb) as live:
            live.quirks = replace(live.quirks, fills_page=3)
            venue = BusyAccount(live)
            run_id = new_run(sqlite_sessions)
            request = OrderRequest("t-busy1", SYMBOL, Side.BUY, D("2"), D("20.05"))
            with sqlite_sessions.begin() as s:
                oid = repo.create_order(s, repo.NewOrder(run_id, None, "gate", SYMBOL, "buy", request.price,
                                                         request.amount, request.client_order_id), NOW)
            risk = RiskGate(RiskLimits(max_notional_per_trade=D("1000"), max_unhedged_exposure=D("10"),
                                       daily_loss_limit=D("50")))
            runner = OrderRunner(risk, lookup=LookupPolicy((0.1,)), sleep=FakeTime().sleep)
            outcome = await runner.run(venue, await venue.prepare(request),  # type: ignore[arg-type]
                                       StoreRecord(sqlite_sessions, oid, runner.clock), order_id=oid)
            every = await live.fetch_fills(SYMBOL, datetime.now(UTC) - timedelta(minutes=1))
    assert len(every) == 3 and {f.client_order_id for f in every} <= {f"t-other{i}" for i in range(4)}
    assert outcome.status is OrderStatus.FILLED and outcome.fills_complete
    assert sorted((f.price, f.amount) for f in outcome.fills) == [(D("20.00"), D("1")), (D("20.05"), D("1"))]
    with sqlite_sessions() as s:
        order = s.get_one(Order, oid)
        assert (order.status, order.filled, len(order.fills)) == ("filled", D("2"), 2)
    assert_filled_is_sum_of_fills(sqlite_sessions)
