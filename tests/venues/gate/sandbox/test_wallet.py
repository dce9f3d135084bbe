"""A live transfer's path on Gate, over loopback against two sandboxes, through the real ``GateExchange`` (arb's
signer) behind :class:`GateTransfers`: USDT withdrawn from A to B's deposit address leaves A at once (amount + fee)
and is credited to B when A's clock reaches its arrival; Gate's refusals arrive as arb's errors with Gate's labels
and move nothing; a withdrawal is found again by its client id; spot <-> futures within one account."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import aiohttp
import pytest

import arb.errors as arb
from arb.venues.gate.exchange import GateExchange
from arb.venues.gate.sandbox import Account, PairSpec, Sandbox, SandboxConfig
from arb.venues.gate.sandbox.contracts import futures_account
from arb.venues.gate.sandbox.wallet import WalletConfig, WalletCurrency
from arb.venues.gate.transfers import GateTransfers
from arb.venues.transfers import TransferStatus, address_variable, credited, destination_address

D = Decimal
DELAY_S = 30.0
USDT = WalletCurrency("USDT", {"TRX": D(1), "ETH": D("4.5")}, minimum=D(2), each_time_limit=D(5000))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _config(key: str, usdt: str) -> SandboxConfig:
    return SandboxConfig(accounts=(Account(key, key + "-secret", {"USDT": D(usdt)}, futures={"USDT": D(50)}),),
                         pairs=(PairSpec("LINK_USDT"),), clock=FakeClock(),
                         wallet=WalletConfig((USDT,), arrival_delay_s=DELAY_S))


@dataclass
class Side:
    sandbox: Sandbox
    key: str
    transfers: GateTransfers

    def usdt(self) -> Decimal:
        return self.sandbox.engine.balance(self.key, "USDT").available


@pytest.fixture
async def venues() -> AsyncIterator[tuple[Side, Side]]:
    async with Sandbox(_config("ka", "1000")) as a, Sandbox(_config("kb", "10"), peers=[a]) as b:
        sides = []
        for sb, key in ((a, "ka"), (b, "kb")):
            exchange = GateExchange.for_endpoint(sb.rest_url, None, key, key + "-secret", enableRateLimit=False)
            sides.append(Side(sb, key, GateTransfers(exchange, "gate-" + key)))
        try:
            yield sides[0], sides[1]
        finally:
            for side in sides:
                await side.transfers.exchange.close()


async def test_a_withdrawal_leaves_at_once_and_is_credited_to_the_peer_after_the_delay(
        venues: tuple[Side, Side]) -> None:
    a, b = venues
    target = await b.transfers.deposit_address("USDT", "TRX")
    assert target.address != (await b.transfers.deposit_address("USDT", "ETH")).address  # one per chain
    sent = await a.transfers.withdraw("USDT", D("100.5"), target.address, "TRX", "rb-1")
    assert (sent.amount, sent.fee, sent.status, sent.client_id, sent.network) == (
        D("100.5"), D(1), TransferStatus.PENDING, "rb-1", "TRX")
    assert a.usdt() == D("898.5")  # 1000 - 100.5 - the chain's fee of 1, at once
    a.sandbox.shift_clock(DELAY_S - 1)
    assert await b.transfers.deposits("USDT") == () and b.usdt() == 10  # under way
    a.sandbox.shift_clock(1)  # A's clock reaches the arrival: delivered to B, whose clock has not moved
    [deposit] = await b.transfers.deposits("USDT")
    assert (deposit.amount, deposit.address, deposit.status, deposit.network) == (
        D("100.5"), target.address, TransferStatus.DONE, "TRX")
    assert b.usdt() == D("110.5")  # the amount, less nothing: the fee was A's
    done = await a.transfers.withdrawal(client_id="rb-1")
    assert done is not None and done.status is TransferStatus.DONE and done.venue_id == sent.venue_id
    assert credited(done, [deposit]) == deposit and credited(sent, [deposit]) is None  # by txid, once sent
    assert await a.transfers.withdrawal(venue_id=sent.venue_id) == done
    assert await a.transfers.withdrawal(client_id="rb-unknown") is None
    assert a.usdt() == D("898.5")


async def test_the_peer_sees_an_arrival_when_it_is_asked_first(venues: tuple[Side, Side]) -> None:
    """B's own request catches up on what its peers sent by their clocks: no order of asking loses a deposit."""
    a, b = venues
    target = await b.transfers.deposit_address("USDT", "ETH")
    await a.transfers.withdraw("USDT", D(20), target.address, "ETH", "rb-2")
    assert a.usdt() == D("975.5")
    a.sandbox.clock_offset_s += DELAY_S  # A's clock moved with nothing run (as wall time passes)
    assert [d.amount for d in await b.transfers.deposits()] == [D(20)]


async def test_the_control_api_clock_delivers(venues: tuple[Side, Side]) -> None:
    a, b = venues
    target = await b.transfers.deposit_address("USDT", "TRX")
    await a.transfers.withdraw("USDT", D(5), target.address, "TRX", "rb-3")
    async with aiohttp.ClientSession() as http:
        answer = await http.post(a.sandbox.base_url + "/_sandbox/clock", json={"shift_s": DELAY_S})
        assert answer.status == 200
    assert b.usdt() == 15


async def test_withdrawal_terms_per_chain(venues: tuple[Side, Side]) -> None:
    a, _ = venues
    terms = {t.network: t for t in await a.transfers.withdrawal_terms("USDT")}
    assert {n: (t.fee, t.minimum, t.maximum, t.fee_rate) for n, t in terms.items()} == {
        "TRX": (D(1), D(2), D(5000), D(0)), "ETH": (D("4.5"), D(2), D(5000), D(0))}
    with pytest.raises(arb.BadSymbol) as refused:
        await a.transfers.withdrawal_terms("DOGE")
    assert refused.value.label == "INVALID_CURRENCY"


# (what is asked, the arb error, Gate's label)
REFUSALS = [
    ({"amount": D("999.01")}, arb.InsufficientFunds, "BALANCE_NOT_ENOUGH"),  # the fee of 1 on top does not fit
    ({"asset": "DOGE"}, arb.BadSymbol, "INVALID_CURRENCY"),
    ({"address": "TXnotwhitelisted000000000000000000"}, arb.TransferRefused, "ADDRESS_NOT_USED"),
    ({"network": "ETH"}, arb.TransferRefused, "ADDRESS_NOT_USED"),  # B's TRX address is not its ETH one
    ({"network": "SOL"}, arb.InvalidOrder, "INVALID_PARAM_VALUE"),
    ({"amount": D("1.5")}, arb.InvalidOrder, "AMOUNT_TOO_LITTLE"),
    ({"amount": D(5001)}, arb.TransferRefused, "WITHDRAWAL_OVER_LIMIT"),
]


@pytest.mark.parametrize(("asked", "error", "label"), REFUSALS, ids=[r[2] + str(i) for i, r in enumerate(REFUSALS)])
async def test_refusals_carry_gates_label_and_move_nothing(
        venues: tuple[Side, Side], asked: dict[str, object], error: type[arb.VenueError], label: str) -> None:
    a, b = venues
    a.sandbox.set_balance("ka", "USDT", "1000")
    target = await b.transfers.deposit_address("USDT", "TRX")
    request: dict[str, object] = {"asset": "USDT", "amount": D(100), "address": target.address, "network": "TRX",
                                  "client_id": "rb-refused", **asked}
    with pytest.raises(error) as refused:
        await a.transfers.withdraw(**request)  # type: ignore[arg-type]  # the table's values, typed per key
    assert type(refused.value) is error and refused.value.label == label and not refused.value.retryable
    assert a.usdt() == 1000 and a.sandbox.wallet.withdrawals == []
    assert await a.transfers.withdrawal(client_id="rb-refused") is None


async def test_a_client_id_moves_money_once(venues: tuple[Side, Side]) -> None:
    """Sent again with the same id (as after a lost answer), Gate's sandbox refuses it: the first is looked up."""
    a, b = venues
    target = await b.transfers.deposit_address("USDT", "TRX")
    first = await a.transfers.withdraw("USDT", D(10), target.address, "TRX", "rb-once")
    with pytest.raises(arb.InvalidOrder) as again:
        await a.transfers.withdraw("USDT", D(10), target.address, "TRX", "rb-once")
    assert again.value.label == "INVALID_PARAM_VALUE"
    assert a.usdt() == 989
    found = await a.transfers.withdrawal(client_id="rb-once")
    assert found is not None and found.venue_id == first.venue_id
    with pytest.raises(arb.InvalidOrder):  # not Gate's withdraw_order_id: refused before it is sent
        await a.transfers.withdraw("USDT", D(10), target.address, "TRX", "rb once")
    assert len(a.sandbox.wallet.withdrawals) == 1


async def test_spot_and_futures_wallets_move_within_one_account(venues: tuple[Side, Side]) -> None:
    a, _ = venues
    futures = a.sandbox.engine.balance(futures_account("ka"), "USDT")
    moved = await a.transfers.move("USDT", D("120.25"), "spot", "futures")
    assert (moved.amount, moved.source, moved.destination) == (D("120.25"), "spot", "futures")
    assert moved.venue_id is not None
    assert (a.usdt(), futures.available) == (D("879.75"), D("170.25"))
    await a.transfers.move("USDT", D("0.25"), "futures", "spot")
    assert (a.usdt(), futures.available) == (D(880), D(170))
    with pytest.raises(arb.InsufficientFunds) as short:
        await a.transfers.move("USDT", D(171), "futures", "spot")
    assert short.value.label == "FUTURES_BALANCE_NOT_ENOUGH"
    with pytest.raises(arb.InsufficientFunds) as short:
        await a.transfers.move("USDT", D(881), "spot", "futures")
    assert short.value.label == "BALANCE_NOT_ENOUGH"
    with pytest.raises(arb.InvalidOrder) as other:
        await a.transfers.move("LINK", D(1), "spot", "futures")  # the futures wallet settles in USDT only
    assert other.value.label == "INVALID_PARAM_VALUE"
    assert (a.usdt(), futures.available) == (D(880), D(170))


async def test_wallet_endpoints_are_private(venues: tuple[Side, Side]) -> None:
    a, _ = venues
    async with aiohttp.ClientSession() as http:
        for method, path in (("GET", "/wallet/deposits"), ("GET", "/wallet/deposit_address?currency=USDT"),
                             ("POST", "/withdrawals"), ("POST", "/wallet/transfers")):
            answer = await http.request(method, a.sandbox.rest_url + path, json={})
            assert answer.status == 401, path
            assert (await answer.json())["label"] == "MISSING_REQUIRED_HEADER"


def test_the_destination_address_comes_from_the_environment_named_per_venue_asset_and_network() -> None:
    variable = address_variable("gate-b", "USDT", "TRX")
    assert variable == "ARB_GATE_B_USDT_TRX_ADDRESS"
    with pytest.raises(arb.ConfigError) as missing:
        destination_address("gate-b", "USDT", "TRX", {})
    assert str(missing.value).startswith("environment: ARB_GATE_B_USDT_TRX_ADDRESS: not set")
    assert "\n" not in str(missing.value)
    found = destination_address("gate-b", "USDT", "TRX", {variable: " TAddr ", "ARB_GATE_B_USDT_TRX_MEMO": "42"})
    assert (found.address, found.memo, found.network) == ("TAddr", "42", "TRX")


async def test_on_wall_time_the_sandbox_delivers_with_nobody_asking() -> None:
    """The sandbox's timer (the one its dead man's switches fire on) delivers at the arrival time by itself."""
    def config(key: str) -> SandboxConfig:
        return SandboxConfig(accounts=(Account(key, key + "-secret", {"USDT": D(100)}),), pairs=(PairSpec("LINK_USDT"),),
                             wallet=WalletConfig((USDT,), arrival_delay_s=0.05))

    async with Sandbox(config("ka")) as a, Sandbox(config("kb"), peers=[a]) as b:
        exchange = GateExchange.for_endpoint(a.rest_url, None, "ka", "ka-secret", enableRateLimit=False)
        try:
            await GateTransfers(exchange).withdraw("USDT", D(10), b.wallet.addresses[("kb", "USDT", "TRX")], "TRX", "w1")
        finally:
            await exchange.close()
        async with asyncio.timeout(5):
            while not b.wallet.deposits:  # waits on the condition; no request is made meanwhile
                await asyncio.sleep(0.01)
        assert b.engine.balance("kb", "USDT").available == 110


async def test_an_opened_gate_venue_gives_its_accounts_transfers(venues: tuple[Side, Side]) -> None:
    """``for_venue`` finds the GateExchange holding the key under the venue's wrappers."""
    from arb.venues.gate.adapter import live_venue
    from arb.venues.gate.transfers import for_venue

    a, b = venues

    @dataclass
    class Wrapper:  # a guard, a budget or a renaming, each holding the venue it wraps as ``inner``
        inner: object

    transfers = for_venue(Wrapper(Wrapper(live_venue("gate-a", a.transfers.exchange))), "gate-a")
    assert transfers.exchange is a.transfers.exchange and transfers.name == "gate-a"
    target = await b.transfers.deposit_address("USDT", "TRX")
    assert (await transfers.withdraw("USDT", D(3), target.address, "TRX", "rb-venue")).amount == 3
    with pytest.raises(ValueError, match="gate-x: no Gate exchange"):
        for_venue(Wrapper(object()), "gate-x")
