"""A database whose stored value arb cannot convert (a timestamp column holding ``yesterday``, an amount
holding ``abc``: hand-edited or damaged) is one line naming the table, column and row, exit 1 as any database
arb cannot read (issue #47: ``unexpected ValueError: Invalid isoformat string``), and no byte changes."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from arb.cli import main
from tests.conftest import Populated


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("table", "column", "value"), [
    ("runs", "started_at", "yesterday"), ("fills", "ts", "yesterday"), ("balances", "ts", "2024-13-45"),
    ("opportunities", "detected_at", "yesterday"), ("fills", "price", "abc"),
])
@pytest.mark.parametrize("command", ["report", "trades", "balances"])
def test_a_value_of_the_wrong_kind_is_named_by_table_column_and_row(
    populated: Populated, capsys: pytest.CaptureFixture[str], command: str, table: str, column: str, value: str
) -> None:
    path = Path(populated.url.removeprefix("sqlite:///"))
    with sqlite3.connect(path) as conn:
        row = conn.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0]
        conn.execute(f"UPDATE {table} SET {column} = ? WHERE rowid = ?", (value, row))
    conn.close()
    before = _data(path)
    status = main([command, "--db", populated.url])
    err = capsys.readouterr().err
    if status == 0:  # this command does not read that table
        assert err == ""
    else:
        assert status == 1 and err.count("\n") == 1 and "unexpected" not in err, err
        assert f"{table}.{column} of row {row} holds {value!r}" in err, err
    assert _data(path) == before


def _data(path: Path) -> dict[str, str]:
    """The database's data: its file and its ``-wal`` (the ``-shm`` index is tests/test_read_only.py's)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in path.parent.iterdir()
            if not p.name.endswith("-shm")}
