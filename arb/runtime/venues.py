"""Build the venues a config names, all behind :class:`arb.venues.protocol.Venue`.

- ``paper``: :class:`PaperVenue`, filling against the engine's own book for that venue.
- ``sandbox``: arb's local Gate-compatible exchange started in-process on loopback, spoken to through
  :class:`GateExchange` (real Gate v4 signatures over real HTTP) and :class:`LiveVenue`, throttled by
  Gate's declared limits. Its book is fed the same capture events as the engine's book, so the venue
  matches against exactly the book detection saw.
- ``live``: the real venue through its ccxt class (Gate through :class:`GateExchange`), keys from the
  environment.

The executor never learns which kind it got: there is no ``if paper:`` anywhere past this module.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from arb.config import Config, MarketSection
from arb.detection import FeeMode
from arb.domain.market import MarketRules, Symbol, check_step
from arb.errors import BadSymbol, ConfigError
from arb.execution.guard import GuardedVenue
from arb.execution.throttle import GATE_SPOT_LIMITS, VenueThrottle
from arb.marketdata.books import BookStore
from arb.runtime.clock import ReplayClock, WallClock
from arb.venues.paper.venue import PaperConfig, PaperVenue
from arb.venues.protocol import Venue

if TYPE_CHECKING:
    from arb.sandbox import Sandbox


@dataclass
class SandboxLink:
    """A sandbox venue's endpoints, and how its books are fed."""

    rest_url: str  # .../api/v4
    ws_url: str
    sandbox: Sandbox | None  # the in-process sandbox; None for an external `arb sandbox`
    pairs: dict[str, str]  # unified symbol -> Gate pair id
    # Set when the sandbox plays the capture itself (paper/live modes) and has finished it.
    feed_done: asyncio.Event | None = None
    engine_fed: bool = True  # replay: the engine pushes every book event into the sandbox


@dataclass
class VenueSet:
    venues: dict[str, Venue] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    sandboxes: dict[str, SandboxLink] = field(default_factory=dict)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def fee_mode(self, config: Config, venue: str) -> FeeMode:
        return FeeMode(config.venues[venue].buy_fee_in)

    async def close(self) -> None:
        while self.closers:
            closer = self.closers.pop()
            try:
                await closer()
            except Exception:  # noqa: BLE001 - closing must go on for the other venues
                pass


def _timeout_ms(config: Config) -> int:
    """ccxt's per-request timeout: past it an order's outcome is unknown and is looked up by client id."""
    return int(config.execution.order_timeout_s * 1000)


def rules_from_config(venue: str, symbol: str, market: MarketSection) -> MarketRules:
    return MarketRules(venue, symbol, market.price_step, market.amount_step, market.min_amount,
                       market.min_notional)


SANDBOX_MAX_DECIMALS = 12
"""The sandbox states average fill prices to ``precision + 8`` decimals within 28 significant digits, so
prices up to 1e8 need a price step of at most 12 decimals."""


def sandbox_decimals(step: Decimal) -> int:
    """A sandbox market's step as the decimal places it is listed with (Gate's rule, ``decimals_of_step``);
    ValueError when the sandbox cannot list it. Config validation checks every sandbox market with this."""
    from arb.venues.gate.facts import decimals_of_step

    decimals = decimals_of_step(step)
    if decimals > SANDBOX_MAX_DECIMALS:
        raise ValueError(f"step {step} has {decimals} decimals; the sandbox lists at most {SANDBOX_MAX_DECIMALS}")
    return decimals


async def open_venues(
    config: Config,
    books: BookStore,
    clock: WallClock | ReplayClock,
    *,
    force_paper: bool = False,
) -> VenueSet:
    from arb.venues.gate.errors import translating

    out = VenueSet()
    try:
        for name, section in config.venues.items():
            kind = "paper" if force_paper or (config.engine.dry_run and section.kind == "live") else section.kind
            out.kinds[name] = kind
            if kind == "paper":
                out.venues[name] = _paper(config, name, books, clock)
            elif kind == "sandbox":
                # A venue that cannot be reached (no network, an external sandbox that is down) is one arb
                # error naming it, through the one translation table, not a ccxt traceback.
                with translating(name):
                    out.venues[name] = await _sandbox(config, name, out, clock)
            else:
                with translating(name):
                    out.venues[name] = await _live(config, name, out)
    except BaseException:
        await out.close()
        raise
    return out


def _paper(config: Config, name: str, books: BookStore, clock: WallClock | ReplayClock) -> PaperVenue:
    section = config.venues[name]
    rules = {s: rules_from_config(name, s, section.markets[s]) for s in config.engine.symbols}
    paper_config = PaperConfig(fee_rate=section.taker_fee, latency=section.latency_ms / 1000,
                               buy_fee_in=section.buy_fee_in)
    return PaperVenue(
        name,
        {s: books.book(name, s) for s in config.engine.symbols},
        rules,
        dict(section.balances),
        config=paper_config,
        clock=clock.now,
    )


async def _sandbox(config: Config, name: str, out: VenueSet, clock: WallClock | ReplayClock) -> Venue:
    from arb.sandbox import Account, CaptureFeed, PairSpec, Sandbox, SandboxConfig
    from arb.venues.gate import GateExchange, ServerClock
    from arb.venues.live import LiveVenue

    section = config.venues[name]
    if config.sandbox.url is not None:
        return await _external_sandbox(config, name, out)
    # A fresh key pair per run: the sandbox verifies real signatures, and nothing needs to know the secret
    # beyond this process. Never logged or stored.
    key, secret = "arb-" + secrets.token_hex(8), secrets.token_hex(32)
    specs = []
    pairs: dict[str, str] = {}
    for symbol in config.engine.symbols:
        market = section.markets[symbol]
        sym = Symbol.parse(symbol)
        pair_id = f"{sym.base}_{sym.quote}"
        pairs[symbol] = pair_id
        specs.append(PairSpec(pair_id, precision=sandbox_decimals(market.price_step),
                              amount_precision=sandbox_decimals(market.amount_step),
                              min_base_amount=market.min_amount, min_quote_amount=market.min_notional,
                              taker_fee=section.taker_fee, maker_fee=section.taker_fee))
    # One time base for the whole run: in a replay the sandbox and the client's signing clock both follow
    # the engine's (market-time) clock, so sent/acknowledged/fill timestamps compare, and the 60 s
    # signature window is checked in that same time.
    feeds: tuple[CaptureFeed, ...] = ()
    engine_fed = config.engine.mode == "replay"
    capture = config.capture_path()
    if not engine_fed and section.capture_venue and capture is not None:
        # Outside a replay the sandbox plays its side of the capture itself, in real time, and the engine
        # reads it back over the WebSocket like any live venue.
        routes = {(section.capture_venue, s): pairs[s] for s in config.engine.symbols}
        speed = config.replay.speed if config.replay else 1.0
        feeds = (CaptureFeed(capture, routes, speed),)
    sandbox = Sandbox(SandboxConfig(accounts=(Account(key, secret, dict(section.balances)),), pairs=tuple(specs),
                                    port=config.sandbox.port, clock=clock.epoch_s, feeds=feeds))
    await sandbox.start()
    out.closers.append(sandbox.stop)
    out.sandboxes[name] = SandboxLink(sandbox.rest_url, sandbox.ws_url, sandbox, pairs,
                                      sandbox.feed_done if feeds else None, engine_fed)
    exchange = GateExchange.for_endpoint(sandbox.rest_url, sandbox.ws_url, key, secret, enableRateLimit=False,
                                         pairs=[spec.to_json() for spec in specs], clock=ServerClock(clock.now_ms),
                                         timeout=_timeout_ms(config))
    out.closers.append(exchange.close)
    await exchange.sync_clock()
    return GuardedVenue(LiveVenue(name, exchange), VenueThrottle(name, GATE_SPOT_LIMITS))


async def _external_sandbox(config: Config, name: str, out: VenueSet) -> Venue:
    """An `arb sandbox` running in another process: it outlives us, so a restart can reconcile against it."""
    from arb.venues.gate import GateExchange
    from arb.venues.live import LiveVenue

    assert config.sandbox.url is not None
    creds = config.credentials[name]
    rest_url = config.sandbox.url + "/api/v4"
    ws_url = config.sandbox.url.replace("http", "ws", 1) + "/ws/v4/"
    exchange = GateExchange.for_endpoint(rest_url, ws_url, creds.api_key, creds.secret, enableRateLimit=False,
                                         timeout=_timeout_ms(config))
    out.closers.append(exchange.close)
    await exchange.load_markets()
    for symbol in config.engine.symbols:
        if symbol not in exchange.markets:
            raise BadSymbol(name, f"the sandbox at {config.sandbox.url} does not list {symbol}")
    await exchange.sync_clock()
    pairs = {s: exchange.market(s)["id"] for s in config.engine.symbols}
    out.sandboxes[name] = SandboxLink(rest_url, ws_url, None, pairs, None, engine_fed=False)
    return GuardedVenue(LiveVenue(name, exchange), VenueThrottle(name, GATE_SPOT_LIMITS))


async def _live(config: Config, name: str, out: VenueSet) -> Venue:
    import ccxt.pro

    from arb.venues.gate import GateExchange
    from arb.venues.live import LiveVenue

    creds = config.credentials.get(name)
    if creds is None:  # load_config already refuses this in live mode; dry-run/paper never gets here
        raise ConfigError(str(config.path), f"venues.{name}", "live venue without credentials")
    params = {"apiKey": creds.api_key, "secret": creds.secret, "enableRateLimit": True,
              "timeout": _timeout_ms(config)}
    if creds.password:
        params["password"] = creds.password
    exchange = GateExchange(params) if name == "gate" else getattr(ccxt.pro, name)(params)
    out.closers.append(exchange.close)
    await exchange.load_markets()
    for symbol in config.engine.symbols:
        if symbol not in exchange.markets:
            raise BadSymbol(name, f"{name} does not list {symbol}")
    venue = LiveVenue(name, exchange)
    for symbol in config.engine.symbols:  # steps arb cannot round to fail here, not at the first order
        rules = venue.market_rules(symbol)
        for step in (rules.price_step, rules.amount_step):
            try:
                check_step(step)
            except ValueError as exc:
                raise BadSymbol(name, f"{name} {symbol}: {exc}; arb cannot trade it") from None
    return GuardedVenue(venue, VenueThrottle(name, GATE_SPOT_LIMITS)) if name == "gate" else venue
