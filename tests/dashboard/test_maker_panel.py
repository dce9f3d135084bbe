"""The dashboard's maker panel (``page.py``'s ``maker``): a maker run's quoting per route is
``arb/store/maker_views.py``'s, the figures the run summary stored and ``arb report`` prints, at the page's
places; its resting quotes are the store's open and partially filled quotes; a taker run has no panel.

The maker run: ``tests/engine/maker_capture.py``'s Binance spot quoted, USD-M perpetual hedged, replayed
whole by ``arb run`` once for the module."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from arb.cli import main
from arb.display import Precision, money
from arb.monitoring.dashboard.page import document
from arb.store.db import make_reader_engine
from arb.store.models import Order
from arb.store.repo import end_run, start_run
from tests.conftest import T0, Populated, at
from tests.engine.maker_capture import maker_run_db


@pytest.fixture(scope="module")
def maker_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """The replayed maker run's database URL and the summary it stored (run once a session: ``maker_run_db``;
    this module only reads it)."""
    db = maker_run_db(tmp_path_factory.mktemp("maker-run"))
    with sqlite3.connect(db) as c:
        (summary,) = c.execute("SELECT summary FROM runs").fetchone()
    return f"sqlite:///{db}", json.loads(summary)


def _document(db: str, run_id: int = 1) -> dict[str, Any]:
    engine = make_reader_engine(db)  # as the dashboard's server reads
    try:
        with sessionmaker(bind=engine).begin() as s:
            return document(s, run_id)
    finally:
        engine.dispose()


def test_the_maker_panel_is_the_summarys_and_the_reports_maker_rows(
        maker_run: tuple[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    db, summary = maker_run
    doc = json.loads(json.dumps(_document(db)))  # as the server sends it
    assert main(["report", "--db", db, "--format", "json"]) == 0
    [reported] = json.loads(capsys.readouterr().out)["maker"]["rows"]
    with sqlite3.connect(db.removeprefix("sqlite:///")) as c:
        (snapshot,) = c.execute("SELECT config_snapshot FROM runs").fetchone()
    precision = Precision.from_snapshot(json.loads(snapshot))

    [stored] = summary["maker"]
    assert stored["quotes"] > 50 and stored["maker_fills"] > 10 and stored["fill_to_hedge_ms"]  # a run that quoted
    [row] = doc["maker"]["routes"]
    counts = ("quotes", "refused", "quotes_filled", "maker_fills", "hedges", "flattens")
    assert {k: row[k] for k in counts} == {k: stored[k] for k in counts} == {k: reported[k] for k in counts}
    assert (row["symbol"], row["maker_venue"], row["taker_venue"], row["base"]) == (
        stored["symbol"], stored["maker_venue"], stored["taker_venue"], "BTC")
    # Latencies at the summary's 0.01 ms, as the page shows money (arb/display.money): "210", not "210.00".
    for key in ("fill_to_hedge_ms", "unhedged_ms"):
        assert row[key] == {stat: money(Decimal(stored[key][stat]), 2) for stat in ("median", "max")}
        assert row[key] == {stat: money(Decimal(reported[f"{key}_{stat}"]), 2) for stat in ("median", "max")}
    assert row["unhedged_base"] == money(Decimal(stored["unhedged_base"]), precision.asset("BTC", "spot"))
    assert row["adverse"] == money(Decimal(stored["adverse"]), precision.pnl()) != "0"
    assert row["hedge_slippage"] == money(Decimal(stored["hedge_slippage"]), precision.pnl())
    # The run ended: every quote was cancelled, none left resting.
    assert doc["maker"]["resting"] == [] and doc["maker"]["resting_at"] == "end"


def test_a_taker_run_has_no_maker_panel(populated: Populated) -> None:
    with populated.factory() as s:
        assert document(s, populated.run_id)["maker"] is None


MAKER_SNAPSHOT = {
    "symbols": {"BTC/USDT": {"strategy": "maker", "maker": {"maker_venue": "spot", "taker_venue": "perp"}}},
    "venues": {"spot": {"taker_fee": "0.00023", "markets": {"BTC/USDT": {"price_step": "0.01",
                                                                        "amount_step": "0.00001"}}},
               "perp": {"taker_fee": "0.00017", "markets": {"BTC/USDT": {"price_step": "0.1",
                                                                        "amount_step": "0.001"}}}},
}


def _quote(run_id: int, n: int, status: str, filled: str = "0", purpose: str = "quote", side: str = "buy") -> Order:
    return Order(run_id=run_id, venue="spot" if purpose == "quote" else "perp", symbol="BTC/USDT", side=side,
                 type="limit", time_in_force="poc" if purpose == "quote" else "ioc", purpose=purpose,
                 client_order_id=f"q{n}", price=Decimal("61783.51"), amount=Decimal("0.002"), filled=Decimal(filled),
                 status=status, created_at=at(n), updated_at=at(n), sent_at=at(n))


def test_resting_quotes_are_the_open_and_partly_filled_ones_now_and_at_the_end(
        session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as s:
        run_id = start_run(s, mode="paper", config_snapshot=MAKER_SNAPSHOT, started_at=T0).id
    with session_factory() as s:  # a maker run before its first quote: the panel, empty
        assert document(s, run_id)["maker"] == {"routes": [], "resting": [], "resting_at": "now"}
    with session_factory.begin() as s:
        s.add_all([_quote(run_id, 1, "filled", "0.002"), _quote(run_id, 2, "open"),
                   _quote(run_id, 3, "partially_filled", "0.00071", side="sell"), _quote(run_id, 4, "canceled"),
                   _quote(run_id, 5, "open", purpose="hedge"), _quote(run_id, 6, "submitted")])
    with session_factory() as s:
        now = document(s, run_id)["maker"]
    assert [(q["side"], q["price"], q["amount"], q["filled"], q["status"]) for q in now["resting"]] == [
        ("buy", "61783.51", "0.002", "0", "open"), ("sell", "61783.51", "0.002", "0.00071", "partially_filled")]
    assert [q["at"] for q in now["resting"]] == [round(at(t).timestamp() * 1000) for t in (2, 3)]
    assert now["resting_at"] == "now" and [r["quotes"] for r in now["routes"]] == [5]
    with session_factory.begin() as s:  # ended without cancelling them (a crash): left resting at the end
        end_run(s, run_id, ended_at=at(60), summary={})
    with session_factory() as s:
        ended = document(s, run_id)["maker"]
    assert ended["resting_at"] == "end" and ended["resting"] == now["resting"]

