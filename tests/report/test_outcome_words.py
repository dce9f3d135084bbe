"""One word per executed pair's outcome (``arb/domain/outcomes.py``) on every surface: a halted run (one pair
filled, one halted) says the same words in its printed summary, its stored outcome counts (which
``arb_trades_total{outcome}`` and the status view read) and ``arb trades``, which derives them from the rows."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from arb.cli import main
from arb.domain import outcomes
from tests.engine.helpers import halted_config

# Every word pair_outcome returns.
WORDS = (outcomes.FILLED, outcomes.PARTIAL, outcomes.UNWOUND, outcomes.COMPLETED, outcomes.IMBALANCED,
         outcomes.HALTED, outcomes.NOTHING_FILLED, outcomes.RECONCILED, outcomes.UNSETTLED)


def test_summary_counts_and_arb_trades_say_the_same_words(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "halt.db"
    assert main(["run", "--config", str(halted_config(tmp_path)), "--db", f"sqlite:///{db}"]) == 3
    printed = capsys.readouterr().out
    with sqlite3.connect(db) as c:
        stored = json.loads(c.execute("SELECT summary FROM runs").fetchone()[0])["funnel"]["outcomes"]
    assert main(["trades", "--db", f"sqlite:///{db}", "--format", "json"]) == 0
    trades = Counter(r["outcome"] for r in json.loads(capsys.readouterr().out)["trades"]["rows"])
    assert stored == dict(trades) and set(stored) <= set(WORDS)
    assert {"halted", "filled"} <= set(stored) and "hedged" not in stored
    assert "  " + ", ".join(f"{w} {n}" for w, n in stored.items()) in printed.splitlines()
