from decimal import Decimal

import pytest

from arb.domain.orders import (
    TERMINAL,
    TRANSITIONS,
    IllegalTransition,
    OrderSnapshot,
    OrderStatus,
    VenueState,
    apply,
    status_from_report,
)
from arb.store.models import ORDER_STATUSES

S = OrderStatus
D = Decimal


def snap(status: OrderStatus, filled: str = "0", amount: str = "2") -> OrderSnapshot:
    return OrderSnapshot(status, D(amount), D(filled))


def test_table_covers_every_status_and_matches_the_schema() -> None:
    assert set(TRANSITIONS) == set(OrderStatus)
    assert {s.value for s in OrderStatus} == set(ORDER_STATUSES)
    for status in TERMINAL - {S.CANCELED}:
        assert TRANSITIONS[status] == frozenset()


@pytest.mark.parametrize(
    ("amount", "filled", "state", "expected"),
    [
        ("2", "0", VenueState.OPEN, S.OPEN),
        ("2", "1", VenueState.OPEN, S.PARTIALLY_FILLED),
        ("2", "2", VenueState.OPEN, S.FILLED),
        ("2", "2", VenueState.CLOSED, S.FILLED),
        # Gate reports a partially filled IOC as cancelled: the filled amount decides.
        ("2", "0.5", VenueState.CLOSED, S.CANCELED),
        ("2", "0", VenueState.CLOSED, S.CANCELED),
        ("2", "0", VenueState.REJECTED, S.REJECTED),
    ],
)
def test_status_from_report_uses_filled(amount: str, filled: str, state: VenueState, expected: S) -> None:
    assert status_from_report(D(amount), D(filled), state) is expected


@pytest.mark.parametrize(
    ("start", "to", "filled"),
    [
        (S.CREATED, S.SUBMITTED, "0"),
        (S.CREATED, S.UNKNOWN, "0"),
        (S.SUBMITTED, S.FILLED, "2"),
        (S.SUBMITTED, S.CANCELED, "1"),
        (S.SUBMITTED, S.UNKNOWN, "0"),
        (S.UNKNOWN, S.CANCELED, "1"),
        (S.UNKNOWN, S.REJECTED, "0"),
        (S.OPEN, S.PARTIALLY_FILLED, "1"),
        (S.PARTIALLY_FILLED, S.PARTIALLY_FILLED, "1.5"),
        (S.CANCELED, S.CANCELED, "1.5"),  # a late fill after the cancel ack
        (S.CANCELED, S.FILLED, "2"),  # the cancel raced a complete fill
    ],
)
def test_allowed_transitions(start: S, to: S, filled: str) -> None:
    t = apply(snap(start, "0.5" if start in (S.PARTIALLY_FILLED, S.CANCELED) else "0"), to, filled=D(filled))
    assert (t.from_status, t.to_status, t.filled) == (start, to, D(filled))


@pytest.mark.parametrize(
    ("start", "to", "filled"),
    [
        (S.FILLED, S.CANCELED, "2"),
        (S.REJECTED, S.OPEN, "0"),
        (S.REJECTED, S.FILLED, "2"),
        (S.OPEN, S.SUBMITTED, "0"),
        (S.PARTIALLY_FILLED, S.OPEN, "1"),
        (S.SUBMITTED, S.CREATED, "0"),
        (S.SUBMITTED, S.FILLED, "1"),  # filled status needs the full amount
        (S.SUBMITTED, S.REJECTED, "1"),  # fills cannot be rejected
        (S.SUBMITTED, S.OPEN, "3"),  # more than the amount
    ],
)
def test_refused_transitions(start: S, to: S, filled: str) -> None:
    with pytest.raises(IllegalTransition):
        apply(snap(start, "2" if start is S.FILLED else "0"), to, filled=D(filled))


def test_stale_report_never_undoes_a_fill() -> None:
    t = apply(snap(S.PARTIALLY_FILLED, "1.5"), S.PARTIALLY_FILLED, filled=D("1"))
    assert t.filled == D("1.5")
    assert not t.changes_anything


def test_repeated_report_is_a_noop_even_on_terminal_states() -> None:
    t = apply(snap(S.FILLED, "2"), S.FILLED, filled=D("2"))
    assert not t.changes_anything and t.filled == D("2")
