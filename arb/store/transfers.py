"""A run's transfers between venues (``transfers``): written as rebalancing plans, sends and sees them arrive
(``runtime/rebalance.py``), read by the run summary, ``arb report``, the inventory check and the notebooks.

The fees a run paid for its transfers are defined here once, :func:`transfer_fees`: the stored ``fee_value``
of every transfer that left its source (``sent`` or ``arrived``), per currency; a plan never sent cost
nothing. The run's equity (``arb/positions.py``) takes them off.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from arb.store.models import Transfer

SENT = ("sent", "arrived")


@dataclass(frozen=True, slots=True)
class TransferRow:
    """One transfer as the surfaces show it."""

    id: int
    asset: str
    amount: Decimal
    source: str
    dest: str
    network: str
    fee: Decimal
    minimum: Decimal
    fee_value: Decimal | None
    value_currency: str | None
    status: str
    reason: str
    planned_at: datetime
    expected_at: datetime
    sent_at: datetime | None
    arrived_at: datetime | None
    client_id: str | None = None  # a live transfer's withdrawal: arb's id, the venue's, why it failed
    venue_id: str | None = None
    failure: str | None = None


def record(session: Session, run_id: int, *, asset: str, amount: Decimal, source: str, dest: str, network: str,
           fee: Decimal, minimum: Decimal, fee_value: Decimal | None, value_currency: str | None, status: str,
           reason: str, planned_at: datetime, expected_at: datetime, sent_at: datetime | None = None,
           client_id: str | None = None) -> int:
    """Insert one transfer; its id. A live one carries the ``client_id`` its withdrawal is sent under."""
    return int(session.execute(insert(Transfer).returning(Transfer.id), {
        "run_id": run_id, "asset": asset, "amount": amount, "source": source, "dest": dest, "network": network,
        "fee": fee, "minimum": minimum, "fee_value": fee_value, "value_currency": value_currency, "status": status,
        "reason": reason[:2000], "planned_at": planned_at, "expected_at": expected_at, "sent_at": sent_at,
        "client_id": client_id,
    }).scalar_one())


def set_client_id(session: Session, transfer_id: int, client_id: str) -> None:
    """The id a live transfer's withdrawal is sent under (made from the row's id, so set in the same transaction
    that inserted it, before anything is sent)."""
    session.execute(update(Transfer).where(Transfer.id == transfer_id).values(client_id=client_id))


def withdrawn(session: Session, transfer_id: int, venue_id: str, sent: Decimal, fee: Decimal | None) -> None:
    """A live transfer's withdrawal as its venue answered: its id there and, where it states its fee, what left
    the source (``amount``: ``sent`` plus that fee) and the fee (what arrives is ``amount - fee``, the amount
    sent)."""
    values: dict[str, object] = {"venue_id": venue_id}
    if fee is not None:
        values.update(amount=sent + fee, fee=fee)
    session.execute(update(Transfer).where(Transfer.id == transfer_id).values(**values))


def failed(session: Session, transfer_id: int, failure: str) -> None:
    """A live transfer the venue refused or failed: nothing left its source (or it came back)."""
    session.execute(update(Transfer).where(Transfer.id == transfer_id).values(status="failed",
                                                                              failure=failure[:2000]))


def not_sent(session: Session, transfer_id: int) -> None:
    """A transfer recorded as sent whose source turned out to hold too little: it stays a plan."""
    session.execute(update(Transfer).where(Transfer.id == transfer_id).values(status="planned", sent_at=None))


def arrived(session: Session, transfer_id: int, at: datetime) -> None:
    session.execute(update(Transfer).where(Transfer.id == transfer_id).values(status="arrived", arrived_at=at))


def transfers(session: Session, run_id: int) -> list[TransferRow]:
    """The run's transfers, in the order they were planned."""
    rows = session.scalars(select(Transfer).where(Transfer.run_id == run_id).order_by(Transfer.id))
    return [TransferRow(t.id, t.asset, t.amount, t.source, t.dest, t.network, t.fee, t.minimum, t.fee_value,
                        t.value_currency, t.status, t.reason, t.planned_at, t.expected_at, t.sent_at, t.arrived_at,
                        t.client_id, t.venue_id, t.failure)
            for t in rows]


def transfer_fees(session: Session, run_id: int) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """What the run's transfers that left their source cost in fees: currency -> their ``fee_value`` (what the
    run's equity takes off), and asset -> the fees that have no value (no mark when planned), shown apart."""
    valued: dict[str, Decimal] = defaultdict(Decimal)
    unvalued: dict[str, Decimal] = defaultdict(Decimal)
    for t in transfers(session, run_id):
        if t.status in SENT and t.fee:
            if t.fee_value is not None and t.value_currency is not None:
                valued[t.value_currency] += t.fee_value
            else:
                unvalued[t.asset] += t.fee
    return dict(sorted(valued.items())), dict(sorted(unvalued.items()))


def balance_moves(session: Session, run_id: int) -> Iterator[tuple[str, str, Decimal]]:
    """(venue, asset, change) each transfer made to a balance: its amount out of its source once sent, what
    arrived into its destination once credited. What the inventory check counts beside the fills."""
    for t in transfers(session, run_id):
        if t.status in SENT:
            yield t.source, t.asset, -t.amount
        if t.status == "arrived":
            yield t.dest, t.asset, t.amount - t.fee
