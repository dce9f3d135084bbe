"""The pure matching engine: fills, fees in the received currency, locks, time in force, client ids."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from arb.venues.gate.sandbox.apierror import GateApiError
from arb.venues.gate.sandbox.matching import Engine, OrderEvent, TradeEvent
from arb.venues.gate.sandbox.orders import order_json
from arb.venues.sim.book import BookUpdate

from .conftest import PAIR

K = "k1"
T0 = 1_700_000_000_000


def engine() -> Engine:
    eng = Engine([PAIR])
    eng.set_balance(K, "USDT", D(1000))
    eng.set_balance(K, "LINK", D(10))
    eng.on_book(
        "LINK_USDT",
        "snapshot",
        [(D("27.095"), D(10)), (D("27.09"), D(20))],
        [(D("27.101"), D(2)), (D("27.105"), D(3)), (D("27.2"), D(40))],
        T0,
    )
    return eng


def order(side: str, amount: str, price: str, tif: str = "gtc", text: str = "t-x1") -> dict[str, object]:
    return {
        "currency_pair": "LINK_USDT",
        "side": side,
        "amount": amount,
        "price": price,
        "time_in_force": tif,
        "type": "limit",
        "account": "spot",
        "text": text,
    }


def test_ioc_buy_walks_the_book_partially_fills_and_pays_fee_in_base() -> None:
    eng = engine()
    o, events = eng.place(K, order("buy", "6", "27.105", "ioc"), T0 + 5)
    body = order_json(o)
    assert (body["status"], body["finish_as"]) == ("cancelled", "ioc")
    assert body["filled_amount"] == "5" and body["left"] == "1"
    assert body["filled_total"] == "135.517"  # 2 * 27.101 + 3 * 27.105
    assert body["avg_deal_price"] == "27.1034"
    assert (body["fee"], body["fee_currency"]) == ("0.01", "LINK")  # 5 * 0.2 %, in the currency received
    usdt, link = eng.balance(K, "USDT"), eng.balance(K, "LINK")
    assert (usdt.available, usdt.locked) == (D("864.483"), 0)
    assert (link.available, link.locked) == (D("14.99"), 0)
    assert eng.books["LINK_USDT"].sorted_asks() == [(D("27.2"), D(40))]
    trades = [e.trade for e in events if isinstance(e, TradeEvent)]
    assert [(t.amount, t.price, t.role) for t in trades] == [
        (2, D("27.101"), "taker"),
        (3, D("27.105"), "taker"),
    ]
    assert trades[1].id == trades[0].id + 1
    assert [e.event for e in events if isinstance(e, OrderEvent)] == [
        "put",
        "update",
        "update",
        "finish",
    ]


def test_sell_walks_bids_and_pays_fee_in_quote() -> None:
    eng = engine()
    eng.set_balance(K, "LINK", D(20))
    o, _ = eng.place(K, order("sell", "12", "27.09", "ioc"), T0)
    assert (o.status, o.finish_as, o.filled_amount) == ("closed", "filled", 12)
    assert o.filled_total == D("325.13")  # 10 * 27.095 + 2 * 27.09
    assert (o.fee, o.fee_currency) == (D("0.65026"), "USDT")
    assert eng.balance(K, "USDT").available == D(1000) + D("325.13") - D("0.65026")
    assert (eng.balance(K, "LINK").available, eng.balance(K, "LINK").locked) == (8, 0)


def test_fills_consume_liquidity_until_the_next_book_event() -> None:
    eng = engine()
    eng.place(K, order("buy", "1", "27.101", "ioc"), T0)
    book = eng.books["LINK_USDT"]
    assert book.asks[D("27.101")] == 1
    id_before = book.update_id
    events = eng.on_book("LINK_USDT", "delta", [], [(D("27.101"), D(7))], T0 + 1)
    assert book.asks[D("27.101")] == 7
    update = events[0]
    assert isinstance(update, BookUpdate) and (update.first_id, update.last_id) == (
        id_before + 1,
        id_before + 1,
    )


def test_gtc_buy_fills_part_rests_and_keeps_exactly_left_times_price_locked() -> None:
    eng = engine()
    o, _ = eng.place(K, order("buy", "4", "27.103"), T0)
    assert (o.status, o.filled_amount, o.left) == ("open", 2, 2)
    usdt = eng.balance(K, "USDT")
    assert usdt.locked == D("54.206") and usdt.available == 1000 - D("54.202") - D("54.206")
    cancelled, _ = eng.cancel(K, "LINK_USDT", str(o.id), T0 + 1)
    assert (cancelled.status, cancelled.finish_as) == ("cancelled", "cancelled")
    assert (usdt.locked, usdt.available) == (0, 1000 - D("54.202"))


def test_resting_sell_fills_as_maker_at_its_price_when_the_market_moves_through_it() -> None:
    eng = engine()
    o, _ = eng.place(K, order("sell", "3", "27.12"), T0)
    assert eng.balance(K, "LINK").locked == 3
    events = eng.on_book(
        "LINK_USDT", "snapshot", [(D("27.13"), D(1)), (D("27.125"), D(5))], [(D("27.2"), D(1))], T0 + 1
    )
    assert (o.status, o.finish_as, o.filled_amount) == ("closed", "filled", 3)
    assert o.filled_total == D("81.36") and o.fee == D("0.08136")  # maker rate 0.1 %, in USDT
    assert eng.balance(K, "LINK").available == 7 and eng.balance(K, "LINK").locked == 0
    assert eng.balance(K, "USDT").available == D(1000) + D("81.36") - D("0.08136")
    trades = [e.trade for e in events if isinstance(e, TradeEvent)]
    assert [(t.amount, t.price, t.role) for t in trades] == [
        (1, D("27.12"), "maker"),
        (2, D("27.12"), "maker"),
    ]
    assert eng.books["LINK_USDT"].bids == {D("27.125"): D(3)}


def test_fok_that_cannot_fill_completely_trades_nothing() -> None:
    eng = engine()
    o, _ = eng.place(K, order("buy", "6", "27.105", "fok"), T0)
    assert (o.status, o.finish_as, o.filled_amount) == ("cancelled", "fok", 0)
    assert eng.balance(K, "USDT").available == 1000 and eng.books["LINK_USDT"].asks[D("27.101")] == 2


@pytest.mark.parametrize(
    ("req", "status", "label"),
    [
        (order("buy", "1", "27.2", "poc"), 400, "POC_FILL_IMMEDIATELY"),
        (order("buy", "100", "27.2"), 400, "BALANCE_NOT_ENOUGH"),
        (order("sell", "11", "30"), 400, "BALANCE_NOT_ENOUGH"),
        (order("buy", "1", "27.1011"), 400, "INVALID_PRECISION"),
        (order("buy", "1.001", "27.1"), 400, "INVALID_PRECISION"),
        (order("buy", "0.01", "27.1"), 400, "AMOUNT_TOO_LITTLE"),
        (order("buy", "-1", "27.1"), 400, "INVALID_PARAM_VALUE"),
        (order("buy", "abc", "27.1"), 400, "INVALID_PARAM_VALUE"),
        (order("hold", "1", "27.1"), 400, "INVALID_PARAM_VALUE"),
        (order("buy", "1", "27.1", "day"), 400, "INVALID_PARAM_VALUE"),
        ({**order("buy", "1", "27.1"), "currency_pair": "BTC_USDT"}, 400, "INVALID_CURRENCY_PAIR"),
        (order("buy", "1", "27.1", text="x-abc"), 400, "INVALID_PARAM_VALUE"),
        (order("buy", "1", "27.1", text="t-" + "a" * 29), 400, "INVALID_PARAM_VALUE"),
        (order("buy", "1", "27.1", text="t-has space"), 400, "INVALID_PARAM_VALUE"),
    ],
)
def test_rejections_use_gate_labels(req: dict[str, object], status: int, label: str) -> None:
    with pytest.raises(GateApiError) as info:
        engine().place(K, req, T0)
    assert (info.value.status, info.value.label) == (status, label)


def test_client_id_is_unique_per_open_order_only() -> None:
    eng = engine()
    text = "t-" + "A_z.9-" * 4 + "abcd"  # exactly 28 bytes after t-
    first, _ = eng.place(K, order("buy", "1", "27", text=text), T0)
    with pytest.raises(GateApiError) as info:
        eng.place(K, order("buy", "1", "27", text=text), T0)
    assert info.value.label == "REPEATED_CREATION"
    assert eng.find(K, "LINK_USDT", text).id == first.id
    eng.cancel(K, "LINK_USDT", text, T0)
    with pytest.raises(GateApiError) as lookup:
        eng.find(K, "LINK_USDT", text)  # by text only while open
    assert (lookup.value.status, lookup.value.label) == (404, "ORDER_NOT_FOUND")
    again, _ = eng.place(K, order("buy", "1", "27", text=text), T0)
    assert again.id == first.id + 1


def test_cancelling_a_finished_order_is_refused() -> None:
    eng = engine()
    o, _ = eng.place(K, order("buy", "1", "27.2", "ioc"), T0)
    with pytest.raises(GateApiError) as info:
        eng.cancel(K, "LINK_USDT", str(o.id), T0)
    assert info.value.label == "ORDER_CLOSED"


def test_other_keys_cannot_see_an_order() -> None:
    eng = engine()
    o, _ = eng.place(K, order("buy", "1", "27"), T0)
    with pytest.raises(GateApiError) as info:
        eng.find("someone-else", "LINK_USDT", str(o.id))
    assert info.value.label == "ORDER_NOT_FOUND"


def test_order_and_trade_ids_are_numeric_and_unique_across_engines() -> None:
    # A sandbox restarted (a new engine) must not repeat the trade ids a database already holds.
    placed = [eng.place(K, order("buy", "4", "27.105", "ioc"), T0) for eng in (engine(), engine())]
    order_ids = [o.id for o, _ in placed]
    trade_ids = [e.trade.id for _, events in placed for e in events if isinstance(e, TradeEvent)]
    assert len(trade_ids) == 4 and len(set(trade_ids) | set(order_ids)) == 6
    assert all(order_json(o)["id"].isdigit() for o, _ in placed)
