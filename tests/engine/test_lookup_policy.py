"""execution.lookup_attempts sets how long an ambiguous order is looked up before it counts as unresolved."""

from arb.engine.settings import lookup_policy


def test_attempts_map_to_the_spaced_schedule() -> None:
    assert lookup_policy(1).delays == ()
    assert lookup_policy(6).delays == (0.05, 0.2, 0.5, 1.0, 2.0)  # the shipped default
    assert lookup_policy(8).delays == (0.05, 0.2, 0.5, 1.0, 2.0, 2.0, 2.0)
