"""On a database written by ``arb replay`` of the bundled capture: ``arb report --last`` totals equal the
replay's printed funnel summary."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest

from arb.cli import main
from arb.display import money
from notebooks.nbrun import Project


def test_report_totals_equal_replay_summary(replayed: Project, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--last", "--db", replayed.db_url, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    funnel, printed = doc["funnel"]["totals"], replayed.stdout
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
