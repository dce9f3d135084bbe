"""The inventory check (``arb.inventory``), pure: a hand-computed table, a deposit and a withdrawal included."""

from __future__ import annotations

from decimal import Decimal

import pytest

from arb.inventory import FillFlow, InventoryRow, fill_deltas, implied_changes, inventory
from arb.store.repo import BalanceSnapshot

D = Decimal


def held(venue: str, asset: str, total: str) -> BalanceSnapshot:
    return BalanceSnapshot(venue, asset, D(total), D(0), D(total))


def fill(venue: str, side: str, price: str, amount: str, fee: str, fee_currency: str) -> FillFlow:
    return FillFlow(venue, "LINK/USDT", side, D(price), D(amount), D(fee), fee_currency)


@pytest.mark.parametrize(
    ("f", "expected"),
    [
        # buy, fee in base: 2 bought, 0.002 of them kept by the venue; 40 USDT paid
        (fill("gate", "buy", "20.00", "2", "0.002", "LINK"), [("LINK", "1.998"), ("USDT", "-40.00")]),
        # buy, fee in quote
        (fill("gate", "buy", "20.00", "2", "0.04", "USDT"), [("LINK", "2"), ("USDT", "-40.04")]),
        # sell, fee in quote out of the proceeds
        (fill("okx", "sell", "20.20", "2", "0.0404", "USDT"), [("LINK", "-2"), ("USDT", "40.3596")]),
        # fee in a third currency: its own asset
        (fill("okx", "buy", "20.10", "1", "0.01", "BNB"), [("LINK", "1"), ("USDT", "-20.10"), ("BNB", "-0.01")]),
        # a zero fee in a third currency moves nothing there
        (fill("okx", "sell", "20", "1", "0", "BNB"), [("LINK", "-1"), ("USDT", "20")]),
    ],
)
def test_fill_deltas(f: FillFlow, expected: list[tuple[str, str]]) -> None:
    assert fill_deltas(f) == [(asset, D(v)) for asset, v in expected]


def test_hand_computed_table_with_a_deposit_a_withdrawal_and_a_missing_snapshot() -> None:
    fills = [
        fill("gate", "buy", "20.00", "2", "0.002", "LINK"),  # LINK +1.998, USDT -40.00
        fill("okx", "sell", "20.20", "2", "0.0404", "USDT"),  # LINK -2, USDT +40.3596
        fill("gate", "sell", "19.90", "0.5", "0.00995", "USDT"),  # LINK -0.5, USDT +9.94005 (an unwind)
        fill("okx", "buy", "20.10", "1", "0.01", "BNB"),  # LINK +1, USDT -20.10, BNB -0.01
    ]
    start = [held("gate", "ETH", "3"), held("gate", "LINK", "10"), held("gate", "USDT", "1000"),
             held("kraken", "USDT", "50"),
             held("okx", "BNB", "1"), held("okx", "LINK", "10"), held("okx", "USDT", "1000")]
    end = [held("gate", "LINK", "11.498"), held("gate", "USDT", "969.94005"),  # ETH gone: withdrawn
           # kraken: its end read failed, no rows
           held("okx", "BNB", "0.99"), held("okx", "LINK", "9"), held("okx", "USDT", "1520.2596")]  # +500 deposit
    assert inventory(start, end, fills) == [
        InventoryRow("gate", "ETH", D("3"), D("0"), D("0"), D("-3")),
        InventoryRow("gate", "LINK", D("10"), D("11.498"), D("1.498"), D("0")),
        InventoryRow("gate", "USDT", D("1000"), D("969.94005"), D("-30.05995"), D("0")),
        InventoryRow("kraken", "USDT", D("50"), None, D("0"), None),
        InventoryRow("okx", "BNB", D("1"), D("0.99"), D("-0.01"), D("0")),
        InventoryRow("okx", "LINK", D("10"), D("9"), D("-1"), D("0")),
        InventoryRow("okx", "USDT", D("1000"), D("1520.2596"), D("20.2596"), D("500")),
    ]


def test_an_asset_first_held_during_the_run_starts_at_zero() -> None:
    rows = inventory([held("gate", "USDT", "100")], [held("gate", "USDT", "79.96"), held("gate", "LINK", "1")],
                     [fill("gate", "buy", "20", "1", "0.04", "USDT")])
    assert rows == [InventoryRow("gate", "LINK", D(0), D(1), D(1), D(0)),
                    InventoryRow("gate", "USDT", D(100), D("79.96"), D("-20.04"), D(0))]


def test_no_fills_no_snapshots_nothing() -> None:
    assert inventory([], [], []) == []
    assert implied_changes([]) == {}
