"""The order lifecycle: states, the literal table of allowed transitions, and ``apply``.

Every status change an order goes through, whether it comes from a live acknowledgement, a lookup after
an ambiguous outcome, or startup reconciliation, passes through :func:`apply`. One path means the
database cannot be brought into a state that the live code would have refused.

The venue's own status word is never trusted for how much traded: a partially filled IOC comes back from
Gate as ``cancelled`` (ccxt: ``canceled``) with ``filled_amount > 0``. :func:`status_from_report` derives
our status from the *filled amount* and whether the order can still trade.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal


class OrderStatus(enum.StrEnum):
    CREATED = "created"  # stored locally, request not yet sent
    SUBMITTED = "submitted"  # request on the wire, no answer yet
    OPEN = "open"  # venue acknowledged, resting, nothing filled
    PARTIALLY_FILLED = "partially_filled"  # resting with some fills
    FILLED = "filled"  # fully filled (terminal)
    CANCELED = "canceled"  # closed with filled < amount, including a partially filled IOC (terminal)
    REJECTED = "rejected"  # the venue refused it, or it provably never reached the venue (terminal)
    UNKNOWN = "unknown"  # an outcome that proves nothing (timeout, 5xx, dropped response): look it up

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


S = OrderStatus

TERMINAL: frozenset[OrderStatus] = frozenset({S.FILLED, S.CANCELED, S.REJECTED})

# The literal transition table. A self-transition records a new fill without a status change.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    # CREATED -> REJECTED: refused locally before it left (risk, throttle budget, validation).
    # CREATED -> UNKNOWN: found in `created` after a crash; we cannot know whether it was sent.
    # CREATED -> OPEN/...: a restart found it on the venue although `submitted` was never written.
    S.CREATED: frozenset(
        {S.SUBMITTED, S.REJECTED, S.UNKNOWN, S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED}
    ),
    S.SUBMITTED: frozenset({S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.REJECTED, S.UNKNOWN}),
    S.OPEN: frozenset({S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.UNKNOWN}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.UNKNOWN}),
    # UNKNOWN -> REJECTED only after spaced lookups found nothing, neither order nor trade.
    S.UNKNOWN: frozenset({S.UNKNOWN, S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.REJECTED}),
    S.FILLED: frozenset(),
    # A cancel that races a fill: the cancel ack arrives first, trades reported later raise `filled`
    # (CANCELED -> CANCELED) or complete it (CANCELED -> FILLED).
    S.CANCELED: frozenset({S.CANCELED, S.FILLED}),
    S.REJECTED: frozenset(),
}


class IllegalTransition(ValueError):
    """A report would move an order along an edge the table does not have. Never silently applied."""


class VenueState(enum.StrEnum):
    """What the venue says about whether the order can still trade (status words normalized)."""

    OPEN = "open"  # can still trade
    CLOSED = "closed"  # done trading: filled, cancelled, expired IOC
    REJECTED = "rejected"  # refused, never traded


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    """The part of an order the state machine needs."""

    status: OrderStatus
    amount: Decimal
    filled: Decimal


@dataclass(frozen=True, slots=True)
class Transition:
    """An accepted change: persisted as one ``orders`` update plus one ``order_events`` row."""

    from_status: OrderStatus
    to_status: OrderStatus
    filled: Decimal
    venue_status: str | None = None
    detail: str | None = None

    @property
    def changes_anything(self) -> bool:
        return self.from_status is not self.to_status


def status_from_report(amount: Decimal, filled: Decimal, state: VenueState) -> OrderStatus:
    """Derive our status from what traded, not from the venue's status word."""
    if state is VenueState.REJECTED:
        return S.REJECTED
    if filled >= amount:
        return S.FILLED
    if state is VenueState.OPEN:
        return S.PARTIALLY_FILLED if filled > 0 else S.OPEN
    return S.CANCELED


def apply(
    order: OrderSnapshot,
    to_status: OrderStatus,
    *,
    filled: Decimal | None = None,
    venue_status: str | None = None,
    detail: str | None = None,
) -> Transition:
    """Check one change against the table and the fill invariants; return the transition to persist.

    ``filled`` never decreases (a stale report cannot undo a fill) and never exceeds ``amount``.
    A report equal to the current status and fill is returned as a no-op (``changes_anything`` False,
    same filled) so callers can skip writing it; idempotence matters for reconciliation replays.
    """
    new_filled = order.filled if filled is None else filled
    if new_filled < 0 or new_filled > order.amount:
        raise IllegalTransition(f"filled {new_filled} outside [0, {order.amount}]")
    if new_filled < order.filled:
        # Stale report: keep what we know, do not move backwards.
        new_filled = order.filled
    if to_status is order.status and new_filled == order.filled:
        return Transition(order.status, to_status, new_filled, venue_status, detail)
    if to_status not in TRANSITIONS[order.status]:
        raise IllegalTransition(f"{order.status} -> {to_status} is not an allowed transition")
    if to_status is S.FILLED and new_filled != order.amount:
        raise IllegalTransition(f"filled status with {new_filled} of {order.amount}")
    if to_status is S.REJECTED and new_filled > 0:
        raise IllegalTransition("an order with fills cannot be rejected")
    return Transition(order.status, to_status, new_filled, venue_status, detail)
