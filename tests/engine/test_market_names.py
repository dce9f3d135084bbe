"""Venues that name a market differently, or trade only some of the engine's symbols (issue 16).

Inside the engine every market has the engine's name; only the venue's edge uses the venue's. So a replay
through the Gate sandbox (over loopback, real signatures) and a paper venue that both rename LINK/USDT
decides, trades and records exactly what the same replay records without the renames, while the sandbox
itself lists, books and fills only the renamed pair. A venue trading a subset is paired only for its
symbols.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

from sqlalchemy import create_engine, text

from arb.config import load_config
from arb.engine import Engine
from arb.runtime.status import StatusReporter
from arb.venues.gate.sandbox import Sandbox

from .helpers import config_with, live_run_on_external_sandbox, trimmed_capture
from .paper_rig import paper_config
from .test_multisymbol import _bench

RENAMES = {
    'capture_venue = "binance"': 'capture_venue = "binance"\nmarket_names = { "LINK/USDT" = "LNK/USDT" }',
    'capture_venue = "huobi"': 'capture_venue = "huobi"\nmarket_names = { "LINK/USDT" = "LINKX/USD" }',
    'status = "auto"': 'status = "off"',
}
TABLES = {
    "opportunities": "SELECT symbol, buy_venue, sell_venue, decision, reason, size, expected_profit, realized_pnl "
                     "FROM opportunities ORDER BY detected_at, symbol, buy_venue, sell_venue, reason",
    "orders": "SELECT venue, symbol, side, purpose, price, amount, filled, status FROM orders ORDER BY id",
    "fills": "SELECT venue, price, amount, fee, fee_currency FROM fills ORDER BY venue, ts, price, amount, fee",
    "balances": "SELECT kind, venue, asset, free, used FROM balances ORDER BY ts, kind, venue, asset",
}


def _rows(db: str) -> dict[str, list[Any]]:
    with create_engine(db).connect() as c:
        return {table: c.execute(text(query)).all() for table, query in TABLES.items()}


def _replay(tmp_path: Path, name: str, extra: dict[str, str]) -> tuple[Engine, dict[str, list[Any]]]:
    """The shipped config at a low fee on 00:40-00:43 of its capture: 14 of the whole capture's 24 trades at
    this fee, in both directions (gate -> htx at 00:40, htx -> gate at 00:42), so fills on both venues."""
    db = f"sqlite:///{tmp_path / name}.db"
    capture = trimmed_capture(tmp_path, "00:40:00", "00:43:00", name=f"{name}.jsonl.gz")
    config = load_config(config_with(tmp_path, fee="0.0001", name=f"{name}.toml", extra={
        'status = "auto"': 'status = "off"',
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"', **extra}))
    engine = Engine(config, db_url=db, status=StatusReporter("off"), install_signal_handlers=False)
    engine.main()
    return engine, _rows(db)


def test_a_replay_with_renamed_markets_records_what_it_records_without(tmp_path: Path) -> None:
    plain_engine, plain = _replay(tmp_path, "plain", {})
    renamed_engine, renamed = _replay(tmp_path, "renamed", RENAMES)
    assert renamed == plain
    assert len(plain["orders"]) > 0 and len(plain["fills"]) > 0  # it traded, on both venues
    assert {venue for venue, *_ in plain["fills"]} == {"gate", "htx"}
    assert {(buy, sell) for _, buy, sell, decision, *_ in plain["opportunities"] if decision == "executed"} == {
        ("gate", "htx"), ("htx", "gate")}  # the window trades both ways round
    assert {symbol for _, symbol, *_ in renamed["orders"]} == {"LINK/USDT"}  # the engine's name, stored
    assert {asset for _, _, asset, *_ in renamed["balances"]} == {"LINK", "USDT"}

    # The sandbox listed, matched and filled the venue's name only, in the venue's assets.
    assert renamed_engine.venues is not None and plain_engine.venues is not None
    sandbox = cast(Sandbox, renamed_engine.venues.sandboxes["gate"].sandbox).engine
    assert set(sandbox.pairs) == {"LNK_USDT"}
    assert {o.market.id for o in sandbox.orders.values()} == {"LNK_USDT"} and sandbox.trades
    assert {c for held in sandbox.balances.values() for c in held} == {"LNK", "USDT"}
    plain_sandbox = cast(Sandbox, plain_engine.venues.sandboxes["gate"].sandbox).engine
    assert len(sandbox.trades) == len(plain_sandbox.trades)


async def test_a_renamed_sandbox_market_feeds_the_engines_book_over_the_websocket(tmp_path: Path) -> None:
    # Paper mode on a capture: the sandbox plays LNK_USDT in real time and the Gate feed subscribes to it
    # by the venue's name, storing the book under the engine's LINK/USDT.
    config = paper_config(tmp_path, "00:40:00", "00:40:20", speed=20, extra={
        'capture_venue = "binance"': 'capture_venue = "binance"\nmarket_names = { "LINK/USDT" = "LNK/USDT" }'})
    db = f"sqlite:///{tmp_path / 'p.db'}"
    engine = Engine(config, db_url=db, install_signal_handlers=False)
    await asyncio.wait_for(engine.run(), 60)
    assert {(b.venue, b.symbol) for b in engine.books} == {("gate", "LINK/USDT"), ("htx", "LINK/USDT")}
    assert engine.books.book("gate", "LINK/USDT").updates > 0
    with create_engine(db).connect() as c:
        assert c.execute(text("SELECT status FROM runs")).scalar() == "completed"
        seen = c.execute(text("SELECT count(*) FROM opportunities WHERE 'gate' IN (buy_venue, sell_venue) "
                              "AND symbol = 'LINK/USDT'"))
        assert seen.scalar() > 0  # detection saw gate's book, fed over the sandbox's WebSocket


def _pairs_and_orders(tmp_path: Path, path: Path, name: str) -> tuple[Engine, list[Any], list[Any]]:
    db = f"sqlite:///{tmp_path / name}"
    engine = Engine(load_config(path), db_url=db, force_paper=True, mode="replay",
                    status=StatusReporter("off"), install_signal_handlers=False)
    engine.main()
    with create_engine(db).connect() as c:
        pairs = c.execute(text("SELECT symbol, buy_venue, sell_venue, decision FROM opportunities")).all()
        orders = c.execute(text("SELECT DISTINCT venue, symbol FROM orders")).all()
    return engine, pairs, orders


def test_a_venue_trading_some_symbols_is_paired_only_for_those(tmp_path: Path) -> None:
    # Half a minute: with okx limited to SYM0 it still trades SYM0 (2 orders) and binance/htx still trade
    # SYM1 between them (the last assertion); a quarter minute has neither, so it could not prove the split.
    path = _bench().write_workload(tmp_path, symbols=8, venues=3, minutes=0.5, fee="0")
    venues = [line.removeprefix("[venues.").removesuffix("]") for line in path.read_text().splitlines()
              if line.startswith("[venues.")]
    one, two, *_ = load_config(path).engine.symbols  # 8: the batched path (detector.TrackedRows) too
    only = venues[2]
    _, pairs, _ = _pairs_and_orders(tmp_path, path, "all.db")
    assert [p for p in pairs if p.symbol == two and only in (p.buy_venue, p.sell_venue)]  # when it trades both

    path.write_text(path.read_text().replace(f"[venues.{only}]", f'[venues.{only}]\nsymbols = ["{one}"]'))
    engine, pairs, orders = _pairs_and_orders(tmp_path, path, "subset.db")
    assert (only, two) not in {(b.venue, b.symbol) for b in engine.books}  # never fed, never read
    assert not [p for p in pairs if p.symbol == two and only in (p.buy_venue, p.sell_venue)]
    assert [p for p in pairs if p.symbol == one and only in (p.buy_venue, p.sell_venue)]
    assert {s for v, s in orders if v == only} == {one}
    assert {v for v, s in orders if s == two} and {v for v, s in orders if s == two} <= set(venues[:2])


def test_a_renamed_market_the_external_sandbox_does_not_list_fails_naming_the_key(tmp_path: Path) -> None:
    with live_run_on_external_sandbox(tmp_path, "k-names", "s-" + "n" * 40, {
        'capture_venue = "binance"': 'capture_venue = "binance"\nmarket_names = { "LINK/USDT" = "LNK/USDT" }',
    }) as proc:
        assert proc.finish(60) == 1, proc.text()
        lines = [line for line in proc.err if line.startswith("arb: error:")]
        assert len(lines) == 1, proc.text()
        assert 'does not list LNK/USDT (venues.gate.market_names."LINK/USDT")' in lines[0], proc.text()
        assert "Traceback" not in "".join(proc.err)
