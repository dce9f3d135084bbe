"""A live venue's balances reach arb exactly as the venue wrote them. ccxt adds a balance's parts up exactly
(``Precise``, on strings) and then hands them out as floats, ~16 significant digits: a desk holding
12,345,678,901.123456789012 USDT on Gate read 12,345,678,901.123457, and ``arb run`` printed an external
flow of 0.00005 USDT that never happened (the inventory check compares the balances with the fills)."""

from __future__ import annotations

import asyncio
import decimal
from decimal import Decimal as D

from execution.sandbox_rig import KEY, SECRET, live_gate, sandbox_config

from arb.venues.gate.exchange import GateExchange
from arb.venues.gate.sandbox import Account, PairSpec, Sandbox, SandboxConfig
from arb.venues.gate.sandbox.contracts import ContractSpec
from arb.venues.generic.adapter import ccxt_class

HELD = {"USDT": D("12345678901.123456789012"), "LINK": D("98765432109.87654321")}


def test_a_gate_accounts_balances_to_the_last_unit_through_ccxts_gate_client() -> None:
    async def read() -> dict[str, tuple[D, D]]:
        async with Sandbox(sandbox_config(accounts=(Account(KEY, SECRET, HELD),))) as sb, \
                live_gate("gate", sb) as gate:
            return {asset: (b.free, b.used) for asset, b in (await gate.balances()).items()}

    assert asyncio.run(read()) == {asset: (amount, D(0)) for asset, amount in HELD.items()}


def test_every_ccxt_class_arb_opens_hands_out_exact_balances_and_keeps_its_floats_elsewhere() -> None:
    exchange = ccxt_class("binance")()
    balance = exchange.safe_balance({"info": {}, "USDT": {"free": "12345678901.123456789012", "used": "0.5"}})
    assert (balance["free"]["USDT"], balance["total"]["USDT"]) == ("12345678901.123456789012", "12345678901.623456789012")
    assert exchange.number is float  # ccxt.pro's books sort their prices as numbers
    assert isinstance(exchange.parse_number("1.5"), float)


def test_a_perpetual_wallets_balance_is_as_exact_after_a_fill() -> None:
    wallet = D("12345678901.123456789012345678")  # 29 digits: past the default context too

    async def trade() -> dict[str, dict[str, object]]:
        config = SandboxConfig(accounts=(Account("k", "s", {}, futures={"USDT": wallet}),),
                               pairs=(PairSpec("ETH_USDT", precision=2, amount_precision=4),),
                               contracts=(ContractSpec("ETH_USDT", leverage=D(5)),))
        async with Sandbox(config) as sb:
            sb.push_book("usdt:ETH_USDT", [("2600", "5")], [("2601", "5")])
            perp = GateExchange.for_endpoint(sb.rest_url, None, "k", "s", enableRateLimit=False,
                                             options={"fetchMarkets": {"types": ["swap"]}, "defaultType": "swap"})
            try:
                await perp.load_markets()
                await perp.create_order("ETH/USDT:USDT", "limit", "sell", 3, 2600,
                                        {"text": "t-open", "timeInForce": "IOC"})
                return await perp.fetch_balance()
            finally:
                await perp.close()

    balance = asyncio.run(trade())
    # 3 contracts x 0.01 ETH x 2600 / leverage 5 held; 0.0005 x 78 USDT fee paid out of the wallet
    wide = decimal.Context(prec=100)  # the test's own arithmetic
    assert (balance["used"]["USDT"], balance["total"]["USDT"]) == ("15.6", str(wide.subtract(wallet, D("0.039"))))
    assert D(balance["free"]["USDT"]) == wide.subtract(wallet, D("15.639"))
