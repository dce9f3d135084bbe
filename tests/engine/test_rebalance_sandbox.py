"""Simulated transfers on both kinds of simulated venue: the shipped config (Gate's in-process sandbox against a
paper venue) replayed on the bundled capture with 1,000 USDT + 60 LINK each, ``[rebalance] transfers = "auto"``.
Transfers leave and reach the sandbox's own accounts (its matcher, which its REST API answers balances from) and
the paper venue's, and the inventory check, which reads the end balances back from the venues, finds the
balances equal to the database's figures: start + fills + transfers."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from arb.cli import main

from .helpers import BUNDLED, config_with

REBALANCE = """
[rebalance]
transfers = "auto"
assets.USDT = { targets = { gate = "0.5", htx = "0.5" }, band = "0.25", delay_s = 10, fee = "0.5" }
assets.LINK = { targets = { gate = "0.5", htx = "0.5" }, band = "0.25", delay_s = 10, fee = "0.1" }
"""


def test_transfers_move_the_sandbox_and_paper_wallets_and_the_balances_agree(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = config_with(tmp_path, fee="0.0001", extra={
        'balances = { USDT = "5000", LINK = "200" }': 'balances = { USDT = "1000", LINK = "60" }'})
    config.write_text(config.read_text() + REBALANCE)
    db = f"sqlite:///{tmp_path / 'r.db'}"
    assert main(["replay", str(BUNDLED), "--config", str(config), "--db", db]) == 0
    out = capsys.readouterr().out
    engine = create_engine(db)
    with engine.connect() as c:
        moved = [tuple(r) for r in c.execute(text("SELECT asset, source, dest, status FROM transfers ORDER BY id"))]
        flows = c.execute(text("SELECT venue, asset, kind, total FROM balances WHERE kind IN ('start', 'end')")).all()
    engine.dispose()
    routes = {(asset, source, dest) for asset, source, dest, _ in moved}
    assert {("USDT", "gate", "htx"), ("USDT", "htx", "gate"), ("LINK", "htx", "gate")} <= routes, routes
    assert sum(1 for *_, status in moved if status == "arrived") >= len(moved) - 2  # at most one per asset in flight
    # The end balances the venues reported (the sandbox's over its REST API) equal start + fills + transfers.
    assert "inventory               end - start = fills, every venue and asset" in out, out
    assert {v for v, _, kind, _ in flows if kind == "end"} == {"gate", "htx"}
    assert "transfer fees" in out and "(taken off the equity)" in out

    # The notebooks' frame holds the same rows, exact.
    from sqlalchemy.orm import Session

    from arb.analysis.frames import transfers

    engine = create_engine(db)
    with Session(engine) as session:
        frame = transfers(session, 1)
    engine.dispose()
    assert [tuple(r) for r in frame[["asset", "source", "dest", "status"]].itertuples(index=False)] == moved
    assert all(isinstance(v, Decimal) for v in frame["amount"])

    # The dashboard's page: the same transfers, newest first, and the summary's equity (fees taken off).
    from arb.monitoring.dashboard.page import document

    engine = create_engine(db)
    with Session(engine) as session:
        page = document(session, 1)
    engine.dispose()
    assert [(t["asset"], *t["route"].split(" -> "), t["status"]) for t in reversed(page["transfers"])] == moved
    m = re.search(r"^equity \(realized \+ unrealized - transfer fees\) (-?[\d.]+) USDT$", out, re.M)
    assert m and page["pnl"]["equity"] == m[1], (page["pnl"]["equity"], out)


def test_plan_mode_stores_each_plan_once_moves_nothing_and_costs_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    config = config_with(tmp_path, fee="0.0001", extra={
        'balances = { USDT = "5000", LINK = "200" }': 'balances = { USDT = "1000", LINK = "60" }'})
    config.write_text(config.read_text() + REBALANCE.replace('"auto"', '"plan"'))
    db = f"sqlite:///{tmp_path / 'p.db'}"
    assert main(["replay", str(BUNDLED), "--config", str(config), "--db", db]) == 0
    out = capsys.readouterr().out
    engine = create_engine(db)
    with engine.connect() as c:
        moved = c.execute(text("SELECT asset, status, sent_at FROM transfers")).all()
    engine.dispose()
    assert moved and {(status, sent) for _, status, sent in moved} == {("planned", None)}
    said = [r.getMessage() for r in caplog.records if "planned:" in r.getMessage()]
    assert len(said) == len(moved) and all(r.levelname == "WARNING" for r in caplog.records if "planned:" in r.getMessage())
    # Said once per stretch out of band, not once a check: the capture's hour would give thousands.
    assert len(moved) < 60
    assert "planned only" in out and "transfer fees" not in out and "- transfer fees" not in out


async def test_the_live_surfaces_take_the_same_fees_off_the_equity(tmp_path: Path) -> None:
    """What the live surfaces show at the end of a run (the view's snapshot, which the metrics are built from
    and the status line reads the same fees as) is the summary's equity: realized + unrealized - the fees of
    the transfers sent."""
    from arb.config import load_config
    from arb.engine import Engine
    from tests.monitoring.scrape import by_label, run_and_scrape

    config = config_with(tmp_path, fee="0.0001", extra={
        'balances = { USDT = "5000", LINK = "200" }': 'balances = { USDT = "1000", LINK = "60" }'})
    config.write_text(config.read_text().replace("[monitoring]", "[monitoring]\nmetrics_port = 0") + REBALANCE)
    engine = Engine(load_config(config), db_url=f"sqlite:///{tmp_path / 'm.db'}", install_signal_handlers=False)
    result, after = await run_and_scrape(engine)
    fees = {q: Decimal(v) for q, v in result.summary["transfer_fees"].items()}
    assert fees["USDT"] > 0
    expected = (Decimal(result.summary["realized_pnl"]) + Decimal(result.summary["unrealized_pnl"].get("USDT", 0))
                - fees["USDT"])
    assert by_label(after["arb_equity_quote"], "quote") == {("USDT",): float(expected)}
    assert engine.rebalancer is not None and engine.rebalancer.transfer_fees() == fees


async def test_a_plan_arb_does_not_make_is_an_alert(tmp_path: Path) -> None:
    """``transfers = "plan"``: each plan reaches the webhook, titled as every alert, with what to move."""
    from arb.config import load_config
    from arb.engine import Engine
    from tests.monitoring.receiver import Receiver

    async with Receiver() as receiver:
        config = config_with(tmp_path, fee="0.0001", extra={
            'balances = { USDT = "5000", LINK = "200" }': 'balances = { USDT = "1000", LINK = "60" }'})
        config.write_text(config.read_text().replace("[monitoring]", f'[monitoring]\nalert_urls = ["{receiver.url}"]')
                          + REBALANCE.replace('"auto"', '"plan"'))
        engine = Engine(load_config(config), db_url=f"sqlite:///{tmp_path / 'a.db'}", install_signal_handlers=False)
        result = await engine.run()
    planned = [t for t in result.summary["transfers"] if t["status"] == "planned"]
    alerts = [p for p in receiver.posts if p["title"].endswith(": transfer planned")]
    assert planned and len(alerts) == len(planned), (len(alerts), len(planned))
    first = planned[0]
    assert f"transfer {first['id']} planned: " in alerts[0]["message"] and "Next: make the transfer" in alerts[0]["message"]
    assert f"{first['source']} -> {first['dest']}" in alerts[0]["message"]
