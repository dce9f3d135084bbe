"""Fixtures: a sandbox on a random loopback port and stock ccxt gate clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
import pytest

from arb.venues.gate.exchange import GateExchange
from arb.venues.gate.sandbox import Account, PairSpec, Sandbox, SandboxConfig

KEY, SECRET = "test-key", "test-secret-not-real"
PAIR = PairSpec(
    "LINK_USDT",
    precision=3,
    amount_precision=2,
    min_base_amount=Decimal("0.1"),
    min_quote_amount=Decimal(1),
    taker_fee=Decimal("0.002"),
    maker_fee=Decimal("0.001"),
)
BIDS = [("27.095", "10"), ("27.090", "20"), ("27.080", "50")]
ASKS = [("27.101", "2"), ("27.105", "3"), ("27.200", "40")]


class FakeClock:
    """The sandbox's injected clock; tests move it instead of sleeping."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_config(**overrides: object) -> SandboxConfig:
    values: dict[str, object] = {
        "accounts": (Account(KEY, SECRET, {"USDT": Decimal(1000), "LINK": Decimal(10)}),),
        "pairs": (PAIR,),
    }
    values.update(overrides)
    return SandboxConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(make_config()) as sb:
        sb.push_book("LINK_USDT", BIDS, ASKS)
        yield sb


def point_at(exchange: ccxt_async.gate, sb: Sandbox) -> None:
    """Stock ccxt gate against the sandbox: every REST section at the sandbox, spot markets only."""
    for access in ("public", "private"):
        for section in exchange.urls["api"][access]:
            exchange.urls["api"][access][section] = sb.rest_url
    exchange.options["unifiedAccount"] = False
    exchange.options["fetchMarkets"] = {"types": ["spot"]}
    if "spot" in exchange.urls["api"] and isinstance(exchange.urls["api"].get("spot"), str):
        exchange.urls["api"]["spot"] = sb.ws_url


@pytest.fixture
async def gate(sandbox: Sandbox) -> AsyncIterator[ccxt_async.gate]:
    exchange = ccxt_async.gate({"apiKey": KEY, "secret": SECRET, "enableRateLimit": False})
    point_at(exchange, sandbox)
    try:
        yield exchange
    finally:
        await exchange.close()


@pytest.fixture
async def gate_pro(sandbox: Sandbox) -> AsyncIterator[ccxt_pro.gate]:
    exchange = ccxt_pro.gate({"apiKey": KEY, "secret": SECRET, "enableRateLimit": False})
    point_at(exchange, sandbox)
    try:
        yield exchange
    finally:
        await exchange.close()


# The loopback fixtures of the amend and private-stream tests (modules with their own ``sb`` or ``exchange``
# keep theirs): a sandbox on a fake clock with the LINK_USDT book, and arb's GateExchange on it.
@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    async with Sandbox(make_config(clock=FakeClock())) as sandbox:
        sandbox.push_book("LINK_USDT", BIDS, ASKS)
        yield sandbox


@pytest.fixture
async def exchange(sb: Sandbox) -> AsyncIterator[GateExchange]:
    ex = GateExchange.for_endpoint(sb.rest_url, sb.ws_url, KEY, SECRET, pairs=[PAIR.to_json()],
                                   enableRateLimit=False)
    try:
        yield ex
    finally:
        await ex.close()
