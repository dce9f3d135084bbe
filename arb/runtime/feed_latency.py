"""A simulation's feed latency: when each capture event happened at its venue, and when arb received it.

A capture line carries ``ts``, when the recorder received it (arb, running where the recorder ran, would
have received it then), and, where the venue stamps its messages, ``exchange_ts``, the venue's own time.
Two instants per event, on the recorder's clock:

- **at the venue** (``venue_ms``): the venue's simulated matcher applies the event then: orders arriving
  after it meet it;
- **at arb** (``arb_ms``): arb's book applies it then; the book's age counts from ``venue_ms``, so the
  status view, the metrics, detection's ``max_book_age_ms`` and the stored opportunities see how old the
  information is, feed latency included.

Per venue, one of (``[venues.<name>] feed_latency_ms``):

- **set** (an override, ``L`` ms): ``venue_ms = ts``, ``arb_ms = ts + L``: the venue as the recorder saw
  it, arb that much later;
- **unset, the capture has exchange times**: read from the data. The recorder's and the venue's clocks
  differ by an unknown offset, so ``ts - exchange_ts`` is latency plus offset. The offset is taken as the
  smallest ``ts - exchange_ts`` among the venue's first :data:`SAMPLE` stamped events (the fastest message
  is taken to have had no latency: the estimate is a lower bound), and each event's latency is
  ``ts - exchange_ts - offset``, never below 0 and at most :data:`MAX_FROM_DATA_MS`: ``venue_ms = ts - it``,
  ``arb_ms = ts``;
- **drawn** (the venue's latency profile gives ``feed``, ``arb/venues/latency_profile.py``): ``venue_ms = ts``,
  ``arb_ms = ts + a draw``, rounded to the millisecond and never before the venue's previous event reached arb
  (one ordered stream: an update never overtakes the one before it), from a generator seeded per venue;
- **unset, no exchange times** (the bundled capture): no latency: both are ``ts``. Such a venue is
  :attr:`FeedClock.unread`: a run says so in one line at its start and in its summary (:func:`unread_line`).

A snapshot the venue sent without its time was given one from its first diff when the capture was written
(``docs/CAPTURE.md``, "Events without exchange time"), so the venue's events keep the recorder's order here.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from arb.marketdata.capture import CaptureLine
from arb.marketdata.timeline import read_timeline
from arb.venues.latency_profile import Distribution, FeedDraws

SAMPLE = 2_000  # stamped events per venue read ahead for the clock offset: seconds of a busy feed
# A latency read from the data above this is capped: the market source reads this far ahead of arb's time so
# that every venue delivery is made at its own instant (a gap in the venue's stamps, not a feed that slow).
MAX_FROM_DATA_MS = 2_000


@dataclass(frozen=True, slots=True)
class FeedClock:
    """One venue's rule: ``fixed_ms`` (an override), ``drawn`` (its profile's feed) or ``offset_ms`` (read from
    the data), or none."""

    fixed_ms: int | None = None
    offset_ms: int | None = None
    drawn: FeedDraws | None = None

    def times(self, event: CaptureLine, *, to_arb: bool = True) -> tuple[int, int]:
        """(venue_ms, arb_ms) of one event. A drawn latency draws for an event arb receives (``to_arb``: once
        each, in capture order), and none for one only the venue hears (a trade)."""
        ts = event.ts
        if self.fixed_ms is not None:
            return ts, ts + self.fixed_ms
        if self.drawn is not None:
            return ts, self.drawn.arrival_ms(ts) if to_arb else ts
        if self.offset_ms is not None and event.exchange_ts is not None:
            latency = min(max(ts - event.exchange_ts - self.offset_ms, 0), MAX_FROM_DATA_MS)
            return ts - latency, ts
        return ts, ts

    @property
    def reads_ahead(self) -> bool:
        return self.fixed_ms is None and self.drawn is None and self.offset_ms is not None

    @property
    def unread(self) -> bool:
        """Unset, and not in the data: the venue's books reach arb the instant the recorder had them."""
        return self.fixed_ms is None and self.drawn is None and self.offset_ms is None


def unread_line(venues: Iterable[str]) -> str:
    """The one line a run starts with when ``venues`` (some) have no feed latency to read from the capture."""
    names = sorted(venues)
    return (f"feed latency unread for {', '.join(names)}: the capture has no exchange times for "
            f"{'them' if len(names) > 1 else 'it'}, so {'their' if len(names) > 1 else 'its'} books reach arb "
            "with none (0 ms); set [venues.<name>] feed_latency_ms")


def clock_offsets(lines: Iterable[CaptureLine], routes: Mapping[tuple[str, str], str],
                  sample: int = SAMPLE) -> dict[str, int]:
    """Per routed venue whose capture stamps exchange times: the smallest ``ts - exchange_ts`` of its first
    ``sample`` events. A venue whose first event has no exchange time has none (a recorder stamps all its
    lines or none). Reads only as far as it needs: two lines for the bundled capture."""
    offsets: dict[str, int] = {}
    seen: dict[str, int] = {}
    unstamped: set[str] = set()
    venues = set(routes.values())
    for event in lines:
        venue = routes.get((event.venue, event.symbol))
        if venue is None or venue in unstamped or seen.get(venue, 0) >= sample:
            continue
        if event.exchange_ts is None:
            if venue not in seen:
                unstamped.add(venue)
        else:
            seen[venue] = seen.get(venue, 0) + 1
            diff = event.ts - event.exchange_ts
            offsets[venue] = min(offsets.get(venue, diff), diff)
        if all(v in unstamped or seen.get(v, 0) >= sample for v in venues):
            break
    return offsets


def feed_clocks(capture: Path, routes: Mapping[tuple[str, str], str], overrides: Mapping[str, int | None],
                drawn: Mapping[str, Distribution] | None = None, seed: int = 0) -> dict[str, FeedClock]:
    """Each routed venue's :class:`FeedClock`: its override, else its profile's feed latency (``drawn``, each
    venue's draws seeded by ``seed`` and its name), else what its capture's stamps say."""
    drawn = drawn or {}
    unset = {key: venue for key, venue in routes.items() if overrides.get(venue) is None and venue not in drawn}
    offsets = clock_offsets(read_timeline(capture, trades=True), unset) if unset else {}
    return {venue: FeedClock(fixed_ms=overrides.get(venue), offset_ms=offsets.get(venue),
                             drawn=FeedDraws(drawn[venue], random.Random(f"{seed}:{venue}:feed"))
                             if venue in drawn else None)
            for venue in set(routes.values())}
