"""``arb balances`` through ``arb.cli.main`` on the sample history, SQLite and PostgreSQL: start, end and
change per venue and asset from the balance snapshots, gaps shown as gaps."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy.orm import Session, sessionmaker

from arb.cli import main
from arb.store.models import Balance, Run
from report.sample_run import T2


def _balances(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["balances", *args]) == 0
    return capsys.readouterr().out


def test_json_is_exact_and_agrees_with_the_reports_inventory(
    db_url: str, runs: tuple[int, int], capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(_balances(capsys, "--run", str(runs[0]), "--db", db_url, "--format", "json"))
    rows = {(r["venue"], r["asset"]): r for r in doc["venues"]["rows"]}
    binance = rows[("binance", "USDT")]
    assert (D(binance["start"]), D(binance["end"]), D(binance["change"])) == (
        D("1000"), D("799.79992"), D("-200.20008"))
    assert (D(rows[("binance", "LINK")]["start"]), D(rows[("binance", "LINK")]["change"])) == (0, 10)
    # huobi has no snapshot in this run: no start, no end, no change (not zeros)
    assert {k: v for k, v in rows[("huobi", "USDT")].items() if k != "venue"} == {
        "asset": "USDT", "start": None, "end": None, "change": None}
    assets = {r["asset"]: r for r in doc["assets"]["rows"]}
    assert assets["USDT"] == {"asset": "USDT", "start": None, "end": None, "change": None}

    assert main(["report", "--run", str(runs[0]), "--db", db_url, "--format", "json"]) == 0
    inventory = json.loads(capsys.readouterr().out)["inventory"]["rows"]
    assert [(r["venue"], r["asset"], r["start"], r["end"]) for r in inventory] == [
        (r["venue"], r["asset"], r["start"], r["end"]) for r in doc["venues"]["rows"]]


def test_csv_and_table_name_the_gap(
    db_url: str, runs: tuple[int, int], capsys: pytest.CaptureFixture[str]
) -> None:
    out = _balances(capsys, "--run", str(runs[0]), "--db", db_url, "--format", "csv")
    venues = list(csv.reader(io.StringIO(out.split("# venues\n")[1].split("\n\n")[0])))
    assert venues[0] == ["venue", "asset", "start", "end", "change"]
    assert ["binance", "USDT", "1000", "799.79992", "-200.20008"] in venues
    assert ["huobi", "LINK", "", "", ""] in venues
    table = _balances(capsys, "--run", str(runs[0]), "--db", db_url)
    assert "no start or end snapshot on huobi" in table


def test_a_run_without_snapshots_says_so(
    db_url: str, runs: tuple[int, int], capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(_balances(capsys, "--run", str(runs[1]), "--db", db_url, "--format", "json"))
    # Run 2 recorded no snapshots: its rows come from the fills' assets, each with nothing to show.
    assert all(r["start"] is None and r["end"] is None for r in doc["venues"]["rows"])
    assert {r["venue"] for r in doc["venues"]["rows"]} == {"gate"}


def test_a_running_run_shows_its_latest_snapshot_as_its_end(
    db_url: str, runs: tuple[int, int], session_factory: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    """A run still going has no end snapshot: its balances are its latest stored ones, said to be so (the
    command was blank while a run went)."""
    with session_factory.begin() as s:
        run = s.get_one(Run, runs[1])
        run.status = "running"
        s.add_all([Balance(run_id=run.id, venue="gate", asset=asset, free=D(total), used=D(0), total=D(total),
                           ts=ts, kind=kind)
                   for asset, total, ts, kind in [("USDT", "100", T2 - timedelta(seconds=30), "start"),
                                                  ("ETH", "0", T2 - timedelta(seconds=30), "start"),
                                                  ("USDT", "90", T2 + timedelta(seconds=1), "after_pair"),
                                                  ("ETH", "1", T2 + timedelta(seconds=1), "after_pair")]])
    doc = json.loads(_balances(capsys, "--run", str(runs[1]), "--db", db_url, "--format", "json"))
    assert doc["run"]["id"] == runs[1] and doc["run"]["status"] == "running"
    rows = {(r["venue"], r["asset"]): (r["start"], r["end"], r["change"]) for r in doc["venues"]["rows"]}
    assert rows == {("gate", "USDT"): ("100", "90", "-10"), ("gate", "ETH"): ("0", "1", "1"),
                    ("gate", "GT"): ("0", "0", "0")}  # a fee currency the snapshots do not name: none held
    table = _balances(capsys, "--run", str(runs[1]), "--db", db_url)
    flat = " ".join(table.split())  # the line above the table wraps at the terminal's width (80 when piped)
    assert "run running: 'end' is the latest stored snapshot (newest 2021-08-20T01:10:01.000Z" in flat
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in table.splitlines() if line.startswith("│ gate")]
    assert ["gate", "USDT", "100", "90", "-10"] in cells
