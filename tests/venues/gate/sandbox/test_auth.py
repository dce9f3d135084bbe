"""Authentication exactly as Gate: seed-style signing mistakes are rejected, the official SDK is accepted."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from urllib.parse import quote

import aiohttp
import gate_api
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arb.venues.gate.sandbox import Sandbox
from arb.venues.gate.sandbox.apierror import GateApiError
from arb.venues.gate.sandbox.auth import verify_request
from arb.venues.gate.signing import body_hash, sign_payload, sign_request

from .conftest import KEY, SECRET


async def send(
    sb: Sandbox,
    method: str,
    path: str,
    query: str = "",
    body: str = "",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, object], dict[str, str]]:
    url = sb.base_url + path + (f"?{query}" if query else "")
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, data=body.encode() if body else None, headers=headers or {}) as resp,
    ):
        return resp.status, json.loads(await resp.text()), dict(resp.headers)


def now_ts() -> str:
    return str(int(time.time()))


async def test_correctly_signed_get_and_post_are_accepted(sandbox: Sandbox) -> None:
    h = sign_request("GET", "/api/v4/spot/accounts", "currency=USDT", None, now_ts(), KEY, SECRET)
    status, body, _ = await send(sandbox, "GET", "/api/v4/spot/accounts", "currency=USDT", headers=h)
    assert status == 200 and body == [
        {"currency": "USDT", "available": "1000", "locked": "0", "update_id": 1}
    ]
    payload = json.dumps(
        {
            "currency_pair": "LINK_USDT",
            "side": "buy",
            "amount": "1",
            "price": "27",
            "time_in_force": "gtc",
            "text": "t-auth1",
        },
        separators=(",", ":"),
    )
    h = sign_request("POST", "/api/v4/spot/orders", "", payload, now_ts(), KEY, SECRET)
    status, body, _ = await send(sandbox, "POST", "/api/v4/spot/orders", body=payload, headers=h)
    assert status == 201 and body["text"] == "t-auth1" and body["status"] == "open"


async def test_timestamp_in_milliseconds_is_request_expired(sandbox: Sandbox) -> None:
    h = sign_request("GET", "/api/v4/spot/accounts", "", None, str(int(time.time() * 1000)), KEY, SECRET)
    status, body, _ = await send(sandbox, "GET", "/api/v4/spot/accounts", headers=h)
    assert (status, body["label"]) == (401, "REQUEST_EXPIRED")


async def test_path_signed_without_api_v4_is_invalid_signature(sandbox: Sandbox) -> None:
    ts = now_ts()
    sign = sign_payload("\n".join(["GET", "/spot/accounts", "", body_hash(None), ts]), SECRET)
    h = {"KEY": KEY, "Timestamp": ts, "SIGN": sign}
    status, body, _ = await send(sandbox, "GET", "/api/v4/spot/accounts", headers=h)
    assert (status, body) == (401, {"label": "INVALID_SIGNATURE", "message": "Signature mismatch"})


async def test_raw_body_signed_instead_of_its_hash_is_invalid_signature(sandbox: Sandbox) -> None:
    payload = '{"currency_pair":"LINK_USDT","side":"buy","amount":"1","price":"27"}'
    ts = now_ts()
    sign = sign_payload("\n".join(["POST", "/api/v4/spot/orders", "", payload, ts]), SECRET)  # noqa: FLY002  # the five signed lines, spelled out
    h = {"KEY": KEY, "Timestamp": ts, "SIGN": sign, "Content-Type": "application/json"}
    status, body, _ = await send(sandbox, "POST", "/api/v4/spot/orders", body=payload, headers=h)
    assert (status, body["label"]) == (401, "INVALID_SIGNATURE")
    assert sandbox.engine.orders == {}  # nothing was placed


async def test_unknown_key_is_invalid_key(sandbox: Sandbox) -> None:
    h = sign_request("GET", "/api/v4/spot/accounts", "", None, now_ts(), "who-is-this", SECRET)
    status, body, _ = await send(sandbox, "GET", "/api/v4/spot/accounts", headers=h)
    assert (status, body["label"]) == (401, "INVALID_KEY")


@pytest.mark.parametrize("missing", ["KEY", "SIGN", "Timestamp"])
async def test_missing_header_is_rejected(sandbox: Sandbox, missing: str) -> None:
    h = sign_request("GET", "/api/v4/spot/accounts", "", None, now_ts(), KEY, SECRET)
    del h[missing]
    status, body, _ = await send(sandbox, "GET", "/api/v4/spot/accounts", headers=h)
    assert (status, body["label"]) == (401, "MISSING_REQUIRED_HEADER")


async def test_sorted_query_when_the_wire_order_differs_is_invalid_signature(sandbox: Sandbox) -> None:
    wire = "status=open&currency_pair=LINK_USDT"
    h = sign_request(
        "GET", "/api/v4/spot/orders", "currency_pair=LINK_USDT&status=open", None, now_ts(), KEY, SECRET
    )
    status, body, _ = await send(sandbox, "GET", "/api/v4/spot/orders", wire, headers=h)
    assert (status, body["label"]) == (401, "INVALID_SIGNATURE")
    h = sign_request("GET", "/api/v4/spot/orders", wire, None, now_ts(), KEY, SECRET)
    status, body, _ = await send(sandbox, "GET", "/api/v4/spot/orders", wire, headers=h)
    assert (status, body) == (200, [])


async def test_query_is_signed_decoded_and_sent_encoded(sandbox: Sandbox) -> None:
    raw = "currency_pair=LINK_USDT&status=open&text=t-a,b"
    h = sign_request("GET", "/api/v4/spot/orders", raw, None, now_ts(), KEY, SECRET)
    status, _, _ = await send(sandbox, "GET", "/api/v4/spot/orders", quote(raw, safe="=&"), headers=h)
    assert status == 200


async def test_expiry_follows_the_sandbox_clock(sandbox: Sandbox) -> None:
    sandbox.shift_clock(61)
    h = sign_request("GET", "/api/v4/spot/accounts", "", None, now_ts(), KEY, SECRET)
    status, body, _ = await send(sandbox, "GET", "/api/v4/spot/accounts", headers=h)
    assert (status, body["label"]) == (401, "REQUEST_EXPIRED")
    h = sign_request("GET", "/api/v4/spot/accounts", "", None, str(int(time.time()) + 61), KEY, SECRET)
    status, _, _ = await send(sandbox, "GET", "/api/v4/spot/accounts", headers=h)
    assert status == 200


async def test_official_sdk_trades_against_the_sandbox(sandbox: Sandbox) -> None:
    """Gate's own SDK (fractional-second timestamps, its own query encoding) passes our verifier."""
    config = gate_api.Configuration(host=sandbox.rest_url, key=KEY, secret=SECRET)

    def session() -> tuple[list[str], str, str, str]:
        with gate_api.ApiClient(config) as client:
            spot = gate_api.SpotApi(client)
            balances = sorted(f"{a.currency}={a.available}" for a in spot.list_spot_accounts())
            order = spot.create_order(
                gate_api.Order(
                    currency_pair="LINK_USDT",
                    side="buy",
                    amount="1.5",
                    price="27.05",
                    time_in_force="gtc",
                    text="t-sdk",
                )
            )
            listed = spot.list_orders("LINK_USDT", "open")
            cancelled = spot.cancel_order(order.id, "LINK_USDT")
            return balances, listed[0].id, order.id, cancelled.status

    balances, listed_id, order_id, status = await asyncio.to_thread(session)
    assert balances == ["LINK=10", "USDT=1000"]
    assert listed_id == order_id and status == "cancelled"
    assert sandbox.engine.balance(KEY, "USDT").available == Decimal(1000)


query_text = st.text(alphabet="abcdefghijklmnop_=&,:-.0123456789", max_size=40)


@settings(max_examples=60, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "DELETE"]),
    path=st.sampled_from(["/api/v4/spot/orders", "/api/v4/spot/orders/123", "/api/v4/spot/accounts"]),
    query=query_text,
    body=st.one_of(st.none(), st.text(max_size=60)),
)
def test_verifier_agrees_with_the_official_sdk_signer(
    method: str, path: str, query: str, body: str | None
) -> None:
    client = gate_api.ApiClient(gate_api.Configuration(key=KEY, secret=SECRET))
    headers = client.gen_sign(method, path, query, body)
    raw_body = body.encode() if body is not None else b""
    now = float(headers["Timestamp"])
    assert verify_request(method, path, quote(query, safe="=&"), raw_body, headers, {KEY: SECRET}, now) == KEY
    tampered = dict(headers, SIGN=headers["SIGN"][:-1] + ("0" if headers["SIGN"][-1] != "0" else "1"))
    with pytest.raises(GateApiError) as info:
        verify_request(method, path, quote(query, safe="=&"), raw_body, tampered, {KEY: SECRET}, now)
    assert info.value.label == "INVALID_SIGNATURE"
