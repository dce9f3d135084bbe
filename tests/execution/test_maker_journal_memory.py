"""A maker route re-quoting for hours keeps its memory flat: what the journal keeps of a quote that finished
with nothing filled (its row id, its terms) and the route's own entry for it (its client id) go a minute after
its final answer, while a filled quote's stay with its pair. Every quote is still a row; the pairs are settled
as before. A fill the venue sends after answering that a quote finished unfilled, within that minute, is still
hedged, and said loudly."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arb.domain.market import Side
from arb.domain.venue import FillReport
from arb.eventloop.simloop import run_simulation
from arb.execution.maker import MakerRoute
from arb.quoting.sizing import Funds
from arb.runtime.maker_journal import FINISHED_KEPT, StoreJournal, VenueFees
from arb.store.db import make_engine, make_session_factory
from arb.store.maker_views import maker_pairs
from arb.store.migrate import upgrade_to_head
from arb.store.models import Order
from arb.venues.paper import PaperVenue

from .conftest import new_run
from .test_maker_leg_policy import SYMBOL, MatcherBooks, bid_route, paper_venues

D = Decimal
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECONDS = 300  # five minutes of a quote a second


async def _rig(url: str) -> tuple[int, dict[str, PaperVenue], Callable[[], int], StoreJournal, MakerRoute]:
    """A bid route on paper venues with its journal on ``url``: (run id, the venues, the clock in ms, journal,
    route)."""
    venues, now_ms = paper_venues([(D("99"), D("5"))])
    sessions = make_session_factory(make_engine(url))
    run_id = new_run(sessions, "live")
    journal = StoreJournal(sessions, run_id, venues, MatcherBooks(venues), {n: VenueFees(D("0"), D("0")) for n in venues},
                           lambda: EPOCH + timedelta(milliseconds=now_ms()))
    journal.taker_of["maker", SYMBOL] = "taker"
    ids = itertools.count(1)
    route = MakerRoute(bid_route(D("5")), venues["maker"], venues["taker"], MatcherBooks(venues), journal,
                       funds=lambda: Funds(D("10"), D("1000"), D("10"), D("1000")), now_ms=now_ms,
                       new_client_id=lambda purpose: f"{purpose}-{next(ids)}", max_book_age_ms=5_000)
    journal.owes = route.owes
    return run_id, venues, now_ms, journal, route


async def _requote(url: str) -> tuple[int, list[int], list[int], StoreJournal]:
    run_id, venues, now_ms, journal, route = await _rig(url)
    kept: list[int] = []
    ours: list[int] = []  # the route's client ids kept
    for second in range(SECONDS):
        # the taker's bid moves 20 bps every second: the resting bid (10 bps refresh) is cancelled, a new one placed
        bid = D("100.5") if second % 2 == 0 else D("100.3")
        venues["taker"].on_book(SYMBOL, "snapshot", [(bid, D("5"))], [(D("100.7"), D("5"))], now_ms())
        await route.on_books()
        if second == 30:  # one quote filled: its entries stay with its pair
            filled_id = route._resting[Side.BUY, 0].client_order_id
            venues["maker"].on_trade(SYMBOL, route.resting[Side.BUY].price, D("1"), "sell", now_ms())
        kept.append(len(journal._orders))
        ours.append(len(route._ours))
        await asyncio.sleep(1)
    await route.close()
    journal.settle_all()
    journal.close()
    assert not route.errors
    assert filled_id in route._ours  # kept for good: a late fill of it is still hedged
    return run_id, kept, ours, journal


def test_a_route_requoting_keeps_a_minute_of_unfilled_quotes_not_the_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'requote.db'}"
    upgrade_to_head(url)
    run_id, kept, ours, journal = run_simulation(_requote(url), speed=0)
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
    # The route's client ids: the same minute, the filled quote's kept for good.
    assert max(ours) <= window + 3 and ours[-1] == max(ours[window + 10:]) and ours[-1] < quotes / 4


async def _fill_after_cancelled(url: str) -> tuple[list[str], StoreJournal, MakerRoute]:
    """A quote cancelled with nothing filled, then a fill of it from the stream half a minute later (a venue
    contradicting its own answer); returns the client ids the route kept a minute and a half on."""
    _, _, now_ms, journal, route = await _rig(url)
    await route.on_books()
    quote = route._resting[Side.BUY, 0]
    await route.pull("stop")  # the venue answers: cancelled, nothing filled
    assert quote.client_order_id in route._finished
    await asyncio.sleep(30)
    route._on_fill(FillReport("maker", "late-1", quote.client_order_id, None, SYMBOL, Side.BUY, quote.quote.price,
                              D("1"), D("0"), "USDT", EPOCH + timedelta(milliseconds=now_ms())))
    await asyncio.sleep(61)
    await route.on_books()  # a new quote: the minute's forgetting runs
    await route.close()
    journal.settle_all()
    journal.close()
    assert not route.errors
    return list(route._ours), journal, route


def test_a_fill_after_a_final_unfilled_answer_is_hedged_and_said(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    url = f"sqlite:///{tmp_path / 'late.db'}"
    upgrade_to_head(url)
    with caplog.at_level(logging.ERROR, logger="arb.execution.maker"):
        kept, journal, route = run_simulation(_fill_after_cancelled(url), speed=0)
    assert "quote-1" in kept  # its fill kept it past the minute
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(said) == 1 and "quote-1" in said[0] and "finished with nothing filled" in said[0]
    with make_session_factory(make_engine(url))() as s:
        hedges = s.scalars(select(Order).where(Order.purpose == "hedge")).all()
    assert [(h.side, h.filled) for h in hedges] == [("sell", D("1"))]  # hedged on the taker
