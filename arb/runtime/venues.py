"""Build the venues a config names, all behind :class:`arb.venues.protocol.Venue`.

- ``paper``: :class:`PaperVenue`, filling against the engine's own book for that venue, issuing client ids
  in the real venue's format;
- ``sandbox``: the venue adapter's local exchange (the Gate adapter's: arb's Gate-compatible sandbox,
  started in-process on loopback) and the adapter's real client to it. It plays its side of the capture
  itself (in a replay on the run's market timeline, so it holds the book the engine's book holds at every
  instant);

Both simulated kinds answer after their configured latency (:class:`LatentVenue`): an order is matched
against the venue's book as it stands when the order arrives, not as detection saw it.
- ``live``: the real venue through its adapter, keys from the environment.

Which adapter speaks a venue is the registry's answer (:mod:`arb.venues.registry`, the config's
``adapter``): nothing here names a venue. The executor never learns which kind it got: there is no
``if paper:`` anywhere past this module.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from arb.config import Config, MarketSection
from arb.detection import FeeMode
from arb.domain.ids import ClientIdFormat
from arb.domain.market import MarketRules
from arb.marketdata.books import BookStore
from arb.runtime.clock import MarketClock, WallClock
from arb.venues.adapter import SandboxLink, VenueRef
from arb.venues.latent import Latency, LatentVenue
from arb.venues.live import LiveVenue
from arb.venues.paper.venue import PaperConfig, PaperVenue
from arb.venues.protocol import Venue
from arb.venues.registry import ref_for
from arb.venues.renamed import RenamedVenue


@dataclass
class VenueSet:
    venues: dict[str, Venue] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    refs: dict[str, VenueRef] = field(default_factory=dict)  # name -> its adapter and ccxt id
    sandboxes: dict[str, SandboxLink] = field(default_factory=dict)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Live venues' keep-warm loops (``LiveVenue.keep_warm``), for the engine to run under its supervisor.
    warmers: dict[str, Callable[[], Awaitable[None]]] = field(default_factory=dict)

    def fee_mode(self, config: Config, venue: str) -> FeeMode:
        return FeeMode(config.venues[venue].buy_fee_in)

    async def close(self) -> None:
        while self.closers:
            closer = self.closers.pop()
            try:
                await closer()
            except Exception:  # noqa: BLE001 - closing must go on for the other venues
                pass


def rules_from_config(venue: str, symbol: str, market: MarketSection) -> MarketRules:
    return MarketRules(venue, symbol, market.price_step, market.amount_step, market.min_amount,
                       market.min_notional)


async def open_venues(
    config: Config,
    books: BookStore,
    clock: WallClock | MarketClock,
    *,
    force_paper: bool = False,
) -> VenueSet:
    from arb.venues.generic.errors import translating

    out = VenueSet()
    try:
        for name, section in config.venues.items():
            kind = "paper" if force_paper or (config.engine.dry_run and section.kind == "live") else section.kind
            ref = out.refs[name] = ref_for(config, name)
            out.kinds[name] = kind
            venue: Venue
            if kind == "paper":
                paper = _paper(config, name, books, clock, ref.adapter.client_ids(ref.ccxt_id))
                venue = _latent(config, name, paper)
            else:
                # A venue that cannot be reached (no network, an external sandbox that is down) is one arb
                # error naming it (the adapter's own table first), not a ccxt traceback.
                with translating(name):
                    if kind == "sandbox":
                        sandbox, out.sandboxes[name] = await ref.adapter.open_sandbox(config, ref, clock,
                                                                                      out.closers)
                        venue = _latent(config, name, sandbox)
                    else:
                        venue = await ref.adapter.open_live(config, ref, out.closers)
                        live = _live_inside(venue)
                        if live is not None:
                            out.warmers[name] = functools.partial(  # a connection per pair that may be in flight
                                live.keep_warm, connections=config.execution.max_pairs_in_flight)
            out.venues[name] = _renamed(config, name, venue)
    except BaseException:
        await out.close()
        raise
    return out


def _live_inside(venue: Venue) -> LiveVenue | None:
    """The ccxt venue under an adapter's wrappers (throttle guard, renaming), each of which keeps its
    ``inner``: the one that owns the connections to keep warm."""
    seen: object = venue
    while not isinstance(seen, LiveVenue):
        seen = getattr(seen, "inner", None)
        if seen is None:
            return None
    return seen


def _renamed(config: Config, name: str, venue: Venue) -> Venue:
    """The venue under the engine's names, when it names a market otherwise or trades only some symbols
    (``arb/venues/renamed.py``); everything inside speaks the venue's own names."""
    names = config.venue_markets(name)
    return RenamedVenue(venue, names) if names.renames or names.symbols != config.engine.symbols else venue


def _latent(config: Config, name: str, venue: Venue) -> Venue:
    """A simulated venue behind its configured order latency (``arb/venues/latent.py``)."""
    section = config.venues[name]
    back = section.latency_ms if section.ack_latency_ms is None else section.ack_latency_ms
    latency = Latency(section.latency_ms / 1000, back / 1000, section.latency_jitter_ms / 1000)
    return venue if latency.zero else LatentVenue(venue, latency)


def _paper(config: Config, name: str, books: BookStore, clock: WallClock | MarketClock,
           client_ids: ClientIdFormat) -> PaperVenue:
    """A paper venue speaks the venue's names like any other (its books are the engine's, under the engine's
    symbols); :func:`_renamed` puts the engine's names on it."""
    section = config.venues[name]
    names = config.venue_markets(name)
    rules = {names.market(s): rules_from_config(name, names.market(s), section.markets[s]) for s in names.symbols}
    paper_config = PaperConfig(fee_rate=section.taker_fee, buy_fee_in=section.buy_fee_in)
    return PaperVenue(
        name,
        {names.market(s): books.book(name, s) for s in names.symbols},
        rules,
        names.venue_amounts(section.balances),
        config=paper_config,
        clock=clock.now,
        client_ids=client_ids,
    )
