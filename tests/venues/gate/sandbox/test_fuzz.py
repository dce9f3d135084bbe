"""Property-based fuzzing of the sandbox over loopback: REST requests and WebSocket messages.

Each test drives one real sandbox (its own event loop, an injected clock) from a plain hypothesis test and
checks, for every generated case: no 5xx, every error is Gate's shape with a 4xx and a known label (REST)
or Gate's ``{"code", "message"}`` (WebSocket), nothing at WARNING or with a traceback in the server log,
and afterwards the server is up and a correctly signed request still works.

Generated cases: REST ``REST_EXAMPLES``, WebSocket ``WS_EXAMPLES`` (hypothesis ``max_examples``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arb.venues.gate.sandbox import Sandbox
from arb.venues.gate.signing import sign_ws_channel

from .conftest import ASKS, BIDS, KEY, SECRET, FakeClock, make_config
from .hostile import GATE_LABELS, assert_gate_error, raw_request, server_log, signed_headers

REST_EXAMPLES = 600
WS_EXAMPLES = 400
WINDOW_S = 10.0  # the budget window; each REST case moves the clock past it so budgets never run out


@dataclass
class Loopback:
    """A sandbox and a client session on one private event loop, for synchronous hypothesis tests."""

    loop: asyncio.AbstractEventLoop
    clock: FakeClock
    sb: Sandbox
    session: aiohttp.ClientSession

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)


@contextmanager
def loopback() -> Iterator[Loopback]:
    loop = asyncio.new_event_loop()
    clock = FakeClock()
    sb = Sandbox(make_config(clock=clock, global_window_s=WINDOW_S))

    async def start() -> aiohttp.ClientSession:
        await sb.start()
        sb.push_book("LINK_USDT", BIDS, ASKS)
        return aiohttp.ClientSession()

    session = loop.run_until_complete(start())
    try:
        yield Loopback(loop, clock, sb, session)
    finally:
        loop.run_until_complete(session.close())
        loop.run_until_complete(sb.stop())
        loop.close()


# ---- strategies ---------------------------------------------------------------------------------------
JSON_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(),  # NaN and infinities too: json.dumps writes them as the non-standard literals
    st.text(max_size=20),
    st.sampled_from(["1", "0.5", "27.1", "27.0500000000000000001", "1e400", "NaN", "-1", "0", "1" * 40]),
)
JSON = st.recursive(
    JSON_LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
API_PATHS = [
    "/api/v4/spot/time",
    "/api/v4/spot/currency_pairs",
    "/api/v4/spot/currencies",
    "/api/v4/margin/currency_pairs",
    "/api/v4/spot/order_book",
    "/api/v4/spot/accounts",
    "/api/v4/spot/orders",
    "/api/v4/spot/open_orders",
    "/api/v4/spot/my_trades",
]
# Path bytes as a client puts them on the wire: percent-encoded (raw non-ASCII bytes in a request line are
# refused by the HTTP parser itself; tests/venues/gate/sandbox/test_hostile_input.py covers that separately).
SEGMENT = st.one_of(
    st.sampled_from(["", "1", "0", "-1", "²", "١٢", "9" * 5000, "t-abc", "t-" + "x" * 40, "NaN"]).map(
        lambda t: quote(t, safe="")
    ),
    st.sampled_from(["%00", "%FF", "%", "%ZZ", "%C2%B2", "%2F", "a%2F..%2Fb"]),
    st.text(max_size=30).map(lambda t: quote(t, safe="")),
)
PATH = st.one_of(
    st.sampled_from([*API_PATHS, "/", "/api/v4", "/api/v4/", "/api/v4/spot", "/ws/v4/", "/x/ws/v4/", "//"]),
    st.builds(lambda base, seg: f"{base}/{seg}", st.sampled_from(["", "/api/v4", *API_PATHS]), SEGMENT),
)
QUERY_NAME = st.one_of(
    st.sampled_from(
        ["currency_pair", "limit", "page", "status", "with_id", "order_id", "from", "to", "side", "currency"]
    ),
    st.text(max_size=8),
)
QUERY_VALUE = st.one_of(
    st.sampled_from(["LINK_USDT", "LINK_USDT", "10", "open", "finished"]),
    st.sampled_from(
        ["LINK_USDT", "BTC_USDT", "link_usdt", "", "open", "finished", "true", "buy", "sell", "10", "0", "-1"]
        + ["1e400", "nan", "inf", "²", "9" * 30, "1.5", "t-abc"]
    ),
    st.integers(-(10**25), 10**25).map(str),
    st.text(max_size=20),
)
QUERY = st.lists(st.tuples(QUERY_NAME, QUERY_VALUE), max_size=5).map(
    lambda pairs: "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
)
# A valid order (resting, crossing, filling or not), half the time with a field or two replaced (or
# dropped, as None) by odd values of any type.
VALID_ORDER = st.fixed_dictionaries(
    {
        "currency_pair": st.just("LINK_USDT"),
        "side": st.sampled_from(["buy", "sell"]),
        "amount": st.sampled_from(["1", "0.5", "2", "30"]),
        "price": st.sampled_from(["27", "27.09", "27.1", "27.101", "27.2"]),
        "time_in_force": st.sampled_from(["gtc", "ioc", "poc", "fok"]),
    }
)
ORDER_FIELDS = {
    "currency_pair": st.sampled_from(["BTC_USDT", "", "link_usdt"]) | JSON,
    "side": st.sampled_from(["sell", "BUY"]) | JSON,
    "amount": st.sampled_from(["0.5", "0.123", "1e3", "1" + "0" * 20, "1.", ".5", " 1", "1_0"]) | JSON,
    "price": st.sampled_from(["27.101", "27.0001", "1E+2", "0", "27.2", "9" * 16]) | JSON,
    "time_in_force": st.sampled_from(["gtc", "ioc", "poc", "fok", "day"]) | JSON,
    "type": st.sampled_from(["limit", "market"]) | JSON,
    "account": st.sampled_from(["spot", "margin"]) | JSON,
    "text": st.sampled_from(["t-fuzz2", "t-" + "y" * 29, "plain", "", None]) | JSON,
}
ORDER_CHANGES: st.SearchStrategy[dict[str, Any]] = st.just({}) | st.lists(
    st.sampled_from(sorted(ORDER_FIELDS)), max_size=2, unique=True
).flatmap(lambda keys: st.fixed_dictionaries({k: ORDER_FIELDS[k] for k in keys}))
ORDER = st.builds(
    lambda valid, changes: {k: v for k, v in {**valid, **changes}.items() if v is not None},
    VALID_ORDER,
    ORDER_CHANGES,
)
BODY = st.one_of(
    st.none(),
    st.binary(max_size=64),
    st.text(max_size=64).map(str.encode),
    JSON.map(lambda v: json.dumps(v).encode()),
    ORDER.map(lambda v: json.dumps(v).encode()),
    st.sampled_from(
        [b"[" * 100_000, b'{"amount": ' + b"1" * 5000 + b"}", b"NaN", b"\xef\xbb\xbf{}", b"\xff\xfe"]
    ),
)
HEADER_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from("é€١"), max_size=30
)
BAD_TIMESTAMP = (
    st.sampled_from(
        ["nan", "NaN", "inf", "-inf", "Infinity", "1e400", "1700000000 ", "+1700000000", "1_700_000_000"]
        + ["0x65", "١٧٠٠٠٠٠٠٠٠", "-1", "9" * 30, "1700000000.5.5"]
    )
    | HEADER_TEXT
)


@st.composite
def rest_requests(draw: st.DrawFn) -> tuple[str, str, str, bytes | None, str, dict[str, str]]:
    scenario = draw(st.sampled_from(["order"] * 3 + ["endpoint"] * 3 + ["anything"] * 2))
    if scenario == "order":  # signed, deep into the matching engine
        method, path, query = "POST", "/api/v4/spot/orders", ""
        body: bytes | None = json.dumps(draw(ORDER)).encode()
        auth = "signed"
    elif scenario == "endpoint":  # a real endpoint and method, odd parameters
        method, path = draw(
            st.sampled_from([("GET", p) for p in API_PATHS] + [("DELETE", "/api/v4/spot/orders")])
            | st.tuples(st.sampled_from(["GET", "DELETE"]), SEGMENT.map(lambda s: f"/api/v4/spot/orders/{s}"))
        )
        query, body = draw(QUERY), None
        auth = draw(
            st.sampled_from(["signed", "signed", "signed", "none", "bad_timestamp", "tampered", "garbage"])
        )
    else:
        method = draw(st.sampled_from(["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "HEAD"]))
        path, query, body = draw(PATH), draw(QUERY), draw(BODY)
        auth = draw(st.sampled_from(["none", "signed", "signed", "bad_timestamp", "tampered", "garbage"]))
    headers: dict[str, str] = {}
    if draw(st.booleans()):
        headers["Content-Type"] = draw(st.sampled_from(["application/json", "text/plain", "x/y; a=b"]))
    if auth == "garbage":
        for name in ("KEY", "SIGN", "Timestamp"):
            if draw(st.booleans()):
                headers[name] = draw(HEADER_TEXT | st.sampled_from([KEY, "now"]))
    elif auth == "bad_timestamp":
        headers["Timestamp"] = draw(BAD_TIMESTAMP)  # signed below over exactly this string
    elif auth == "tampered":
        headers["SIGN"] = draw(HEADER_TEXT | st.sampled_from(["é" * 128, "0" * 128, "A" * 128]))  # kept below
    return method, path, query, body, auth, headers


WS_TIME = st.one_of(
    st.integers(-120, 120).map(lambda d: ("now", d)),
    st.integers(-(10**20), 10**20),
    st.floats(),
    st.text(max_size=10),
    st.none(),
    st.booleans(),
)
WS_CHANNEL = st.sampled_from(
    ["spot.ping", "spot.order_book_update", "spot.obu", "spot.orders", "spot.usertrades", "spot.balances"]
)
WS_PAYLOAD = st.lists(
    st.sampled_from(
        ["LINK_USDT", "BTC_USDT", "100ms", "!all", "ob.LINK_USDT.50", "ob.LINK_USDT.400"]
        + ["ob.LINK_USDT.²", "ob.LINK_USDT.99999", "ob.NOPE.50", "ob.LINK_USDT", "ob..50", "ob.LINK_USDT.-1"]
    )
    | JSON,
    max_size=3,
)
WS_AUTH = (
    st.just("signed")
    | JSON
    | st.fixed_dictionaries(
        {"method": st.sampled_from(["api_key", "x"]), "KEY": st.sampled_from([KEY, "nobody"]) | JSON},
        optional={"SIGN": st.text(max_size=10) | st.sampled_from(["é" * 128, "0" * 128]) | JSON},
    )
)
# A subscription as a client would send it, with odd values here and there.
WS_SUBSCRIPTION = st.fixed_dictionaries(
    {
        "time": st.sampled_from([0, 0, 0, -59, 59, -61, 61, -90]).map(lambda d: ("now", d)) | WS_TIME,
        "channel": WS_CHANNEL,
        "event": st.sampled_from(["subscribe", "subscribe", "unsubscribe"]),
        "payload": WS_PAYLOAD,
        "auth": st.sampled_from(["signed", "signed", None]) | WS_AUTH,
    },
    optional={"id": st.integers(0, 10**6) | JSON},
)
# Anything shaped like a frame.
WS_FRAME = st.fixed_dictionaries(
    {},
    optional={
        "time": WS_TIME,
        "channel": WS_CHANNEL | st.text(max_size=12) | JSON,
        "event": st.sampled_from(["subscribe", "unsubscribe", "update", ""]) | JSON,
        "payload": WS_PAYLOAD | JSON,
        "auth": WS_AUTH,
        "id": JSON,
    },
)
WS_MESSAGE = st.one_of(
    WS_SUBSCRIPTION.map(lambda f: ("frame", f)),
    WS_SUBSCRIPTION.map(lambda f: ("frame", f)),
    WS_FRAME.map(lambda f: ("frame", f)),
    st.text(max_size=50).map(lambda t: ("text", t)),
    JSON.map(lambda v: ("text", json.dumps(v))),
    st.binary(max_size=30).map(lambda b: ("binary", b)),
    st.sampled_from(["[" * 100_000, "NaN", '{"time": NaN, "channel": "spot.orders"}', "{}"]).map(
        lambda t: ("text", t)
    ),
)


def _ws_text(frame: dict[str, Any], now: int) -> str:
    """Resolve the placeholders: ``("now", d)`` -> now + d; ``"signed"`` -> a correct Gate signature."""
    if isinstance(frame.get("time"), tuple):
        frame["time"] = now + frame["time"][1]
    if frame.get("auth") == "signed":
        sign = sign_ws_channel(str(frame.get("channel")), str(frame.get("event")), frame.get("time"), SECRET)  # type: ignore[arg-type]
        frame["auth"] = {"method": "api_key", "KEY": KEY, "SIGN": sign}
    return json.dumps(frame)


# ---- tests --------------------------------------------------------------------------------------------
def test_fuzzed_rest_requests_get_gate_errors_never_5xx_or_tracebacks() -> None:
    cases: list[int] = []
    labels: list[str] = []
    with loopback() as lb, server_log() as log:

        @settings(
            max_examples=REST_EXAMPLES,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(request=rest_requests())
        def one(request: tuple[str, str, str, bytes | None, str, dict[str, str]]) -> None:
            method, path, query, body, auth, headers = request
            lb.clock.now += WINDOW_S + 1  # a fresh budget window for every case
            if auth in ("signed", "bad_timestamp", "tampered"):
                ts = headers.get("Timestamp", str(int(lb.clock.now)))
                sign = headers.get("SIGN")
                headers.update(signed_headers(method, path, query, body or b"", ts))
                if auth == "tampered":
                    headers["SIGN"] = sign or ""
            # Funds and liquidity back where they were, so orders keep reaching the matching engine.
            lb.sb.set_balance(KEY, "USDT", Decimal(1000))
            lb.sb.set_balance(KEY, "LINK", Decimal(10))
            lb.sb.push_book("LINK_USDT", BIDS, ASKS)
            status, raw, answer_headers = lb.run(
                raw_request(lb.session, lb.sb, method, path, query, body, headers)
            )
            cases.append(status)
            if status >= 400 and method != "HEAD":
                labels.append(json.loads(raw).get("label"))
            assert status < 500, (method, path, query, body, headers, raw[:300])
            if status >= 400 and method != "HEAD":
                assert_gate_error(status, raw, answer_headers)
            elif status < 300 and method != "HEAD":
                json.loads(raw)
            if path.startswith("/api/v4/") and status != 404:
                assert "X-Gate-RateLimit-Limit" in answer_headers, (path, status)

        one()
        ts = str(int(lb.clock.now))
        ok = lb.run(
            raw_request(
                lb.session,
                lb.sb,
                "GET",
                "/api/v4/spot/accounts",
                "",
                None,
                signed_headers("GET", "/api/v4/spot/accounts", "", b"", ts),
            )
        )
    assert ok[0] == 200 and isinstance(json.loads(ok[1]), list)
    assert log.lines() == []
    assert len(cases) == REST_EXAMPLES
    assert {200, 201, 400, 401, 404} <= set(cases)  # the cases reached the handlers, not one early refusal
    assert len(set(labels)) >= 6


def test_fuzzed_websocket_messages_get_gate_errors_and_the_connection_survives() -> None:
    cases: list[str] = []
    outcomes: set[object] = set()
    with loopback() as lb, server_log() as log:
        ws = lb.run(lb.session.ws_connect(lb.sb.ws_url))

        async def exchange(kind: str, message: Any, probe: int) -> list[dict[str, Any]]:
            if kind == "binary":
                await ws.send_bytes(message)
            else:
                await ws.send_str(message)
            await ws.send_str(json.dumps({"channel": "spot.ping", "id": probe}))
            frames: list[dict[str, Any]] = []
            while True:
                msg = await asyncio.wait_for(ws.receive(), 5)
                assert msg.type == aiohttp.WSMsgType.TEXT, msg
                frame = json.loads(msg.data)
                if frame.get("channel") == "spot.pong" and frame.get("id") == probe:
                    return frames
                frames.append(frame)

        @settings(
            max_examples=WS_EXAMPLES,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(message=WS_MESSAGE)
        def one(message: tuple[str, Any]) -> None:
            kind, value = message
            text = _ws_text(value, int(lb.clock.now)) if kind == "frame" else value
            probe = 10**12 + len(cases)
            frames = lb.run(exchange("binary" if kind == "binary" else "text", text, probe))
            cases.append(kind)
            for frame in frames:
                assert isinstance(frame, dict) and {"time", "channel", "event"} <= set(frame), frame
                error = frame.get("error")
                outcomes.add("ok" if error is None else error.get("code"))
                if error is None:
                    continue
                assert error["code"] in (1, 2, 4) and isinstance(error["message"], str) and error["message"]
                if error["code"] == 4:
                    assert json.loads(error["message"])["label"] in GATE_LABELS, error

        one()
        assert not ws.closed
        lb.run(ws.close())
        now = int(lb.clock.now)
        frame = {
            "time": now,
            "channel": "spot.orders",
            "event": "subscribe",
            "payload": ["LINK_USDT"],
            "auth": {
                "method": "api_key",
                "KEY": KEY,
                "SIGN": sign_ws_channel("spot.orders", "subscribe", now, SECRET),
            },
        }

        async def subscribe() -> dict[str, Any]:
            async with lb.session.ws_connect(lb.sb.ws_url) as fresh:
                await fresh.send_json(frame)
                return json.loads((await asyncio.wait_for(fresh.receive(), 5)).data)  # type: ignore[no-any-return]

        ack = lb.run(subscribe())
    assert ack["result"] == {"status": "success"}, ack
    assert log.lines() == []
    assert len(cases) == WS_EXAMPLES
    assert outcomes == {"ok", 1, 2, 4}  # acks and each kind of error were reached
