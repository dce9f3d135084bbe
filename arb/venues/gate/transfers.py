"""Gate's side of a transfer (:class:`arb.venues.transfers.TransferVenue`) through :class:`GateExchange`, so every
call is signed by arb's signer on Gate's clock and refused in Gate's labels through the one error table
(``errors.py``):

- ``GET /wallet/deposit_address?currency=``: one address per chain (``multichain_addresses``);
- ``GET /wallet/withdraw_status?currency=``: fixed fee per chain (``withdraw_fix_on_chains``), percentage fee
  (``withdraw_percent_on_chains``), minimum (``withdraw_amount_mini``), per-withdrawal limit;
- ``POST /withdrawals``: ``currency``, ``amount``, ``address``, ``chain``, ``memo`` and the caller's id as
  ``withdraw_order_id``, by which ``GET /wallet/withdrawals?withdraw_order_id=`` finds it again;
- ``GET /wallet/deposits``: the deposits credited, matched to a withdrawal by txid;
- ``POST /wallet/transfers``: between the spot and the (USDT-settled) futures wallet, ``settle`` ``usdt``.

Gate's answers are read here, field by field, into exact values; ccxt's ``withdraw``/``parse_transaction`` are not
used (floats, and ccxt takes the fee out of a withdrawal's amount, which is the amount sent).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from arb.errors import BadSymbol, InvalidOrder, TransferRefused, VenueError
from arb.venues.gate.errors import translating
from arb.venues.gate.exchange import GateExchange
from arb.venues.gate.facts import WITHDRAW_IDS
from arb.venues.transfers import (
    Account,
    AccountTransfer,
    Deposit,
    DepositAddress,
    TransferStatus,
    Withdrawal,
    WithdrawalTerms,
)

# Gate's withdrawal and deposit statuses (Gate API v4, withdrawal and deposit records; ccxt's table agrees).
STATUSES: Mapping[str, TransferStatus] = {
    **dict.fromkeys(("REQUEST", "PEND", "MANUAL", "VERIFY", "PROCES", "EXTPEND", "SPLITPEND", "DMOVE", "REVIEW"),
                    TransferStatus.PENDING),
    "DONE": TransferStatus.DONE,
    "BCODE": TransferStatus.DONE,  # paid out as a GateCode
    "FAIL": TransferStatus.FAILED,
    "INVALID": TransferStatus.FAILED,
    "CANCEL": TransferStatus.CANCELLED,
}
PAGE = 500  # Gate's largest page of withdrawal and deposit records
FUTURES_SETTLE = "usdt"  # the futures wallet arb trades perpetuals from


class GateTransfers:
    """The transfer protocol for one Gate account (``exchange`` holds its key)."""

    withdraw_ids = WITHDRAW_IDS

    def __init__(self, exchange: GateExchange, name: str = "gate") -> None:
        self.exchange = exchange
        self.name = name

    async def deposit_address(self, asset: str, network: str) -> DepositAddress:
        with translating(self.name):
            answer = await self.exchange.private_wallet_get_deposit_address({"currency": asset})
        listed = answer.get("multichain_addresses") or [] if isinstance(answer, dict) else []
        for entry in listed:
            if entry.get("chain") == network and not int(entry.get("obtain_failed") or 0) and entry.get("address"):
                return DepositAddress(asset, network, str(entry["address"]), entry.get("payment_id") or None)
        chains = ", ".join(str(e.get("chain")) for e in listed) or "none"
        raise TransferRefused(self.name, f"no {asset} deposit address on {network} (Gate lists: {chains})")

    async def withdrawal_terms(self, asset: str) -> tuple[WithdrawalTerms, ...]:
        with translating(self.name):
            answer = await self.exchange.private_wallet_get_withdraw_status({"currency": asset})
        for entry in answer if isinstance(answer, list) else []:
            if entry.get("currency") == asset:
                return _terms(self.name, asset, entry)
        raise BadSymbol(self.name, f"Gate lists no withdrawal terms for {asset}")

    async def withdraw(self, asset: str, amount: Decimal, address: str, network: str, client_id: str,
                       memo: str | None = None) -> Withdrawal:
        if not self.withdraw_ids.is_valid(client_id):
            raise InvalidOrder(self.name, f"withdrawal client id {client_id!r} is not Gate's withdraw_order_id "
                                          "(up to 32 letters, digits, _, - or .)")
        body: dict[str, Any] = {"currency": asset, "amount": _wire(amount), "address": address, "chain": network,
                                "withdraw_order_id": client_id}
        if memo:
            body["memo"] = memo
        with translating(self.name):
            answer = await self.exchange.private_withdrawals_post_withdrawals(body)
        return _withdrawal(self.name, answer, network=network)

    async def withdrawal(self, *, venue_id: str | None = None, client_id: str | None = None) -> Withdrawal | None:
        if (venue_id is None) == (client_id is None):
            raise ValueError("look a withdrawal up by venue_id or by client_id")
        query = {"withdraw_id": venue_id} if venue_id is not None else {"withdraw_order_id": client_id}
        with translating(self.name):
            answer = await self.exchange.private_wallet_get_withdrawals(query)
        found = [_withdrawal(self.name, r) for r in answer or []]
        found = [w for w in found if (w.venue_id == venue_id if venue_id is not None else w.client_id == client_id)]
        return found[0] if found else None

    async def deposits(self, asset: str | None = None, since_ms: int | None = None) -> tuple[Deposit, ...]:
        query: dict[str, Any] = {"limit": PAGE}
        if asset is not None:
            query["currency"] = asset
        if since_ms is not None:
            query["from"] = since_ms // 1000
        found: list[Deposit] = []
        while True:
            with translating(self.name):
                page = await self.exchange.private_wallet_get_deposits({**query, "offset": len(found)})
            found.extend(_deposit(self.name, r) for r in page or [])
            if len(page or []) < PAGE:
                return tuple(found)

    async def move(self, asset: str, amount: Decimal, source: Account, destination: Account) -> AccountTransfer:
        body: dict[str, Any] = {"currency": asset, "from": source, "to": destination, "amount": _wire(amount)}
        if "futures" in (source, destination):
            body["settle"] = FUTURES_SETTLE
        with translating(self.name):
            answer = await self.exchange.private_wallet_post_transfers(body)
        tx_id = answer.get("tx_id") if isinstance(answer, dict) else None  # Gate has answered an empty body too
        return AccountTransfer(None if tx_id is None else str(tx_id), asset, amount, source, destination)


def for_venue(venue: object, name: str) -> GateTransfers:
    """The transfer protocol of the Gate account under an opened venue (``VenueAdapter.open_live`` or
    ``open_sandbox``): the ``GateExchange`` holding its key, found under its wrappers (throttle guard, order budget,
    fill stream, renaming) as the fill stream finds it. Transfers are rare (Gate allows one withdrawal a second):
    they do not go through the venue's order throttle."""
    from arb.venues.live.venue import LiveVenue

    inner: object = venue
    while not isinstance(inner, LiveVenue):
        inner = getattr(inner, "inner", None)
        if inner is None:
            raise ValueError(f"{name}: no Gate exchange under the venue to transfer through")
    if not isinstance(inner.exchange, GateExchange):
        raise ValueError(f"{name}: the venue's exchange is {type(inner.exchange).__name__}, not GateExchange")
    return GateTransfers(inner.exchange, name)


def _wire(amount: Decimal) -> str:
    if not amount.is_finite() or amount <= 0:
        raise ValueError(f"a transfer's amount must be a finite number > 0, got {amount}")
    return format(amount, "f")


def _decimal(venue: str, record: Mapping[str, Any], name: str) -> Decimal:
    try:
        value = Decimal(str(record[name]))
    except (KeyError, InvalidOperation):
        raise VenueError(venue, f"Gate's record {record.get('id')} has no readable {name}") from None
    if not value.is_finite():
        raise VenueError(venue, f"Gate's record {record.get('id')} has no readable {name}")
    return value


def _percent(text: object) -> Decimal:
    try:
        return Decimal(str(text or "0%").removesuffix("%")) / 100
    except InvalidOperation:
        return Decimal(0)


def _terms(venue: str, asset: str, entry: Mapping[str, Any]) -> tuple[WithdrawalTerms, ...]:
    fees = entry.get("withdraw_fix_on_chains") or {}
    rates = entry.get("withdraw_percent_on_chains") or {}
    minimum = _decimal(venue, entry, "withdraw_amount_mini") if entry.get("withdraw_amount_mini") else Decimal(0)
    limit = _decimal(venue, entry, "withdraw_eachtime_limit") if entry.get("withdraw_eachtime_limit") else None
    return tuple(WithdrawalTerms(asset, chain, Decimal(str(fee)), minimum, limit, _percent(rates.get(chain)))
                 for chain, fee in fees.items())


def _status(venue_status: str) -> TransferStatus:
    return STATUSES.get(venue_status, TransferStatus.UNKNOWN)


def _time_ms(record: Mapping[str, Any]) -> int | None:
    stamp = record.get("timestamp")
    return int(Decimal(str(stamp)) * 1000) if stamp not in (None, "") else None


def _withdrawal(venue: str, record: Any, *, network: str | None = None) -> Withdrawal:
    if not isinstance(record, dict) or not record.get("id"):
        raise VenueError(venue, "Gate's withdrawal answer has no id")
    fee_field = "fee" if record.get("fee") not in (None, "") else "fee_amount"
    fee = _decimal(venue, record, fee_field) if record.get(fee_field) not in (None, "") else None
    status = str(record.get("status") or "REQUEST")
    return Withdrawal(str(record["id"]), record.get("withdraw_order_id") or None, str(record.get("currency", "")).upper(),
                      str(record.get("chain") or network or ""), _decimal(venue, record, "amount"), fee,
                      str(record.get("address") or ""), _status(status), status, record.get("txid") or None,
                      _time_ms(record))


def _deposit(venue: str, record: Any) -> Deposit:
    if not isinstance(record, dict) or not record.get("id"):
        raise VenueError(venue, "Gate's deposit record has no id")
    status = str(record.get("status") or "")
    return Deposit(str(record["id"]), str(record.get("currency", "")).upper(), str(record.get("chain") or ""),
                   _decimal(venue, record, "amount"), str(record.get("address") or ""), _status(status), status,
                   record.get("txid") or None, _time_ms(record))
