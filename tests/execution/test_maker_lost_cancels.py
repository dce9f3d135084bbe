"""A quote whose cancel's answer is lost, or that its venue ended by itself, never stays ``open`` in its row.

The hedges' lost answers (``test_maker_lost_answers.py``) hold for a quote's cancel too. On a Gate sandbox over
loopback the cancel is done and the route never learns it:

- the connection closed unanswered (``drop_cancel_responses``), a 502 after the cancel (``fail_cancel_responses``),
  or the answer held past the client's timeout;
- the venue ended the quote by itself (its dead man's switch, an operator), so the route's cancel is answered
  ``ORDER_CLOSED``;
- the caller that asked for the cancel was stopped in its flight (the quote guard, stopped as the run ends).

Before, each left the quote's row ``open`` for good (a completed run with its quotes still "resting", seen by the
test of a maker run restarted after a kill). Now the quote is looked up by client id, its row closed as the
sandbox holds it, the cancel's reason kept, and a fresh quote rests in its place.
"""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal

import pytest
from sqlalchemy import select

from arb.domain.market import Side
from arb.execution.lookup import LookupPolicy
from arb.store.models import Order, OrderEvent

from .maker_rig import MAX_AGE_MS, Rig, assert_database_agrees, maker_rig
from .test_maker_races import order_of, quoting

D = Decimal
FAULTS = {"dropped": {"drop_cancel_responses": 1}, "502": {"fail_cancel_responses": 1}}
# The client's timeout while an answer is held: the sandbox, on the same loop, reads and does the request well
# within it even on a loaded machine (the held answer, not a slow read, is what times out).
LATE_MS = 1000


def _row(rig: Rig, client_id: str) -> tuple[str, list[str]]:
    """The quote's stored status and its events' details."""
    with rig.sessions() as s:
        order = s.scalars(select(Order).where(Order.client_order_id == client_id)).one()
        details = [e.detail or "" for e in s.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id))]
        return order.status, details


async def _closed_at_the_end(rig: Rig) -> None:
    await rig.route.close()
    assert rig.route.errors == [] and not rig.route.halted
    with rig.sessions() as s:
        left = [(o.client_order_id, o.status) for o in s.scalars(select(Order)) if o.status != "canceled"]
    assert left == []  # nothing filled here: every quote closed unfilled, each as the sandbox holds it
    rig.journal.store.settle_all()
    assert_database_agrees(rig.sessions, rig.sb_maker, rig.sb_taker)


@pytest.mark.parametrize("fault", ["dropped", "502", "late", "ended_by_the_venue"])
async def test_a_quote_whose_cancel_answer_is_lost_is_closed_as_the_venue_holds_it(fault: str) -> None:
    async with maker_rig() as rig:
        rig.route.orders.lookup = LookupPolicy((0.05, 0.1, 0.2))
        cid = await quoting(rig)
        held = None
        exchange = rig.maker.venue.exchange  # type: ignore[attr-defined]  # the StreamedVenue's LiveVenue
        patient = exchange.timeout
        if fault in FAULTS:
            rig.sb_maker.faults.update(FAULTS[fault])
        elif fault == "late":  # the sandbox cancels it, then holds the answer past the client's timeout
            held = rig.rest.arm("cancel_order", before=False)
            exchange.timeout = LATE_MS
        else:  # the venue ended it itself: the route still takes it for resting
            rig.sb_maker.publish(rig.sb_maker.engine.matcher.cancel(order_of(rig, cid), rig.sb_maker.now_ms()))
        rig.clock.advance(MAX_AGE_MS)  # the quote's age is up: the route cancels it and quotes afresh
        await rig.route.on_books()
        exchange.timeout = patient

        assert order_of(rig, cid).status == "cancelled"  # the scenario happened: the sandbox ended it
        status, details = _row(rig, cid)
        assert status == "canceled", details
        assert any(d.startswith("cancelled: max_age") for d in details), details  # the reason it was cancelled for
        fresh = rig.route.resting[Side.BUY]
        assert [r.client_order_id for r in rig.journal.sent_to("maker", "quote")][-1] != cid
        assert order_of(rig, rig.journal.sent_to("maker", "quote")[-1].client_order_id).price == fresh.price
        if held is not None:
            held.release()
        await _closed_at_the_end(rig)


async def test_a_pull_whose_caller_is_stopped_in_the_cancels_flight_still_records_the_answer() -> None:
    """The quote guard pulls a stale route's quotes; the run ends while the cancel is on the wire, and the guard
    is stopped. The cancel goes on as the route's own task, and closing the route waits for its answer."""
    async with maker_rig() as rig:
        cid = await quoting(rig)
        hold = rig.rest.arm("cancel_order", before=True)
        guard = asyncio.ensure_future(rig.route.pull("stale"))
        await hold.wait_reached()  # the cancel is on its way and unhandled
        guard.cancel()
        with pytest.raises(asyncio.CancelledError):
            await guard
        hold.release()
        await rig.route.close()
        status, details = _row(rig, cid)
        assert (order_of(rig, cid).status, status) == ("cancelled", "canceled")
        assert any(d.startswith("cancelled: stale") for d in details), details
        assert rig.route.resting == {}
        await _closed_at_the_end(rig)


async def test_a_quote_whose_amend_answer_is_lost_is_stored_at_the_amount_the_venue_cut_it_to() -> None:
    """The taker's base a bid's hedges would sell falls to 0.4: the route cuts its quote of 1 in place. The
    sandbox applies the amend and holds its answer past the client's timeout, so the route cancels the quote
    instead (``smaller``). The cancel is answered at the venue's amount, 0.4: the row takes it, as the start's
    reconciliation would, and says who found it. It kept the quote's first amount before."""
    async with maker_rig() as rig:
        cid = await quoting(rig)
        held = rig.rest.arm("amend_order", before=False)
        exchange = rig.maker.venue.exchange  # type: ignore[attr-defined]  # the StreamedVenue's LiveVenue
        patient, exchange.timeout = exchange.timeout, LATE_MS
        rig.funds["now"] = dataclasses.replace(rig.funds["now"], taker_base=D("0.4"))
        await rig.route.on_books()
        exchange.timeout = patient
        assert (order_of(rig, cid).amount, order_of(rig, cid).status) == (D("0.4"), "cancelled")
        status, details = _row(rig, cid)
        assert status == "canceled" and "its answer: amended: amount 1 -> 0.4" in details, details
        held.release()
        await _closed_at_the_end(rig)


def test_the_sandbox_refuses_a_bad_cancel_fault_and_changes_nothing() -> None:
    from arb.venues.gate.sandbox.config import Faults

    faults = Faults()
    with pytest.raises(ValueError, match="drop_cancel_responses"):
        faults.update({"fail_cancel_responses": 2, "drop_cancel_responses": -1})
    assert (faults.fail_cancel_responses, faults.drop_cancel_responses) == (0, 0)
