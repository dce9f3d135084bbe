"""A desk's balances are not a toy's: 10^12 USDT and 10^10 LINK to 18 places (31 and 29 digits, past Python's
default 28, and past a float's 16). Before, the shipped run on them printed an external flow of 0.00005 USDT
on Gate (ccxt's float balance) and of 1e-18 LINK (the inventory check's own subtraction), and ``arb balances``
summed the venues to 2000000000000 USDT, 2e-18 short. Now every surface has every unit."""

from __future__ import annotations

import decimal
import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from arb.cli import main

from .helpers import config_with

USDT, LINK = D("1000000000000.000000000000000001"), D("10000000000.000000000000000001")


def test_the_shipped_run_on_desk_sized_balances_explains_every_unit(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    config = config_with(tmp_path, extra={'balances = { USDT = "5000", LINK = "200" }':
                                          f'balances = {{ USDT = "{USDT}", LINK = "{LINK}" }}'})
    db = f"sqlite:///{tmp_path / 'desk.db'}"
    assert main(["run", "--config", str(config), "--db", db]) == 0
    out = capsys.readouterr().out
    assert "inventory               end - start = fills, every venue and asset" in out, out
    assert "EXTERNAL FLOWS" not in out

    assert main(["balances", "--db", db, "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    venues = {(r["venue"], r["asset"]): (D(r["start"]), D(r["end"])) for r in shown["venues"]["rows"]}
    assert {k: start for k, (start, _) in venues.items()} == {
        ("gate", "LINK"): LINK, ("gate", "USDT"): USDT, ("htx", "LINK"): LINK, ("htx", "USDT"): USDT}
    wide = decimal.Context(prec=200)  # the test's own sums: wider than anything here
    for row in shown["assets"]["rows"]:
        (start_a, end_a), (start_b, end_b) = (v for (_, asset), v in venues.items() if asset == row["asset"])
        assert (D(row["start"]), D(row["end"])) == (wide.add(start_a, start_b), wide.add(end_a, end_b))
        assert D(row["change"]) == wide.subtract(D(row["end"]), D(row["start"]))
