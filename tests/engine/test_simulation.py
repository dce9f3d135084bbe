"""A replay is a deterministic, latency-aware simulation on market time (``arb/eventloop/simloop.py``).

- the same capture and config give the same rows, run after run;
- with order latency L, every simulated fill happens at the order's arrival (sent + L, market time), against
  that venue's book as the capture has it at that instant (rebuilt here independently, from the capture
  alone), and not always at the prices detection saw;
- every event of a capture instant is applied before detection runs: one evaluation per instant.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from arb.config import load_config
from arb.engine import Engine
from arb.marketdata.books import BookStore
from arb.marketdata.capture import read_capture

from .helpers import config_with, trimmed_capture

ROUTES = {"gate": "binance", "htx": "huobi"}  # config venue -> the capture's venue (the shipped config)
# Columns that name rather than describe: ids, which differ between runs by design (client order ids are
# unique across runs in one database; venue ids across processes) and are compared through what they join.
NAMES = {"id", "run_id", "opportunity_id", "order_id", "client_order_id", "venue_order_id", "trade_id"}


def _config(tmp_path: Path, capture: Path, *, gate_ms: int, htx_ms: int, jitter_ms: int = 0) -> Any:
    path = config_with(tmp_path, fee="0", extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
        'min_edge_bps = "0.5"': 'min_edge_bps = "0.1"',
        'min_profit = "0.01"': 'min_profit = "0.001"',
        'status = "auto"': 'status = "off"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
        "latency_ms = 20 ": f"latency_ms = {htx_ms}\nlatency_jitter_ms = {jitter_ms}\n#",
        'capture_venue = "binance"\n': f'capture_venue = "binance"\nlatency_ms = {gate_ms}\n'
                                       f'latency_jitter_ms = {jitter_ms}\n',
    })
    return load_config(path)


def _unnamed(value: Any) -> Any:
    """A JSON detail with the ids it mentions left out (a pair's detail lists its orders' client ids)."""
    if isinstance(value, str) and value.startswith("{"):
        def strip(node: Any) -> Any:
            if isinstance(node, dict):
                return {k: strip(v) for k, v in node.items() if k not in NAMES}
            return [strip(v) for v in node] if isinstance(node, list) else node
        return strip(json.loads(value))
    return value


def _rows(db: str, run_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row a run wrote, ids replaced by what they point at, in a canonical order."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with create_engine(db).connect() as c:
        for table, where in (("opportunities", "run_id = :r"), ("orders", "run_id = :r"),
                             ("order_events", "order_id IN (SELECT id FROM orders WHERE run_id = :r)"),
                             ("fills", "order_id IN (SELECT id FROM orders WHERE run_id = :r)")):
            result = c.execute(text(f"SELECT * FROM {table} WHERE {where} ORDER BY id"), {"r": run_id})
            keys = list(result.keys())
            rows = [tuple(_unnamed(v) for k, v in zip(keys, row, strict=True) if k not in NAMES) for row in result]
            # Rejections reach the database through the batched writer, executed pairs at once: their ids
            # interleave differently from run to run, so a table is compared as a sorted list of rows.
            out[table] = sorted(rows, key=repr)
    return out


async def test_two_replays_with_latency_and_jitter_give_identical_rows(tmp_path: Path) -> None:
    capture = trimmed_capture(tmp_path, "00:00", "00:10")
    config = _config(tmp_path, capture, gate_ms=35, htx_ms=20, jitter_ms=15)
    db = f"sqlite:///{tmp_path / 'twice.db'}"
    first = await Engine(config, db_url=db, install_signal_handlers=False).run()
    second = await Engine(config, db_url=db, install_signal_handlers=False).run()
    a, b = _rows(db, first.run_id), _rows(db, second.run_id)
    assert len(a["orders"]) >= 4 and len(a["fills"]) >= 4, a  # it traded: there is something to compare
    for table in a:
        assert a[table] == b[table], table
    assert first.summary["realized_pnl"] == second.summary["realized_pnl"]


def _book_at(capture: Path, venue: str, at_ms: int) -> BookStore:
    """``venue``'s book as the capture has it at ``at_ms``: every event up to and including that instant."""
    store = BookStore(depth=1000)
    for event in read_capture(capture):
        if event.ts > at_ms:
            break
        if event.venue == venue:
            store.apply(event, venue)
    return store


def _ms(value: Any) -> int:
    dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return int((dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp() * 1000)


async def test_fills_are_at_the_book_as_it_stands_when_the_order_arrives(tmp_path: Path) -> None:
    latency = {"gate": 1500, "htx": 1200}  # longer than the capture's 1 s between snapshots: books move
    capture = trimmed_capture(tmp_path, "00:00", "00:20")
    config = _config(tmp_path, capture, gate_ms=latency["gate"], htx_ms=latency["htx"])
    db = f"sqlite:///{tmp_path / 'late.db'}"
    result = await Engine(config, db_url=db, install_signal_handlers=False).run()
    with create_engine(db).connect() as c:
        fills = c.execute(text(
            "SELECT o.venue, o.side, o.sent_at, f.ts, f.price, f.amount, p.buy_price, p.sell_price, o.purpose "
            "FROM fills f JOIN orders o ON o.id = f.order_id JOIN opportunities p ON p.id = o.opportunity_id "
            "WHERE o.run_id = :r ORDER BY f.id"), {"r": result.run_id}).all()
    assert len(fills) >= 4, fills
    taken: dict[tuple[str, int, str, Decimal], Decimal] = defaultdict(Decimal)
    moved = 0
    for venue, side, sent_at, ts, price, amount, buy_price, sell_price, _purpose in fills:
        arrival = _ms(sent_at) + latency[venue]
        assert _ms(ts) == arrival, (venue, sent_at, ts)  # matched when it arrived, in market time
        book = _book_at(capture, ROUTES[venue], arrival).book(ROUTES[venue], "LINK/USDT")
        levels = dict(book.levels("ask" if side == "buy" else "bid"))
        price, amount = Decimal(price), Decimal(amount)
        key = (venue, arrival, side, price)
        taken[key] += amount
        assert price in levels and taken[key] <= levels[price], (venue, side, price, amount, levels)
        moved += price != Decimal(buy_price if side == "buy" else sell_price)
    assert moved, "with 1.2-1.5 s of latency some fills must differ from the prices detection saw"


async def test_with_zero_latency_every_fill_is_at_the_decision_time_book(tmp_path: Path) -> None:
    capture = trimmed_capture(tmp_path, "00:00", "00:10")
    config = _config(tmp_path, capture, gate_ms=0, htx_ms=0)
    db = f"sqlite:///{tmp_path / 'now.db'}"
    result = await Engine(config, db_url=db, install_signal_handlers=False).run()
    with create_engine(db).connect() as c:
        fills = c.execute(text(
            "SELECT o.venue, o.side, p.detected_at, f.ts, f.price, f.amount FROM fills f "
            "JOIN orders o ON o.id = f.order_id JOIN opportunities p ON p.id = o.opportunity_id "
            "WHERE o.run_id = :r AND o.purpose = 'entry'"), {"r": result.run_id}).all()
    assert fills
    for venue, side, detected_at, ts, price, _amount in fills:
        assert _ms(ts) == _ms(detected_at)
        book = _book_at(capture, ROUTES[venue], _ms(detected_at)).book(ROUTES[venue], "LINK/USDT")
        assert Decimal(price) in dict(book.levels("ask" if side == "buy" else "bid"))


async def test_each_capture_instant_is_evaluated_once_and_no_book_is_stale_by_ordering(tmp_path: Path) -> None:
    capture = trimmed_capture(tmp_path, "00:40", "00:50")
    config = _config(tmp_path, capture, gate_ms=0, htx_ms=20)
    db = f"sqlite:///{tmp_path / 'once.db'}"
    result = await Engine(config, db_url=db, install_signal_handlers=False).run()
    instants = Counter(e.ts for e in read_capture(capture) if e.venue in ROUTES.values())
    funnel = result.summary["funnel"]
    assert funnel["book_updates"] == sum(instants.values())
    # One evaluation per instant once both books exist (the first instant has both: one snapshot each).
    assert funnel["evaluations"] == len(instants)
    assert "book_stale" not in funnel["rejected"], funnel["rejected"]
    span = timedelta(milliseconds=max(instants) - min(instants))
    assert span > timedelta(minutes=9)


async def test_paper_mode_is_the_replay_paced_in_wall_time(tmp_path: Path) -> None:
    # Two minutes of the shipped capture at speed 40: 3 s of wall time, the same decisions and fills.
    capture = trimmed_capture(tmp_path, "00:00", "00:02")
    replay = _config(tmp_path, capture, gate_ms=35, htx_ms=20, jitter_ms=15)
    paper = dataclasses.replace(replay, engine=replay.engine.model_copy(update={"mode": "paper"}),
                                replay=replay.replay.model_copy(update={"speed": 40.0}))  # type: ignore[union-attr]
    db = f"sqlite:///{tmp_path / 'modes.db'}"
    fast = await Engine(replay, db_url=db, install_signal_handlers=False).run()
    started = time.monotonic()
    paced = await Engine(paper, db_url=db, install_signal_handlers=False).run()
    wall = time.monotonic() - started
    span_s = (max(e.ts for e in read_capture(capture)) - min(e.ts for e in read_capture(capture))) / 1000
    assert wall >= span_s / 40  # paced: never faster than speed 40 allows
    a, b = _rows(db, fast.run_id), _rows(db, paced.run_id)
    assert len(a["fills"]) >= 2, a
    for table in a:
        assert a[table] == b[table], table


async def test_a_slower_feed_reaches_its_book_later_by_exactly_its_latency(tmp_path: Path) -> None:
    # Both venues' captured books update once a second at the same instants. A 400 ms feed to gate
    # moves its updates 400 ms later: each second now has two instants to evaluate, at T (htx fresh; gate's
    # book is the one that happened at T - 1000, received at T - 600) and at T + 400 (gate's update of T just
    # received, 400 ms old; htx 400 ms old). A book's age counts from when it happened at the venue.
    capture = trimmed_capture(tmp_path, "00:40", "00:42")
    base = _config(tmp_path, capture, gate_ms=0, htx_ms=0)
    lagged = dataclasses.replace(base, venues={
        **base.venues, "gate": base.venues["gate"].model_copy(update={"feed_latency_ms": 400})})
    db = f"sqlite:///{tmp_path / 'feed.db'}"
    plain = await Engine(base, db_url=db, install_signal_handlers=False).run()
    slow = await Engine(lagged, db_url=db, install_signal_handlers=False).run()
    instants = {e.ts for e in read_capture(capture) if e.venue in ROUTES.values()}
    assert plain.summary["funnel"]["evaluations"] == len(instants)
    assert slow.summary["funnel"]["evaluations"] == 2 * len(instants)
    with create_engine(db).connect() as c:
        rows = c.execute(text("SELECT detected_at, buy_venue, buy_book_age_ms, sell_book_age_ms "
                              "FROM opportunities WHERE run_id = :r"), {"r": slow.run_id}).all()
    assert rows
    for detected_at, buy_venue, buy_age, sell_age in rows:
        gate_age, htx_age = (buy_age, sell_age) if buy_venue == "gate" else (sell_age, buy_age)
        assert (gate_age, htx_age) == ((1000, 0) if _ms(detected_at) % 1000 == 0 else (400, 400)), rows[:5]


async def test_a_latent_leg_keeps_its_latency_while_the_other_leg_is_on_the_wire(tmp_path: Path) -> None:
    # gate (the sandbox) answers at once, over loopback HTTP that holds market time while it is on the wire;
    # htx's 1.2 s trips must not be skipped because of that hold, whichever leg goes first.
    capture = trimmed_capture(tmp_path, "00:00", "00:20")
    config = _config(tmp_path, capture, gate_ms=0, htx_ms=1200)
    db = f"sqlite:///{tmp_path / 'mixed.db'}"
    result = await Engine(config, db_url=db, install_signal_handlers=False).run()
    with create_engine(db).connect() as c:
        orders = c.execute(text("SELECT venue, side, sent_at, acked_at FROM orders WHERE run_id = :r AND purpose = "
                                "'entry'"), {"r": result.run_id}).all()
        fills = c.execute(text("SELECT o.venue, o.sent_at, f.ts FROM fills f JOIN orders o ON o.id = f.order_id "
                               "WHERE o.run_id = :r"), {"r": result.run_id}).all()
    sides = Counter(side for venue, side, _, _ in orders if venue == "htx")
    assert sides["buy"] and sides["sell"], sides  # htx traded on both sides, so on both sides of the gather
    for venue, _side, sent_at, acked_at in orders:
        assert _ms(acked_at) - _ms(sent_at) == (2400 if venue == "htx" else 0), (venue, _side, sent_at, acked_at)
    for venue, sent_at, ts in fills:
        assert _ms(ts) - _ms(sent_at) == (1200 if venue == "htx" else 0), (venue, sent_at, ts)
