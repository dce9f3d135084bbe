"""The generic ccxt adapter: any ccxt venue without an adapter package of its own.

- throttled from ccxt's own declared limits: every HTTP request the exchange makes takes its endpoint's
  ``cost`` from a bucket refilled at ``1000 / rateLimit`` per second (ccxt's numbers; ``rate_limit_per_s``
  in the config overrides the rate), through arb's :class:`VenueThrottle`, so an announced reset blocks
  every request and tests drive the clock;
- guarded like every venue (:class:`GuardedVenue`): reads retried with backoff on 429, placements never
  retried, ambiguous outcomes looked up by client order id;
- client ids in ccxt's unified ``clientOrderId``, in the venue's documented format (``client_ids.KNOWN``);
- a venue arb cannot look orders up on by client id is refused for live trading (:meth:`live_refusal`):
  an order whose answer is lost could never be found, so arb would be trading blind.

The adapter is data until a venue is opened: ccxt (its classes, its exception table) is imported inside the
functions that open an exchange or build a feed, and which venues ccxt.pro streams is read from ccxt's files
(:mod:`arb.venues.ccxt_exchanges`), so the registry and ``arb config check`` do without ccxt.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from arb.domain.ids import ClientIdFormat
from arb.errors import ConfigError
from arb.venues.adapter import Closers, Endpoint, Feed, FillStreaming, SandboxLink, VenueRef, check_tradable
from arb.venues.ccxt_exchanges import pro_exchanges
from arb.venues.generic.client_ids import DEFAULT, KNOWN, ClientIdFacts
from arb.venues.guard import GuardedVenue
from arb.venues.live.quirks import LiveQuirks
from arb.venues.throttle import VenueLimits, VenueThrottle, loop_time
from arb.venues.tls import share_tls

if TYPE_CHECKING:
    from arb.config import Config
    from arb.domain.venue import Venue
    from arb.marketdata.books import BookStore
    from arb.marketdata.feed_setup import FeedSetup
    from arb.venues.online import Finding
    from arb.venues.transfers import TransferVenue


@functools.cache
def ccxt_class(ccxt_id: str) -> Any:
    """ccxt's async class for ``ccxt_id`` (ccxt.pro's where it streams), its balances exact
    (:mod:`arb.venues.live.exact_balances`)."""
    import ccxt.pro

    from arb.venues.live.exact_balances import ExactBalances

    cls = getattr(ccxt.pro, ccxt_id, None) or getattr(ccxt.async_support, ccxt_id)
    return type(cls.__name__, (ExactBalances, cls), {})


def quirks(facts: ClientIdFacts | None) -> LiveQuirks:
    if facts is None:
        return LiveQuirks(client_ids=DEFAULT)
    return LiveQuirks(client_ids=facts.format, trade_client_id_keys=("clientOrderId", *facts.wire_fields))


def declared_limits(exchange: Any, rate_limit_per_s: float | None = None) -> VenueLimits:
    """ccxt's own numbers: ``rateLimit`` ms per cost unit (endpoint costs are weighed per request)."""
    rate = rate_limit_per_s if rate_limit_per_s is not None else 1000.0 / float(exchange.rateLimit)
    return VenueLimits(global_budget=None, request_rate=rate)


def guarded_venue(
    name: str,
    exchange: Any,
    facts: ClientIdFacts | None,
    *,
    rate_limit_per_s: float | None = None,
    clock: Callable[[], float] = loop_time,
    wall: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: Callable[[], float] = random.random,
) -> GuardedVenue:
    """``exchange`` behind the venue protocol, its every request throttled by arb at ccxt's declared rate."""
    from arb.venues.live.errors import translator
    from arb.venues.live.venue import LiveVenue

    throttle = VenueThrottle(name, declared_limits(exchange, rate_limit_per_s), clock=clock, wall=wall, sleep=sleep)
    exchange.enableRateLimit = True  # ccxt then calls ``throttle(cost)`` before each request: ours
    exchange.throttle = throttle.acquire_cost
    venue = LiveVenue(name, exchange, quirks=quirks(facts), translate=translator(exchange, wall=wall))
    return GuardedVenue(venue, throttle, sleep=sleep, wall=wall, rng=rng)


class CcxtAdapter:
    """Any ccxt venue, through ccxt's own classes; a venue package with its own facts or book feed
    subclasses it (``arb/venues/binance/``) and overrides :meth:`facts` and :meth:`book_feed`."""

    key: str = "ccxt"
    ccxt_ids: tuple[str, ...] = ()  # any
    field_names: frozenset[str] = frozenset(f for facts in KNOWN.values() for f in facts.wire_fields)
    has_sandbox: bool = False
    opened_modules: tuple[str, ...] = ("ccxt.async_support", "arb.venues.live.venue")
    def amends_in_place(self, ccxt_id: str) -> bool:
        return False  # ccxt's edit_order may be a cancel and a new order (Binance spot: cancelReplace)

    def market_kinds(self, ccxt_id: str) -> frozenset[str] | None:
        return None  # ccxt's markets say, once loaded

    def transfer_refusal(self, ccxt_id: str) -> str | None:
        return (f"arb makes no withdrawals on {ccxt_id} yet (each venue's wallet calls are checked against it in "
                "its own package: gate has them)")

    def transfers(self, venue: Venue, name: str) -> TransferVenue:
        raise ValueError(f"{name}: {self.transfer_refusal(name)}")

    def fill_stream_refusal(self, ccxt_id: str) -> str | None:
        return (f"arb takes no fill stream from {ccxt_id} yet (each venue's private stream is checked against it "
                "in its own package: binance spot and gate have one)")

    def fill_stream(self, venue: Venue, name: str, markets: Sequence[str]) -> FillStreaming:
        raise ValueError(f"{name}: {self.fill_stream_refusal(name)}")

    def facts(self, ccxt_id: str) -> ClientIdFacts | None:
        """The venue's checked client-order-id facts; None when arb has none (no live trading)."""
        return KNOWN.get(ccxt_id)

    def client_ids(self, ccxt_id: str) -> ClientIdFormat:
        facts = self.facts(ccxt_id)
        return facts.format if facts is not None else DEFAULT

    def live_refusal(self, ccxt_id: str) -> str | None:
        if self.facts(ccxt_id) is None:
            return (f"arb cannot look orders up by client order id on {ccxt_id} (no documented client-id rule "
                    "and ccxt lookup checked for it): an order whose answer is lost could not be found, so it "
                    "is not traded live; use kind = \"paper\"")
        import ccxt

        has = getattr(ccxt, ccxt_id)().has  # the sync class: no session to close
        missing = [m for m in ("createOrder", "fetchOrder", "cancelOrder") if not has.get(m)]
        if missing:
            return f"ccxt's {ccxt_id} cannot {', '.join(missing)}: it is not traded live; use kind = \"paper\""
        return None

    def books_refusal(self, ccxt_id: str) -> str | None:
        if ccxt_id in pro_exchanges():
            return None
        return ("ccxt has no WebSocket (ccxt.pro) support for this venue: it cannot feed books or trade here; "
                "give it a capture_venue and kind = \"paper\"")

    def testnet_refusal(self, ccxt_id: str) -> str | None:
        if ccxt_class(ccxt_id)().urls.get("test"):  # many classes carry the key as None
            return None
        return f"ccxt's {ccxt_id} has no test environment (no urls['test'] to point it at)"

    def check_sandbox_step(self, step: Decimal) -> None:
        raise ValueError(f"the {self.key} adapter has no sandbox")

    async def open_history(self, config: Config, ref: VenueRef, closers: Closers) -> Venue:
        if config.venues[ref.name].kind != "live":
            raise ValueError(f"{ref.name}: no history outlives a run on a paper venue")
        return await self.open_live(config, ref, closers)

    async def open_live(self, config: Config, ref: VenueRef, closers: Closers) -> Venue:
        from arb.venues.live.errors import translating

        refusal = self.live_refusal(ref.ccxt_id)
        if refusal is not None:  # config validation refuses it first; never trade blind
            raise ConfigError(str(config.path), f"venues.{ref.name}", refusal)
        creds = config.credentials.get(ref.name)
        if creds is None:  # load_config already refuses this in live mode; dry-run/paper never gets here
            raise ConfigError(str(config.path), f"venues.{ref.name}", "live venue without credentials")
        params: dict[str, Any] = {"apiKey": creds.api_key, "secret": creds.secret,
                                  "timeout": int(config.execution.order_timeout_s * 1000)}
        if creds.password:
            params["password"] = creds.password
        exchange = ccxt_class(ref.ccxt_id)(params)
        share_tls(exchange)
        if config.venues[ref.name].testnet:  # ccxt's urls['test'] in place of its api (the preflight checked)
            exchange.set_sandbox_mode(True)
        closers.append(lambda: exchange.close())  # late-bound: LiveVenue's close also closes its order line
        venue = guarded_venue(ref.name, exchange, self.facts(ref.ccxt_id), rate_limit_per_s=config.venues[ref.name].rate_limit_per_s)
        with translating(ref.name):
            await exchange.load_markets()
        check_tradable(ref.name, exchange.markets, config.venue_markets(ref.name), venue)
        return venue

    async def check_online(self, config: Config, ref: VenueRef) -> list[Finding]:
        """What any ccxt venue tells through the protocol: that the key reads balances, the markets' rules and the
        balances against the config. ccxt has no common query of a key's permissions or the venue's clock: those
        are said as not known here (a venue's own adapter asks its venue, as Gate's does)."""
        from arb.errors import ArbError
        from arb.venues.online import Finding, balance_findings, market_findings, withdrawal_finding

        key = f"venues.{ref.name}"
        closers: Closers = []
        try:
            venue = await self.open_live(config, ref, closers)
            try:
                held = await venue.balances()
            except ArbError as exc:
                return [Finding("error", key, f"the key does not read balances: {exc}")]
            found = [Finding("ok", key, "the key authenticates and reads balances"),
                     Finding("warning", key, f"cannot tell whether the key may trade: ccxt's {ref.ccxt_id} has no "
                             "query of a key's permissions"),
                     withdrawal_finding(config, ref.name, None, f"ccxt's {ref.ccxt_id} has no query of a key's "
                                        "permissions"),
                     Finding("warning", key, "cannot tell the clock offset here")]
            names = config.venue_markets(ref.name)
            for symbol in names.symbols:
                found += market_findings(config, ref.name, symbol, venue.market_rules(names.market(symbol)), None,
                                         "ccxt lists no account fee here")
            return found + balance_findings(config, ref.name, held)
        finally:
            for close in closers:
                await close()

    async def open_sandbox(self, config: Config, ref: VenueRef, clock: Any,
                           closers: Closers) -> tuple[Venue, SandboxLink]:
        raise ConfigError(str(config.path), f"venues.{ref.name}.kind", f"the {self.key} adapter has no sandbox")

    def sandbox_command(self) -> None:
        return None  # no local exchange (has_sandbox)

    def add_convert_command(self, subparsers: Any) -> None:
        return None  # recordings of a ccxt venue are made by `arb record`, already in the capture format

    def book_feed(self, ref: VenueRef, books: BookStore, symbols: Sequence[str], setup: FeedSetup, *,
                  depth: int, endpoint: Endpoint | None = None) -> Feed:
        from arb.marketdata.ccxt_feed import CcxtBookFeed

        if endpoint is not None:
            raise ValueError(f"the {self.key} adapter connects where ccxt's {ref.ccxt_id} class does; "
                             "it cannot be pointed at another endpoint")
        exchange = ccxt_class(ref.ccxt_id)({"enableRateLimit": True})
        share_tls(exchange)
        return CcxtBookFeed(books, exchange, symbols, setup, limit=depth)


ADAPTER = CcxtAdapter()
