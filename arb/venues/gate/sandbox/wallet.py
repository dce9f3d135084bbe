"""Gate's wallet in the sandbox: deposit addresses, withdrawals that arrive at a peer sandbox after a delay,
deposits, and transfers between an account's spot and futures wallets (pure: no I/O, ``now_ms`` comes in).

What Gate serves and the sandbox does too (Gate API v4, "Wallet" and "Withdrawal"):

- ``GET /wallet/deposit_address?currency=``: the account's address per chain (``multichain_addresses``).
- ``GET /wallet/withdraw_status[?currency=]``: per currency the fixed fee per chain
  (``withdraw_fix_on_chains``), the minimum (``withdraw_amount_mini``) and the limits.
- ``POST /withdrawals``: ``currency``, ``amount``, ``address``, ``chain``, ``memo``, ``withdraw_order_id`` (the
  client's id, which ``GET /wallet/withdrawals?withdraw_order_id=`` finds the withdrawal by).
- ``GET /wallet/withdrawals`` and ``GET /wallet/deposits``: the records, newest first, statuses in Gate's words
  (``REQUEST`` while under way, ``DONE`` once credited).
- ``POST /wallet/transfers``: ``currency``, ``from``, ``to``, ``amount``, ``settle`` between ``spot`` and
  ``futures`` (the sandbox has no margin, delivery or options accounts); answers ``{"tx_id"}``.

How the sandbox settles a withdrawal, its own rules where Gate's are not observable from outside:

- The account is debited ``amount + fee`` at once (the chain's fixed fee); what arrives is ``amount``.
- Only an address a known sandbox owns (a peer's, or this sandbox's own) can be withdrawn to: any other is
  Gate's ``ADDRESS_NOT_USED``, as Gate refuses an address outside a key's withdrawal whitelist.
- It arrives ``arrival_delay_s`` later on the *sending* sandbox's clock: it is then ``DONE`` with a txid, and the
  owner of the address lists a ``DONE`` deposit with the same txid, its balance credited.
- A ``withdraw_order_id`` already used by the account is refused (``INVALID_PARAM_VALUE``): a client that resends
  after an ambiguous answer must look the first one up, never move money twice. (Whether Gate refuses or
  ignores a repeated id is not documented; refusing is the reading under which a blind resend is never safe.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from arb.venues.gate.facts import WITHDRAW_IDS
from arb.venues.gate.sandbox import values
from arb.venues.gate.sandbox.apierror import GateApiError, bad_param
from arb.venues.gate.sandbox.orders import fmt
from arb.venues.sim.orders import Balance

ZERO = Decimal(0)
R = TypeVar("R")
DAY_MS = 86_400_000
ACCOUNTS = ("spot", "futures")
# The accounts Gate's /wallet/transfers names that the sandbox does not keep.
OTHER_ACCOUNTS = frozenset({"margin", "cross_margin", "delivery", "options", "unified"})


@dataclass(frozen=True, slots=True)
class WalletCurrency:
    """One currency's withdrawal terms, as ``/wallet/withdraw_status`` reports them."""

    currency: str
    chains: Mapping[str, Decimal]  # chain -> fixed withdrawal fee, in the currency
    minimum: Decimal = ZERO  # withdraw_amount_mini
    each_time_limit: Decimal = values.MAX_AMOUNT  # withdraw_eachtime_limit
    day_limit: Decimal = values.MAX_AMOUNT  # withdraw_day_limit


USDT = WalletCurrency("USDT", {"TRX": Decimal(1), "ETH": Decimal("4.5")}, minimum=Decimal(2))


@dataclass(frozen=True, slots=True)
class WalletConfig:
    """The sandbox's wallet: currencies' terms (a currency of a listed pair not named here is on one chain named
    after itself, free, with no minimum, as ``/spot/currencies`` lists it), and how long a withdrawal takes to
    arrive, on the sending sandbox's clock. ``salt`` makes the deposit addresses (random per sandbox when None).
    ``label``: the addresses are those of this name instead of each account's key (:func:`deposit_address_of`):
    a sandbox a run opens with a fresh key has addresses known before it starts, as the environment names them."""

    currencies: tuple[WalletCurrency, ...] = (USDT,)
    arrival_delay_s: float = 30.0
    salt: str | None = None
    label: str | None = None


@dataclass(slots=True)
class WithdrawalRecord:
    id: str  # "w<digits>", as Gate's
    account: str
    client_id: str  # withdraw_order_id ("" when none)
    currency: str
    chain: str
    amount: Decimal  # what arrives
    fee: Decimal  # debited on top of the amount
    address: str
    memo: str
    create_ms: int
    arrive_ms: int
    txid: str
    status: str = "REQUEST"

    def to_json(self) -> dict[str, Any]:
        done = self.status == "DONE"
        return {"id": self.id, "txid": self.txid if done else "", "block_number": "", "withdraw_order_id": self.client_id,
                "timestamp": str(self.create_ms // 1000), "amount": fmt(self.amount), "fee": fmt(self.fee),
                "currency": self.currency, "address": self.address, "memo": self.memo, "status": self.status,
                "chain": self.chain, "fail_reason": ""}


@dataclass(frozen=True, slots=True)
class DepositRecord:
    id: str  # "d<digits>"
    account: str
    currency: str
    chain: str
    amount: Decimal
    address: str
    memo: str
    txid: str
    time_ms: int

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "txid": self.txid, "timestamp": str(self.time_ms // 1000), "amount": fmt(self.amount),
                "currency": self.currency, "address": self.address, "memo": self.memo, "status": "DONE",
                "chain": self.chain}


@dataclass(frozen=True, slots=True)
class Owner:
    """Who an address belongs to in one sandbox."""

    account: str
    currency: str
    chain: str


class Wallet:
    """One sandbox's wallet. ``balance(account, currency)`` is the matcher's balance (the sandbox keeps one book
    of balances); ``futures_account(key)`` names a key's futures wallet there; ``new_id`` the sandbox's ids."""

    def __init__(self, config: WalletConfig, listed: Iterable[str], accounts: Iterable[str], salt: str,
                 balance: Callable[[str, str], Balance], futures_account: Callable[[str], str],
                 new_id: Callable[[], int]) -> None:
        self.config = config
        terms = {c.currency: c for c in config.currencies}
        for name in listed:
            terms.setdefault(name, WalletCurrency(name, {name: ZERO}))
        self.terms = terms
        self.balance = balance
        self.futures_account = futures_account
        self.new_id = new_id
        self.withdrawals: list[WithdrawalRecord] = []
        self.deposits: list[DepositRecord] = []
        self.transfers = 0
        accounts = list(accounts)
        if config.label is not None and len(accounts) > 1:  # one label's addresses would be every account's
            raise ValueError(f"a wallet labelled {config.label!r} holds one account, not {len(accounts)}")
        self.owners = {deposit_address_of(salt, config.label or a, c.currency, chain): Owner(a, c.currency, chain)
                       for a in accounts for c in terms.values() for chain in c.chains}
        self.addresses = {(o.account, o.currency, o.chain): a for a, o in self.owners.items()}

    # ---- reading ------------------------------------------------------------------------------------------------
    def currency(self, name: object) -> WalletCurrency:
        if not name:
            raise GateApiError(400, "MISSING_REQUIRED_PARAM", "currency is required")
        if not isinstance(name, str) or name not in self.terms:
            raise GateApiError(400, "INVALID_CURRENCY", f"Invalid currency {str(name)[:40]}")
        return self.terms[name]

    def deposit_address(self, account: str, currency: object) -> dict[str, Any]:
        terms = self.currency(currency)
        chains = [{"chain": chain, "address": self.addresses[(account, terms.currency, chain)], "payment_id": "",
                   "payment_name": "", "obtain_failed": 0} for chain in terms.chains]
        return {"currency": terms.currency, "address": chains[0]["address"], "multichain_addresses": chains}

    def withdraw_status(self, account: str, currency: str | None, now_ms: int) -> list[dict[str, Any]]:
        listed = [self.currency(currency)] if currency is not None else sorted(self.terms.values(),
                                                                               key=lambda c: c.currency)
        return [self._status_json(account, c, now_ms) for c in listed]

    def _status_json(self, account: str, terms: WalletCurrency, now_ms: int) -> dict[str, Any]:
        remain = max(ZERO, terms.day_limit - self._withdrawn_today(account, terms.currency, now_ms))
        return {"currency": terms.currency, "name": terms.currency, "name_cn": terms.currency, "deposit": "0",
                "withdraw_percent": "0%", "withdraw_fix": fmt(min(terms.chains.values())),
                "withdraw_day_limit": fmt(terms.day_limit), "withdraw_day_limit_remain": fmt(remain),
                "withdraw_amount_mini": fmt(terms.minimum), "withdraw_eachtime_limit": fmt(terms.each_time_limit),
                "withdraw_fix_on_chains": {chain: fmt(fee) for chain, fee in terms.chains.items()},
                "withdraw_percent_on_chains": {chain: "0%" for chain in terms.chains}}

    def _withdrawn_today(self, account: str, currency: str, now_ms: int) -> Decimal:
        return sum((w.amount for w in self.withdrawals if w.account == account and w.currency == currency
                    and w.create_ms > now_ms - DAY_MS), ZERO)

    def withdrawals_of(self, account: str, query: Mapping[str, str], now_ms: int) -> list[WithdrawalRecord]:
        """Gate's filters: ``currency``, ``withdraw_id`` and ``withdraw_order_id`` (either finds a withdrawal at
        any age), else ``from``/``to`` (seconds; the last 7 days by default), newest first."""
        found = [w for w in self.withdrawals if w.account == account
                 and query.get("currency") in (None, w.currency)
                 and query.get("withdraw_id") in (None, w.id)
                 and query.get("withdraw_order_id") in (None, w.client_id)]
        if "withdraw_id" not in query and "withdraw_order_id" not in query:
            found = _within(found, query, now_ms, lambda w: w.create_ms)
        return _page(found[::-1], query)

    def deposits_of(self, account: str, query: Mapping[str, str], now_ms: int) -> list[DepositRecord]:
        found = [d for d in self.deposits if d.account == account and query.get("currency") in (None, d.currency)]
        return _page(_within(found, query, now_ms, lambda d: d.time_ms)[::-1], query)

    # ---- withdrawing --------------------------------------------------------------------------------------------
    def withdraw(self, account: str, req: Mapping[str, Any], now_ms: int,
                 known: Callable[[str, str, str], bool]) -> WithdrawalRecord:
        """Debit ``amount + fee`` now and record the withdrawal; ``known(currency, chain, address)`` says whether a
        sandbox (this one or a peer) owns the address: Gate's whitelist."""
        terms = self.currency(req.get("currency"))
        amount = _positive(req.get("amount"), "amount")
        chain, address = req.get("chain"), req.get("address")
        if not chain:
            raise GateApiError(400, "MISSING_REQUIRED_PARAM", "chain is required")
        if not isinstance(chain, str) or chain not in terms.chains:
            raise bad_param(f"chain {str(chain)[:20]} is not a chain of {terms.currency}: "
                            + ", ".join(terms.chains))
        if not address or not isinstance(address, str):
            raise GateApiError(400, "MISSING_REQUIRED_PARAM", "address is required")
        memo = req.get("memo") or ""
        client_id = req.get("withdraw_order_id") or ""
        if not isinstance(memo, str) or not isinstance(client_id, str):
            raise bad_param("memo and withdraw_order_id must be strings")
        if client_id and not WITHDRAW_IDS.is_valid(client_id):
            raise bad_param("withdraw_order_id: at most 32 letters, digits, _, - or .")
        if client_id and any(w.account == account and w.client_id == client_id for w in self.withdrawals):
            raise bad_param(f"withdraw_order_id {client_id} already used")
        if not known(terms.currency, chain, address):
            raise GateApiError(400, "ADDRESS_NOT_USED", "withdrawal address is not in the whitelist")
        if amount < terms.minimum:
            raise GateApiError(400, "AMOUNT_TOO_LITTLE", f"below the minimum withdrawal {fmt(terms.minimum)}")
        if (amount > terms.each_time_limit
                or self._withdrawn_today(account, terms.currency, now_ms) + amount > terms.day_limit):
            raise GateApiError(400, "WITHDRAWAL_OVER_LIMIT", "withdrawal limit exceeded")
        fee = terms.chains[chain]
        paying = self.balance(account, terms.currency)
        if paying.available < amount + fee:
            raise GateApiError(400, "BALANCE_NOT_ENOUGH", "Not enough balance")
        paying.available -= amount + fee
        number = self.new_id()
        record = WithdrawalRecord(f"w{number}", account, client_id, terms.currency, chain, amount, fee, address, memo,
                                  now_ms, now_ms + round(self.config.arrival_delay_s * 1000),
                                  hashlib.sha256(f"tx/{number}".encode()).hexdigest())
        self.withdrawals.append(record)
        return record

    def due(self, now_ms: int) -> list[WithdrawalRecord]:
        """Withdrawals whose arrival time has come, now ``DONE``: the caller credits each to the address's owner."""
        arrived = [w for w in self.withdrawals if w.status == "REQUEST" and w.arrive_ms <= now_ms]
        for w in arrived:
            w.status = "DONE"
        return arrived

    def next_arrival_ms(self) -> int | None:
        pending = [w.arrive_ms for w in self.withdrawals if w.status == "REQUEST"]
        return min(pending) if pending else None

    def receive(self, sent: WithdrawalRecord, now_ms: int) -> bool:
        """Credit a withdrawal to the owner of its address here; False when no account here owns it."""
        owner = self.owners.get(sent.address)
        if owner is None or (owner.currency, owner.chain) != (sent.currency, sent.chain):
            return False
        self.balance(owner.account, sent.currency).available += sent.amount
        self.deposits.append(DepositRecord(f"d{self.new_id()}", owner.account, sent.currency, sent.chain, sent.amount,
                                           sent.address, sent.memo, sent.txid, now_ms))
        return True

    def owns(self, currency: str, chain: str, address: str) -> bool:
        owner = self.owners.get(address)
        return owner is not None and (owner.currency, owner.chain) == (currency, chain)

    # ---- between an account's own wallets -----------------------------------------------------------------------
    def transfer(self, account: str, req: Mapping[str, Any]) -> int:
        """Move ``amount`` of ``currency`` between the key's spot and futures wallets; the transfer's id."""
        terms = self.currency(req.get("currency"))
        amount = _positive(req.get("amount"), "amount")
        source, target = req.get("from"), req.get("to")
        for side, name in (("from", source), ("to", target)):
            if not name:
                raise GateApiError(400, "MISSING_REQUIRED_PARAM", f"{side} is required")
            if name in OTHER_ACCOUNTS:
                raise bad_param(f"{side}: the sandbox keeps only spot and futures accounts, not {name}")
            if name not in ACCOUNTS:
                raise bad_param(f"{side} must be one of spot, margin, futures, delivery, options")
        if source == target:
            raise bad_param("from and to must differ")
        if "futures" in (source, target):
            settle = req.get("settle")
            if not settle:
                raise GateApiError(400, "MISSING_REQUIRED_PARAM", "settle is required for a futures transfer")
            if not isinstance(settle, str) or settle.upper() != terms.currency or terms.currency != "USDT":
                raise bad_param("the sandbox's futures settle in usdt: currency and settle must be USDT/usdt")
        wallets = {"spot": account, "futures": self.futures_account(account)}
        paying = self.balance(wallets[str(source)], terms.currency)
        if paying.available < amount:
            label = "FUTURES_BALANCE_NOT_ENOUGH" if source == "futures" else "BALANCE_NOT_ENOUGH"
            raise GateApiError(400, label, "Not enough balance")
        paying.available -= amount
        self.balance(wallets[str(target)], terms.currency).available += amount
        self.transfers += 1
        return self.new_id()


def deposit_address_of(salt: str, account: str, currency: str, chain: str) -> str:
    """A deposit address unique to the sandbox (its salt), the key (or the wallet's label), the currency and the
    chain."""
    return "sbx" + hashlib.sha256(f"{salt}/{account}/{currency}/{chain}".encode()).hexdigest()[:37]


def _positive(value: object, name: str) -> Decimal:
    if value is None or value == "":
        raise GateApiError(400, "MISSING_REQUIRED_PARAM", f"{name} is required")
    try:
        return values.amount(value, name, positive=True)
    except ValueError as exc:
        raise bad_param(str(exc)) from None


def _within(records: list[R], query: Mapping[str, str], now_ms: int, time_ms: Callable[[R], int]) -> list[R]:
    since = _seconds(query, "from", (now_ms - 7 * DAY_MS) // 1000)
    until = _seconds(query, "to", now_ms // 1000)
    return [r for r in records if since * 1000 <= time_ms(r) <= until * 1000 + 999]


def _seconds(query: Mapping[str, str], name: str, default: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise bad_param(f"{name} must be a Unix time in seconds")
    return int(text)


def _page(records: list[R], query: Mapping[str, str]) -> list[R]:
    limit, offset = query.get("limit", "100"), query.get("offset", "0")
    for name, text in (("limit", limit), ("offset", offset)):
        if not text.isascii() or not text.isdigit() or len(text) > 9:
            raise bad_param(f"{name} must be a non-negative integer")
    return records[int(offset):int(offset) + max(1, min(int(limit), 1000))]

