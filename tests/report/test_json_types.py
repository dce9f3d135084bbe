"""The read commands' JSON has one type per column: ids and counts integers, amounts exact decimal strings,
words words; no sentence where a number belongs (the inventory total was ``"LINK 10, USDT -0.5"``, the
trades total ``"2 trades"``) and the run id an integer."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

import pytest

from arb.cli import main


def _kind(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return type(value).__name__
    if isinstance(value, int):
        return "int"
    try:
        return "decimal" if Decimal(value).is_finite() else "text"
    except InvalidOperation:
        return "text"


@pytest.mark.parametrize("command", [["report"], ["report", "--by", "route"], ["trades"], ["balances"]])
def test_every_column_has_one_type(command: list[str], db_url: str, runs: tuple[int, int],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    for run_id in runs:
        assert main([*command, "--run", str(run_id), "--db", db_url, "--format", "json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["run"]["id"] == run_id and isinstance(doc["run"]["id"], int)
        for name, section in doc.items():
            if name == "run":
                continue
            totals = section["totals"] or {}
            first = next(iter(section["rows"][0] if section["rows"] else totals), None)
            for column in (section["rows"][0] if section["rows"] else totals):
                kinds = {_kind(row[column]) for row in section["rows"]}
                if column != first:  # the totals' first cell says TOTAL; key columns are empty there
                    kinds.add(_kind(totals.get(column)) if totals.get(column) != "" else None)
                kinds.discard(None)
                assert len(kinds) <= 1, (name, column, kinds)
                if column != first and totals.get(column):
                    assert _kind(totals[column]) in ("int", "decimal"), (name, column, totals[column])
