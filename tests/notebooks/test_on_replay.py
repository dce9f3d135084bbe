"""On a database written by ``arb replay`` of the bundled capture: the analysis notebook runs, and
``arb report --last`` totals equal the replay's printed funnel summary."""

from __future__ import annotations

import json
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from nbclient.exceptions import CellExecutionError
from sqlalchemy.engine import make_url

from arb.cli import main
from arb.display import money
from notebooks.nbrun import Replayed, execute, needs_replay, stream_text

pytestmark = needs_replay


def test_analysis_notebook_on_replay(replay_db: Replayed, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"ARB_NOTEBOOK_DB_URL": replay_db.db_url, "ARB_NOTEBOOK_CAPTURE": str(replay_db.capture)}
    nb = execute("analysis.ipynb", env, monkeypatch)
    assert "(replay)" in stream_text(nb, "stdout")
    assert "Warning" not in stream_text(nb, "stderr")


def test_analysis_notebook_opened_from_notebooks_finds_the_run_database(
    replay_db: Replayed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As Jupyter opens it: working directory notebooks/, no environment variable; the arb.db `arb run`
    wrote at the repository root is found, and nothing is written into notebooks/."""
    monkeypatch.delenv("ARB_NOTEBOOK_DB_URL", raising=False)
    repo = tmp_path / "checkout"
    (repo / "notebooks").mkdir(parents=True)
    shutil.copy(make_url(replay_db.db_url).database or "", repo / "arb.db")
    nb = execute("analysis.ipynb", {"ARB_NOTEBOOK_CAPTURE": str(replay_db.capture)}, monkeypatch,
                 cwd=repo / "notebooks")
    assert f"sqlite:///{repo / 'arb.db'}: run 1 (replay)" in stream_text(nb, "stdout")
    assert list((repo / "notebooks").iterdir()) == []


def test_analysis_notebook_without_a_database_says_so_and_creates_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ARB_NOTEBOOK_DB_URL", raising=False)
    with pytest.raises(CellExecutionError, match="no arb.db in .* run `arb run` first, or set DB_URL"):
        execute("analysis.ipynb", {}, monkeypatch, cwd=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_report_totals_equal_replay_summary(replay_db: Replayed, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--last", "--db", replay_db.db_url, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    funnel, printed = doc["funnel"]["totals"], replay_db.stdout
    assert funnel["executed"] > 0, "the shipped config's fee tiers should execute something in this window"
    assert re.search(rf"executed\D{{0,40}}\b{funnel['executed']}\b", printed, re.I), printed
    # The summary prints money at display precision (arb.display); the report's json is exact.
    pnl = doc["pnl"]["totals"]
    for label, exact in (("expected profit", funnel["expected_profit"]), ("expected profit", pnl["expected_pnl"]),
                         ("realized pnl", pnl["realized_pnl"])):
        match = re.search(rf"{label}\s+(-?[0-9]+(?:\.[0-9]+)?)", printed, re.I)
        assert match and match.group(1) == money(Decimal(exact)), (label, printed)
    assert Decimal(doc["run"]["summary"]["realized_pnl"]) == Decimal(pnl["realized_pnl"])
    for row in doc["rejections"]["rows"]:
        assert re.search(rf"{re.escape(row['reason'])}\W{{0,40}}\b{row['rejected']}\b", printed), (
            row,
            printed,
        )
