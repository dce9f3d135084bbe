"""Issue 49's figure: the README's maker config on the Binance ETH recordings of 2024-08-08 (0.05 ETH quoted on
spot, hedged on the USD-M book, here a spot wallet too), 5,000 USDT + 2 ETH per venue. Quotes sell ETH on spot
and buy it back on the other venue, so spot's ETH and the other venue's USDT drain: without rebalancing the
perpetual side's USDT cannot fund a 0.05 ETH hedge ~100 s in and the desk stops for the rest of the recording;
with ``[rebalance] transfers = "auto"`` and a 30 s transfer delay it trades through the whole recording, its
transfers stored (sent, arrived 30 s later, less their fee) and their fees in the run's equity, which the
summary, ``arb report`` and SQL agree on."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from arb.cli import main

from .maker_capture import DATA, binance_maker_capture, maker_config

D = Decimal
REBALANCE = """
[rebalance]
transfers = "{transfers}"
assets.USDT = {{ targets = {{ spot = "0.5", perp = "0.5" }}, band = "0.2", delay_s = 30, fee = "1", network = "TRC20" }}
assets.ETH = {{ targets = {{ spot = "0.5", perp = "0.5" }}, band = "0.2", delay_s = 30, fee = "0.0005", network = "ERC20" }}
"""


@pytest.fixture(scope="module")
def eth_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("eth")
    return binance_maker_capture(d, spot_file=DATA / "binance-spot-ethusdt-20240808.gz",
                                 usdm_file=DATA / "binance-usdm-ethusdt-20240808.gz", symbol="ETH/USDT")


def eth_two_wallets(directory: Path, capture: Path, transfers: str) -> Path:
    """The ETH maker config with both venues spot wallets of 5,000 USDT + 2 ETH (the USD-M book read as a spot
    market: a margin account holds no ETH to move), and ``[rebalance]`` with ``transfers``."""
    path = maker_config(directory, capture)
    body = (path.read_text().replace("BTC/USDT", "ETH/USDT").replace('quote_size = "0.002"', 'quote_size = "0.05"')
            .replace('max_exposure_per_asset = "1"', 'max_exposure_per_asset = "50"')
            .replace('balances = { USDT = "10000", BTC = "0.2" }', 'balances = { USDT = "5000", ETH = "2" }')
            .replace('ccxt_id = "binanceusdm"\n', "")
            .replace('balances = { USDT = "10000" }', 'balances = { USDT = "5000", ETH = "2" }')
            .replace('{ kind = "linear_perpetual", price_step = "0.1", amount_step = "0.001"',
                     '{ price_step = "0.01", amount_step = "0.001"')
            .replace('amount_step = "0.00001", min_amount = "0.00001"', 'amount_step = "0.0001", min_amount = "0.0001"'))
    assert body.count('balances = { USDT = "5000", ETH = "2" }') == 2 and "BTC" not in body and "linear" not in body
    path.write_text(body + REBALANCE.format(transfers=transfers))
    return path


def _replay(config: Path, db_file: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    db = f"sqlite:///{db_file}"
    assert main(["run", "--config", str(config), "--db", db]) == 0
    return db, capsys.readouterr().out


def _rows(db: str, sql: str) -> list[tuple]:
    engine = create_engine(db)
    try:
        with engine.connect() as c:
            return [tuple(r) for r in c.execute(text(sql))]
    finally:
        engine.dispose()


def _seconds_of_quote_fills(db: str) -> list[float]:
    """Market seconds from the recording's first event of every quote fill."""
    [(start,)] = _rows(db, "SELECT market_started_at FROM runs")
    origin = datetime.fromisoformat(str(start)).replace(tzinfo=UTC)
    stamps = _rows(db, "SELECT f.ts FROM fills f JOIN orders o ON o.id = f.order_id WHERE o.purpose = 'quote'")
    return sorted((datetime.fromisoformat(str(ts)).replace(tzinfo=UTC) - origin).total_seconds() for (ts,) in stamps)


def test_a_desk_that_rebalances_trades_through_the_recording_and_one_that_does_not_stops(
        eth_capture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "off").mkdir()
    (tmp_path / "auto").mkdir()
    off_db, off_out = _replay(eth_two_wallets(tmp_path / "off", eth_capture, "off"), tmp_path / "off.db", capsys)
    on_db, on_out = _replay(eth_two_wallets(tmp_path / "auto", eth_capture, "auto"), tmp_path / "auto.db", capsys)

    # Without: the perpetual side's USDT runs out ~100 s in, and that direction never trades again.
    off = _seconds_of_quote_fills(off_db)
    assert re.search(r"incident +inventory depleted: .* still open at the end: perp USDT [\d.]+ cannot fund "
                     r"quote_size 0.05 ETH", off_out), off_out
    stalled = [s for s in off if 120 <= s < 330]
    assert not stalled and max(s for s in off if s < 330) < 110, off
    assert _rows(off_db, "SELECT count(*) FROM transfers") == [(0,)]

    # With: every minute of the recording (~346 s) has quote fills, several times the pairs.
    on = _seconds_of_quote_fills(on_db)
    assert all(any(m * 60 <= s < (m + 1) * 60 for s in on) for m in range(5)), on
    assert max(on) > 330 and len(on) > 2 * len(off), (len(on), len(off))
    print(f"quote fills: {len(off)} without rebalancing (last steady one at {max(s for s in off if s < 330):.0f} s), "
          f"{len(on)} with, the last at {max(on):.0f} s")

    transfers = _rows(on_db, "SELECT asset, source, dest, amount, fee, fee_value, value_currency, status, "
                             "planned_at, sent_at, expected_at, arrived_at FROM transfers ORDER BY id")
    assert {(t[0], t[1], t[2]) for t in transfers} == {("USDT", "spot", "perp"), ("ETH", "perp", "spot")}
    for asset, _, _, amount, fee, _, _, status, planned, sent, expected, arrived in transfers:
        assert D(amount) > D(fee) == {"USDT": D(1), "ETH": D("0.0005")}[asset]
        assert sent == planned and status in ("sent", "arrived")
        wait = datetime.fromisoformat(str(expected)) - datetime.fromisoformat(str(planned))
        assert wait == timedelta(seconds=30)
        if status == "arrived":
            assert arrived == expected  # on the run's clock, exactly its delay later
    assert "inventory               end - start = fills, every venue and asset" in on_out  # transfers counted too

    # The fees, one figure: SQL's sum, the summary's, the report's; and the equity takes them off.
    [(sql_fees,)] = _rows(on_db, "SELECT fee_value FROM transfers WHERE status IN ('sent', 'arrived') LIMIT 1")
    sql_total = sum((D(v) for (v,) in _rows(on_db, "SELECT fee_value FROM transfers WHERE status <> 'planned'")), D(0))
    assert sql_total > 0 and sql_fees
    [(summary_text,)] = _rows(on_db, "SELECT summary FROM runs")
    summary = json.loads(summary_text)
    assert {k: D(v) for k, v in summary["transfer_fees"].items()} == {"USDT": sql_total}
    realized = D(summary["realized_pnl"])
    unrealized = D(summary["unrealized_pnl"].get("USDT", "0"))
    equity = realized + unrealized - sql_total
    m = re.search(r"equity \(realized \+ unrealized - transfer fees\) (-?[\d.]+) USDT", on_out)
    assert m and abs(D(m[1]) - equity) < D("0.000001"), on_out
    assert "taken off the equity" in on_out

    capsys.readouterr()  # the figures printed above
    assert main(["report", "--db", on_db, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    total = report["transfers"]["totals"]
    assert D(total["fee_value"]) == sql_total and total["value_currency"] == "USDT"
    assert len(report["transfers"]["rows"]) == len(transfers)
    assert main(["report", "--db", on_db]) == 0
    table = " ".join(capsys.readouterr().out.split())  # a title wraps at the terminal's width
    m = re.search(r"equity = realized \+ unrealized - transfer fees = (-?[\d.]+) USDT", table)
    assert m and abs(D(m[1]) - equity) < D("0.000001"), table
