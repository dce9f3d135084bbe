"""A leg its venue's order budget refuses never left: the pair is not sent, both orders go ``created ->
rejected`` (no ``submitted``, no lookup by client id), and the venue's breaker counts no failure for it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from arb.domain.market import Side
from arb.store.models import Opportunity, Order
from arb.venues.guard import BudgetedVenue
from arb.venues.throttle import OrderBudget, OrderWindow

from .harness import Opp
from .maker_rig import MAX_AGE_MS, maker_rig
from .test_executor import Rig


async def test_a_leg_the_budget_refuses_is_rejected_locally_and_trips_no_breaker(
        sqlite_sessions: sessionmaker[Session], tmp_path: Path) -> None:
    rig = Rig(sqlite_sessions, tmp_path)
    budget = OrderBudget("beta", (OrderWindow(1, 60.0),), max_wait_s=5.0, clock=rig.time.clock,
                         sleep=rig.time.sleep, held=lambda: False)
    rig.executor.venues["beta"] = BudgetedVenue(rig.beta, budget)  # type: ignore[arg-type]
    assert (await rig.executor.execute(Opp())).executed  # the window's one order
    refused = [await rig.executor.execute(Opp()) for _ in range(3)]  # room in 60 s: past the 5 s an order waits
    assert {r.reason for r in refused} == {"not_sent:beta:OrderBudgetExceeded"}
    assert len(rig.alpha.placed) == len(rig.beta.placed) == 1  # only the first pair's legs left
    assert rig.time.sleeps == [] and (budget.waited, budget.refused) == (0, 3)
    with rig.sessions() as s:
        for result in refused:
            assert s.get_one(Opportunity, result.opportunity_id).decision == "rejected"
        for order in s.query(Order).filter(Order.opportunity_id.in_([r.opportunity_id for r in refused])):
            assert [e.to_status for e in order.events] == ["created", "rejected"] and order.sent_at is None
    # Our own pacing, not the venue failing: three refusals in a row (the breaker's limit) leave it closed.
    assert rig.risk.state().breakers.get("beta") is None or rig.risk.state().breakers["beta"].state == "closed"
    rig.time.now += 60.0
    assert (await rig.executor.execute(Opp())).executed  # the window has room again


async def test_a_quote_the_budget_refuses_is_rejected_without_being_submitted() -> None:
    """The maker route's quotes take the same slots: a quote refused by the budget is ``created -> rejected``
    in arb's store (it never left: no ``submitted``, no lookup), and the sandbox never saw it."""
    async with maker_rig() as rig:
        budget = OrderBudget("maker", (OrderWindow(1, 60.0),), max_wait_s=0.0, held=lambda: False)
        rig.route.maker = BudgetedVenue(rig.maker, budget)  # type: ignore[assignment]
        await rig.route.on_books()  # the window's one placement: the quote rests
        assert Side.BUY in rig.route.resting
        rig.clock.advance(MAX_AGE_MS)  # its age is up: cancelled, and its replacement finds no room
        await rig.route.on_books()
        assert Side.BUY not in rig.route.resting and budget.refused == 1
        [first, second] = rig.journal.sent_to("maker", "quote")
        assert {o.client_id for o in rig.sb_maker.engine.orders.values()} == {first.client_order_id}
        with rig.sessions() as s:
            row = s.query(Order).filter(Order.client_order_id == second.client_order_id).one()
            assert [e.to_status for e in row.events] == ["created", "rejected"] and row.sent_at is None
        await rig.route.close()
