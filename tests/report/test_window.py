"""``arb report --since/--until [--by day]``: every run's rows in a window, each by its own time, on SQLite and
PostgreSQL.

The sample history (``sample_run.py``: runs 1 and 2 on 2021-08-20) is given a day after it: run 2 is paid
funding on both days (so it is partly in a window of the 21st), and a run 3 on the 21st executes one pair,
settled as the engine would, and leaves an order of no opportunity (a quote that never filled). Each window's
figures are checked against each run's own ``arb report --run N --by ...`` over the same rows: a window is a
sum of runs' reports, never a figure of its own.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from arb.cli import main
from arb.store.models import FundingPayment, Run
from arb.store.settlement import settle_pending
from report.sample_run import T2, _fill, _opp, _order

D = Decimal
DAY2 = datetime(2021, 8, 21, 3, 0, tzinfo=UTC)
FIGURES = ("seen", "rejected", "executed", "orders", "fills", "realized_pnl")


@pytest.fixture
def history(runs: tuple[int, int], session_factory: sessionmaker[Session]) -> tuple[int, int, int]:
    run1, run2 = runs
    with session_factory.begin() as s:
        s.add_all([FundingPayment(run_id=run2, venue="okx", symbol="ETH/USDT", ts=t, amount=D(a), currency="USDT")
                   for t, a in ((T2 + timedelta(hours=6), "-0.25"), (DAY2, "0.75"))])
        run3 = Run(started_at=DAY2, mode="paper", config_snapshot={"fees": "0.001"})
        s.add(run3)
        s.flush()
        o7 = _opp(run3, DAY2 + timedelta(seconds=5), "binance", "huobi", size=D("1"), expected_profit=D("0.0599"))
        buy = _order(run3, o7, "binance", "buy", "1", "20.00")
        sell = _order(run3, o7, "huobi", "sell", "1", "20.10")
        quote = _order(run3, o7, "binance", "buy", "1", "19.00", purpose="quote", status="canceled",
                       filled=D("0"), created_at=DAY2 + timedelta(minutes=1))
        quote.opportunity = None  # a quote that never filled opened no pair: it counts by its own time
        s.add_all([o7, buy, sell, quote, _fill(buy, "bn-7", "20.00", "1", "0.02", "USDT", DAY2 + timedelta(seconds=6)),
                   _fill(sell, "hb-7", "20.10", "1", "0.0201", "USDT", DAY2 + timedelta(seconds=6))])
        s.flush()
        assert len(settle_pending(s, DAY2 + timedelta(minutes=2))) == 1
        return run1, run2, run3.id


def _doc(capsys: pytest.CaptureFixture[str], db_url: str, *args: str) -> dict[str, Any]:
    assert main(["report", "--db", db_url, "--format", "json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def _numbers(row: dict[str, Any]) -> dict[str, Decimal]:
    """A row's figures (counts, realized, fees and funding per currency), absent columns as zeros by name."""
    return {c: D(str(v)) for c, v in row.items()
            if c in FIGURES or c.startswith(("fees_", "funding_")) and v is not None}


def _add(rows: list[dict[str, Decimal]]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for row in rows:
        for c, v in row.items():
            out[c] = out.get(c, D(0)) + v
    return {c: v for c, v in out.items() if v or c in FIGURES}


def test_a_window_is_the_sum_of_its_runs_own_reports(history: tuple[int, int, int], db_url: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    whole = _doc(capsys, db_url, "--since", "2021-08-20", "--until", "2021-08-22")
    assert [r["id"] for r in whole["window"]["runs"]] == list(history)
    own = {run: _doc(capsys, db_url, "--run", str(run), "--by", "run")["by_run"]["totals"] for run in history}
    by_run = {int(r["run"]): _numbers(r) for r in whole["by_run"]["rows"]}
    # Each run's row is that run's own report (all of it is in the window) ...
    assert set(by_run) == set(own)
    for run, totals in own.items():
        assert _add([by_run[run]]) == _add([_numbers(totals)]), run
    # ... and the window's total is their sum: the funding of run 2 (0.5 USDT), the fees of all three.
    total = _add([_numbers(whole["by_run"]["totals"])])
    assert total == _add([_numbers(t) for t in own.values()])
    assert (total["executed"], total["orders"], total["funding_USDT"]) == (4, 9, D("0.5"))
    assert total["fees_USDT"] == D("0.50112") + D("0.0401")

    # By day: two days whose rows add up to the window's total, and each day is the runs' own days.
    by_day = _doc(capsys, db_url, "--since", "2021-08-20", "--until", "2021-08-22", "--by", "day")["by_day"]
    days = {r["day"]: _numbers(r) for r in by_day["rows"]}
    assert list(days) == ["2021-08-20", "2021-08-21"]
    assert _add(list(days.values())) == _add([_numbers(by_day["totals"])]) == total
    own_days = [{r["day"]: _numbers(r) for r in _doc(capsys, db_url, "--run", str(run), "--by", "day")["by_day"]["rows"]}
                for run in history]
    for day, figures in days.items():
        assert _add([figures]) == _add([d[day] for d in own_days if day in d]), day


def test_a_run_partly_in_the_window_counts_only_its_rows_inside(history: tuple[int, int, int], db_url: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    run1, run2, run3 = history
    doc = _doc(capsys, db_url, "--since", "2021-08-21")  # open until: everything from the 21st on
    assert [r["id"] for r in doc["window"]["runs"]] == [run2, run3]  # run 2 by its funding on the 21st
    rows = {int(r["run"]): _numbers(r) for r in doc["by_run"]["rows"]}
    assert _add([rows[run2]]) == {"seen": 0, "rejected": 0, "executed": 0, "orders": 0, "fills": 0,
                                  "realized_pnl": D(0), "funding_USDT": D("0.75")}
    # Run 3's pair, realized as settlement stored it; its quote of no opportunity is in the window by its own
    # created_at, in no group (as in a run's own report), and said so.
    assert (rows[run3]["executed"], rows[run3]["orders"], rows[run3]["fills"]) == (1, 2, 2)
    assert main(["report", "--db", db_url, "--since", "2021-08-21"]) == 0
    assert "1 maker quotes that never filled (so opened no pair), in no group" in capsys.readouterr().out
    assert rows[run3]["realized_pnl"] == D("0.0599")  # 20.10 - 20.00 - 0.02 - 0.0201
    # A cut inside run 1, between its two pairs: only O2 (10 s in) and the rejection after it.
    cut = _doc(capsys, db_url, "--since", "2021-08-20T00:10:05", "--until", "2021-08-20T00:20")
    assert [r["id"] for r in cut["window"]["runs"]] == [run1]
    (row,) = cut["by_run"]["rows"]
    assert (row["seen"], row["rejected"], row["executed"], row["orders"], row["fills"]) == (2, 1, 1, 3, 3)
    assert D(row["realized_pnl"]) == D("-0.06010603")


@pytest.mark.parametrize(("args", "status", "words"), [
    (["--since", "2021-08-21", "--until", "2021-08-20"], 2, "is not after --since"),
    (["--since", "2021-08-21", "--until", "2021-08-21"], 2, "is not after --since"),
    (["--since", "yesterday"], 2, "not an ISO date or datetime: 'yesterday'"),
    (["--until", "2021-13-01"], 2, "not an ISO date or datetime: '2021-13-01'"),
    (["--since", "2030-01-01"], 1, "no run in the window 2030-01-01T00:00:00.000Z"),
    (["--since", "2021-08-20", "--run", "1"], 2, "not with --run or --last"),
])
def test_a_bad_window_is_one_line(history: tuple[int, int, int], db_url: str, capsys: pytest.CaptureFixture[str],
                                  args: list[str], status: int, words: str) -> None:
    try:
        got = main(["report", "--db", db_url, *args])
    except SystemExit as exc:  # argparse's refusal of a value, as the arb command exits with it
        got = exc.code
    assert got == status
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and words in captured.err, captured.err
