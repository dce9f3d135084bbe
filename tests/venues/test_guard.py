"""GuardedVenue: placements take their bucket when prepared and never go out inside an announced window."""

from decimal import Decimal

from arb.domain.market import Side
from arb.domain.venue import OrderRequest
from arb.venues.guard import GuardedVenue
from arb.venues.throttle import PLACE, Budget, VenueLimits, VenueThrottle
from tests.execution.fakes import FakeTime
from tests.execution.harness import SYMBOL, ScriptedVenue, make_book, paper

D = Decimal


def guarded(t: FakeTime, journal: list[str]) -> GuardedVenue:
    inner = ScriptedVenue(paper("alpha", make_book("alpha", [("19.95", "50")], [("20.00", "50")])), journal=journal)
    limits = VenueLimits(global_budget=Budget(100, 1.0), per_market={PLACE: Budget(10, 1.0)})
    throttle = VenueThrottle("alpha", limits, clock=t.clock, wall=t.clock, sleep=t.sleep)
    return GuardedVenue(inner, throttle, sleep=t.sleep, wall=t.clock)  # type: ignore[arg-type]


async def test_prepare_takes_the_bucket_and_send_writes_without_waiting() -> None:
    t, journal = FakeTime(), []
    venue = guarded(t, journal)
    taken: list[tuple[str, str | None]] = []
    acquire = venue.throttle.acquire

    async def taking(endpoint: str, market: str | None = None) -> None:
        taken.append((endpoint, market))
        await acquire(endpoint, market)

    venue.throttle.acquire = taking  # type: ignore[method-assign]
    prepared = await venue.prepare(OrderRequest("t-g1", SYMBOL, Side.BUY, D("1"), D("20.00")))
    assert taken == [(PLACE, SYMBOL)] and journal == ["prepare:alpha"]
    report = await venue.send(prepared)
    assert report.filled == D("1") and taken == [(PLACE, SYMBOL)] and t.sleeps == []
    assert venue.throttle.held() == {"reset": 0, "budget": 0}
    assert journal == ["prepare:alpha", "send:alpha"]


async def test_window_announced_after_prepare_is_waited_out_and_the_order_prepared_again() -> None:
    t, journal = FakeTime(), []
    venue = guarded(t, journal)
    prepared = await venue.prepare(OrderRequest("t-g2", SYMBOL, Side.BUY, D("1"), D("20.00")))
    start = t.now
    venue.throttle.block_until(start + 3.0)  # another request met a 429 announcing a 3 s window
    sent_at: list[float] = []
    venue.inner.on_place = lambda _req: sent_at.append(t.now)  # type: ignore[attr-defined]
    report = await venue.send(prepared)
    assert sent_at == [start + 3.0] and report.filled == D("1")
    # Signed again after the wait (a fresh timestamp), written once.
    assert journal == ["prepare:alpha", "prepare:alpha", "send:alpha"]
