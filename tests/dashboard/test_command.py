"""``arb dashboard`` refuses, in one line, a database that holds no runs or not the run asked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from arb.cli import main
from arb.store.migrate import upgrade_to_head
from tests.conftest import Populated


def test_a_database_without_runs_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    upgrade_to_head(url)
    assert main(["dashboard", "--db", url, "--port", "0"]) == 1
    assert capsys.readouterr().err == f"arb: error: {url} holds no runs yet\n"


def test_a_run_not_in_the_database_is_one_line(populated: Populated, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--db", populated.url, "--run", "99", "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("arb: error: no run with id 99 in the database") and err.count("\n") == 1
