"""The process the maker SIGKILL test kills: a maker route quoting on the test's maker sandbox, journalled to
the test's database, frozen once its quote rests.

Run by ``test_maker_sigkill.py`` as ``python -m execution.maker_sigkill_child '<json>'`` with ``tests/`` on the
path. The route connects its private stream, places its bid (recorded before it is sent, as ``arb run``
does), and once the sandbox has acknowledged it writes ``<client id>.resting`` into the marker directory and
blocks forever: the parent then SIGKILLs it with the quote resting.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from arb.execution.maker import MakerRoute
from arb.quoting.pricing import Level
from arb.quoting.sizing import Funds
from arb.runtime.maker_journal import StoreJournal, VenueFees
from arb.store.db import make_engine, make_session_factory
from arb.venues.gate.private_stream import for_exchange
from arb.venues.live.streamed import StreamedVenue
from execution.maker_rig import MAKER_BOOK, TAKER_BOOK, spec
from execution.sandbox_rig import PAIR, SYMBOL, gate_venues

D = Decimal


class FixedBooks:
    """Both sandboxes' books as the test pushed them (the child has no feed: the route reads these)."""

    BOOKS = {"maker": MAKER_BOOK, "taker": TAKER_BOOK}

    def levels(self, venue: str, symbol: str, side: str) -> Sequence[Level]:
        bids, asks = self.BOOKS[venue]
        return [(D(p), D(s)) for p, s in (bids if side == "bids" else asks)]

    def age_ms(self, venue: str, symbol: str) -> int:
        return 0


async def main(args: dict[str, Any]) -> None:
    sessions = make_session_factory(make_engine(args["db_url"]))
    venues = await gate_venues(args["venues"])
    stream = for_exchange(venues["maker"].exchange, "maker", {SYMBOL: PAIR.id})
    maker = StreamedVenue(venues["maker"], stream)
    books = FixedBooks()
    journal = StoreJournal(sessions, args["run_id"], {"maker": maker, "taker": venues["taker"]}, books,
                           {name: VenueFees(PAIR.maker_fee, PAIR.taker_fee) for name in venues},
                           lambda: datetime.now(UTC))
    journal.taker_of["maker", SYMBOL] = "taker"
    ids = itertools.count(1)
    funds = Funds(D("1000"), D("100000"), D("1000"), D("100000"))
    route = MakerRoute(spec(), maker, venues["taker"], books, journal, funds=lambda: funds,
                       now_ms=lambda: int(datetime.now(UTC).timestamp() * 1000),
                       new_client_id=lambda purpose: f"t-k{args['run_id']}-{purpose}-{next(ids)}",
                       max_book_age_ms=5_000)
    task = asyncio.create_task(stream.run())
    await asyncio.wait_for(stream.subscribed.wait(), 30)
    await route.on_books()
    if not route.resting:
        raise SystemExit("the route placed no quote")
    markers = Path(args["markers"])
    for quote_id in [r.client_order_id for r in route._resting.values()]:
        tmp = markers / f".{quote_id}.tmp"
        tmp.write_text("resting")
        os.replace(tmp, markers / f"{quote_id}.resting")  # appears whole
    await asyncio.Event().wait()  # killed here, the quote resting
    task.cancel()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
