"""The detector's tracked rows decide exactly as ``VenueBook`` inputs read from the books, whatever state the
books are in: updated, gapped, reset, one-sided, never seen, old, stale, with balances replaced.

``Detector.detect_all`` on eight or more symbols reads the rows :meth:`Detector.track` keeps current from
the book store's events; ``Detector.detect`` builds each symbol's inputs from the books when asked. Any
difference (a row not reloaded on some event, a health or age rule applied differently, a balance read
from an old dict) shows up as a different decision here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import random
from collections import Counter
from decimal import Decimal
from pathlib import Path
from types import ModuleType

from arb.config import load_config
from arb.detection import Opportunity, Reason, Rejection
from arb.detection.batch import PendingRejection, records
from arb.engine import Engine
from arb.marketdata.capture import CaptureEvent
from arb.runtime.detector import Detector
from arb.runtime.status import StatusReporter
from arb.runtime.venues import open_venues
from tests.engine.helpers import bench_module

SYMBOLS = 10


def _bench() -> ModuleType:
    return bench_module("bench_multisymbol")


def _outcome(decision: Opportunity | Rejection | None) -> str:
    if decision is None:
        return "none"
    return "opportunity" if isinstance(decision, Opportunity) else decision.reason.value


def test_tracked_rows_decide_as_inputs_read_from_the_books(tmp_path: Path) -> None:
    bench = _bench()
    config = load_config(bench.write_workload(tmp_path, symbols=SYMBOLS, venues=4, minutes=0.2, fee="0.0001"))
    engine = Engine(config, db_url=f"sqlite:///{tmp_path / 'unused.db'}", force_paper=True, mode="replay",
                    status=StatusReporter("off"), install_signal_handlers=False)
    books = engine.books
    names = list(config.venues)  # capture venue c{k} feeds the k-th venue
    symbols = list(config.engine.symbols)
    rng = random.Random(7)
    seen: Counter[str] = Counter()

    async def scenario() -> None:
        venues = await open_venues(config, books, engine.clock, force_paper=True)
        now = [0]
        balances = {name: {"USDT": Decimal(400), **{f"SYM{i}": Decimal(3) for i in range(SYMBOLS)}}
                    for name in names}
        detector = Detector(config, books, venues, balances, lambda: now[0])
        untrack = detector.track()

        def compare(at: int) -> list[Opportunity | Rejection | None]:
            now[0] = at
            each = [detector.detect(s) for s in symbols]
            batch = detector.detect_all(symbols)
            assert records(batch) == each
            # A rejection with nothing to size is decided in the array screen, its record built later.
            assert all(type(d) is PendingRejection for d, e in zip(batch, each, strict=True)
                       if isinstance(e, Rejection) and e.reason is Reason.UNPROFITABLE_AFTER_FEES and e.size is None)
            some = rng.sample(range(SYMBOLS), 8)  # a subset, in another order: the rows are gathered
            assert records(detector.detect_all([symbols[k] for k in some])) == [each[k] for k in some]
            seen.update(map(_outcome, each))
            return each

        def reserved(decided: list[Opportunity | Rejection | None]) -> None:
            """A pair in flight holds back its funds: both ways in decide as on balances that never had them."""
            opp = next(d for d in decided if isinstance(d, Opportunity))
            base = opp.symbol.split("/")[0]
            held = {(opp.buy_venue, "USDT"): Decimal(390), (opp.sell_venue, base): Decimal(5)}  # more than held
            detector.reserve(held)
            less = {name: dict(held_by) for name, held_by in balances.items()}
            less[opp.buy_venue]["USDT"] = Decimal(10)
            less[opp.sell_venue][base] = Decimal(0)  # never below zero
            plain = Detector(config, books, venues, less, lambda: now[0])
            expected = [plain.detect(s) for s in symbols]
            assert [detector.detect(s) for s in symbols] == expected
            assert records(detector.detect_all(symbols)) == expected
            assert expected != decided  # the reservation took the pair's funds
            detector.reserve(held, release=True)
            assert records(detector.detect_all(symbols)) == decided == [detector.detect(s) for s in symbols]

        seqs = itertools.count(1)
        try:
            events = bench.clone_events(bench.BUNDLED, SYMBOLS, 4, 0.2)
            for ts, instant in itertools.groupby(events, key=lambda e: e.ts):
                for event in instant:
                    venue = names[int(event.venue[1:])]
                    if event.symbol == symbols[9] and venue != names[0]:
                        continue  # one symbol on one venue only: never two books
                    if event.symbol == symbols[8] and venue == names[3]:
                        continue  # a venue that never has this symbol's book
                    books.apply(dataclasses.replace(event, seq=next(seqs)), venue)  # decisions record it
                decided = compare(ts + rng.choice((0, 400, 1600)))  # 1600: past max_book_age_ms, books too old
                if any(isinstance(d, Opportunity) for d in decided) and not seen["reserved"]:
                    reserved(decided)
                    seen["reserved"] += 1
            last = books.now_ms
            now[0] = last
            before = [detector.detect(s) for s in symbols]
            crossed = [k for k, d in enumerate(before) if d is not None]
            assert len(crossed) >= 4
            # Each change hits a venue the symbol's decision rests on, so a row missing it decides otherwise.
            one, two, three, four = (before[k] for k in crossed[:4])
            assert one is not None and two is not None and three is not None and four is not None
            books.gap(one.buy_venue, one.symbol)
            books.reset(two.sell_venue, two.symbol)
            asks = [str(p) for p, _ in books.book(three.buy_venue, three.symbol).levels("asks")]
            books.apply(CaptureEvent(last, three.buy_venue, three.symbol, "delta", (),
                                     tuple((p, "0") for p in asks)))  # a book without asks
            asks = [str(p) for p, _ in books.book(four.buy_venue, four.symbol).levels("asks")]
            books.apply(CaptureEvent(last, four.buy_venue, four.symbol, "delta", (),
                                     tuple((p, "0") for p in asks[1:])))  # one ask level left
            compare(last)
            after = [detector.detect(s) for s in symbols]
            assert all(after[k] != before[k] for k in crossed[:4])
            balances[names[0]] = {"USDT": Decimal(5), "SYM0": Decimal("0.5")}  # replaced, as a read does
            balances.pop(names[3])  # a venue whose balances were never read
            compare(last)
            compare(last + 10_001)  # past stale_after_ms: every book stale
        finally:
            untrack()
            await venues.close()

    asyncio.run(scenario())
    # The cases above were all decided, not skipped: trades, screens and no-book symbols.
    assert {"opportunity", "book_not_live", "book_stale", "none"} <= set(seen)
    assert seen["unprofitable_after_fees"] > 0  # and records deferred above
    assert seen["reserved"] == 1
