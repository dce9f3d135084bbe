"""A maker run as a trader rehearses one before going live: ``arb run`` in mode ``live`` (real time, no real
venue), quoting LINK/USDT on the gate venue, arb's in-process Gate sandbox playing its side of the capture
(fills from its private WebSocket, ``venues/gate/private_stream.py``), hedging on the htx paper venue.

The market prints through the resting quote twice, each time filling it whole (the bundled capture has no trades: the test prints
them, as a market would; the capture's book also moves through some quotes, which fill them too); the
engine hedges each fill on htx, settles the pairs, and at the stop cancels what rests. Then the sandbox and the database agree: the sandbox's trades of the account are the stored gate
fills, once each; every gate order is a row with the sandbox's outcome; nothing is left resting; each pair's
hedges filled what its quote did; the summary's maker row says the same."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, select, text

from arb.engine import Engine
from arb.store.db import make_engine, make_session_factory
from arb.store.maker_views import maker_routes
from arb.store.models import Run

from .paper_rig import PAIR, SpyEngine, rehearsal_config, until

D = Decimal
MAKER = '''[symbols."LINK/USDT"]
strategy = "maker"

[symbols."LINK/USDT".maker]
maker_venue = "gate"
taker_venue = "htx"
quote_size = "1"
min_profit_bps = "1"
'''


async def test_a_live_rehearsal_quotes_on_the_sandbox_hedges_each_fill_and_the_database_agrees(
        tmp_path: Path) -> None:
    config = rehearsal_config(tmp_path, "00:40:00", "00:50:00", speed=1, extra={
        '[symbols."LINK/USDT"]\nmax_size = "20"              # base units per opportunity\n': MAKER})
    db = f"sqlite:///{tmp_path / 'maker.db'}"
    engine = SpyEngine(config, db_url=db, install_signal_handlers=False)
    run = asyncio.create_task(engine.run())
    try:
        await until(lambda: engine.venues is not None and bool(engine.venues.sandboxes), "venues", run=run)
        sandbox = engine.sandbox("gate").engine

        def resting() -> list[object]:
            return [o for o in sandbox.orders.values() if o.client_id.startswith("t-") and o.status == "open"]

        def every_filled_quote_settled() -> bool:  # a pair per filled quote, each hedged and settled
            return _settled_pairs(db) >= len({t.order_id for t in sandbox.trades if t.client_id.startswith("t-")})

        for _ in range(2):
            await until(lambda: bool(resting()), "a quote resting on the sandbox", 30, run=run)
            quote = resting()[0]
            aggressor = "sell" if quote.side == "buy" else "buy"  # type: ignore[attr-defined]
            # A print large enough to get through what the book shows ahead of the quote at its price.
            ours = len([t for t in sandbox.trades if t.client_id.startswith("t-")])
            engine.sandbox("gate").push_trade(PAIR, quote.price, D("5000"), aggressor)  # type: ignore[attr-defined]
            assert len([t for t in sandbox.trades if t.client_id.startswith("t-")]) > ours, "the print filled no quote"
            await until(every_filled_quote_settled, "the print's fill hedged and its pair settled", 30, run=run)
        engine.request_stop("rehearsal done")
        result = await asyncio.wait_for(run, 60)
    finally:
        if not run.done():
            engine.request_stop("test failed")
            await asyncio.wait_for(asyncio.gather(run, return_exceptions=True), 30)

    assert isinstance(engine, Engine)
    # Our two prints, and whatever the capture's book moved through meanwhile: every fill a maker's.
    made = [t for t in sandbox.trades if t.client_id.startswith("t-")]
    assert sum((t.amount for t in made), D(0)) >= D("2") and {t.role for t in made} == {"maker"}
    orders = {o.client_id: o for o in sandbox.orders.values() if o.client_id.startswith("t-")}
    assert not [o for o in orders.values() if o.status == "open"], "a quote left resting after the stop"
    with create_engine(db).connect() as c:
        fills = {r.trade_id: (D(str(r.amount)), D(str(r.price))) for r in c.execute(text(
            "SELECT trade_id, amount, price FROM fills WHERE venue = 'gate'"))}
        assert fills == {str(t.id): (t.amount, t.price) for t in made}
        rows = {r.client_order_id: r for r in c.execute(text(
            "SELECT client_order_id, purpose, status, filled FROM orders WHERE venue = 'gate'"))}
        assert set(rows) == set(orders)
        for cid, order in orders.items():
            assert (rows[cid].purpose, D(str(rows[cid].filled))) == ("quote", order.filled_amount), cid
            assert rows[cid].status in ("filled", "canceled"), (cid, rows[cid].status)
        pairs = list(c.execute(text(
            "SELECT o.id, o.size, o.settled_at, SUM(CASE WHEN d.purpose = 'hedge' THEN d.filled ELSE 0 END) AS hedged,"
            " SUM(CASE WHEN d.purpose = 'quote' THEN d.filled ELSE 0 END) AS quoted FROM opportunities o"
            " JOIN orders d ON d.opportunity_id = o.id WHERE o.strategy = 'maker' GROUP BY o.id")))
        hedges = c.execute(text("SELECT COUNT(*) FROM orders WHERE venue = 'htx' AND purpose = 'hedge'")).scalar_one()
    with make_session_factory(make_engine(db))() as s:
        # Every hedge timed from the fill that set it off, received as the route took it (before the hedge was
        # sent), not from an earlier fill's: its recording runs after the hedge has gone out.
        (run_id,) = s.scalars(select(Run.id)).all()
        (route,) = maker_routes(s, run_id)
    assert len(route.fill_to_hedge_ms) == route.hedges + route.flattens == hedges
    quoted_orders = {t.order_id for t in made}
    assert len(pairs) == len(quoted_orders) >= 2 and all(p.settled_at is not None for p in pairs)
    [maker] = result.summary["maker"]
    # Each pair's hedges filled its quote's fills, but for what stayed below htx's minimum notional (5 USDT,
    # ~0.18 LINK: dust, shown as the route's unhedged base).
    for p in pairs:
        assert D(str(p.quoted)) == D(str(p.size)) and D(0) <= D(str(p.quoted)) - D(str(p.hedged)) < D("0.2"), p
    unhedged = sum((D(str(p.quoted)) - D(str(p.hedged)) for p in pairs), D(0))
    assert (maker["maker_venue"], maker["taker_venue"], maker["maker_fills"], maker["hedges"]) == (
        "gate", "htx", len(made), hedges)
    assert maker["quotes_filled"] == len(quoted_orders) and D(maker["unhedged_base"]) == unhedged
    assert maker["quotes"] >= len(quoted_orders)
    # Our two prints (each a whole quote, 1 LINK, ~27 USDT: over htx's minimum) were hedged, at least.
    assert hedges >= 2 and sum((D(str(p.hedged)) for p in pairs), D(0)) >= D("2") - D("0.2")


def _settled_pairs(db: str) -> int:
    try:
        with create_engine(db).connect() as c:
            return int(c.execute(text(
                "SELECT COUNT(*) FROM opportunities WHERE strategy = 'maker' AND settled_at IS NOT NULL")).scalar_one())
    except Exception:  # noqa: BLE001 - the database may not exist yet
        return 0
