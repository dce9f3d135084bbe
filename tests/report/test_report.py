"""``arb report`` end to end through ``arb.cli.main``, on SQLite and PostgreSQL, in all three formats."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal as D

import pytest

from arb.cli import main
from arb.store.migrate import upgrade_to_head


def _report(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["report", *args]) == 0
    return capsys.readouterr().out


def _csv_sections(text: str) -> dict[str, list[list[str]]]:
    sections: dict[str, list[list[str]]] = {}
    for block in text.strip().split("\n\n")[1:]:
        name, *lines = block.splitlines()
        sections[name.removeprefix("# ")] = list(csv.reader(io.StringIO("\n".join(lines))))
    return sections


def test_json_totals_are_exact(
    db_url: str, runs: tuple[int, int], capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(_report(capsys, "--run", str(runs[0]), "--db", db_url, "--format", "json"))
    assert doc["run"]["mode"] == "replay"
    assert doc["funnel"]["totals"] == {
        "symbol": "TOTAL", "buy -> sell": "", "seen": 5, "rejected": 3, "executed": 2,
        "expected_profit": "0.7986",
    }  # fmt: skip
    assert [(r["reason"], r["rejected"]) for r in doc["rejections"]["rows"]] == [
        ("below_min_edge", 2), ("book_stale", 1),
    ]  # fmt: skip
    totals = doc["pnl"]["totals"]
    money = {k: D(totals[k]) for k in ("expected_pnl", "realized_pnl", "pnl_slippage", "pnl_fees")}
    assert money == {
        "expected_pnl": D("0.7986"), "realized_pnl": D("0.35891397"),
        "pnl_slippage": D("-0.18"), "pnl_fees": D("0.00002"),
    }  # fmt: skip
    assert (D(totals["pnl_unfilled"]), D(totals["pnl_imbalance"])) == (D("-0.07984"), D("-0.17986603"))
    legs = doc["legs"]["totals"]
    assert (legs["orders"], D(legs["fill_ratio"]), D(legs["max trigger->filled ms"])) == (
        5,
        D("0.9375"),
        500,
    )
    inventory = {(r["venue"], r["asset"]): r for r in doc["inventory"]["rows"]}
    assert D(inventory[("huobi", "USDT")]["from_fills"]) == D("140.5592")
    assert inventory[("huobi", "USDT")]["start"] is None  # no snapshot of huobi in this run: a gap, not a 0
    binance = inventory[("binance", "USDT")]
    assert (D(binance["start"]), D(binance["end"]), D(binance["from_fills"])) == (
        D("1000"), D("799.79992"), D("-140.10032"))
    assert D(binance["external_flow"]) == D("799.79992") - D("1000") + D("140.10032")


def test_last_is_the_latest_run(
    db_url: str, runs: tuple[int, int], capsys: pytest.CaptureFixture[str]
) -> None:
    default = json.loads(_report(capsys, "--db", db_url, "--format", "json"))
    last = json.loads(_report(capsys, "--last", "--db", db_url, "--format", "json"))
    assert default == last
    assert last["run"]["id"] == runs[1] and last["run"]["mode"] == "paper"  # an integer, not a string


def test_csv_sections_hold_every_row_and_totals(
    db_url: str, runs: tuple[int, int], capsys: pytest.CaptureFixture[str]
) -> None:
    sections = _csv_sections(_report(capsys, "--run", str(runs[0]), "--db", db_url, "--format", "csv"))
    assert list(sections) == ["funnel", "rejections", "pnl", "legs", "inventory", "inventory_assets"]
    header, *rows, total = sections["pnl"]
    assert [r[0] for r in rows] == ["1", "2"] and total[0] == "TOTAL"
    assert D(total[header.index("realized_pnl")]) == sum(D(r[header.index("realized_pnl")]) for r in rows)
    assert sections["funnel"][-1][2:] == ["5", "3", "2", "0.7986"]


def test_table_shows_sections_and_totals(
    db_url: str, runs: tuple[int, int], capsys: pytest.CaptureFixture[str]
) -> None:
    out = _report(capsys, "--run", str(runs[0]), "--db", db_url)
    for title in (
        "Opportunity funnel",
        "Rejected, by reason",
        "Expected vs realized PnL",
        "Fill ratio",
        "Inventory",
    ):
        assert title in out
    funnel_total = next(line for line in out.splitlines() if "TOTAL" in line and "0.7986" in line)
    assert [cell.strip() for cell in funnel_total.split("│")][1:7] == ["TOTAL", "", "5", "3", "2", "0.7986"]
    pnl_total = next(line for line in out.splitlines() if "TOTAL" in line and "0.35891397" in line)
    assert "-0.18" in pnl_total and "-0.07984" in pnl_total


def test_unknown_run_and_empty_database_fail_cleanly(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    upgrade_to_head(db_url)
    assert main(["report", "--db", db_url]) == 1
    assert "holds no runs yet" in capsys.readouterr().err
    assert main(["report", "--run", "42", "--db", db_url]) == 1
    assert "no run with id 42" in capsys.readouterr().err


def test_run_and_last_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["report", "--run", "1", "--last"])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_the_latency_total_is_over_every_order_not_a_median_of_medians() -> None:
    """The legs' TOTAL row takes its median over every order of the run: three fast binance buys and one slow
    huobi sell have a median of 2.5 ms, not 51 (the median of the two groups' medians, 2 and 100)."""
    from datetime import UTC, datetime, timedelta

    from arb.commands.report import _legs
    from arb.display import Precision
    from arb.store.views import LegRow

    t = datetime(2021, 8, 20, tzinfo=UTC)

    def leg(i: int, venue: str, side: str, ack_ms: int) -> LegRow:
        return LegRow(i, i, venue, "LINK/USDT", side, "entry", "filled", D(1), D(1), D(1), t, t,
                      t + timedelta(milliseconds=ack_ms), None, None)

    rows = [leg(1, "binance", "buy", 1), leg(2, "binance", "buy", 2), leg(3, "binance", "buy", 3),
            leg(4, "huobi", "sell", 100)]
    section = _legs(rows, Precision())
    column = section.columns.index("median sent->ack ms")
    assert [r[column].exact for r in section.rows] == ["2", "100"]  # type: ignore[union-attr]
    assert section.totals is not None and section.totals[column].exact == "2.5"  # type: ignore[union-attr]
