"""REST ``/api/v4`` wallet endpoints over the sandbox's wallet (``wallet.py``): deposit addresses, withdrawal
terms, withdrawals, deposits and transfers between an account's spot and futures wallets. Private: the middleware
in ``rest.py`` has authenticated the request (``key_of``) before any handler here runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from arb.venues.gate.sandbox.public import PREFIX
from arb.venues.gate.sandbox.wallet import Wallet


class WalletApi:
    def __init__(self, wallet: Wallet, key_of: Callable[[web.Request], str], now_ms: Callable[[], int],
                 read_json: Callable[[web.Request], Awaitable[dict[str, Any]]],
                 known: Callable[[str, str, str], bool], withdrawn: Callable[[], None]) -> None:
        self.wallet = wallet
        self.key_of = key_of
        self.now_ms = now_ms
        self.read_json = read_json
        self.known = known  # whether a sandbox this one knows owns (currency, chain, address)
        self.withdrawn = withdrawn  # a withdrawal was made: the sandbox's timer looks at its arrival time

    def routes(self) -> list[web.RouteDef]:
        p = PREFIX
        return [
            web.get(p + "/wallet/deposit_address", self.deposit_address),
            web.get(p + "/wallet/withdraw_status", self.withdraw_status),
            web.get(p + "/wallet/withdrawals", self.withdrawals),
            web.get(p + "/wallet/deposits", self.deposits),
            web.post(p + "/wallet/transfers", self.transfer),
            web.post(p + "/withdrawals", self.withdraw),
        ]

    async def deposit_address(self, request: web.Request) -> web.Response:
        return web.json_response(self.wallet.deposit_address(self.key_of(request), request.query.get("currency")))

    async def withdraw_status(self, request: web.Request) -> web.Response:
        return web.json_response(self.wallet.withdraw_status(self.key_of(request), request.query.get("currency"),
                                                             self.now_ms()))

    async def withdrawals(self, request: web.Request) -> web.Response:
        found = self.wallet.withdrawals_of(self.key_of(request), request.query, self.now_ms())
        return web.json_response([w.to_json() for w in found])

    async def deposits(self, request: web.Request) -> web.Response:
        found = self.wallet.deposits_of(self.key_of(request), request.query, self.now_ms())
        return web.json_response([d.to_json() for d in found])

    async def withdraw(self, request: web.Request) -> web.Response:
        req = await self.read_json(request)
        record = self.wallet.withdraw(self.key_of(request), req, self.now_ms(), self.known)
        self.withdrawn()
        # Gate answers the withdrawal's ledger record (the fee as ``fee_amount``, as its answers carry it).
        answer = record.to_json()
        answer["fee_amount"] = answer.pop("fee")
        for name in ("block_number", "fail_reason"):
            answer.pop(name)
        return web.json_response(answer)

    async def transfer(self, request: web.Request) -> web.Response:
        req = await self.read_json(request)
        return web.json_response({"tx_id": self.wallet.transfer(self.key_of(request), req)})
