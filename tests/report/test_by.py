"""``arb report --by day|hour|symbol|route`` against SQL ``GROUP BY`` over the stored rows, on SQLite and
PostgreSQL, on real runs through ``arb run``:

- the bundled capture across an hour boundary (00:40 -> 01:20, low fee), so ``--by hour`` has two rows;
- a replay of three symbols on three paper venues (``bench/bench_multisymbol.py``'s workload), so ``--by
  symbol`` and ``--by route`` have several;
- the halted run of ``tests/engine/helpers.py``, which ends with an open position: its unrealized PnL is in
  the group of the opportunity that opened it, and nowhere else.

The SQL is written here, from the tables (``opportunities``, ``orders``, ``fills``): counts, ``SUM`` of the
stored ``realized_pnl`` and of fills' fees per currency. Exact on PostgreSQL; on SQLite, whose ``SUM`` adds
the stored decimal text as binary floats, within 1e-9.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from arb.cli import main
from tests.engine.helpers import bench_module, config_with, halted_config, trimmed_capture

D = Decimal

KEYS = {  # the group key of opportunity p, per grouping and dialect, as the report names it
    "day": {"sqlite": "strftime('%Y-%m-%d', p.detected_at)",
            "postgresql": "to_char(p.detected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"},
    "hour": {"sqlite": "strftime('%Y-%m-%dT%H:00Z', p.detected_at)",
             "postgresql": "to_char(p.detected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:00\"Z\"')"},
    "symbol": {"sqlite": "p.symbol", "postgresql": "p.symbol"},
    "route": {"sqlite": "p.symbol || ' ' || p.buy_venue || ' -> ' || p.sell_venue",
              "postgresql": "p.symbol || ' ' || p.buy_venue || ' -> ' || p.sell_venue"},
}


def _span_run(tmp_path: Path) -> Path:
    capture = trimmed_capture(tmp_path, "00:40", "01:20")
    return config_with(tmp_path, fee="0.0001", extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
        'status = "auto"': 'status = "off"',
    })


def _multisymbol_run(tmp_path: Path) -> Path:
    return bench_module("bench_multisymbol").write_workload(tmp_path, symbols=3, venues=3, minutes=0.5,
                                                           fee="0.0001", quote_balance="2000")


def _report(capsys: pytest.CaptureFixture[str], db_url: str, *args: str) -> str:
    assert main(["report", "--db", db_url, *args]) == 0
    return capsys.readouterr().out


def _key(row: dict[str, Any], by: str) -> str:
    return f"{row['symbol']} {row['buy -> sell']}" if by == "route" else row[by]


def _same(value: object, exact: Decimal, dialect: str) -> bool:
    if dialect == "postgresql":
        return D(str(value)) == exact
    return abs(D(str(value)) - exact) <= D("1e-9") * max(D(1), abs(exact))


def _sql_groups(db_url: str, run_id: int, by: str) -> dict[str, dict[str, Any]]:
    """Per group: seen, rejected, executed, orders, fills, realized (SUM), fees per currency (SUM)."""
    engine = create_engine(db_url)
    dialect = engine.dialect.name
    key = KEYS[by][dialect]
    groups: dict[str, dict[str, Any]] = defaultdict(lambda: {"orders": 0, "fills": 0, "fees": {}})
    try:
        with engine.connect() as c:
            for k, seen, rejected, executed, realized in c.execute(text(
                    f"SELECT {key}, COUNT(*), SUM(CASE WHEN p.decision = 'rejected' THEN 1 ELSE 0 END), "
                    f"SUM(CASE WHEN p.decision = 'executed' THEN 1 ELSE 0 END), SUM(p.realized_pnl) "
                    f"FROM opportunities p WHERE p.run_id = :r GROUP BY {key}"), {"r": run_id}):
                groups[k].update(seen=seen, rejected=rejected, executed=executed, realized=realized or 0)
            for k, orders in c.execute(text(
                    f"SELECT {key}, COUNT(*) FROM orders o JOIN opportunities p ON p.id = o.opportunity_id "
                    f"WHERE p.run_id = :r GROUP BY {key}"), {"r": run_id}):
                groups[k]["orders"] = orders
            for k, currency, fills, fees in c.execute(text(
                    f"SELECT {key}, f.fee_currency, COUNT(*), SUM(f.fee) FROM fills f "
                    f"JOIN orders o ON o.id = f.order_id JOIN opportunities p ON p.id = o.opportunity_id "
                    f"WHERE p.run_id = :r GROUP BY {key}, f.fee_currency"), {"r": run_id}):
                groups[k]["fills"] += fills
                groups[k]["fees"][currency] = fees
    finally:
        engine.dispose()
    return dict(groups)


def _check_against_sql(doc: dict[str, Any], db_url: str, by: str) -> None:
    dialect = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    sql = _sql_groups(db_url, doc["run"]["id"], by)
    rows = {_key(r, by): r for r in doc[f"by_{by}"]["rows"]}
    assert set(rows) == set(sql)
    fee_columns = {c for r in rows.values() for c in r if c.startswith("fees_")}
    for k, want in sql.items():
        got = rows[k]
        assert {c: got[c] for c in ("seen", "rejected", "executed", "orders", "fills")} == {
            c: want[c] for c in ("seen", "rejected", "executed", "orders", "fills")}, k
        assert _same(want["realized"], D(got["realized_pnl"]), dialect), (k, want["realized"], got["realized_pnl"])
        assert {c for c in fee_columns if D(got[c])} == {f"fees_{cur}" for cur, v in want["fees"].items() if v}
        for currency, fees in want["fees"].items():
            assert _same(fees, D(got[f"fees_{currency}"]), dialect), (k, currency)
    totals = doc[f"by_{by}"]["totals"]
    assert totals["seen"] == sum(r["seen"] for r in rows.values())
    assert D(totals["realized_pnl"]) == sum(D(r["realized_pnl"]) for r in rows.values())
    # Types: counts are integers, money exact decimal strings, no prose in a number's place.
    for row in [*rows.values(), totals]:
        assert all(isinstance(row[c], int) for c in ("seen", "rejected", "executed", "orders", "fills"))
        assert all(isinstance(row[c], str) and D(row[c]).is_finite() for c in ("realized_pnl", *fee_columns))


@pytest.mark.parametrize("run", ["span", "multisymbol"])
def test_by_matches_sql_group_by_over_the_stored_rows(run: str, db_url: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    config = _span_run(tmp_path) if run == "span" else _multisymbol_run(tmp_path)
    assert main(["run", "--config", str(config), "--db", db_url]) == 0
    capsys.readouterr()
    docs = {by: json.loads(_report(capsys, db_url, "--by", by, "--format", "json")) for by in KEYS}
    for by, doc in docs.items():
        _check_against_sql(doc, db_url, by)
        assert D(doc[f"by_{by}"]["totals"]["unrealized_pnl"]) == 0  # the run left no open position
    executed = docs["day"]["by_day"]["totals"]["executed"]
    assert executed > 0  # pairs traded, so realized and fees are figures, not zeros by absence
    # Every grouping is one partition of the same run: the same totals.
    figures = ("seen", "rejected", "executed", "orders", "fills", "realized_pnl", "unrealized_pnl")
    for by, doc in docs.items():
        totals = doc[f"by_{by}"]["totals"]
        assert {c: v for c, v in totals.items() if c in figures or c.startswith("fees_")} == {
            c: v for c, v in docs["day"]["by_day"]["totals"].items() if c in figures or c.startswith("fees_")}
    # ... and the same as the whole run's report.
    whole = json.loads(_report(capsys, db_url, "--format", "json"))
    assert D(docs["day"]["by_day"]["totals"]["realized_pnl"]) == D(whole["pnl"]["totals"]["realized_pnl"])
    assert docs["day"]["by_day"]["totals"]["executed"] == whole["funnel"]["totals"]["executed"]
    if run == "span":
        assert [r["hour"] for r in docs["hour"]["by_hour"]["rows"]] == ["2021-08-20T00:00Z", "2021-08-20T01:00Z"]
    else:
        assert len(docs["symbol"]["by_symbol"]["rows"]) == 3
        assert len(docs["route"]["by_route"]["rows"]) > 3


def test_an_open_position_is_in_the_group_that_opened_it(db_url: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--config", str(halted_config(tmp_path)), "--db", db_url]) == 3  # halted
    capsys.readouterr()
    whole = json.loads(_report(capsys, db_url, "--format", "json"))
    (position,) = whole["run"]["summary"]["open_positions"]
    doc = json.loads(_report(capsys, db_url, "--by", "route", "--format", "json"))
    _check_against_sql(doc, db_url, "route")
    engine = create_engine(db_url)
    try:
        with engine.connect() as c:
            ((opened_by, buy, sell, symbol, open_base, open_price),) = c.execute(text(
                "SELECT id, buy_venue, sell_venue, symbol, open_base, open_price FROM opportunities "
                "WHERE open_base IS NOT NULL AND open_base <> 0")).all()
    finally:
        engine.dispose()
    route = f"{symbol} {buy} -> {sell}"
    mark = D(position["mark"])
    unrealized = {_key(r, "route"): D(r["unrealized_pnl"]) for r in doc["by_route"]["rows"]}
    expected = D(str(open_base)) * (mark - D(str(open_price)))
    assert abs(unrealized.pop(route) - expected) <= D("1e-12")  # arb.positions rounds to 1e-12
    assert unrealized.pop(route, None) is None and all(v == 0 for v in unrealized.values())
    assert D(doc["by_route"]["totals"]["unrealized_pnl"]) == D(position["unrealized"]) == \
        D(whole["positions"]["totals"]["unrealized"])
    # Realized excludes it: the groups' realized adds up to the run's, which settlement kept it out of.
    assert D(doc["by_route"]["totals"]["realized_pnl"]) == D(whole["pnl"]["totals"]["realized_pnl"])
    assert opened_by  # the opportunity that opened it exists


def test_every_format_and_no_number_squeezed(db_url: str, runs: tuple[int, int],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The sample history's run 1: csv and the table show the same groups as json, every figure whole. O2 left
    0.002 LINK open, but the run stored no end marks: its unrealized is unknown (empty), not 0."""
    doc = json.loads(_report(capsys, db_url, "--run", str(runs[0]), "--by", "hour", "--format", "json"))
    assert [r["hour"] for r in doc["by_hour"]["rows"]] == ["2021-08-20T00:00Z"]
    assert doc["run"]["id"] == runs[0]
    (row,) = doc["by_hour"]["rows"]
    assert (row["seen"], row["rejected"], row["executed"], row["orders"], row["fills"]) == (5, 3, 2, 5, 6)
    assert row["unrealized_pnl"] is None
    assert (D(row["realized_pnl"]), D(row["fees_USDT"]), D(row["fees_LINK"])) == (
        D("0.35891397"), D("0.12") + D("0.08008") + D("0.2009") + D("0.06024") + D("0.0399"), D("0.005"))
    out = _report(capsys, db_url, "--run", str(runs[0]), "--by", "hour", "--format", "csv")
    block = out.split("# by_hour\n")[1].split("\n\n")[0]
    header, *rows, total = list(csv.reader(io.StringIO(block)))
    assert header == ["hour", "seen", "rejected", "executed", "orders", "fills", "realized_pnl", "unrealized_pnl",
                      "fees_LINK", "fees_USDT"]
    assert rows == [["2021-08-20T00:00Z", "5", "3", "2", "5", "6", "0.35891397", "", "0.005", "0.50112"]]
    assert total[0] == "TOTAL" and total[1:] == rows[0][1:]
    for columns in ("80", "200"):
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("COLUMNS", columns)
            table = _report(capsys, db_url, "--run", str(runs[0]), "--by", "symbol")
        assert "UTC" not in table.split("\n")[1]  # a symbol grouping has no clock to state
        (line,) = [x for x in table.splitlines() if x.startswith("│ LINK/USDT")]
        assert [c.strip() for c in line.split("│")[1:-1]] == [
            "LINK/USDT", "5", "3", "2", "5", "6", "0.35891397", "", "0.005", "0.50112"]
    table = _report(capsys, db_url, "--run", str(runs[0]), "--by", "day")
    assert "the UTC day of each opportunity's detection, on the run's market clock" in table


def test_a_run_not_ended_has_unknown_unrealized_not_zero(db_url: str, runs: tuple[int, int],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Run 2 left 1 ETH open on gate but stored no end marks (no summary): its group's unrealized is
    unknown (null), not 0; a group that opened nothing has 0."""
    doc = json.loads(_report(capsys, db_url, "--run", str(runs[1]), "--by", "symbol", "--format", "json"))
    (row,) = doc["by_symbol"]["rows"]
    assert row["symbol"] == "ETH/USDT" and row["unrealized_pnl"] is None
    assert doc["by_symbol"]["totals"]["unrealized_pnl"] is None
    assert (D(row["fees_GT"]), row["fills"], row["orders"]) == (D("0.01"), 1, 2)
