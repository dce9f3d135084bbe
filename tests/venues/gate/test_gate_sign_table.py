"""``GateExchange.sign`` vs ccxt's stock gate signer vs Gate's official SDK, byte for byte.

Time is frozen with freezegun so ccxt and we read the same clock. The SDK's ``gen_sign`` reads
``time.time()`` itself and sends ``str()`` of it; it is given a clock whose ``str()`` is the same integer
seconds string ccxt sends, so all three sign the same timestamp. The SDK gets the query as *it* would
build it (``unquote_plus(urlencode(pairs))``) from the pairs on our URL, and the exact body we send.
"""

from __future__ import annotations

import copy
import types
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit

import ccxt.async_support
import gate_api
import gate_api.api_client
import pytest
from freezegun import freeze_time
from gate_stub import TEST_KEY, TEST_SECRET

from arb.venues.gate import GateExchange

FROZEN_S = 1_700_000_000
FROZEN_AT = "2023-11-14 22:13:20"  # == FROZEN_S

S, F, W, U = "spot", "futures", "wallet", "unified"
ORDER = {"currency_pair": "BTC_USDT", "type": "limit", "account": "spot", "side": "buy",
         "amount": "0.001", "price": "65000.1", "time_in_force": "ioc", "text": "t-arb-0001"}  # fmt: skip

# (id, section, method, path, params)
CASES: list[tuple[str, str, str, str, Any]] = [
    # --- spot GET ------------------------------------------------------------------------------
    ("spot-accounts", S, "GET", "accounts", {}),
    ("spot-accounts-currency", S, "GET", "accounts", {"currency": "USDT"}),
    ("spot-open-orders", S, "GET", "open_orders", {"page": 1, "limit": 100}),
    ("spot-orders-open", S, "GET", "orders", {"currency_pair": "BTC_USDT", "status": "open"}),
    ("spot-orders-finished", S, "GET", "orders", {"currency_pair": "ETH_USDT", "status": "finished", "limit": 50, "from": 1699990000, "to": 1700000000}),
    ("spot-order-by-id", S, "GET", "orders/{order_id}", {"order_id": "12345678901", "currency_pair": "BTC_USDT"}),
    ("spot-order-by-text", S, "GET", "orders/{order_id}", {"order_id": "t-arb.abc_123-x", "currency_pair": "BTC_USDT"}),
    ("spot-my-trades", S, "GET", "my_trades", {"currency_pair": "BTC_USDT", "order_id": "12345678901"}),
    ("spot-my-trades-page", S, "GET", "my_trades", {"currency_pair": "BTC_USDT", "limit": 1000, "page": 2}),
    ("spot-fee", S, "GET", "fee", {"currency_pair": "BTC_USDT"}),
    ("spot-batch-fee-comma", S, "GET", "batch_fee", {"currency_pairs": "BTC_USDT,ETH_USDT,GT_USDT"}),
    ("spot-account-book", S, "GET", "account_book", {"currency": "BTC", "type": "trade"}),
    ("spot-price-orders", S, "GET", "price_orders", {"status": "open", "market": "BTC_USDT"}),
    ("spot-price-order-id", S, "GET", "price_orders/{order_id}", {"order_id": "987"}),
    ("q-colon", S, "GET", "orders", {"currency_pair": "BTC_USDT", "status": "open", "text": "t-a:b:c"}),
    ("q-slash", S, "GET", "orders", {"currency_pair": "BTC_USDT", "text": "t-a/b/c"}),
    ("q-comma-colon-slash", S, "GET", "orders", {"currency_pair": "BTC_USDT", "text": "x,y:z/w"}),
    ("q-non-ascii-latin", S, "GET", "account_book", {"currency": "USDT", "type": "déjà-vu"}),
    ("q-non-ascii-cjk", S, "GET", "account_book", {"currency": "USDT", "type": "日本語"}),
    ("q-non-ascii-emoji", S, "GET", "account_book", {"currency": "USDT", "type": "🚀moon"}),
    ("q-space-plus", S, "GET", "account_book", {"currency": "USDT", "type": "a b+c"}),
    ("q-ampersand-equals", S, "GET", "account_book", {"currency": "USDT", "type": "a&b=c"}),
    ("q-percent-tilde", S, "GET", "account_book", {"currency": "USDT", "type": "100%~x"}),
    ("q-bool", S, "GET", "orders", {"currency_pair": "BTC_USDT", "status": "open", "reverse": True}),
    ("q-currencies-comma", W, "GET", "total_balance", {"currency": "USDT", "currencies": "BTC,ETH"}),
    ("wallet-deposit-address", W, "GET", "deposit_address", {"currency": "USDT"}),
    ("unified-accounts", U, "GET", "accounts", {"currency": "BTC"}),
    # --- spot POST -----------------------------------------------------------------------------
    ("spot-post-order", S, "POST", "orders", ORDER),
    ("spot-post-order-market", S, "POST", "orders", {**ORDER, "type": "market", "price": None, "amount": "10"}),
    ("spot-post-order-empty-text", S, "POST", "orders", {**ORDER, "text": ""}),
    ("body-non-ascii", S, "POST", "orders", {**ORDER, "text": "t-héllo"}),
    ("body-non-ascii-cjk", S, "POST", "orders", {**ORDER, "text": "t-注文"}),
    ("body-escapes", S, "POST", "orders", {**ORDER, "text": 't-"quoted"\\back\nline'}),
    ("body-numbers", S, "POST", "orders", {**ORDER, "amount": 0.001, "iceberg": 0, "price": 65000}),
    ("body-bool-null", S, "POST", "orders", {**ORDER, "auto_borrow": False, "auto_repay": True, "stp_act": None}),
    ("body-empty-object", S, "POST", "countdown_cancel_all", {}),
    ("spot-countdown", S, "POST", "countdown_cancel_all", {"timeout": 30, "currency_pair": "BTC_USDT"}),
    ("spot-batch-orders-list", S, "POST", "batch_orders", [ORDER, {**ORDER, "side": "sell", "text": "t-arb-0002"}]),
    ("spot-cancel-batch-list", S, "POST", "cancel_batch_orders", [{"currency_pair": "BTC_USDT", "id": "1"}, {"currency_pair": "BTC_USDT", "id": "2"}]),
    ("spot-amend-batch", S, "POST", "amend_batch_orders", [{"order_id": "1", "currency_pair": "BTC_USDT", "amount": "0.5"}]),
    ("spot-price-order-post", S, "POST", "price_orders", {"market": "BTC_USDT", "trigger": {"price": "60000", "rule": "<=", "expiration": 3600}, "put": {"type": "limit", "side": "sell", "price": "59000", "amount": "0.1"}}),
    # --- spot DELETE / PATCH -------------------------------------------------------------------
    ("spot-delete-order", S, "DELETE", "orders/{order_id}", {"order_id": "12345678901", "currency_pair": "BTC_USDT"}),
    ("spot-delete-order-text", S, "DELETE", "orders/{order_id}", {"order_id": "t-arb-0001", "currency_pair": "BTC_USDT", "account": "spot"}),
    ("spot-delete-all", S, "DELETE", "orders", {"currency_pair": "BTC_USDT", "side": "buy"}),
    ("spot-delete-all-no-query", S, "DELETE", "orders", {}),
    ("spot-delete-price-order", S, "DELETE", "price_orders/{order_id}", {"order_id": "55"}),
    ("spot-patch-order", S, "PATCH", "orders/{order_id}", {"order_id": "12345678901", "currency_pair": "BTC_USDT", "price": "64999.9"}),
    ("spot-patch-order-amount", S, "PATCH", "orders/{order_id}", {"order_id": "1", "currency_pair": "BTC_USDT", "amount": "0.002", "amend_text": "ü"}),
    # --- futures -------------------------------------------------------------------------------
    ("fut-get-orders", F, "GET", "{settle}/orders", {"settle": "usdt", "contract": "BTC_USDT", "status": "open"}),
    ("fut-get-orders-doc", F, "GET", "{settle}/orders", {"settle": "usdt", "contract": "BTC_USD", "status": "finished", "limit": 50}),
    ("fut-get-accounts", F, "GET", "{settle}/accounts", {"settle": "usdt"}),
    ("fut-get-positions", F, "GET", "{settle}/positions", {"settle": "btc", "holding": True}),
    ("fut-post-order", F, "POST", "{settle}/orders", {"settle": "usdt", "contract": "BTC_USDT", "size": 100, "price": "6800", "tif": "gtc", "text": "t-f1"}),
    ("fut-post-order-reduce", F, "POST", "{settle}/orders", {"settle": "usdt", "contract": "ETH_USDT", "size": -3, "price": "0", "tif": "ioc", "reduce_only": True}),
    ("fut-post-dual-mode-query", F, "POST", "{settle}/dual_mode", {"settle": "usdt", "dual_mode": True}),
    ("fut-post-position-margin-query", F, "POST", "{settle}/positions/{contract}/margin", {"settle": "usdt", "contract": "BTC_USDT", "change": "0.01"}),
    ("fut-post-leverage-query", F, "POST", "{settle}/positions/{contract}/leverage", {"settle": "usdt", "contract": "BTC_USDT", "leverage": "10", "cross_leverage_limit": "0"}),
    ("fut-post-batch-cancel", F, "POST", "{settle}/batch_cancel_orders", [{"settle": "usdt"}, "1", "2", "3"]),
    ("fut-delete-order", F, "DELETE", "{settle}/orders/{order_id}", {"settle": "usdt", "order_id": "58828"}),
    ("fut-delete-all", F, "DELETE", "{settle}/orders", {"settle": "usdt", "contract": "BTC_USDT", "side": "ask"}),
    ("fut-put-amend", F, "PUT", "{settle}/orders/{order_id}", {"settle": "usdt", "order_id": "58828", "size": 50, "price": "6900"}),
    ("fut-get-non-ascii", F, "GET", "{settle}/my_trades", {"settle": "usdt", "contract": "BTC_USDT", "text": "t-€"}),
    # --- delivery / withdrawals (other section shapes) ----------------------------------------
    ("delivery-get-orders", "delivery", "GET", "{settle}/orders", {"settle": "usdt", "contract": "BTC_USDT_20240628", "status": "open"}),
    ("withdrawals-post", "withdrawals", "POST", "withdrawals", {"currency": "USDT", "address": "0xabc", "amount": "10", "chain": "ETH"}),
    ("withdrawals-delete", "withdrawals", "DELETE", "withdrawals/{withdrawal_id}", {"withdrawal_id": "w123"}),
]  # fmt: skip


def test_table_is_big_and_covers_the_required_shapes() -> None:
    assert len(CASES) >= 50
    assert {m for _, _, m, _, _ in CASES} >= {"GET", "POST", "DELETE", "PATCH"}
    assert {s for _, s, _, _, _ in CASES} >= {S, F}


@pytest.fixture
def frozen_sdk_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # gen_sign does ``t = time.time(); ... str(t)``: an int makes str(t) the ccxt-style "1700000000".
    monkeypatch.setattr(gate_api.api_client, "time", types.SimpleNamespace(time=lambda: FROZEN_S))
    yield


@pytest.fixture(scope="module")
def signers() -> Iterator[Any]:
    # sign() is synchronous and never opens an HTTP session, so plain construction is enough.
    config = {"apiKey": TEST_KEY, "secret": TEST_SECRET}
    sdk = gate_api.ApiClient(gate_api.Configuration(key=TEST_KEY, secret=TEST_SECRET))
    try:
        yield GateExchange(config), ccxt.async_support.gate(config), sdk
    finally:
        sdk.close()


@pytest.mark.parametrize(("section", "method", "path", "params"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
@freeze_time(FROZEN_AT)
def test_sign_matches_ccxt_and_official_sdk(
    signers: Any, frozen_sdk_clock: None, section: str, method: str, path: str, params: Any
) -> None:
    ours, stock, sdk = signers
    mine = ours.sign(path, ["private", section], method, copy.deepcopy(params))
    theirs = stock.sign(path, ["private", section], method, copy.deepcopy(params))
    assert mine == theirs  # url, method, body and every header, byte for byte

    headers = mine["headers"]
    assert headers["Timestamp"] == str(FROZEN_S)
    url = urlsplit(mine["url"])
    sdk_query = unquote_plus(urlencode(parse_qsl(url.query, keep_blank_values=True)))
    official = sdk.gen_sign(method, url.path, sdk_query, mine["body"])
    assert official == {"KEY": headers["KEY"], "Timestamp": headers["Timestamp"], "SIGN": headers["SIGN"]}


@pytest.mark.parametrize(
    ("section", "path", "params"),
    [(S, "time", {}), (S, "order_book", {"currency_pair": "BTC_USDT", "limit": 100, "with_id": True}),
     (S, "currency_pairs", {}), (F, "{settle}/contracts", {"settle": "usdt"})],
)  # fmt: skip
@freeze_time(FROZEN_AT)
def test_public_requests_are_not_signed_and_match_ccxt(signers: Any, section: str, path: str, params: Any) -> None:
    ours, stock, _ = signers
    mine = ours.sign(path, ["public", section], "GET", dict(params))
    assert mine == stock.sign(path, ["public", section], "GET", dict(params))
    assert not mine["headers"] or "SIGN" not in mine["headers"]


@freeze_time(FROZEN_AT)
def test_post_url_query_is_signed_unlike_ccxt(signers: Any, frozen_sdk_clock: None) -> None:
    """ccxt puts ``params['query']`` of a POST in the URL but not in the signature; Gate then rejects it."""
    ours, stock, sdk = signers
    params = {**ORDER, "query": {"dry_run": "1"}}
    mine = ours.sign("orders", ["private", S], "POST", copy.deepcopy(params))
    theirs = stock.sign("orders", ["private", S], "POST", copy.deepcopy(params))
    assert mine["url"] == theirs["url"] and mine["url"].endswith("?dry_run=1")
    assert mine["body"] == theirs["body"] and "dry_run" not in mine["body"]
    assert mine["headers"]["SIGN"] != theirs["headers"]["SIGN"]
    official = sdk.gen_sign("POST", "/api/v4/spot/orders", "dry_run=1", mine["body"])
    assert official["SIGN"] == mine["headers"]["SIGN"]


@freeze_time(FROZEN_AT)
def test_signed_path_follows_the_configured_base_url(signers: Any) -> None:
    ours, _, sdk = signers
    local = GateExchange.for_endpoint("http://127.0.0.1:9/api/v4/", None, TEST_KEY, TEST_SECRET)
    signed = local.sign("accounts", ["private", S], "GET", {})
    assert signed["url"] == "http://127.0.0.1:9/api/v4/spot/accounts"
    assert signed["headers"] == ours.sign("accounts", ["private", S], "GET", {})["headers"]
    with pytest.raises(ValueError, match="/api/v4"):
        GateExchange.for_endpoint("http://127.0.0.1:9/", None, TEST_KEY, TEST_SECRET)
