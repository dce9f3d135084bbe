"""The one error table, as one parametrized table: what Gate says -> which arb error, retryable or not."""

from __future__ import annotations

import json
from typing import Any

import ccxt
import pytest
from aiohttp import web
from gate_stub import TEST_KEY, TEST_SECRET, GateStub, error

from arb import errors as arb
from arb.venues.gate import GateExchange, translate, translating
from arb.venues.gate.errors import TABLE, GateErrorInfo, gate_info, reset_at_from_headers

# (label or ccxt exception, expected arb class, retryable)
CASES: list[tuple[str | BaseException, type[arb.VenueError], bool]] = [
    ("INVALID_SIGNATURE", arb.AuthenticationError, False),
    ("INVALID_KEY", arb.AuthenticationError, False),
    ("REQUEST_EXPIRED", arb.AuthenticationError, False),
    ("MISSING_REQUIRED_HEADER", arb.AuthenticationError, False),
    ("IP_FORBIDDEN", arb.AuthenticationError, False),
    ("READ_ONLY", arb.AuthenticationError, False),
    ("FORBIDDEN", arb.AuthenticationError, False),
    ("TOO_MANY_REQUESTS", arb.RateLimited, True),
    ("TOO_FAST", arb.RateLimited, True),
    ("BALANCE_NOT_ENOUGH", arb.InsufficientFunds, False),
    ("ORDER_NOT_FOUND", arb.OrderNotFound, True),
    ("CLIENT_ID_NOT_FOUND", arb.OrderNotFound, True),
    ("INVALID_PRECISION", arb.InvalidOrder, False),
    ("AMOUNT_TOO_LITTLE", arb.InvalidOrder, False),
    ("INVALID_PARAM_VALUE", arb.InvalidOrder, False),
    ("INVALID_CURRENCY_PAIR", arb.BadSymbol, False),
    ("INVALID_CURRENCY", arb.BadSymbol, False),
    ("MISSING_REQUIRED_PARAM", arb.InvalidOrder, False),
    ("FUTURES_BALANCE_NOT_ENOUGH", arb.InsufficientFunds, False),
    ("ADDRESS_NOT_USED", arb.TransferRefused, False),
    ("WITHDRAWAL_OVER_LIMIT", arb.TransferRefused, False),
    ("API_WITHDRAW_DISABLED", arb.TransferRefused, False),
    ("SERVER_ERROR", arb.TransientVenueError, True),
    ("TOO_BUSY", arb.TransientVenueError, True),
    ("SOMETHING_NEW", arb.VenueError, False),
    (ccxt.RateLimitExceeded("gate 429"), arb.RateLimited, True),
    (ccxt.DDoSProtection("gate 418"), arb.RateLimited, True),
    (ccxt.RequestTimeout("gate GET timeout"), arb.TransientVenueError, True),
    (ccxt.ExchangeNotAvailable("gate 503"), arb.TransientVenueError, True),
    (ccxt.OnMaintenance("gate maintenance"), arb.TransientVenueError, True),
    (ccxt.NetworkError("reset by peer"), arb.TransientVenueError, True),
    (ccxt.InvalidNonce("nonce"), arb.AuthenticationError, False),
    (ccxt.AuthenticationError("auth"), arb.AuthenticationError, False),
    (ccxt.PermissionDenied("perm"), arb.AuthenticationError, False),
    (ccxt.InsufficientFunds("funds"), arb.InsufficientFunds, False),
    (ccxt.OrderNotFound("gone"), arb.OrderNotFound, True),
    (ccxt.InvalidOrder("bad"), arb.InvalidOrder, False),
    (ccxt.BadSymbol("sym"), arb.BadSymbol, False),
    (ccxt.ExchangeError("other"), arb.VenueError, False),
    (TimeoutError(), arb.TransientVenueError, True),
]


def _gate_exception(label: str, status: int = 400, headers: dict[str, str] | None = None) -> BaseException:
    """The exception GateExchange.handle_errors raises for a Gate error body (no network needed)."""
    exchange = GateExchange({"apiKey": TEST_KEY, "secret": TEST_SECRET})
    body = json.dumps({"label": label, "message": "short message"})
    try:
        exchange.handle_errors(status, "reason", "https://x/api/v4/spot/orders?a=1", "POST", headers or {},
                               body, json.loads(body), None, None)  # fmt: skip
    except ccxt.BaseError as exc:
        return exc
    raise AssertionError("handle_errors did not raise")


@pytest.mark.parametrize(("said", "expected", "retryable"), CASES, ids=[str(c[0]) or type(c[0]).__name__ for c in CASES])
def test_error_table(said: str | BaseException, expected: type[arb.VenueError], retryable: bool) -> None:
    exc = _gate_exception(said) if isinstance(said, str) else said
    err = translate(exc)
    assert type(err) is expected
    assert err.retryable is retryable
    assert err.venue == "gate"
    if isinstance(said, str):
        assert err.label == said and said in str(err)
        assert "short message" in str(err)


def test_rate_limit_and_ddos_rows_are_explicit() -> None:
    # Their ccxt parents have moved between versions: never rely on inheritance for these two.
    assert ccxt.RateLimitExceeded in TABLE and ccxt.DDoSProtection in TABLE


def test_label_wins_over_the_ccxt_class() -> None:
    # A label ccxt files under a generic class still gets its precise arb error.
    exc = ccxt.ExchangeError("gate ...")
    exc.gate = GateErrorInfo(label="TOO_BUSY", status=503)  # type: ignore[attr-defined]
    assert type(translate(exc)) is arb.TransientVenueError


def test_rate_limited_carries_reset_at_from_gate_header() -> None:
    exc = _gate_exception("TOO_MANY_REQUESTS", 429, {"x-gate-ratelimit-reset-timestamp": "1700000042"})
    err = translate(exc)
    assert isinstance(err, arb.RateLimited) and err.reset_at == 1700000042.0
    assert reset_at_from_headers({"X-Gate-RateLimit-Reset-Timestamp": "bad"}) is None


@pytest.mark.parametrize(
    ("label", "advice"),
    [("INVALID_SIGNATURE", "secret"), ("INVALID_KEY", "key"), ("REQUEST_EXPIRED", "NTP"),
     ("IP_FORBIDDEN", "whitelist"), ("READ_ONLY", "permission")],
)  # fmt: skip
def test_authentication_errors_say_what_to_check(label: str, advice: str) -> None:
    assert advice in str(translate(_gate_exception(label, 401)))


async def test_429_without_label_over_http(gate: GateExchange, gate_stub: GateStub) -> None:
    async def limited(request: Any) -> Any:
        return web.Response(status=429, text="slow down", headers={"X-Gate-RateLimit-Reset-Timestamp": "1700000100"})

    gate_stub.route("GET", "/spot/order_book", limited)
    with pytest.raises(arb.RateLimited) as caught, translating():
        await gate.fetch_order_book("BTC/USDT")
    assert caught.value.reset_at == 1700000100.0 and caught.value.retryable


async def test_labelled_errors_over_http(gate: GateExchange, gate_stub: GateStub) -> None:
    async def broke(request: Any) -> Any:
        return error(400, "BALANCE_NOT_ENOUGH", "Not enough balance")

    gate_stub.route("POST", "/spot/orders", broke)
    with pytest.raises(ccxt.InsufficientFunds) as raw:
        await gate.create_order("BTC/USDT", "limit", "buy", 1, 60000)
    info = gate_info(raw.value)
    assert info is not None and info.label == "BALANCE_NOT_ENOUGH" and info.status == 400
    with pytest.raises(arb.InsufficientFunds), translating():
        await gate.create_order("BTC/USDT", "limit", "buy", 1, 60000)


def test_translating_passes_arb_errors_and_non_venue_errors_through() -> None:
    with pytest.raises(arb.InvalidOrder), translating():
        raise arb.InvalidOrder("gate", "mine")
    with pytest.raises(KeyError), translating():
        raise KeyError("not a venue problem")
