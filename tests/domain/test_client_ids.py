import re
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arb.domain.ids import ClientIdFactory, ClientIdFormat, VenueIds, to_base36
from arb.venues.binance.facts import CLIENT_IDS as BINANCE
from arb.venues.gate.facts import CLIENT_IDS as GATE
from arb.venues.generic.client_ids import DEFAULT, KNOWN

# Each venue's documented rule, written out here independently of the adapters' declarations.
DOCUMENTED = [
    (GATE, re.compile(r"t-[0-9A-Za-z_.\-]{1,28}")),  # Gate text: t- + at most 28 of [0-9A-Za-z_.-]
    (KNOWN["okx"].format, re.compile(r"[0-9A-Za-z]{1,32}")),  # OKX clOrdId: alphanumeric, at most 32
    (BINANCE.format, re.compile(r"[.A-Z:/a-z0-9_-]{1,36}")),  # Binance newClientOrderId
    (DEFAULT, re.compile(r"[0-9A-Za-z]{1,32}")),
]


@pytest.mark.parametrize(("fmt", "documented"), DOCUMENTED)
def test_ids_follow_each_venues_documented_rule_and_are_unique_within_a_process(
        fmt: ClientIdFormat, documented: re.Pattern[str]) -> None:
    factory = ClientIdFactory()
    ids = [factory.next(fmt, p) for p in ("entry", "unwind", "complete") for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert all(fmt.is_valid(i) and documented.fullmatch(i) for i in ids)


def test_restarts_in_the_same_millisecond_differ_by_salt() -> None:
    a = ClientIdFactory(now_ms=lambda: 1_723_161_254_000, salt=lambda: 1)
    b = ClientIdFactory(now_ms=lambda: 1_723_161_254_000, salt=lambda: 2)
    assert a.next(GATE) != b.next(GATE)


def test_a_later_restart_never_reuses_an_earlier_id() -> None:
    a = ClientIdFactory(now_ms=lambda: 1_723_161_254_000, salt=lambda: 0)
    b = ClientIdFactory(now_ms=lambda: 1_723_161_254_001, salt=lambda: 0)
    assert not {a.next(DEFAULT) for _ in range(100)} & {b.next(DEFAULT) for _ in range(100)}


def test_a_format_too_short_for_arbs_ids_is_refused_when_declared() -> None:
    with pytest.raises(ValueError, match="no room"):
        ClientIdFormat(prefix="x-", max_length=14)


@given(st.integers(min_value=0, max_value=36**8 - 1))
def test_base36_round_trips(value: int) -> None:
    assert int(to_base36(value), 36) == value


def test_validator_rejects_what_each_venue_rejects() -> None:
    assert not GATE.is_valid("x-abc")
    assert not GATE.is_valid("t-" + "a" * 29)
    assert not GATE.is_valid("t-a b")
    assert GATE.is_valid("t-" + "a" * 28)
    okx, binance = KNOWN["okx"].format, BINANCE.format
    assert not okx.is_valid("a-b") and not okx.is_valid("a" * 33) and okx.is_valid("A1" * 16)
    assert binance.is_valid("x:/._-Ab9" * 4) and not binance.is_valid("a" * 37) and not binance.is_valid("a b")


# -- ids the simulated venues (paper, sandbox) issue ---------------------------------------------------


def test_venue_ids_count_up_from_the_clock_at_the_first_id() -> None:
    clock = iter([1_795_000_000_000_000, 1_795_000_999_999_999])
    ids = VenueIds(now_us=lambda: next(clock))
    assert [ids.next() for _ in range(3)] == [1_795_000_000_000_000, 1_795_000_000_000_001, 1_795_000_000_000_002]


def test_venue_ids_of_a_later_process_never_repeat_an_earlier_ones() -> None:
    code = "from arb.domain.ids import next_venue_id; print(*(next_venue_id() for _ in range(1000)))"
    runs = [subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
            for _ in range(2)]
    assert all(i.isdigit() and int(i) < 2**53 for run in runs for i in run)  # numeric like Gate's, exact in JSON
    first, second = ([int(i) for i in run] for run in runs)
    assert first == sorted(first) and max(first) < min(second)
