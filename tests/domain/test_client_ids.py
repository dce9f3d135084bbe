import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from arb.domain.ids import ClientIdFactory, VenueIds, is_valid_client_id, to_base36


def test_ids_follow_gate_text_rules_and_are_unique_within_a_process() -> None:
    factory = ClientIdFactory()
    ids = [factory.next(p) for p in ("entry", "unwind", "complete") for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert all(is_valid_client_id(i) and len(i.encode()) <= 30 for i in ids)


def test_restarts_in_the_same_millisecond_differ_by_salt() -> None:
    a = ClientIdFactory(now_ms=lambda: 1_723_161_254_000, salt=lambda: 1)
    b = ClientIdFactory(now_ms=lambda: 1_723_161_254_000, salt=lambda: 2)
    assert a.next() != b.next()


def test_a_later_restart_never_reuses_an_earlier_id() -> None:
    a = ClientIdFactory(now_ms=lambda: 1_723_161_254_000, salt=lambda: 0)
    b = ClientIdFactory(now_ms=lambda: 1_723_161_254_001, salt=lambda: 0)
    assert not {a.next() for _ in range(100)} & {b.next() for _ in range(100)}


@given(st.integers(min_value=0, max_value=36**8 - 1))
def test_base36_round_trips(value: int) -> None:
    assert int(to_base36(value), 36) == value


def test_validator_rejects_what_gate_rejects() -> None:
    assert not is_valid_client_id("x-abc")
    assert not is_valid_client_id("t-" + "a" * 29)
    assert not is_valid_client_id("t-a b")
    assert is_valid_client_id("t-" + "a" * 28)


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
