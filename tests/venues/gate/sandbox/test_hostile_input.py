"""Regression tests for issue 13 part 4: the sandbox behaves like a careful exchange.

Each test reproduces one report: a ``NaN`` timestamp passing the 60-second window (REST and WebSocket),
a bad-signature flood spending the real key's budget, made-up keys growing the limiter's table, and
malformed requests answered with a 500 (or aiohttp's plain text) instead of Gate's JSON error.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from arb.venues.gate.sandbox import Sandbox
from arb.venues.gate.sandbox.apierror import GateApiError
from arb.venues.gate.sandbox.auth import check_window, verify_request
from arb.venues.gate.sandbox.ratelimit import WindowLimiter
from arb.venues.gate.signing import sign_ws_channel

from .conftest import ASKS, BIDS, KEY, SECRET, FakeClock, make_config
from .hostile import assert_gate_error, raw_request, server_log, signed_headers

NOW = 1_700_000_000
ACCOUNTS = "/api/v4/spot/accounts"
ORDERS = "/api/v4/spot/orders"


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    async with Sandbox(make_config(clock=FakeClock(NOW + 0.25), global_limit=20)) as sandbox:
        sandbox.push_book("LINK_USDT", BIDS, ASKS)
        yield sandbox


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


# ---- timestamps -----------------------------------------------------------------------------------------
BAD_TIMESTAMPS = [
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "1e400",
    "1.7e9",
    " 1700000000",
    "1700000000 ",
    "+1700000000",
    "1_700_000_000",
    "١٧٠٠٠٠٠٠٠٠",  # Arabic-Indic digits: float() reads them as 1700000000
    "0x6553F100",
    "1700000000.",
    "abc",
]


@pytest.mark.parametrize("timestamp", BAD_TIMESTAMPS)
def test_a_timestamp_that_is_not_plain_unix_seconds_is_request_expired(timestamp: str) -> None:
    headers = signed_headers("GET", ACCOUNTS, "", b"", timestamp)  # correctly signed over that very string
    with pytest.raises(GateApiError) as info:
        verify_request("GET", ACCOUNTS, "", b"", headers, {KEY: SECRET}, float(NOW))
    assert (info.value.status, info.value.label) == (401, "REQUEST_EXPIRED")


@pytest.mark.parametrize("timestamp", ["1700000000", "1700000000.123456", "1699999941", "1700000059.9"])
def test_plain_unix_seconds_within_the_window_are_accepted(timestamp: str) -> None:
    headers = signed_headers("GET", ACCOUNTS, "", b"", timestamp)
    assert verify_request("GET", ACCOUNTS, "", b"", headers, {KEY: SECRET}, float(NOW)) == KEY


def test_the_window_refuses_non_finite_times_on_either_side() -> None:
    for ts, now in [(float("nan"), NOW), (NOW, float("nan")), (float("inf"), NOW), (NOW - 61, NOW)]:
        with pytest.raises(GateApiError):
            check_window(ts, now)
    check_window(NOW - 60, NOW)


@pytest.mark.parametrize(
    ("timestamp", "label"),
    [("NaN", "REQUEST_EXPIRED"), ("1e400", "REQUEST_EXPIRED"), ("", "MISSING_REQUIRED_HEADER")],
)
async def test_nan_timestamp_is_refused_over_http(
    sb: Sandbox, session: aiohttp.ClientSession, timestamp: str, label: str
) -> None:
    headers = signed_headers("GET", ACCOUNTS, "", b"", timestamp)
    status, body, answer = await raw_request(session, sb, "GET", ACCOUNTS, headers=headers)
    assert (status, assert_gate_error(status, body, answer)) == (401, label)


def private_subscription(time_value: Any, sign_time: Any = None, sign: str | None = None) -> str:
    signed = sign_ws_channel(
        "spot.orders", "subscribe", time_value if sign_time is None else sign_time, SECRET
    )
    return json.dumps(
        {
            "time": time_value,
            "channel": "spot.orders",
            "event": "subscribe",
            "payload": ["LINK_USDT"],
            "auth": {"method": "api_key", "KEY": KEY, "SIGN": signed if sign is None else sign},
        }
    )


async def ws_answer(sb: Sandbox, session: aiohttp.ClientSession, message: str | bytes) -> dict[str, Any]:
    """The sandbox's answer to one message, then proof the connection still serves a ping."""
    async with session.ws_connect(sb.ws_url) as ws:
        await (ws.send_bytes(message) if isinstance(message, bytes) else ws.send_str(message))
        answer = json.loads((await asyncio.wait_for(ws.receive(), 5)).data)
        await ws.send_str(json.dumps({"channel": "spot.ping", "id": 99}))
        pong = json.loads((await asyncio.wait_for(ws.receive(), 5)).data)
        assert (pong["channel"], pong["id"]) == ("spot.pong", 99)
        return answer  # type: ignore[no-any-return]


def ws_label(answer: dict[str, Any]) -> str:
    assert answer["error"]["code"] == 4, answer
    return str(json.loads(answer["error"]["message"])["label"])


@pytest.mark.parametrize(
    "frame",
    [
        private_subscription(NOW - 61),
        private_subscription(NOW + 61),
        private_subscription(NOW - 10**6),
        private_subscription("NaN"),  # a string, signed as "NaN"
        private_subscription(str(NOW)),  # seconds as a string: Gate's time is an integer
        private_subscription(1.7e9, sign_time=1700000000),
        private_subscription(10**30),
        private_subscription(True),
        private_subscription(None, sign_time=0),
    ],
    ids=["61s-old", "61s-ahead", "days-old", "NaN-string", "string", "float", "huge", "bool", "missing"],
)
async def test_websocket_auth_applies_the_time_window(
    sb: Sandbox, session: aiohttp.ClientSession, frame: str
) -> None:
    with server_log() as log:
        assert ws_label(await ws_answer(sb, session, frame)) == "REQUEST_EXPIRED"
    assert log.lines() == []


async def test_websocket_auth_within_the_window_succeeds_and_a_nan_literal_is_not_json(
    sb: Sandbox, session: aiohttp.ClientSession
) -> None:
    for offset in (-59, 0, 59):
        answer = await ws_answer(sb, session, private_subscription(NOW + offset))
        assert answer["result"] == {"status": "success"}, answer
    nan_literal = private_subscription(NOW).replace(str(NOW), "NaN", 1)  # Python's json would read NaN
    assert (await ws_answer(sb, session, nan_literal))["error"]["code"] == 1


# ---- rate limits ----------------------------------------------------------------------------------------
async def test_bad_signature_flood_does_not_lock_out_the_real_key(
    sb: Sandbox, session: aiohttp.ClientSession
) -> None:
    forged = {"KEY": KEY, "Timestamp": str(NOW), "SIGN": "0" * 128}
    statuses = [(await raw_request(session, sb, "GET", ACCOUNTS, headers=forged))[0] for _ in range(60)]
    assert statuses == [401] * 20 + [429] * 40  # the flood spends its own address's budget
    status, body, answer = await raw_request(
        session, sb, "GET", ACCOUNTS, headers=signed_headers("GET", ACCOUNTS, "", b"", str(NOW))
    )
    assert status == 200 and json.loads(body)
    assert (answer["X-Gate-RateLimit-Limit"], answer["X-Gate-RateLimit-Requests-Remain"]) == ("20", "19")
    assert (await raw_request(session, sb, "GET", "/api/v4/spot/time"))[0] == 200  # public data still flows


async def test_made_up_keys_do_not_grow_the_limiter_table(
    sb: Sandbox, session: aiohttp.ClientSession
) -> None:
    for i in range(300):
        headers = signed_headers("GET", ACCOUNTS, "", b"", str(NOW), key=f"made-up-{i}", secret="guess")
        status, body, answer = await raw_request(session, sb, "GET", ACCOUNTS, headers=headers)
        assert status in (401, 429) and assert_gate_error(status, body, answer) in (
            "INVALID_KEY",
            "TOO_MANY_REQUESTS",
        )
    assert len(sb.rest.global_limiter) == 1  # one bucket: this address's failed authentications
    await raw_request(
        session, sb, "GET", ACCOUNTS, headers=signed_headers("GET", ACCOUNTS, "", b"", str(NOW))
    )
    assert len(sb.rest.global_limiter) == 2  # and the real key's


def test_limiter_table_is_bounded_and_forgets_past_windows() -> None:
    limiter = WindowLimiter(3, 1.0, max_buckets=100)
    for i in range(10_000):
        limiter.hit(("addr", i), 100.5)
    assert len(limiter) == 100
    assert [limiter.hit("busy", 100.5).allowed for _ in range(4)] == [True, True, True, False]
    assert limiter.hit(("addr", 9_999), 100.5).remain == 1  # recent buckets keep their count
    limiter.hit("next", 101.0)
    assert len(limiter) == 1  # a new window: every old bucket is gone


# ---- malformed requests ---------------------------------------------------------------------------------
LINK = "currency_pair=LINK_USDT"


def order(**fields: Any) -> bytes:
    valid: dict[str, Any] = {"currency_pair": "LINK_USDT", "side": "buy", "amount": "1", "price": "27"}
    return json.dumps({**valid, **fields}).encode()


MALFORMED: list[tuple[str, str, str, bytes | None, int, str]] = [
    # method, path, query, body (signed), status, label
    ("GET", "/api/v4/spot/order_book", "", None, 400, "MISSING_REQUIRED_PARAM"),
    ("GET", "/api/v4/spot/order_book", "currency_pair=NOPE_USDT", None, 400, "INVALID_CURRENCY_PAIR"),
    ("GET", "/api/v4/spot/order_book", LINK + "&limit=%C2%B2", None, 400, "INVALID_PARAM_VALUE"),
    ("GET", "/api/v4/spot/order_book", LINK + "&limit=" + "9" * 5000, None, 400, "INVALID_PARAM_VALUE"),
    ("GET", "/api/v4/spot/order_book", LINK + "&limit=-1", None, 400, "INVALID_PARAM_VALUE"),
    ("GET", ORDERS, LINK + "&page=1e400", None, 400, "INVALID_PARAM_VALUE"),
    ("GET", ORDERS, LINK + "&status=nan", None, 400, "INVALID_PARAM_VALUE"),
    ("GET", ORDERS + "/%C2%B2", LINK, None, 404, "ORDER_NOT_FOUND"),
    ("GET", ORDERS + "/" + "9" * 5000, LINK, None, 404, "ORDER_NOT_FOUND"),
    ("DELETE", ORDERS + "/12", "currency_pair=" + "x" * 3000, None, 400, "INVALID_CURRENCY_PAIR"),
    ("DELETE", ORDERS, LINK + "&side=up", None, 400, "INVALID_PARAM_VALUE"),
    ("GET", "/api/v4/spot/my_trades", "from=%C2%B2", None, 400, "INVALID_PARAM_VALUE"),
    ("GET", "/api/v4/spot/my_trades", "to=" + "1" * 40, None, 400, "INVALID_PARAM_VALUE"),
    ("POST", ORDERS, "", b"NaN", 400, "INVALID_REQUEST_BODY"),
    ("POST", ORDERS, "", b'{"amount": Infinity}', 400, "INVALID_REQUEST_BODY"),
    ("POST", ORDERS, "", b"[" * 200_000, 400, "INVALID_REQUEST_BODY"),
    ("POST", ORDERS, "", b'{"amount": ' + b"1" * 5000 + b"}", 400, "INVALID_REQUEST_BODY"),
    ("POST", ORDERS, "", b"\xff\xfe\x00", 400, "INVALID_REQUEST_BODY"),
    ("POST", ORDERS, "", b"[]", 400, "INVALID_REQUEST_BODY"),
    ("POST", ORDERS, "", order(currency_pair="NOPE_USDT"), 400, "INVALID_CURRENCY_PAIR"),
    ("POST", ORDERS, "", order(currency_pair=["LINK_USDT"]), 400, "INVALID_PARAM_VALUE"),
    ("POST", ORDERS, "", order(amount="1e400"), 400, "INVALID_PARAM_VALUE"),
    ("POST", ORDERS, "", order(amount="NaN"), 400, "INVALID_PARAM_VALUE"),
    ("POST", ORDERS, "", order(amount=True), 400, "INVALID_PARAM_VALUE"),
    ("POST", ORDERS, "", order(amount=10**4000), 400, "INVALID_PARAM_VALUE"),
    ("POST", ORDERS, "", order(price="9" * 400), 400, "INVALID_PARAM_VALUE"),
    ("POST", ORDERS, "", order(price="1" + "0" * 999_999), 400, "INVALID_PARAM_VALUE"),
    ("POST", ORDERS, "", order(amount="1_0"), 400, "INVALID_PARAM_VALUE"),
    ("POST", ORDERS, "", order(side={"buy": 1}), 400, "INVALID_PARAM_VALUE"),
    ("POST", ORDERS, "", order(text=5), 400, "INVALID_PARAM_VALUE"),
    ("POST", ORDERS, "", order(time_in_force=[[[]]]), 400, "INVALID_PARAM_VALUE"),
]


@pytest.mark.parametrize(("method", "path", "query", "body", "status", "label"), MALFORMED)
async def test_malformed_parameters_get_gate_json_4xx(
    sb: Sandbox,
    session: aiohttp.ClientSession,
    method: str,
    path: str,
    query: str,
    body: bytes | None,
    status: int,
    label: str,
) -> None:
    headers = signed_headers(method, path, query, body or b"", str(NOW))
    with server_log() as log:
        got, raw, answer = await raw_request(session, sb, method, path, query, body, headers)
        assert (got, assert_gate_error(got, raw, answer)) == (status, label)
    assert log.lines() == []
    assert "X-Gate-RateLimit-Limit" in answer


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "label"),
    [
        ("PUT", ORDERS, {}, 405, "METHOD_NOT_ALLOWED"),
        ("GET", "/api/v4/spot/nothing", {}, 404, "NOT_FOUND"),
        ("GET", "/", {}, 404, "NOT_FOUND"),
        ("GET", "/ws/v4/", {}, 400, "BAD_REQUEST"),  # no WebSocket upgrade
        ("POST", "/ws/v4/", {}, 405, "METHOD_NOT_ALLOWED"),
        ("GET", ACCOUNTS, {"KEY": KEY, "Timestamp": str(NOW), "SIGN": "é" * 128}, 401, "INVALID_SIGNATURE"),
        ("GET", ACCOUNTS, {"KEY": "é", "Timestamp": str(NOW), "SIGN": "0"}, 401, "INVALID_KEY"),
    ],
)
async def test_unroutable_or_unauthentic_requests_get_gate_json_4xx(
    sb: Sandbox,
    session: aiohttp.ClientSession,
    method: str,
    path: str,
    headers: dict[str, str],
    status: int,
    label: str,
) -> None:
    with server_log() as log:
        got, raw, answer = await raw_request(session, sb, method, path, headers=headers)
        assert (got, assert_gate_error(got, raw, answer)) == (status, label)
    assert log.lines() == []


async def test_a_body_past_the_size_limit_is_413_json(sb: Sandbox, session: aiohttp.ClientSession) -> None:
    body = b'{"text": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    headers = signed_headers("POST", ORDERS, "", body, str(NOW))
    async with session.post(sb.base_url + ORDERS, data=io.BytesIO(body), headers=headers) as resp:
        raw, answer = await resp.read(), dict(resp.headers)
    assert (resp.status, assert_gate_error(resp.status, raw, answer)) == (413, "INVALID_REQUEST_BODY")


async def test_a_request_line_the_http_parser_refuses_is_400_without_a_traceback(sb: Sandbox) -> None:
    with server_log() as log:
        reader, writer = await asyncio.open_connection(sb.config.host, sb.port)
        writer.write(b"GET /api/v4/spot/\xc2\xb2 HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 5)
        writer.close()
        await writer.wait_closed()
    assert status_line.split()[1] == b"400"
    assert log.lines() == []
    async with aiohttp.ClientSession() as s, s.get(sb.rest_url + "/spot/time") as resp:  # still up
        assert resp.status == 200


REFUSED_BY_THE_PARSER = {
    "60 KB header": b"GET /api/v4/spot/time HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 60_000 + b"\r\n\r\n",
    "3000 headers": b"GET /api/v4/spot/time HTTP/1.1\r\nHost: x\r\n" + b"X-H: v\r\n" * 3000 + b"\r\n",
    "64 KB URL": b"GET /api/v4/spot/" + b"a" * 65_536 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "raw bytes in the request line": b"GET /api/v4/spot/\xc2\xb2\x1b[2J HTTP/1.1\r\nHost: x\r\n\r\n",
    "60 KB header on a private path": b"POST /api/v4/spot/orders HTTP/1.1\r\nHost: x\r\nKEY: " + b"k" * 60_000
    + b"\r\nContent-Length: 2\r\n\r\n{}",
}


@pytest.mark.parametrize("request_bytes", REFUSED_BY_THE_PARSER.values(), ids=REFUSED_BY_THE_PARSER)
async def test_what_the_http_parser_refuses_is_answered_in_gates_shape(sb: Sandbox, request_bytes: bytes) -> None:
    """aiohttp refuses these before any handler or middleware runs; before, its answer was plain text
    ("400 Bad Request" and its parser's words), which no Gate client reads as Gate's error."""
    with server_log() as log:
        reader, writer = await asyncio.open_connection(sb.config.host, sb.port)
        writer.write(request_bytes)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 5)  # aiohttp closes the connection after it
        writer.close()
        await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    status = int(status_line.split()[1])
    assert (status, assert_gate_error(status, body, headers)) == (400, "BAD_REQUEST")
    message = json.loads(body)["message"]
    assert len(message) <= 200 and "\x1b" not in message and "\n" not in message
    assert log.lines() == []
    async with aiohttp.ClientSession() as s, s.get(sb.rest_url + "/spot/time") as resp:  # still up
        assert resp.status == 200


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (b"\x00\x01", 1),
        ("NaN", 1),
        ("[" * 200_000, 1),
        ("[1, 2]", 1),
        ('"spot.ping"', 1),
        (
            json.dumps(
                {"time": NOW, "channel": "spot.obu", "event": "subscribe", "payload": ["ob.LINK_USDT.²"]}
            ),
            2,
        ),
        (json.dumps({"time": NOW, "channel": "spot.obu", "event": "subscribe", "payload": [["ob"]]}), 2),
        (json.dumps({"channel": "spot.order_book_update", "event": "subscribe", "payload": [{"a": 1}]}), 2),
        (json.dumps({"channel": ["spot.orders"], "event": "subscribe", "id": {"x": [1]}}), 2),
        (private_subscription(NOW, sign="é" * 128), 4),
        (private_subscription("abc"), 4),
    ],
    ids=[
        "binary",
        "nan",
        "deep",
        "array",
        "string",
        "obu-depth",
        "obu-list",
        "pair-object",
        "channel-list",
        "sign",
        "time",
    ],
)
async def test_malformed_websocket_messages_get_gate_errors(
    sb: Sandbox, session: aiohttp.ClientSession, message: str | bytes, code: int
) -> None:
    with server_log() as log:
        answer = await ws_answer(sb, session, message)
    assert answer["error"]["code"] == code and answer["error"]["message"], answer
    assert log.lines() == []


# ---- the control API ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/_sandbox/book", {"pair": "NOPE_USDT", "bids": [["1", "1"]]}),
        ("/_sandbox/book", {"pair": "LINK_USDT", "bids": [["NaN", "1"]]}),
        ("/_sandbox/book", {"pair": "LINK_USDT", "asks": [["28", "1"], ["x"]]}),
        ("/_sandbox/book", {"pair": "LINK_USDT", "kind": "sideways"}),
        ("/_sandbox/book", {"bids": []}),
        ("/_sandbox/clock", {"shift_s": "nan"}),
        ("/_sandbox/clock", {"shift_s": [1]}),
        ("/_sandbox/faults", {"latency_s": "inf"}),
        ("/_sandbox/faults", {"fraction_5xx": 2}),
        ("/_sandbox/balance", {"key": KEY, "currency": "USDT"}),
        ("/_sandbox/balance", {"key": KEY, "currency": "USDT", "available": "lots"}),
        ("/_sandbox/skip_update_id", {"pair": "NOPE_USDT"}),
        ("/_sandbox/clock", [1]),
    ],
)
async def test_control_api_refuses_bad_input_with_400_json_and_changes_nothing(
    sb: Sandbox, session: aiohttp.ClientSession, path: str, body: object
) -> None:
    before = (sb.engine.books["LINK_USDT"].update_id, sb.now_s(), sb.faults.latency_s, sb.faults.fraction_5xx)
    with server_log() as log:
        async with session.post(sb.base_url + path, json=body) as resp:
            assert resp.status == 400 and (await resp.json())["label"] == "INVALID_PARAM_VALUE"
    assert (
        sb.engine.books["LINK_USDT"].update_id,
        sb.now_s(),
        sb.faults.latency_s,
        sb.faults.fraction_5xx,
    ) == before
    assert log.lines() == []


async def test_control_api_still_pushes_an_over_precise_price_for_feed_tests(
    sb: Sandbox, session: aiohttp.ClientSession
) -> None:
    body = {"pair": "LINK_USDT", "kind": "delta", "bids": [["27.0500000000000000001", "5"]], "asks": []}
    async with session.post(sb.base_url + "/_sandbox/book", json=body) as resp:
        assert resp.status == 200 and (await resp.json())["events"] == 1
