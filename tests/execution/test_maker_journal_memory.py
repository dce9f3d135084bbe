"""A maker route re-quoting for hours keeps its journal's memory flat: what the journal keeps of a quote that
finished with nothing filled (its row id, its terms) goes a minute after its final answer, while a filled
quote's stays with its pair. Every quote is still a row; the pairs are settled as before."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from arb.domain.market import Side
from arb.eventloop.simloop import run_simulation
from arb.execution.maker import MakerRoute
from arb.quoting.sizing import Funds
from arb.runtime.maker_journal import FINISHED_KEPT, StoreJournal, VenueFees
from arb.store.db import make_engine, make_session_factory
from arb.store.maker_views import maker_pairs
from arb.store.migrate import upgrade_to_head
from arb.store.models import Order

from .conftest import new_run
from .test_maker_leg_policy import SYMBOL, MatcherBooks, bid_route, paper_venues

D = Decimal
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECONDS = 300  # five minutes of a quote a second


async def _requote(url: str) -> tuple[int, list[int], StoreJournal]:
    venues, now_ms = paper_venues([(D("99"), D("5"))])
    maker, taker = venues["maker"], venues["taker"]
    sessions = make_session_factory(make_engine(url))
    run_id = new_run(sessions, "live")
    journal = StoreJournal(sessions, run_id, venues, MatcherBooks(venues), {n: VenueFees(D("0"), D("0")) for n in venues},
                           lambda: EPOCH + timedelta(milliseconds=now_ms()))
    journal.taker_of["maker", SYMBOL] = "taker"
    ids = itertools.count(1)
    route = MakerRoute(bid_route(D("5")), maker, taker, MatcherBooks(venues), journal,
                       funds=lambda: Funds(D("10"), D("1000"), D("10"), D("1000")), now_ms=now_ms,
                       new_client_id=lambda purpose: f"{purpose}-{next(ids)}", max_book_age_ms=5_000)
    journal.owes = route.owes
    kept: list[int] = []
    for second in range(SECONDS):
        # the taker's bid moves 20 bps every second: the resting bid (10 bps refresh) is cancelled, a new one placed
        bid = D("100.5") if second % 2 == 0 else D("100.3")
        taker.on_book(SYMBOL, "snapshot", [(bid, D("5"))], [(D("100.7"), D("5"))], now_ms())
        await route.on_books()
        if second == 30:  # one quote filled: its entries stay with its pair
            maker.on_trade(SYMBOL, route.resting[Side.BUY].price, D("1"), "sell", now_ms())
        kept.append(len(journal._orders))
        await asyncio.sleep(1)
    await route.close()
    journal.settle_all()
    journal.close()
    assert not route.errors
    return run_id, kept, journal


def test_a_route_requoting_keeps_a_minute_of_unfilled_quotes_not_the_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'requote.db'}"
    upgrade_to_head(url)
    run_id, kept, journal = run_simulation(_requote(url), speed=0)
    sessions = make_session_factory(make_engine(url))
    with sessions() as s:
        quotes = s.scalar(select(func.count()).select_from(Order).where(Order.purpose == "quote"))
        pairs = maker_pairs(s, run_id)
    assert quotes >= SECONDS  # a new quote each second, every one a row
    # A minute of quotes (one a second, each finished by the next second's cancel), plus the filled quote and
    # its hedge: flat from the second minute on, where the whole run's would be one entry a quote.
    window = int(FINISHED_KEPT.total_seconds())
    assert max(kept) <= window + 4 and kept[-1] == max(kept[window + 10:]) and kept[-1] < quotes / 4
    assert [(p.filled, p.hedges, p.unhedged_base) for p in pairs] == [(D("1"), 1, 0)]  # settled, hedged
    assert len(journal._terms) <= window + 4
