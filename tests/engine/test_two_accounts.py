"""Two venues of one exchange under names the user chose, side by side in one replay (issue 14)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from arb.cli import main

from .helpers import BUNDLED, config_with, summary_number

TWO_GATE_ACCOUNTS = {
    "[venues.gate]": '[venues.gate_a]\nadapter = "gate"',
    "[venues.htx]\nkind = \"paper\"": '[venues.gate_b]\nadapter = "gate"\nkind = "sandbox"',
}


def test_two_sandbox_gate_venues_named_apart_trade_and_record_under_their_own_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'two.db'}"
    config = config_with(tmp_path, fee="0.0001", extra=TWO_GATE_ACCOUNTS)
    assert main(["replay", str(BUNDLED), "--config", str(config), "--db", db]) == 0
    out = capsys.readouterr().out
    assert int(summary_number(out, "executed")) > 0
    with create_engine(db).connect() as c:
        orders = c.execute(text("SELECT venue, client_order_id, status FROM orders")).all()
        fills = dict(c.execute(text("SELECT venue, count(*) FROM fills GROUP BY venue")).all())
        pairs = set(c.execute(text("SELECT buy_venue, sell_venue FROM opportunities WHERE decision='executed'")).all())
        balances = {v for (v,) in c.execute(text("SELECT DISTINCT venue FROM balances"))}
    assert {venue for venue, _, _ in orders} == {"gate_a", "gate_b"}
    assert all(cid.startswith("t-") for _, cid, _ in orders)  # each in its adapter's client-id format
    assert set(fills) == {"gate_a", "gate_b"} and all(n > 0 for n in fills.values())
    assert pairs <= {("gate_a", "gate_b"), ("gate_b", "gate_a")} and pairs
    assert balances == {"gate_a", "gate_b"}


async def test_a_sandbox_venue_named_freely_gets_its_books_outside_a_replay(tmp_path: Path) -> None:
    # Before issue 14 the Gate feed stored books under "gate" whatever the venue was called: a sandbox
    # venue configured under another name never got a book in paper mode.
    from arb.engine import Engine

    from .paper_rig import paper_config

    config = paper_config(tmp_path, "00:40:00", "00:40:20", speed=20,
                          extra={"[venues.gate]": '[venues.gate_main]\nadapter = "gate"'})
    db = f"sqlite:///{tmp_path / 'p.db'}"
    await asyncio.wait_for(Engine(config, db_url=db, install_signal_handlers=False).run(), 60)
    with create_engine(db).connect() as c:
        assert c.execute(text("SELECT status FROM runs")).scalar() == "completed"
        seen = c.execute(text("SELECT count(*) FROM opportunities WHERE 'gate_main' IN (buy_venue, sell_venue)"))
        assert seen.scalar() > 0  # detection saw gate_main's book, fed over the sandbox's WebSocket
