"""Gate's own-trade rows and order pushes, read by ``usertrades``: GT and point fees kept, not dropped.

The payloads are Gate's documented shapes (a ``spot.usertrades`` push, a ``/spot/my_trades`` row, a
``spot.orders`` push), ids as numbers in pushes and strings in rows, as Gate sends them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import pytest

from arb.domain.market import Side
from arb.venues.gate.usertrades import order_of, trade_of

PUSH = {
    "id": 5736713, "user_id": 1000001, "order_id": "30784428", "currency_pair": "BTC_USDT",
    "create_time": 1605176741, "create_time_ms": "1605176741123.456", "side": "sell", "amount": "1.00000000",
    "role": "taker", "price": "10000.00000000", "fee": "0.00200000000000", "fee_currency": "USDT",
    "point_fee": "0", "gt_fee": "0", "text": "t-abc", "amend_text": "-", "biz_info": "-",
}  # fmt: skip
ROW = {
    "id": "1232893232", "create_time": "1548000000", "create_time_ms": "1548000000123.456",
    "currency_pair": "BTC_USDT", "side": "buy", "role": "maker", "amount": "0.15", "price": "7000.30",
    "order_id": "12345", "fee": "0", "fee_currency": "BTC", "point_fee": "0", "gt_fee": "0.0021",
    "amend_text": "t-edit", "sequence_id": "588018", "text": "apiv4",
}  # fmt: skip


def test_a_push_as_a_fill_report() -> None:
    trade = trade_of(PUSH)
    report = trade.report("gate", "BTC/USDT")
    assert (report.trade_id, report.venue_order_id, report.client_order_id, report.side) == (
        "5736713", "30784428", "t-abc", Side.SELL)
    assert (report.price, report.amount, report.fee, report.fee_currency) == (D(10000), D(1), D("0.002"), "USDT")
    assert report.ts == datetime(2020, 11, 12, 10, 25, 41, 123456, tzinfo=UTC)
    assert trade.fees == (("USDT", D("0.002")),)


def test_a_gt_paid_trade_reports_its_gt_fee_and_keeps_every_fee() -> None:
    trade = trade_of(ROW)
    assert (trade.gt_fee, trade.point_fee, trade.role, trade.amend_text) == (D("0.0021"), D(0), "maker", "t-edit")
    report = trade.report("gate", "BTC/USDT")
    assert (report.fee, report.fee_currency) == (D("0.0021"), "GT")  # what it cost, not free
    assert report.client_order_id is None  # "apiv4": Gate's word, not a client order id
    both = trade_of({**ROW, "fee": "0.0001", "point_fee": "0.5"})
    assert both.fees == (("BTC", D("0.0001")), ("GT", D("0.0021")), ("GATEPOINT", D("0.5")))
    assert (both.report("gate", "BTC/USDT").fee, both.report("gate", "BTC/USDT").fee_currency) == (D("0.0001"), "BTC")


@pytest.mark.parametrize("broken", [
    {"side": "both"}, {"amount": "1e"}, {"price": "0"}, {"gt_fee": "-1"}, {"id": True}, {"amount": None},
])  # fmt: skip
def test_a_trade_that_cannot_be_read_raises(broken: dict[str, Any]) -> None:
    with pytest.raises((KeyError, ValueError)):
        trade_of({**PUSH, **broken})


def test_order_states_from_pushes_and_lookups() -> None:
    push = {"id": "1", "currency_pair": "BTC_USDT", "event": "update", "amount": "2", "left": "1.5",
            "filled_total": "5000"}
    assert (order_of(push).is_open, order_of(push).filled) == (True, D("0.5"))
    finished = order_of({**push, "event": "finish", "left": "0", "filled_amount": "2"})
    assert (finished.is_open, finished.filled) == (False, D(2))
    looked_up = order_of({"id": "1", "currency_pair": "BTC_USDT", "status": "cancelled", "amount": "2",
                          "left": "2", "filled_amount": "0"})
    assert (looked_up.is_open, looked_up.event) == (False, None)
