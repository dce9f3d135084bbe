"""A planned transfer made on live venues (``[rebalance] transfers = "auto"``, ``runtime/rebalance.py``): a
withdrawal from the source venue to the destination's deposit address, followed until the destination has
credited it, through each venue's :class:`~arb.venues.transfers.TransferVenue`.

- The destination address comes from the environment (``ARB_<VENUE>_<ASSET>_<NETWORK>_ADDRESS``), checked at
  preflight before anything trades (:func:`check_addresses`).
- The route's fee and minimum are the venue's own (``withdrawal_terms``) where it states them (:meth:`terms`),
  so a plan pays what the venue will charge.
- The caller stores the transfer ``sent`` with its client id before :meth:`make` sends it. An answer that proves
  nothing (a timeout, a 5xx, a 429) is never followed by a second withdrawal: the withdrawal is looked up by that
  client id, and while it cannot be found the outcome is unknown (:class:`TransferUnknown`: the row stays
  ``sent``, an alert says which id to look up by hand), since money may have left.
- Then the source's record is polled until final (a failed or cancelled one is :class:`TransferFailed`), and the
  destination's deposits until :func:`~arb.venues.transfers.credited` finds it.

Polls wait on the run's clock (``sleep``: ``asyncio.sleep``, market time under a simulated loop), never on the
trading path: the rebalancer runs each transfer as a task of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from arb.errors import ConfigError, RateLimited, TransientVenueError, VenueError
from arb.rebalance import Plan
from arb.venues.transfers import (
    Deposit,
    DepositAddress,
    TransferStatus,
    TransferVenue,
    Withdrawal,
    WithdrawalTerms,
    credited,
    destination_address,
)

log = logging.getLogger(__name__)

LOOKUPS = 5  # looks for a withdrawal by client id after an unknown outcome, a poll apart, before an alert


class TransferFailed(Exception):
    """The venue refused the withdrawal or failed it: nothing left the source, or it came back."""


class TransferUnknown(Exception):
    """Whether the withdrawal was made is not known: it may have left. Never resent."""


@dataclass(frozen=True, slots=True)
class Route:
    """Where one asset goes on one network: both ends' transfer protocols and the destination address."""

    source: TransferVenue
    dest: TransferVenue
    address: DepositAddress


def check_addresses(routes: Iterable[tuple[str, str, str]], environ: Mapping[str, str]) -> None:
    """Every (destination venue, asset, network) an automatic transfer may go to has its address in the
    environment: a ``ConfigError`` line naming the first variable missing, before the run trades."""
    for venue, asset, network in routes:
        destination_address(venue, asset, network, environ)


class LiveTransfers:
    """The run's live transfers: ``venues`` by name, each with its transfer protocol."""

    def __init__(self, venues: Mapping[str, TransferVenue], environ: Mapping[str, str], *, poll_s: float,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, lookups: int = LOOKUPS) -> None:
        self.venues = venues
        self.environ = environ
        self.poll_s = poll_s
        self.sleep = sleep
        self.lookups = lookups

    def handles(self, source: str, dest: str) -> bool:
        return source in self.venues and dest in self.venues

    def route(self, p: Plan) -> Route:
        try:
            address = destination_address(p.dest, p.asset, p.network, self.environ)
        except ConfigError as exc:  # preflight checked it; unset since: a failure, never a guess
            raise TransferFailed(exc.problem if not exc.key else f"{exc.key}: {exc.problem}") from None
        return Route(self.venues[p.source], self.venues[p.dest], address)

    async def terms(self, source: str, asset: str, network: str) -> WithdrawalTerms | None:
        """The source venue's terms of ``asset`` on ``network`` now; None when it states none or cannot answer
        (the config's then stand)."""
        try:
            listed = await self.venues[source].withdrawal_terms(asset)
        except VenueError as exc:
            log.warning("%s: withdrawal terms of %s not read (%s): the config's stand", source, asset, exc)
            return None
        return next((t for t in listed if t.network == network), None)

    def client_id(self, source: str, run_id: int, transfer_id: int) -> str:
        """The withdrawal's id in the source venue's format: unique per run and transfer."""
        ids = self.venues[source].withdraw_ids
        found = f"{ids.prefix}arb{run_id}t{transfer_id}"
        if not ids.is_valid(found):
            raise ValueError(f"{source}: withdrawal id {found!r} is not in the venue's format")
        return found

    async def make(self, p: Plan, client_id: str, since_ms: int,
                   withdrawn: Callable[[Withdrawal], None]) -> Deposit:
        """Send ``p`` (its amount less its fee to the address; the fee on top) under ``client_id``; ``withdrawn``
        is told the venue's record once it has one; the destination's deposit once credited."""
        route = self.route(p)
        try:
            sent = await route.source.withdraw(p.asset, p.amount - p.fee, route.address.address, p.network,
                                               client_id, route.address.memo)
        except (TransientVenueError, RateLimited) as exc:
            log.warning("transfer %s: %s answered %s: looking it up by client id, not sending again", client_id,
                        p.source, exc)
            sent = await self._find(route.source, p.source, client_id)
        except VenueError as exc:  # refused: TransferRefused, InsufficientFunds, InvalidOrder, BadSymbol
            raise TransferFailed(f"{p.source} refused the withdrawal: {exc}") from None
        withdrawn(sent)
        while not sent.status.final:
            await self.sleep(self.poll_s)
            try:
                found = await route.source.withdrawal(venue_id=sent.venue_id)
            except (TransientVenueError, RateLimited):
                continue
            if found is None:
                raise TransferUnknown(f"{p.source} no longer lists withdrawal {sent.venue_id} ({client_id})")
            sent = found
        if sent.status is not TransferStatus.DONE:
            raise TransferFailed(f"{p.source} withdrawal {sent.venue_id} is {sent.venue_status}")
        while True:
            try:
                deposit = credited(sent, await route.dest.deposits(p.asset, since_ms))
            except (TransientVenueError, RateLimited):
                deposit = None
            if deposit is not None:
                return deposit
            await self.sleep(self.poll_s)

    async def _find(self, venue: TransferVenue, name: str, client_id: str) -> Withdrawal:
        for look in range(self.lookups):
            if look:
                await self.sleep(self.poll_s)
            try:
                found = await venue.withdrawal(client_id=client_id)
            except (TransientVenueError, RateLimited):
                continue
            if found is not None:
                return found
        raise TransferUnknown(f"{name} lists no withdrawal {client_id} after {self.lookups} looks: it may have "
                              f"been made; look it up by that id before sending again")

