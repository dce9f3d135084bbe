"""What moving money between venues needs from a venue: the protocol a live transfer goes through.

A rebalancing transfer is a withdrawal from one venue to the other's deposit address, then that deposit
credited; a venue whose perpetuals margin from a wallet of their own also moves money between its spot and
futures wallets. :class:`TransferVenue` is what the planner calls for each, the same for every venue (Gate's:
``arb/venues/gate/transfers.py``); everything it returns is exact (``Decimal``) and in the protocol's words, the
venue's own status kept beside it (``venue_status``).

- ``network`` is the venue's own name of the chain (Gate's ``chain``: ``TRX``, ``ETH``): the same asset on two
  chains has two addresses and two fees, and money sent on the wrong one is lost.
- A withdrawal carries the caller's ``client_id`` (in the venue's ``withdraw_ids`` format), recorded before it is
  sent; after an answer that proves nothing (a timeout, a 5xx) it is looked up by that id
  (``withdrawal(client_id=...)``), never sent again blindly.
- A withdrawal has arrived when the destination lists a deposit with its ``txid`` (:func:`credited`).

The destination address of an automatic transfer comes from the environment, never the config file
(:func:`destination_address`): ``ARB_<VENUE>_<ASSET>_<NETWORK>_ADDRESS`` (and ``..._MEMO`` where the chain
needs one), the venue the one it is sent *to*.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Literal, Protocol

from arb.config.secrets import env_prefix
from arb.domain.ids import ClientIdFormat
from arb.errors import ConfigError

Account = Literal["spot", "futures"]
"""A wallet within one venue's account: spot balances, or the futures (perpetuals' margin) wallet."""


class TransferStatus(StrEnum):
    PENDING = "pending"  # accepted, under way (or waiting for the venue's review)
    DONE = "done"  # sent on chain (a withdrawal) or credited (a deposit)
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"  # a status the venue's table does not name: not final, and worth an alert

    @property
    def final(self) -> bool:
        return self in (TransferStatus.DONE, TransferStatus.FAILED, TransferStatus.CANCELLED)


@dataclass(frozen=True, slots=True)
class DepositAddress:
    asset: str
    network: str
    address: str
    memo: str | None = None  # a tag or memo the chain needs besides the address

    def __repr__(self) -> str:  # an address is the account's, but not a secret; a memo may identify it
        return f"DepositAddress({self.asset} on {self.network}: {self.address}{' + memo' if self.memo else ''})"


@dataclass(frozen=True, slots=True)
class WithdrawalTerms:
    """What a withdrawal of ``asset`` on ``network`` costs and allows, as the venue says now."""

    asset: str
    network: str
    fee: Decimal  # fixed, in the asset, charged on top of the amount sent
    minimum: Decimal
    maximum: Decimal | None  # per withdrawal; None when the venue states none
    fee_rate: Decimal = Decimal(0)  # a share of the amount charged besides ``fee`` (0.001: 0.1 %), where a venue has one


@dataclass(frozen=True, slots=True)
class Withdrawal:
    venue_id: str
    client_id: str | None
    asset: str
    network: str
    amount: Decimal  # what is sent to the address
    fee: Decimal | None  # None when the venue's answer does not state it (read it back from history)
    address: str
    status: TransferStatus
    venue_status: str
    txid: str | None
    time_ms: int | None


@dataclass(frozen=True, slots=True)
class Deposit:
    venue_id: str
    asset: str
    network: str
    amount: Decimal
    address: str
    status: TransferStatus
    venue_status: str
    txid: str | None
    time_ms: int | None


@dataclass(frozen=True, slots=True)
class AccountTransfer:
    """Money moved between two wallets of one venue's account (done when answered)."""

    venue_id: str | None
    asset: str
    amount: Decimal
    source: Account
    destination: Account


class TransferVenue(Protocol):
    """A venue's side of a transfer. Errors are arb's (``arb/errors.py``): ``InsufficientFunds``, ``BadSymbol``
    for an asset the venue does not know, ``TransferRefused`` for an address, network, limit or minimum it refuses,
    ``TransientVenueError`` when the outcome is unknown."""

    name: str
    withdraw_ids: ClientIdFormat  # what ``withdraw``'s client_id must look like on this venue

    async def deposit_address(self, asset: str, network: str) -> DepositAddress: ...

    async def withdrawal_terms(self, asset: str) -> tuple[WithdrawalTerms, ...]:
        """One entry per network the asset can be withdrawn on."""
        ...

    async def withdraw(self, asset: str, amount: Decimal, address: str, network: str, client_id: str,
                       memo: str | None = None) -> Withdrawal:
        """Send ``amount`` to ``address`` (the fee on top); the venue's record of it, with its id."""
        ...

    async def withdrawal(self, *, venue_id: str | None = None, client_id: str | None = None) -> Withdrawal | None:
        """The withdrawal by the venue's id or the caller's, or None when the venue has none."""
        ...

    async def deposits(self, asset: str | None = None, since_ms: int | None = None) -> tuple[Deposit, ...]: ...

    async def move(self, asset: str, amount: Decimal, source: Account, destination: Account) -> AccountTransfer:
        """Between the account's own wallets. Not idempotent on any venue arb knows: an unknown outcome is
        resolved by reading both wallets' balances, never by moving again."""
        ...


def credited(withdrawal: Withdrawal, deposits: Iterable[Deposit]) -> Deposit | None:
    """The destination's deposit of ``withdrawal`` once credited: the same txid, asset and network, done."""
    if not withdrawal.txid:
        return None
    for deposit in deposits:
        if (deposit.txid == withdrawal.txid and deposit.asset == withdrawal.asset
                and deposit.network == withdrawal.network and deposit.status is TransferStatus.DONE):
            return deposit
    return None


def address_variable(venue: str, asset: str, network: str) -> str:
    """The environment variable holding ``venue``'s deposit address of ``asset`` on ``network``."""
    return f"{env_prefix(venue)}{_name(asset)}_{_name(network)}_ADDRESS"


def destination_address(venue: str, asset: str, network: str,
                        environ: Mapping[str, str] = os.environ) -> DepositAddress:
    """Where an automatic transfer of ``asset`` to ``venue`` on ``network`` is sent, from the environment; a
    missing variable is one ``ConfigError`` line naming it. The memo variable (``..._MEMO``) is optional."""
    variable = address_variable(venue, asset, network)
    address = environ.get(variable, "").strip()
    if not address:
        raise ConfigError("environment", variable,
                          f"not set: the {venue} deposit address for {asset} on {network}, where automatic "
                          "transfers send it (addresses come from the environment, never the config file)")
    memo = environ.get(variable.removesuffix("ADDRESS") + "MEMO", "").strip() or None
    return DepositAddress(asset, network, address, memo)


def _name(part: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in part.upper())
