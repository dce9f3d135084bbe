"""A maker fill's hedge leaves in the turn of the loop that saw the fill (``eventloop/eager.py``): its row
given to the journal and its IOC on the taker venue before the fill's own recording, or anything else already
queued, runs; a task hop there cost a live hedge a turn of the loop behind whatever was ready
(``bench/bench_maker.py``)."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal

from arb.domain.market import Side
from arb.domain.venue import FillReport
from arb.eventloop.simloop import run_simulation
from arb.execution.maker import MakerRoute
from arb.quoting.sizing import Funds

from .test_maker_leg_policy import SYMBOL, Journal, MatcherBooks, bid_route, paper_venues

D = Decimal


class RecordingJournal(Journal):
    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.recorded: list[str] = []

    async def maker_fill(self, fill: FillReport) -> None:
        self.recorded.append(fill.trade_id)


async def _fill() -> tuple[list[str], list[Decimal], list[str], list[str]]:
    venues, now_ms = paper_venues([(D("99"), D("5"))])
    maker, taker = venues["maker"], venues["taker"]
    journal = RecordingJournal(venues, now_ms)
    ids = itertools.count(1)
    route = MakerRoute(bid_route(D("5")), maker, taker, MatcherBooks(venues), journal,
                       funds=lambda: Funds(D("10"), D("1000"), D("10"), D("1000")), now_ms=now_ms,
                       new_client_id=lambda purpose: f"{purpose}-{next(ids)}", max_book_age_ms=5_000)
    await route.on_books()
    ran: list[str] = []
    asyncio.get_running_loop().call_soon(ran.append, "queued before the fill")
    maker.on_trade(SYMBOL, D("100.5"), D("1"), "sell", 0)  # through the bid: filled in full, no await since
    in_the_turn = ([purpose for _, _, purpose, _ in journal.sent], [t.amount for t in taker.matcher.trades],
                   list(ran), list(journal.recorded))
    await route.close()
    assert not route.errors and route.ledger.hedged(Side.BUY) == D("1") and journal.recorded and ran
    return in_the_turn


def test_a_fill_is_hedged_in_the_turn_of_the_loop_that_saw_it() -> None:
    purposes, hedged, ran, recorded = run_simulation(_fill(), speed=0)
    assert purposes == ["quote", "hedge"] and hedged == [D("1")]  # journalled, sent and filled on the taker
    assert ran == [] and recorded == []  # before what was queued, and before the fill's recording
