"""Reconciliation against a paper venue and a real database: crash leftovers brought to the truth."""

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select

from arb.domain.market import Side
from arb.domain.orders import OrderStatus
from arb.domain.venue import OrderRequest
from arb.execution.lookup import LookupPolicy
from arb.execution.reconciliation import reconcile, resolve_own
from arb.store import orders as repo
from arb.store.fills import filled_by_fills
from arb.store.kept import KeptConnection
from arb.store.models import Fill, Order, OrderEvent
from arb.store.write_ahead import WriteAheadRecord

from .conftest import new_run
from .fakes import FakeTime
from .harness import SYMBOL, make_book, paper

D = Decimal
SINCE = datetime(2000, 1, 1, tzinfo=UTC)


async def test_restart_finds_sent_orders_rejects_unsent_ones_and_adopts_strangers(sqlite_sessions) -> None:
    venue = paper("alpha", make_book("alpha", [("19.90", "5")], [("20.00", "5")]))
    run_id = new_run(sqlite_sessions)
    sent = OrderRequest("t-sent1", SYMBOL, Side.BUY, D("1.5"), D("20.00"))
    unsent = OrderRequest("t-unsent1", SYMBOL, Side.BUY, D("1"), D("20.00"))
    now = datetime.now(UTC)
    with sqlite_sessions.begin() as s:
        for req in (sent, unsent):
            repo.create_order(s, repo.NewOrder(run_id, None, "alpha", SYMBOL, req.side.value, req.price, req.amount,
                                               req.client_order_id), now)
    # The process sent one order, then died before recording the answer; someone else left a resting order.
    await venue.place(sent)
    await venue.place(OrderRequest("t-stranger", SYMBOL, Side.SELL, D("1"), D("25.00"), "gtc"))

    t = FakeTime()
    args = dict(symbols=[SYMBOL], since=SINCE, lookup=LookupPolicy((0.1, 0.1)), sleep=t.sleep)
    report = await reconcile({"alpha": venue}, sqlite_sessions, run_id, **args)
    assert report.resolved == ["t-sent1"] and report.rejected == ["t-unsent1"]
    assert report.adopted == ["t-stranger"] and report.unresolved == [] and report.orphan_fills == []
    with sqlite_sessions() as s:
        rows = {o.client_order_id: o for o in s.scalars(select(Order))}
        assert (rows["t-sent1"].status, rows["t-sent1"].filled) == ("filled", D("1.5"))
        assert filled_by_fills(s, rows["t-sent1"].id) == D("1.5")
        assert rows["t-unsent1"].status == "rejected"
        assert rows["t-stranger"].status == "open" and rows["t-stranger"].flagged
        counts = (s.scalar(select(func.count()).select_from(Fill)), s.scalar(select(func.count()).select_from(OrderEvent)))

    # Reconciling again changes nothing: no double-counted fill, no new event.
    again = await reconcile({"alpha": venue}, sqlite_sessions, run_id, **args)
    assert again.fills_added == 0 and again.adopted == []
    with sqlite_sessions() as s:
        assert (s.scalar(select(func.count()).select_from(Fill)), s.scalar(select(func.count()).select_from(OrderEvent))) == counts


async def test_an_entry_stopped_before_its_legs_wrote_gets_its_first_event_back(sqlite_sessions) -> None:
    # The write-ahead record commits an entry's orders without their first events, which the legs write in
    # their first transactions; a run that stopped in between left orders in ``created`` with no event.
    venue = paper("alpha", make_book("alpha", [("19.90", "5")], [("20.00", "5")]))
    run_id = new_run(sqlite_sessions)
    created_at = datetime.now(UTC)

    class Entry:
        symbol, buy_venue, sell_venue, size = SYMBOL, "alpha", "alpha", D("1")
        buy_vwap = sell_vwap = buy_limit = sell_limit = mark_price = D("20.00")
        buy_fee_rate = sell_fee_rate = D("0.001")
        expected_profit, edge_bps = D("0.01"), D("5")
        buy_book_seq = sell_book_seq = None
        buy_book_age_ms = sell_book_age_ms = 0

    kept = KeptConnection(sqlite_sessions.kw["bind"])
    record = WriteAheadRecord(kept)
    _, order_ids = record.entry(run_id, Entry(), created_at, (
        repo.NewOrder(run_id, None, "alpha", SYMBOL, "buy", D("20.00"), D("1"), "t-lost1b"),
        repo.NewOrder(run_id, None, "alpha", SYMBOL, "sell", D("20.00"), D("1"), "t-lost1s")), created_at,
        buy_limit=D("20.00"), sell_limit=D("20.00"))
    kept.close()
    await venue.place(OrderRequest("t-lost1b", SYMBOL, Side.BUY, D("1"), D("20.00")))  # one leg left

    t = FakeTime()
    report = await reconcile({"alpha": venue}, sqlite_sessions, run_id, symbols=[SYMBOL], since=SINCE,
                             lookup=LookupPolicy((0.1, 0.1)), sleep=t.sleep)
    assert report.resolved == ["t-lost1b"] and report.rejected == ["t-lost1s"]
    with sqlite_sessions() as s:
        for order_id, last in zip(order_ids, ("filled", "rejected"), strict=True):
            order = s.get_one(Order, order_id)
            assert [e.to_status for e in order.events] == ["created", last]
            assert order.events[0].ts == order.created_at and order.events[0].from_status is None


async def test_an_acknowledged_order_the_venue_no_longer_holds_is_closed_as_cancelled(sqlite_sessions) -> None:
    """An ``open`` (acknowledged) order the venue does not find and that never traded closed unfilled:
    ``canceled`` with the reason, since the state machine has no ``open -> rejected`` (a crashed maker run's
    quotes made every later start fail on it). A venue that starts empty in every run (``forgetful``: paper)
    is not asked: an earlier run's orders are closed saying why."""
    venue = paper("alpha", make_book("alpha", [("19.90", "5")], [("20.00", "5")]))
    run_id = new_run(sqlite_sessions)
    now = datetime.now(UTC)
    ids = {}
    with sqlite_sessions.begin() as s:
        for coid in ("t-acked1", "t-sentonly1"):
            ids[coid] = repo.create_order(s, repo.NewOrder(run_id, None, "alpha", SYMBOL, "buy", D("19.00"), D("1"),
                                                           coid, purpose="quote", time_in_force="poc"), now)
            repo.record_transition(s, ids[coid], OrderStatus.SUBMITTED, now, sent_at=now)
        repo.record_transition(s, ids["t-acked1"], OrderStatus.OPEN, now, acked_at=now)
    t = FakeTime()
    args = dict(symbols=[SYMBOL], since=SINCE, lookup=LookupPolicy((0.1,)), sleep=t.sleep)
    report = await reconcile({"alpha": venue}, sqlite_sessions, run_id, **args)
    assert report.closed == ["t-acked1"] and report.rejected == ["t-sentonly1"]
    with sqlite_sessions() as s:
        rows = {o.client_order_id: o.status for o in s.scalars(select(Order))}
        detail = s.scalar(select(OrderEvent.detail).where(OrderEvent.order_id == ids["t-acked1"])
                          .order_by(OrderEvent.id.desc()).limit(1))
    assert rows == {"t-acked1": "canceled", "t-sentonly1": "rejected"}
    assert detail == "reconciliation: not on the venue, no trades"

    with sqlite_sessions.begin() as s:
        left = repo.create_order(s, repo.NewOrder(run_id, None, "alpha", SYMBOL, "sell", D("21"), D("1"), "t-left1",
                                                  purpose="quote", time_in_force="poc"), now)
        repo.record_transition(s, left, OrderStatus.SUBMITTED, now, sent_at=now)
        repo.record_transition(s, left, OrderStatus.OPEN, now, acked_at=now)
    asked = list(t.sleeps)
    report = await reconcile({"alpha": venue}, sqlite_sessions, run_id, **args, forgetful={"alpha"})
    assert report.closed == ["t-left1"] and report.unresolved == []
    with sqlite_sessions() as s:
        status = s.get_one(Order, left).status
        detail = s.scalar(select(OrderEvent.detail).where(OrderEvent.order_id == left).order_by(OrderEvent.id.desc())
                          .limit(1))
    assert status == "canceled" and "knows none of an earlier run's orders" in detail
    assert t.sleeps == asked  # the paper venue was not looked up (no spaced retries)


async def test_the_runs_own_orders_left_in_flight_at_its_end_are_brought_to_the_venues_answer(sqlite_sessions) -> None:
    """At a run's end (``resolve_own``, after what rested was cancelled): a quote the venue closed while its
    row said ``open`` (its cancel's answer lost) is closed as the venue holds it, on the venue the run still
    has, paper included; an earlier run's order is the next start's reconciliation's, left alone."""
    venue = paper("alpha", make_book("alpha", [("19.90", "5")], [("20.00", "5")]))
    earlier, run_id = new_run(sqlite_sessions), new_run(sqlite_sessions)
    now = datetime.now(UTC)
    ids = {}
    with sqlite_sessions.begin() as s:
        for run, coid, price in ((earlier, "t-earlier1", D("18.00")), (run_id, "t-lost1", D("19.00")),
                                 (run_id, "t-resting1", D("19.10"))):
            ids[coid] = repo.create_order(s, repo.NewOrder(run, None, "alpha", SYMBOL, "buy", price, D("1"), coid,
                                                           purpose="quote", time_in_force="poc"), now)
            repo.record_transition(s, ids[coid], OrderStatus.SUBMITTED, now, sent_at=now)
            repo.record_transition(s, ids[coid], OrderStatus.OPEN, now, acked_at=now)
    for coid, price in (("t-lost1", D("19.00")), ("t-resting1", D("19.10"))):
        await venue.place(OrderRequest(coid, SYMBOL, Side.BUY, D("1"), price, "poc"))
    await venue.cancel("t-lost1", SYMBOL)  # done on the venue; the answer never reached the run

    report = await resolve_own({"alpha": venue}, sqlite_sessions, run_id, lookup=LookupPolicy((0.1,)),
                               sleep=FakeTime().sleep)
    assert sorted(report.resolved) == ["t-lost1", "t-resting1"] and report.unresolved == []
    with sqlite_sessions() as s:
        rows = {o.client_order_id: o.status for o in s.scalars(select(Order))}
        detail = s.scalar(select(OrderEvent.detail).where(OrderEvent.order_id == ids["t-lost1"])
                          .order_by(OrderEvent.id.desc()).limit(1))
    # Still resting (its cancel at the end failed): recorded as the venue holds it, open, and said so.
    assert rows == {"t-earlier1": "open", "t-lost1": "canceled", "t-resting1": "open"}
    assert detail == "at the run's end"

    # A run that leaves nothing in flight (the usual end) asks its venues nothing and settles nothing.
    asked = venue.requests
    quiet = await resolve_own({"alpha": venue}, sqlite_sessions, new_run(sqlite_sessions))
    assert not quiet.found_in_flight and quiet.settled == [] and venue.requests == asked
