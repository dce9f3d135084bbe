"""``arb report`` and ``arb trades`` never squeeze a number: on a run of more than 200 trades, at 80 and at
200 columns, every total is printed in full (as csv prints it), nothing is cut to ``…``, and the rows left
out of a table are said under it, not inside a column."""

from __future__ import annotations

import csv
import io

import pytest

from arb.cli import main
from tests.engine.helpers import config_with


@pytest.fixture(scope="module")
def many_trades(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("wide")
    config = config_with(tmp, fee="0", extra={
        'status = "auto"': 'status = "off"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp / "arb.kill"}"',
    })
    db = f"sqlite:///{tmp / 'wide.db'}"
    assert main(["run", "--config", str(config), "--db", db]) == 0
    return db


def _csv_totals(capsys: pytest.CaptureFixture[str], args: list[str]) -> dict[str, list[str]]:
    assert main([*args, "--format", "csv"]) == 0
    totals = {}
    for block in capsys.readouterr().out.split("# ")[1:]:
        name, _, body = block.partition("\n")
        rows = list(csv.reader(io.StringIO(body.strip())))
        if rows and rows[-1] and rows[-1][0] == "TOTAL":
            totals[name] = [c for c in rows[-1][1:] if c]
    return totals


@pytest.mark.parametrize("command", ["report", "trades"])
@pytest.mark.parametrize("columns", ["80", "200"])
def test_every_total_is_printed_in_full(many_trades: str, command: str, columns: str,
                                        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    capsys.readouterr()
    expected = _csv_totals(capsys, [command, "--db", many_trades])
    assert main(["trades", "--db", many_trades, "--format", "csv"]) == 0
    trades = [line for line in capsys.readouterr().out.splitlines() if line[:1].isdigit()]
    assert len(trades) > 200, len(trades)
    monkeypatch.setenv("COLUMNS", columns)
    assert main([command, "--db", many_trades]) == 0
    out = capsys.readouterr().out
    totals = [line for line in out.splitlines() if line.startswith("│ TOTAL")]
    assert len(totals) == len(expected) and totals
    for line, (section, values) in zip(totals, expected.items(), strict=True):
        assert "…" not in line, (section, line)
        cells = [c.strip() for c in line.strip("│").split("│")]
        assert [c for c in cells[1:] if c] == values, (section, line)
    assert "…" not in out  # no number, and no column, cut short
    assert "more rows (the totals include them" in out  # said under the table, outside every column
    assert main([command, "--db", many_trades, "--all"]) == 0
    assert "more rows" not in capsys.readouterr().out
