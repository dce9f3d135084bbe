"""SIGKILL with a quote resting (issue #34's last race): on restart the quote is found by its client id, the
fill that came in while arb was down is hedged once, and the quote is resumed, or with ``cancel_at_start``
cancelled. A third case kills arb in an amend's flight: the venue cut the quote, the answer was lost with the
process, and the restart's reconciliation takes the venue's amount.

A child process (``maker_sigkill_child.py``) quotes on this test's maker sandbox through the route and arb's
store journal, and is SIGKILLed once its bid rests. The market then fills part of the bid. The restart is what
``arb run`` does at start: reconciliation (the quote looked up by client id, its fill recorded), then the
quoting desk's take-over (``runtime/quoting.take_over``) with a fresh route and stream. At the end the
database equals both sandboxes (every fill once, every maker fill with exactly its hedge)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from arb.domain.market import Side
from arb.execution.lookup import LookupPolicy
from arb.execution.maker import MakerRoute
from arb.execution.reconciliation import reconcile
from arb.quoting.sizing import Funds
from arb.runtime.maker_journal import StoreJournal, VenueFees
from arb.runtime.quoting import take_over
from arb.store.db import make_engine, make_session_factory
from arb.store.maker_pairs import unfinished_quotes
from arb.store.migrate import upgrade_to_head
from arb.store.models import Order
from arb.venues.gate.private_stream import for_exchange
from arb.venues.gate.sandbox import Sandbox
from arb.venues.live.streamed import StreamedVenue

from .conftest import new_run
from .maker_rig import MAKER_BOOK, TAKER_BOOK, TIMEOUT, SandboxBooks, assert_database_agrees, spec
from .sandbox_rig import KEY, PAIR, SYMBOL, live_gate, sandbox_config
from .test_sigkill import DEADLINE_S, POLL_S, TESTS_DIR

D = Decimal


async def _resting_marker(markers: Path, child: asyncio.subprocess.Process, log: Path) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while not (found := [p.stem for p in markers.glob("*.resting")]):
        if child.returncode is not None:
            pytest.fail(f"child exited with {child.returncode} before quoting:\n{log.read_text()[-3000:]}")
        if loop.time() > deadline:
            pytest.fail(f"no quote resting after {DEADLINE_S} s:\n{log.read_text()[-3000:]}")
        await asyncio.sleep(POLL_S)  # poll interval of a bounded loop; the sandboxes serve meanwhile
    return found[0]


async def _killed_while_quoting(db_url: str, run_id: int, sb_maker: Sandbox, sb_taker: Sandbox, markers: Path,
                                log: Path) -> str:
    """The child quotes on ``sb_maker`` and is SIGKILLed once its bid rests; the bid's client id."""
    args = {"db_url": db_url, "run_id": run_id, "markers": str(markers),
            "venues": {name: {"rest": sb.rest_url, "ws": sb.ws_url} for name, sb in (("maker", sb_maker),
                                                                                     ("taker", sb_taker))}}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")]))}
    with log.open("wb") as out:
        child = await asyncio.create_subprocess_exec(sys.executable, "-m", "execution.maker_sigkill_child",
                                                     json.dumps(args), env=env, cwd=TESTS_DIR, stdout=out, stderr=out)
    try:
        quote_id = await _resting_marker(markers, child, log)
        child.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(child.wait(), timeout=10) == -signal.SIGKILL
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    return quote_id


async def test_a_killed_quoters_bid_is_cancelled_by_the_venues_dead_mans_switch(tmp_path: Path) -> None:
    """The route arms Gate's countdown (``countdown_cancel_all``, ``RouteSpec.dead_man_s``) before its first
    quote leaves and refreshes it while it quotes. Killed, it refreshes nothing: once the countdown runs out
    (the sandbox's clock moved past it) the sandbox cancels the bid, and the next start finds it cancelled."""
    db_url = f"sqlite:///{tmp_path / 'arb.db'}"
    upgrade_to_head(db_url)
    engine = make_engine(db_url)
    sessions = make_session_factory(engine)
    markers = tmp_path / "markers"
    markers.mkdir()
    try:
        async with Sandbox(sandbox_config()) as sb_maker, Sandbox(sandbox_config()) as sb_taker:
            sb_maker.push_book(PAIR.id, *MAKER_BOOK)
            sb_taker.push_book(PAIR.id, *TAKER_BOOK)
            quote_id = await _killed_while_quoting(db_url, new_run(sessions), sb_maker, sb_taker, markers,
                                                   tmp_path / "child.log")
            [order] = [o for o in sb_maker.engine.orders.values() if o.client_id == quote_id]
            sb_maker.shift_clock(spec().dead_man_s - 3)
            assert order.finish_as == "open"  # inside the countdown: the bid still rests
            sb_maker.shift_clock(4)
            assert order.finish_as == "cancelled"  # arb said nothing for dead_man_s: the venue pulled it
            async with live_gate("maker", sb_maker) as maker, live_gate("taker", sb_taker) as taker:
                report = await reconcile({"maker": maker, "taker": taker}, sessions, new_run(sessions),
                                         symbols=[SYMBOL], since=datetime.now(UTC) - timedelta(minutes=1),
                                         lookup=LookupPolicy((0.02,)))
            assert report.resolved == [quote_id]
            with sessions() as s:
                assert s.scalars(select(Order.status).where(Order.client_order_id == quote_id)).one() == "canceled"
    finally:
        engine.dispose()


@pytest.mark.parametrize(("cancel_at_start", "amended", "power_cut"),
                         [(False, False, False), (True, False, False), (False, True, False), (False, False, True)],
                         ids=["resumed", "cancelled", "amended-in-flight", "power-cut"])
async def test_sigkill_with_a_quote_resting_then_restart_hedges_what_filled_once(
        db_url: str, tmp_path: Path, cancel_at_start: bool, amended: bool, power_cut: bool) -> None:
    """``power_cut``: the machine lost the database's last transaction with the process: the quote's answer
    (its first event, ``submitted``, ``open``) is gone and its row is as the write-ahead record left it,
    ``created``. The restart finds it on the venue by client id all the same and resumes it."""
    upgrade_to_head(db_url)
    engine = make_engine(db_url)
    sessions = make_session_factory(engine)
    markers = tmp_path / "markers"
    markers.mkdir()
    log = tmp_path / "child.log"
    since = datetime.now(UTC) - timedelta(minutes=1)
    try:
        async with Sandbox(sandbox_config()) as sb_maker, Sandbox(sandbox_config()) as sb_taker:
            sb_maker.push_book(PAIR.id, *MAKER_BOOK)
            sb_taker.push_book(PAIR.id, *TAKER_BOOK)
            quote_id = await _killed_while_quoting(db_url, new_run(sessions), sb_maker, sb_taker, markers, log)

            [order] = [o for o in sb_maker.engine.orders.values() if o.client_id == quote_id]
            if power_cut:
                with sessions.begin() as s:
                    row = s.scalars(select(Order).where(Order.client_order_id == quote_id)).one()
                    for event in list(row.events):
                        s.delete(event)
                    row.status, row.sent_at, row.acked_at, row.venue_order_id = "created", None, None, None
            if amended:  # arb's amend of the bid to 0.8 reached Gate; its answer died with the process
                _, events = sb_maker.engine.amend(KEY, PAIR.id, str(order.id), {"amount": "0.8"},
                                                  int(datetime.now(UTC).timestamp() * 1000))
                sb_maker.publish(events)
            amount = D("0.8") if amended else D("1")
            # While arb is down, the market fills 0.4 of the resting bid.
            sb_maker.push_trade(PAIR.id, order.price, D("0.4"), "sell")
            assert order.filled_amount == D("0.4") and order.left > 0

            # The restart, as arb run's start does it: reconcile, then the desk takes the quote over.
            async with live_gate("maker", sb_maker) as maker_live, live_gate("taker", sb_taker) as taker:
                run_id = new_run(sessions)
                lookup = LookupPolicy((0.02, 0.05, 0.1))
                await reconcile({"maker": maker_live, "taker": taker}, sessions, run_id, symbols=[SYMBOL],
                                since=since, lookup=lookup)
                stream = for_exchange(maker_live.exchange, "maker", {SYMBOL: PAIR.id})
                maker = StreamedVenue(maker_live, stream)
                books = SandboxBooks({"maker": sb_maker, "taker": sb_taker})
                journal = StoreJournal(sessions, run_id, {"maker": maker, "taker": taker}, books,
                                       {n: VenueFees(PAIR.maker_fee, PAIR.taker_fee) for n in ("maker", "taker")},
                                       lambda: datetime.now(UTC))
                journal.taker_of["maker", SYMBOL] = "taker"
                ids = itertools.count(1)
                funds = Funds(D("1000"), D("100000"), D("1000"), D("100000"))
                route = MakerRoute(spec(), maker, taker, books, journal, funds=lambda: funds,
                                   now_ms=lambda: int(datetime.now(UTC).timestamp() * 1000),
                                   new_client_id=lambda purpose: f"t-r-{purpose}-{next(ids)}", max_book_age_ms=5_000)
                journal.owes = route.owes
                task = asyncio.create_task(stream.run())
                try:
                    await asyncio.wait_for(stream.subscribed.wait(), TIMEOUT)
                    with sessions() as s:
                        found = unfinished_quotes(s, "maker", SYMBOL)
                    assert [(f.client_order_id, f.amount, f.filled, f.hedged, f.resting) for f in found] == [
                        (quote_id, amount, D("0.4"), D(0), True)]  # found by its client id, its fill recorded
                    if power_cut:  # its first event restored, then found on the venue with the fill made meanwhile
                        with sessions() as s:
                            row = s.scalars(select(Order).where(Order.client_order_id == quote_id)).one()
                            assert [e.to_status for e in row.events][:2] == ["created", "partially_filled"]
                    if amended:  # said on the order's events, and the pair's quote amount follows
                        with sessions() as s:
                            row = s.scalars(select(Order).where(Order.client_order_id == quote_id)).one()
                            assert "reconciliation: amended: amount 1 -> 0.8" in [e.detail for e in row.events]
                    assert await take_over(route, journal, found, cancel=cancel_at_start)
                    async with asyncio.timeout(TIMEOUT):
                        while route._tasks or route.ledger.hedged(Side.BUY) < D("0.4"):
                            await asyncio.wait(set(route._tasks) or {asyncio.ensure_future(asyncio.sleep(0.01))})
                    assert route.ledger.hedged(Side.BUY) == D("0.4")  # the fill made meanwhile, hedged once
                    if cancel_at_start:
                        assert order.finish_as == "cancelled" and not route.resting
                    else:  # resumed: still this side's quote, and its next fill is hedged like any other
                        assert order.finish_as == "open" and route.resting[Side.BUY].price == order.price
                        assert route.resting[Side.BUY].amount == amount
                        sb_maker.push_trade(PAIR.id, order.price, D("0.3"), "sell")
                        async with asyncio.timeout(TIMEOUT):
                            while route.ledger.hedged(Side.BUY) < D("0.7"):
                                await asyncio.sleep(0.01)  # the stream's push, then the hedge's round trip
                    await route.close()
                    # The stream's reconnect reconciliation replayed the earlier fill: known, not hedged again.
                    hedges = [t for t in sb_taker.engine.trades if t.account == KEY]
                    assert sum((t.amount for t in hedges), D(0)) == (D("0.4") if cancel_at_start else D("0.7"))
                    journal.settle_all()
                    assert_database_agrees(sessions, sb_maker, sb_taker)  # the quote's amount included
                    with sessions() as s:
                        row = s.scalars(select(Order).where(Order.client_order_id == quote_id)).one()
                        assert row.opportunity is not None
                        assert D(row.opportunity.detail["quote_amount"]) == amount
                finally:
                    journal.close()
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
    finally:
        engine.dispose()
