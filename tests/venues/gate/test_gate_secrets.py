"""The API secret never reaches a log line, an exception text, or a repr/str, even at DEBUG and verbose."""

from __future__ import annotations

import logging
import traceback
from typing import Any

import ccxt
import pytest
from aiohttp import web
from gate_stub import PAIRS, TEST_KEY, TEST_SECRET, GateStub, error

from arb.venues.gate import GateExchange, translate


async def test_secret_absent_from_debug_logs_exceptions_and_reprs(
    gate_stub: GateStub, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    calls = {"n": 0}

    async def flaky(request: web.Request) -> web.StreamResponse:
        calls["n"] += 1
        if calls["n"] == 1:
            return error(401, "REQUEST_EXPIRED", "expired")  # resync + retried read
        return web.json_response([{"currency": "USDT", "available": "1", "locked": "0"}])

    async def limited(request: web.Request) -> web.StreamResponse:
        return error(429, "TOO_MANY_REQUESTS", "slow", {"X-Gate-RateLimit-Reset-Timestamp": "1700000001"})

    async def rejected(request: web.Request) -> web.StreamResponse:
        return error(401, "INVALID_SIGNATURE", "Signature mismatch")

    gate_stub.route("GET", "/spot/time", {"server_time": 1_700_000_000_000})
    gate_stub.route("GET", "/spot/accounts", flaky)
    gate_stub.route("POST", "/spot/orders", limited)
    gate_stub.route("DELETE", "/spot/orders/1", rejected)

    exchange = GateExchange.for_endpoint(
        gate_stub.rest_url, gate_stub.ws_url, TEST_KEY, TEST_SECRET, pairs=PAIRS, verbose=True
    )
    texts: list[str] = [repr(exchange), str(exchange), repr(exchange.clock)]
    try:
        await exchange.fetch_balance()
        for call in (
            exchange.create_order("BTC/USDT", "limit", "buy", 0.001, 60000, {"text": "t-s1"}),
            exchange.cancel_order("1", "BTC/USDT"),
            exchange.fetch_order("404", "BTC/USDT"),  # unknown route -> NOT_FOUND
        ):
            with pytest.raises(ccxt.BaseError) as raised:
                await call
            arb_error = translate(raised.value)
            for exc in (raised.value, arb_error):
                texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
            texts += [str(arb_error.args), repr(vars(arb_error))]
    finally:
        await exchange.close()

    keyless = GateExchange.for_endpoint(gate_stub.rest_url, None, "", "")
    with pytest.raises(ccxt.AuthenticationError) as missing:
        keyless.sign("accounts", ["private", "spot"], "GET", {})
    texts.append(str(missing.value))
    await keyless.close()

    logs = "\n".join(r.getMessage() for r in caplog.records)
    printed = capsys.readouterr()
    assert any("fetch Request" in line for line in printed.out.splitlines())  # verbose did print
    assert len([r for r in caplog.records if r.levelno == logging.DEBUG]) > 5  # DEBUG really captured
    for blob in (logs, printed.out, printed.err, *texts):
        assert TEST_SECRET not in blob


def test_gate_error_info_and_arb_errors_never_hold_request_headers() -> None:
    exchange = GateExchange({"apiKey": TEST_KEY, "secret": TEST_SECRET})
    body = '{"label":"INVALID_KEY","message":"Invalid key"}'
    request_headers: dict[str, Any] = {"KEY": TEST_KEY, "SIGN": "f" * 128, "X-Secret-Echo": TEST_SECRET}
    with pytest.raises(ccxt.AuthenticationError) as raised:
        exchange.handle_errors(401, "Unauthorized", "https://x/api/v4/spot/accounts", "GET", {}, body,
                               {"label": "INVALID_KEY", "message": "Invalid key"}, request_headers, None)  # fmt: skip
    err = translate(raised.value)
    for text in (str(raised.value), repr(raised.value), str(err), repr(err), repr(raised.value.gate)):  # type: ignore[attr-defined]
        assert TEST_SECRET not in text and TEST_KEY not in text and "f" * 128 not in text
