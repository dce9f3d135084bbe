"""What a venue adapter provides: the one interface ``arb/runtime`` and ``arb/config`` build venues through.

An adapter is a package ``arb/venues/<name>/`` that owns everything its venue means (its ccxt class, book
feed and sync rule, error table, client-order-id format, rate limits, order-status quirks, market rules)
and exposes it as one :class:`VenueAdapter`, registered in :mod:`arb.venues.registry`. Venues without a
package of their own go through the generic ccxt adapter (:mod:`arb.venues.generic`).

Nothing above ``venues/`` names a venue: the runtime asks the registry for the configured venue's adapter
and calls these methods with the venue's configured name, which is the user's choice (``gate_main``,
``gate_hedge``); the ccxt id is a setting (:attr:`VenueRef.ccxt_id`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from arb.domain.ids import ClientIdFormat

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from arb.config import Config
    from arb.domain.market_names import MarketNames
    from arb.domain.venue import Venue
    from arb.marketdata.books import BookStore
    from arb.marketdata.feed_setup import FeedSetup
    from arb.venues.online import Finding
    from arb.venues.sim.book import Level
    from arb.venues.sim.matching import Matcher
    from arb.venues.transfers import TransferVenue

Closers = list[Callable[[], Awaitable[None]]]


@dataclass(frozen=True, slots=True)
class VenueRef:
    """One configured venue, resolved: its name (the user's), its adapter and the ccxt exchange id."""

    name: str
    adapter: VenueAdapter
    ccxt_id: str


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a venue's book feed connects instead of the venue's own servers: a sandbox, a stub, a proxy."""

    rest_url: str
    ws_url: str


class _Matching(Protocol):
    @property
    def matcher(self) -> Matcher: ...


class InProcessSandbox(Protocol):
    """What the engine drives of a sandbox running in arb's own process (Gate's ``Sandbox``, in
    ``venues/gate/sandbox/``): a simulation pushes the market into it, and a run ends when the capture it
    plays does. Named here, not imported from a venue's package: these modules are every venue's and know
    none of them."""

    @property
    def engine(self) -> _Matching: ...

    def push_book(self, pair: str, bids: Iterable[Level | tuple[str, str]],
                  asks: Iterable[Level | tuple[str, str]], kind: str = "snapshot") -> object: ...

    def push_trade(self, pair: str, price: Decimal, amount: Decimal, aggressor: str) -> object: ...

    def push_funding(self, contract: str, mark: Decimal, rate: Decimal, funding_ts: int,
                     index: Decimal | None = None) -> None: ...

    async def feeds_finished(self) -> None: ...

    def add_peer(self, peer: Any) -> None:
        """Withdrawals to ``peer``'s deposit addresses arrive there, and the other way (one process only)."""
        ...


@dataclass
class SandboxLink:
    """A sandbox venue's endpoints, and how its books are fed."""

    rest_url: str
    ws_url: str
    sandbox: InProcessSandbox | None  # the in-process sandbox; None for an external `arb sandbox`
    pairs: dict[str, str]  # unified symbol -> the sandbox's market id
    # Set when the sandbox plays the capture itself and has finished it (outside a simulation, where the
    # engine reads the capture itself and starts no feed over the sandbox's WebSocket).
    feed_done: asyncio.Event | None = None
    # The in-process sandbox's account the run trades on, as its matcher names it: where a simulated transfer
    # debits and credits (``runtime/rebalance.py``). None for an external sandbox.
    account: str | None = None

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.rest_url, self.ws_url)


def listed_as(name: str, names: MarketNames, symbol: str) -> str:
    """How to name ``symbol`` in an error about venue ``name``: its market there, and the config key that
    renames it when one does."""
    market = names.market(symbol)
    return symbol if market == symbol else f"{market} (venues.{name}.market_names.\"{symbol}\")"


def check_tradable(name: str, listed: Collection[str], names: MarketNames, venue: Venue) -> None:
    """Every symbol the venue trades is listed on it under the venue's name for it (``venue`` speaks the
    venue's names) and its steps are ones arb can round to: refused at open (one ``BadSymbol`` naming venue,
    market and the key that renamed it), not at the first order."""
    from arb.domain.market import check_step
    from arb.errors import BadSymbol

    for symbol in names.symbols:
        market = names.market(symbol)
        if market not in listed:
            raise BadSymbol(name, f"{name} does not list {listed_as(name, names, symbol)}")
        rules = venue.market_rules(market)
        for step in (rules.price_step, rules.amount_step):
            try:
                check_step(step)
            except ValueError as exc:
                raise BadSymbol(name, f"{name} {market}: {exc}; arb cannot trade it") from None


class Feed(Protocol):
    """A venue's live book feed."""

    async def run(self) -> None: ...

    async def resubscribe(self) -> None: ...

    def counts(self) -> dict[str, Any]:
        """Its health counters so far (connections, snapshots, frames; errors), for the metrics."""
        ...


class SandboxCommand(Protocol):
    """What ``arb sandbox`` needs from a venue's local exchange: its own arguments, the sandbox's
    configuration they (or an arb config's sandbox venue) describe, and serving it until interrupted."""

    def add_arguments(self, parser: Any, capture: Callable[[str], Path]) -> None:
        """Add the sandbox's own options; ``capture``: the commands' ``--capture`` argument type."""
        ...

    def from_arguments(self, args: Any) -> Any:
        """The sandbox the command line describes."""
        ...

    def from_config(self, config: Config, names: Sequence[str], args: Any) -> Any:
        """The sandbox the config's (checked) sandbox venues ``names`` describe, served as one exchange;
        ``args``: host, port and the sandbox's own options."""
        ...

    def serve(self, config: Any, venues: Sequence[str] | None) -> int:
        """Serve ``config``'s sandbox in the foreground until interrupted, telling how the arb ``venues`` it
        serves sign in (None: a venue named as the adapter is); the exit status."""
        ...


@dataclass(frozen=True, slots=True)
class FillStreaming:
    """A venue with its fill stream (:class:`arb.domain.venue.FillStream`), the stream's own task, and its
    health counters (connections, fills by push and by REST, duplicates, malformed frames, reconciliations)
    for the metrics."""

    venue: Venue
    run: Callable[[], Awaitable[None]]
    counts: Callable[[], dict[str, int]]


class VenueAdapter(Protocol):
    key: str  # the registry key, the config's ``adapter``
    ccxt_ids: tuple[str, ...]  # the ccxt exchange ids it speaks for, the default first (empty: any)
    field_names: frozenset[str]  # the venue's own wire field names: never to appear outside arb/venues/
    has_sandbox: bool  # a local exchange arb can run in-process (``kind = "sandbox"``)
    # The modules opening this adapter's venue imports (inside the methods that open it, so the registry stays
    # light): a sweep's worker server imports them once, so no worker's first replay pays for them
    # (``sweep/cluster.py``).
    opened_modules: tuple[str, ...]

    def client_ids(self, ccxt_id: str) -> ClientIdFormat:
        """The venue's client-order-id format (paper venues of it issue the same ids)."""
        ...

    def live_refusal(self, ccxt_id: str) -> str | None:
        """Why arb will not trade this venue live (no lookup by client id, say), or None."""
        ...

    def books_refusal(self, ccxt_id: str) -> str | None:
        """Why arb cannot stream this venue's books itself, or None."""
        ...

    def testnet_refusal(self, ccxt_id: str) -> str | None:
        """Why this venue cannot be pointed at a test environment (``testnet = true``: ccxt's class has no
        ``urls['test']``), or None. May import ccxt: asked only of a venue configured with a testnet."""
        ...

    def amends_in_place(self, ccxt_id: str) -> bool:
        """Whether the venue cuts a resting order's amount in place, keeping its queue place (its paper
        venues then do too)."""
        ...

    def market_kinds(self, ccxt_id: str) -> frozenset[str] | None:
        """The kinds of market (``arb.domain.market.MarketKind`` values, and ``inverse_perpetual``) the venue
        trades, which a paper or sandbox venue of it must be configured with; None: it cannot say offline
        (ccxt's markets say, live)."""
        ...

    def fill_stream_refusal(self, ccxt_id: str) -> str | None:
        """Why arb takes no fill stream from this venue (the account's fills pushed, what a maker venue's
        resting quotes fill by: ``fill_stream``), or None."""
        ...

    def check_sandbox_step(self, step: Decimal) -> None:
        """ValueError when a sandbox market cannot use this price or amount step."""
        ...

    def transfer_refusal(self, ccxt_id: str) -> str | None:
        """Why arb cannot withdraw from and track deposits to this venue itself (``transfers = "auto"`` on a live
        venue or a sandbox: ``transfers``), or None."""
        ...

    def transfers(self, venue: Venue, name: str) -> TransferVenue:
        """The transfer protocol of the account under ``venue`` as opened (live or sandbox); ValueError when it
        has none (``transfer_refusal``)."""
        ...

    async def open_live(self, config: Config, ref: VenueRef, closers: Closers) -> Venue:
        """The real venue, throttled and guarded, markets loaded and checked."""
        ...

    async def open_history(self, config: Config, ref: VenueRef, closers: Closers) -> Venue:
        """The venue whose order and trade history ``arb audit`` reads (its ``LiveVenue`` inside the
        wrappers): a live one as ``open_live`` opens it; a sandbox in another process (``[sandbox] url``) as
        a run opens it, less the check that it matches the config (it has traded since). ValueError for a
        venue whose history ended with its run (a paper venue, an in-process sandbox)."""
        ...

    async def open_sandbox(self, config: Config, ref: VenueRef, clock: Any,
                           closers: Closers) -> tuple[Venue, SandboxLink]:
        """The venue's local exchange (in-process or the configured external one) and a client to it."""
        ...

    def fill_stream(self, venue: Venue, name: str, markets: Sequence[str]) -> FillStreaming:
        """``venue`` (live or on the sandbox, as opened) with the account's fill stream, and the stream's task
        to run beside it; ``markets``: the venue's symbols quoted there. ValueError when it has none
        (``fill_stream_refusal``)."""
        ...

    async def check_online(self, config: Config, ref: VenueRef) -> list[Finding]:
        """``arb config check --online`` on this venue with the environment's keys (a live venue, or a sandbox
        venue at ``[sandbox] url``): the key, what it may do, the clock, the markets and balances against the
        config, one finding each (``arb/venues/online.py``). Raises ``ArbError`` when the venue cannot be
        reached."""
        ...

    def sandbox_command(self) -> SandboxCommand | None:
        """``arb sandbox`` for this venue's local exchange; None when it has none (``has_sandbox``)."""
        ...

    def add_convert_command(self, subparsers: Any) -> None:
        """Add ``arb convert <key>`` (the venue's raw recordings -> capture) to ``subparsers``; nothing when
        the adapter has no converter."""
        ...

    def book_feed(self, ref: VenueRef, books: BookStore, symbols: Sequence[str], setup: FeedSetup, *,
                  depth: int, endpoint: Endpoint | None = None) -> Feed:
        """The venue's own book feed into ``books`` under ``setup.venue`` and the engine's ``symbols``, from
        the venue's servers or from ``endpoint`` (a sandbox); a setup with a trade tape subscribes to the
        venue's public trades too, where the feed can (``arb record``). ValueError when this adapter cannot
        connect elsewhere."""
        ...
