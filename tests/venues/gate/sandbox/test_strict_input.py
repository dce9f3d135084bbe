"""Issue 32: the sandbox refuses what Gate would never serve, survives what it accepts, and is quiet about
clients that go away.

Each test reproduces a report: ``arb sandbox`` starting on a pair, balance or mid it then served as a 500,
NaN or a book priced at or below zero; the control API taking ``{"available": "NaN"}`` and
``{"shift_s": 1e308}`` (which killed the random walk for good); a client half-closing mid-body logged as an
unexpected error with a traceback.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from arb.cli import build_parser
from arb.venues.gate.sandbox import RandomWalkFeed, Sandbox
from arb.venues.gate.sandbox.command import MIN_MID
from arb.venues.gate.sandbox.config import Faults
from arb.venues.gate.sandbox.feeds import random_walk
from arb.venues.gate.sandbox.values import MAX_CLOCK_OFFSET_S, MAX_COUNT, MAX_DELAY_S

from .conftest import KEY, FakeClock, make_config
from .hostile import signed_headers

NOW = 1_700_000_000
BIG = "1000000000000000"  # values.MAX_AMOUNT, the largest amount or price the sandbox holds
ORDERS = "/api/v4/spot/orders"


# ---- arb sandbox's arguments ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "argument"),
    [
        (["--pair", "LINKUSDT"], "--pair"),
        (["--pair", ""], "--pair"),
        (["--pair", "link_usdt"], "--pair"),
        (["--pair", "LINK_USDT_X"], "--pair"),
        (["--pair", "LINK_LINK"], "--pair"),
        (["--balance", "USDT=nan"], "--balance"),
        (["--balance", "USDT=NaN"], "--balance"),
        (["--balance", "USDT=Infinity"], "--balance"),
        (["--balance", "USDT=-5"], "--balance"),
        (["--balance", "USDT=1e3"], "--balance"),
        (["--balance", "USDT=1e400"], "--balance"),
        (["--balance", "USDT=10000000000000001"], "--balance"),
        (["--balance", "USDT="], "--balance"),
        (["--balance", "USDT"], "--balance"),
        (["--balance", "=5"], "--balance"),
        (["--balance", "us dt=5"], "--balance"),
        (["--mid", "-5"], "--mid"),
        (["--mid", "0"], "--mid"),
        (["--mid", "0.0005"], "--mid"),  # the random walk's lowest bid would be priced below 0
        (["--mid", "nan"], "--mid"),
        (["--mid", "Infinity"], "--mid"),
        (["--mid", "1e300"], "--mid"),
        (["--fee", "-0.002"], "--fee"),
        (["--fee", "1"], "--fee"),
    ],
)
def test_bad_pair_balance_mid_or_fee_is_one_usage_line_and_exit_2(
    argv: list[str], argument: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:  # the parser's: before, these parsed and the sandbox started
        build_parser().parse_args(["sandbox", "--port", "0", *argv])
    assert exit_.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert err.startswith(f"arb sandbox: error: argument {argument}: ") and "Traceback" not in err


def test_valid_arguments_are_taken_exactly() -> None:
    from arb.commands.sandbox import sandbox_config

    args = build_parser().parse_args(
        [
            "sandbox",
            "--pair",
            "1INCH_USDT",
            "--balance",
            "USDT=0",
            "--balance",
            "1INCH=" + BIG,
            "--mid",
            "0.021",
        ]
    )
    config = sandbox_config(args)[0]
    assert config.pairs[0].id == "1INCH_USDT"
    assert dict(config.accounts[0].balances) == {"USDT": Decimal(0), "1INCH": Decimal(BIG)}
    feed = config.feeds[0]
    assert isinstance(feed, RandomWalkFeed) and feed.mid == MIN_MID == Decimal("0.021")


def test_the_random_walk_never_prices_a_level_at_or_below_zero() -> None:
    """From the lowest mid ``arb sandbox`` takes, a long walk drifts down and back: its bids stay above 0."""
    for seed in range(5):
        feed = RandomWalkFeed("LINK_USDT", mid=MIN_MID, seed=seed)
        for event in itertools.islice(random_walk(feed), 3000):
            assert min(p for p, _ in event.bids) > 0 and event.bids[0][0] < event.asks[0][0]


# ---- the control API ------------------------------------------------------------------------------------
@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    async with Sandbox(make_config(clock=FakeClock(NOW))) as sandbox:
        sandbox.push_book("LINK_USDT", [("27.0", "10")], [("27.2", "10")])
        yield sandbox


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def state(sb: Sandbox) -> tuple[object, ...]:
    """Everything the control API can change."""
    f = sb.faults
    balances = {c: (b.available, b.locked) for c, b in sb.engine.balances[KEY].items()}
    book = sb.engine.books["LINK_USDT"]
    return (
        sb.now_s(),
        balances,
        book.update_id,
        sorted(book.bids.items()),
        sorted(book.asks.items()),
        f.latency_s,
        f.fraction_429,
        f.fraction_5xx,
        f.drop_order_responses,
        f.order_response_delay_s,
        f.freeze_book,
    )


def balance(available: object, **fields: object) -> dict[str, object]:
    return {"key": KEY, "currency": "USDT", "available": available, **fields}


REFUSED: list[tuple[str, object]] = [
    # what the report found: taken with 200, then a 500 on the next order or on every request
    ("/_sandbox/balance", balance("NaN")),
    ("/_sandbox/clock", {"shift_s": 1e308}),
    # balances: plain amounts in [0, 1e15], of a known account, in a Gate currency
    ("/_sandbox/balance", balance("Infinity")),
    ("/_sandbox/balance", balance("-5")),
    ("/_sandbox/balance", balance("1e3")),
    ("/_sandbox/balance", balance("1e400")),
    ("/_sandbox/balance", balance(10**16)),
    ("/_sandbox/balance", balance(-1)),
    ("/_sandbox/balance", balance(True)),
    ("/_sandbox/balance", balance(None)),
    ("/_sandbox/balance", balance("100", key="nobody")),
    ("/_sandbox/balance", balance("100", currency="usdt")),
    ("/_sandbox/balance", balance("100", currency="")),
    ("/_sandbox/balance", balance("100", currency=["USDT"])),
    # the clock: finite seconds, never more than a year from the injected clock in total
    ("/_sandbox/clock", {"shift_s": -1e308}),
    ("/_sandbox/clock", {"shift_s": MAX_CLOCK_OFFSET_S + 1}),
    ("/_sandbox/clock", {"shift_s": -MAX_CLOCK_OFFSET_S - 1}),
    ("/_sandbox/clock", {"shift_s": "1e308"}),
    ("/_sandbox/clock", {"shift_s": True}),
    ("/_sandbox/clock", {"shift_s": 10**400}),
    # fault knobs: bounded delays and counts, fractions in [0, 1], JSON booleans; all or nothing
    ("/_sandbox/faults", {"latency_s": 1e308}),
    ("/_sandbox/faults", {"latency_s": MAX_DELAY_S + 1}),
    ("/_sandbox/faults", {"order_response_delay_s": 1e9}),
    ("/_sandbox/faults", {"order_response_delay_s": -1}),
    ("/_sandbox/faults", {"drop_order_responses": 10**9}),
    ("/_sandbox/faults", {"drop_order_responses": -1}),
    ("/_sandbox/faults", {"drop_order_responses": 1.5}),
    ("/_sandbox/faults", {"drop_order_responses": True}),
    ("/_sandbox/faults", {"freeze_book": "false"}),  # bool("false") froze the book
    ("/_sandbox/faults", {"freeze_book": 1}),
    ("/_sandbox/faults", {"fraction_429": True}),
    ("/_sandbox/faults", {"latency_s": 1, "fraction_5xx": 2}),  # the valid knob is not set either
    # book levels: prices in (0, 1e15], sizes in [0, 1e15]
    ("/_sandbox/book", {"pair": "LINK_USDT", "bids": [["1e400", "1"]]}),
    ("/_sandbox/book", {"pair": "LINK_USDT", "bids": [["27", "1e400"]]}),
    ("/_sandbox/book", {"pair": "LINK_USDT", "asks": [["10000000000000001", "1"]]}),
    ("/_sandbox/book", {"pair": "LINK_USDT", "asks": [["0", "1"]]}),
    ("/_sandbox/book", {"pair": "LINK_USDT", "asks": [["27", "-1"]]}),
    ("/_sandbox/book", {"pair": "LINK_USDT", "asks": [[True, "1"]]}),
]


@pytest.mark.parametrize(("path", "body"), REFUSED)
async def test_control_api_refuses_non_finite_or_absurd_input_with_400_and_changes_nothing(
    sb: Sandbox, session: aiohttp.ClientSession, path: str, body: object
) -> None:
    before = state(sb)
    async with session.post(sb.base_url + path, data=json.dumps(body)) as resp:
        answer = await resp.json()
    assert resp.status == 400 and answer["label"] == "INVALID_PARAM_VALUE" and answer["message"], answer
    assert state(sb) == before


def test_fault_knobs_are_checked_before_any_is_set() -> None:
    faults = Faults()
    with pytest.raises(ValueError, match="fraction_5xx"):
        faults.update({"latency_s": 1.0, "fraction_5xx": 2})
    assert (faults.latency_s, faults.fraction_5xx) == (0.0, 0.0)


async def post(session: aiohttp.ClientSession, sb: Sandbox, path: str, body: object) -> Any:
    async with session.post(sb.base_url + path, json=body) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def signed(
    session: aiohttp.ClientSession, sb: Sandbox, method: str, path: str, body: dict[str, str] | None = None
) -> tuple[int, Any]:
    """A request signed at the sandbox's own time, wherever its clock was moved."""
    raw = json.dumps(body).encode() if body is not None else b""
    headers = signed_headers(method, path, "", raw, str(int(sb.now_s())))
    async with session.request(method, sb.base_url + path, data=raw or None, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_the_sandbox_serves_on_after_every_extreme_change_it_accepts(
    sb: Sandbox, session: aiohttp.ClientSession
) -> None:
    await post(
        session,
        sb,
        "/_sandbox/faults",
        {
            "latency_s": MAX_DELAY_S,
            "order_response_delay_s": MAX_DELAY_S,
            "fraction_429": 1,
            "fraction_5xx": 1,
            "drop_order_responses": MAX_COUNT,
            "freeze_book": True,
        },
    )
    await post(
        session,
        sb,
        "/_sandbox/faults",
        {
            "latency_s": 0,
            "order_response_delay_s": "0",
            "fraction_429": 0,
            "fraction_5xx": 0,
            "drop_order_responses": 0,
            "freeze_book": False,
        },
    )
    for shift in (
        MAX_CLOCK_OFFSET_S,
        -MAX_CLOCK_OFFSET_S,
        -MAX_CLOCK_OFFSET_S,
    ):  # to +a year, back, to -a year
        await post(session, sb, "/_sandbox/clock", {"shift_s": shift})
        assert sb.now_s() == NOW + sb.clock_offset_s
    await post(session, sb, "/_sandbox/balance", balance(BIG))
    await post(session, sb, "/_sandbox/balance", balance("0", currency="LINK"))
    await post(
        session, sb, "/_sandbox/book", {"pair": "LINK_USDT", "bids": [["0.001", BIG]], "asks": [[BIG, BIG]]}
    )

    status, order = await signed(
        session,
        sb,
        "POST",
        ORDERS,
        {"currency_pair": "LINK_USDT", "side": "buy", "amount": "1", "price": BIG, "time_in_force": "ioc"},
    )
    assert status == 201 and order["status"] == "closed" and order["filled_amount"] == "1", order
    async with session.get(sb.rest_url + "/spot/order_book?currency_pair=LINK_USDT") as resp:
        book = await resp.json()
    assert (
        resp.status == 200 and book["bids"] == [["0.001", BIG]] and book["asks"] == [[BIG, "999999999999999"]]
    )
    assert book["current"] == (NOW - MAX_CLOCK_OFFSET_S) * 1000
    status, accounts = await signed(session, sb, "GET", "/api/v4/spot/accounts")
    assert status == 200 and {a["currency"]: a["available"] for a in accounts} == {
        "LINK": "0.998",
        "USDT": "0",
    }


async def test_the_random_walk_keeps_moving_after_a_refused_shift_a_shift_and_its_reversal(
    session: aiohttp.ClientSession,
) -> None:
    """A 1e308 shift was taken and killed the walk's task on its next step (an overflow), for good."""
    walk = RandomWalkFeed("LINK_USDT", mid=Decimal("27.1"), levels=3, step_s=0.01)
    async with Sandbox(make_config(clock=FakeClock(NOW), feeds=(walk,))) as sb:
        async with session.ws_connect(sb.ws_url) as ws:
            await ws.send_str(
                json.dumps({"channel": "spot.obu", "event": "subscribe", "payload": ["ob.LINK_USDT.3"]})
            )

            async def updates_after(update_id: int) -> list[dict[str, Any]]:
                """Two book updates published after ``update_id``: the walk is still stepping."""
                seen: list[dict[str, Any]] = []
                while len(seen) < 2:
                    frame = json.loads((await asyncio.wait_for(ws.receive(), 10)).data)
                    if frame.get("event") == "update" and frame["result"]["u"] > update_id:
                        seen.append(frame["result"])
                return seen

            async with session.post(sb.base_url + "/_sandbox/clock", json={"shift_s": 1e308}) as resp:
                assert resp.status == 400
            await updates_after(sb.engine.books["LINK_USDT"].update_id)
            await post(session, sb, "/_sandbox/clock", {"shift_s": MAX_CLOCK_OFFSET_S})
            shifted = [u["t"] for u in await updates_after(sb.engine.books["LINK_USDT"].update_id)]
            assert shifted == [(NOW + MAX_CLOCK_OFFSET_S) * 1000] * 2
            await post(session, sb, "/_sandbox/clock", {"shift_s": -MAX_CLOCK_OFFSET_S})
            await updates_after(sb.engine.books["LINK_USDT"].update_id)
            assert sb.now_s() == NOW


# ---- clients that go away -------------------------------------------------------------------------------
class Records(logging.Handler):
    """Every record from any logger while installed; ``quiet`` is set by the sandbox's disconnect line."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.disconnect_logged = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        if record.name.startswith("arb.venues.gate.sandbox") and "closed the connection" in record.getMessage():
            self.disconnect_logged.set()


@pytest.mark.parametrize("path", [ORDERS, "/_sandbox/balance", "/_sandbox/book"])
@pytest.mark.parametrize(
    ("framing", "partial"),
    [("Content-Length: 100", b'{"currency_pair": "LINK'), ("Transfer-Encoding: chunked", b'40\r\n{"key": ')],
)
async def test_a_client_half_closing_mid_body_is_one_debug_line_not_an_error(
    sb: Sandbox, path: str, framing: str, partial: bytes
) -> None:
    records = Records()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(records)
    root.setLevel(logging.DEBUG)
    try:
        reader, writer = await asyncio.open_connection(sb.config.host, sb.port)
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
        writer.write(head.encode() + partial)
        await writer.drain()
        writer.write_eof()  # shut down the write side, mid-body
        assert await asyncio.wait_for(reader.read(), 5) == b""  # nobody left to answer: closed unanswered
        writer.close()
        await asyncio.wait_for(records.disconnect_logged.wait(), 5)
    finally:
        root.removeHandler(records)
        root.setLevel(old_level)
    bad = [
        f"{r.name} {r.levelname}: {r.getMessage()}"
        for r in records.records
        if r.levelno >= logging.WARNING or r.exc_info
    ]
    assert bad == []
    assert len([r for r in records.records if r.name.startswith("arb")]) == 1
    async with aiohttp.ClientSession() as s, s.get(sb.rest_url + "/spot/time") as resp:  # still serving
        assert resp.status == 200
