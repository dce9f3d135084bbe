"""``arb trades`` through ``arb.cli.main`` on the sample history (tests/report/sample_run.py), SQLite and
PostgreSQL: one line per executed opportunity, the figures ``arb report`` shows, the outcome in words."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal as D

import pytest

from arb.cli import main
from arb.domain.outcomes import pair_outcome


def _trades(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["trades", *args]) == 0
    return capsys.readouterr().out


def test_json_rows_are_the_reports_figures_exactly(
    db_url: str, runs: tuple[int, int], capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(_trades(capsys, "--run", str(runs[0]), "--db", db_url, "--format", "json"))
    report = json.loads(_trades_report(capsys, db_url, runs[0]))
    assert doc["run"]["clock"] == "market"  # a replay: times are the capture's
    rows = doc["trades"]["rows"]
    assert [(r["opportunity"], r["market time"], r["symbol"], r["buy -> sell"]) for r in rows] == [
        (1, "2021-08-20T00:10:00.000Z", "LINK/USDT", "binance -> huobi"),
        (2, "2021-08-20T00:10:10.000Z", "LINK/USDT", "huobi -> binance"),
    ]  # fmt: skip
    assert [(D(r["size"]), D(r["bought"]), D(r["sold"]), r["outcome"]) for r in rows] == [
        (D(10), D(10), D(10), "filled"),
        (D(5), D(5), D(3), "unwound"),  # the unwind's 2 are not an entry fill
    ]  # fmt: skip
    for mine, theirs in zip(rows, report["pnl"]["rows"], strict=True):
        assert (mine["expected_pnl"], mine["realized_pnl"]) == (theirs["expected_pnl"], theirs["realized_pnl"])
    totals = doc["trades"]["totals"]
    assert (totals["expected_pnl"], totals["realized_pnl"]) == (
        report["pnl"]["totals"]["expected_pnl"], report["pnl"]["totals"]["realized_pnl"])
    assert (D(totals["expected_pnl"]), D(totals["realized_pnl"])) == (D("0.7986"), D("0.35891397"))


def _trades_report(capsys: pytest.CaptureFixture[str], db_url: str, run_id: int) -> str:
    assert main(["report", "--run", str(run_id), "--db", db_url, "--format", "json"]) == 0
    return capsys.readouterr().out


def test_a_live_run_says_wall_time_and_rounds_to_its_market_rules(
    db_url: str, runs: tuple[int, int], capsys: pytest.CaptureFixture[str]
) -> None:
    out = _trades(capsys, "--last", "--db", db_url, "--format", "csv")
    assert out.startswith(f"# run {runs[1]} (paper, running); times on the wall clock;")
    header, row, total, _blank = list(csv.reader(io.StringIO(out.split("# trades\n")[1])))
    assert header == ["opportunity", "wall time", "symbol", "buy -> sell", "size", "bought", "sold",
                      "expected_pnl", "realized_pnl", "outcome"]
    assert row[1:] == ["2021-08-20T01:10:00.000Z", "ETH/USDT", "gate -> okx", "1", "1", "0", "0.18", "0",
                       "halted"]
    assert total == ["TOTAL", "", "", "", "", "", "", "0.18", "0", ""]  # no prose in the outcome column


def test_table_shows_one_line_per_trade_and_the_totals(
    db_url: str, runs: tuple[int, int], capsys: pytest.CaptureFixture[str]
) -> None:
    out = _trades(capsys, "--run", str(runs[0]), "--db", db_url)
    assert "times on the market clock" in out and "market time" in out
    lines = [line for line in out.splitlines() if line.startswith("│")]
    assert len(lines) == 2 + 1  # two trades, totals
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in lines]
    assert [c[-1] for c in cells] == ["filled", "unwound", ""]
    assert "2 executed opportunities (times on the market clock" in out
    assert cells[-1][7:9] == ["0.7986", "0.35891397"]


@pytest.mark.parametrize(("stored", "policy", "complete", "settled", "word"), [
    ("hedged", None, True, True, "filled"),
    ("hedged", None, False, True, "partial"),
    ("hedged", "unwind", False, True, "unwound"),
    ("hedged", "complete", False, True, "completed"),
    ("imbalanced", "unwind", False, True, "imbalanced"),
    ("halted", "halt", False, False, "halted"),
    ("nothing_filled", None, False, True, "nothing filled"),
    (None, None, True, True, "reconciled"),
    (None, None, False, False, "unsettled"),
])  # fmt: skip
def test_pair_outcome(stored: str | None, policy: str | None, complete: bool, settled: bool, word: str) -> None:
    assert pair_outcome(stored, policy, complete, settled) == word
