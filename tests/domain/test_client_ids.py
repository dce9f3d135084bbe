from hypothesis import given
from hypothesis import strategies as st

from arb.domain.ids import ClientIdFactory, is_valid_client_id, to_base36


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
