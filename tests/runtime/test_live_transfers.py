"""The live transfer executor (``arb/runtime/live_transfers.py``) against two Gate sandboxes over loopback, no
engine: a plan's amount less its fee is withdrawn to the destination's address from the environment and followed
until credited; an answer that proves nothing is followed by a look-up by client id, never a second withdrawal
(found: followed as usual; not found: unknown, nothing resent); a refusal is a failure and moves nothing; the
venue's terms are read. Waits are the sandbox's clock moved (an injected sleep), never real time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal

import pytest

from arb.errors import TransientVenueError
from arb.rebalance import Plan
from arb.runtime.live_transfers import LiveTransfers, TransferFailed, TransferUnknown
from arb.venues.gate.exchange import GateExchange
from arb.venues.gate.sandbox import Account, PairSpec, Sandbox, SandboxConfig
from arb.venues.gate.sandbox.wallet import WalletConfig
from arb.venues.gate.transfers import GateTransfers
from arb.venues.transfers import Withdrawal, address_variable

D = Decimal
DELAY_S = 30.0
POLL_S = 5.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class Lost(GateTransfers):
    """A withdrawal whose answer is lost: sent (``reaches``) or not, the caller hears a timeout."""

    reaches = True

    async def withdraw(self, asset: str, amount: Decimal, address: str, network: str, client_id: str,
                       memo: str | None = None) -> Withdrawal:
        if self.reaches:
            await super().withdraw(asset, amount, address, network, client_id, memo)
        raise TransientVenueError(self.name, "timed out")


@dataclass
class Rig:
    a: Sandbox
    b: Sandbox
    transfers: LiveTransfers
    waited: list[float]

    def usdt(self, sandbox: Sandbox, key: str) -> Decimal:
        return sandbox.engine.balance(key, "USDT").available


def _config(key: str, usdt: str) -> SandboxConfig:
    return SandboxConfig(accounts=(Account(key, key + "-secret", {"USDT": D(usdt)}),), pairs=(PairSpec("LINK_USDT"),),
                         clock=FakeClock(), wallet=WalletConfig(arrival_delay_s=DELAY_S))


@asynccontextmanager
async def _rig(case: str = "answered") -> AsyncIterator[Rig]:
    async with Sandbox(_config("ka", "1000")) as a, Sandbox(_config("kb", "10"), peers=[a]) as b:
        exchanges = [GateExchange.for_endpoint(sb.rest_url, None, key, key + "-secret", enableRateLimit=False)
                     for sb, key in ((a, "ka"), (b, "kb"))]
        source = (GateTransfers if case == "answered" else Lost)(exchanges[0], "a")
        if isinstance(source, Lost):
            source.reaches = case == "lost"
        address = (await GateTransfers(exchanges[1], "b").deposit_address("USDT", "TRX")).address
        waited: list[float] = []

        async def sleep(seconds: float) -> None:  # the run's clock moving: the sending sandbox's
            waited.append(seconds)
            a.shift_clock(seconds)

        live = LiveTransfers({"a": source, "b": GateTransfers(exchanges[1], "b")},
                             {address_variable("b", "USDT", "TRX"): address}, poll_s=POLL_S, sleep=sleep)
        try:
            yield Rig(a, b, live, waited)
        finally:
            for exchange in exchanges:
                await exchange.close()


def _plan(amount: str = "101", fee: str = "1") -> Plan:
    return Plan("USDT", D(amount), "a", "b", D(fee), D(2), "TRX", 0, 0, "b below its band")


@pytest.mark.parametrize("case", ["answered", "lost", "lost-unsent"])
async def test_a_plan_is_withdrawn_once_and_followed_until_credited(case: str) -> None:
    async with _rig(case) as rig:
        await _withdrawn_once(rig, case)


async def _withdrawn_once(rig: Rig, case: str) -> None:
    told: list[Withdrawal] = []
    client_id = rig.transfers.client_id("a", 7, 3)
    assert client_id == "arb7t3"
    if case == "lost-unsent":  # nothing reached the venue: unknown, and nothing is sent again
        with pytest.raises(TransferUnknown, match="lists no withdrawal arb7t3"):
            await rig.transfers.make(_plan(), client_id, 0, told.append)
        assert rig.a.wallet.withdrawals == [] and rig.usdt(rig.a, "ka") == 1000 and told == []
        return
    deposit = await rig.transfers.make(_plan(), client_id, 0, told.append)
    assert deposit.amount == 100  # the plan's amount less its fee was sent; the fee on top
    assert [w.client_id for w in rig.a.wallet.withdrawals] == ["arb7t3"]  # once, whatever was heard
    assert [w.venue_id for w in told] == [rig.a.wallet.withdrawals[0].id] and told[0].fee == 1
    assert rig.usdt(rig.a, "ka") == 899 and rig.usdt(rig.b, "kb") == 110
    assert sum(rig.waited) >= DELAY_S and set(rig.waited) == {POLL_S}


async def test_a_refused_withdrawal_fails_and_moves_nothing() -> None:
    async with _rig() as rig:
        with pytest.raises(TransferFailed, match="a refused the withdrawal"):
            await rig.transfers.make(_plan("5000"), "arb1t1", 0, lambda _: None)
        assert rig.a.wallet.withdrawals == [] and rig.usdt(rig.a, "ka") == 1000


async def test_the_venue_terms_and_a_missing_address() -> None:
    async with _rig() as rig:
        terms = await rig.transfers.terms("a", "USDT", "TRX")
        assert terms is not None and (terms.fee, terms.minimum) == (D(1), D(2))
        assert await rig.transfers.terms("a", "USDT", "SOL") is None
        backwards = Plan("USDT", D(10), "b", "a", D(1), D(2), "TRX", 0, 0, "a below its band")
        with pytest.raises(TransferFailed, match="ARB_A_USDT_TRX_ADDRESS: not set"):
            await rig.transfers.make(backwards, "arb1t2", 0, lambda _: None)
