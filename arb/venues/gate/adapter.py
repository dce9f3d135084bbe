"""The Gate adapter: everything the layers above need from Gate, behind :class:`~arb.venues.adapter.VenueAdapter`.

- live: :class:`GateExchange` (ccxt's gate with arb's signer and clock) behind :class:`GateVenue` (a
  :class:`LiveVenue` with Gate's dead man's switch) with Gate's quirks (client ids in ``text``, ``finish_as``,
  lookups by ``text`` only while open), throttled by Gate's declared limits (``facts.GATE_SPOT_LIMITS``);
- sandbox: arb's local Gate-compatible exchange (``arb/venues/gate/sandbox``), started in-process on loopback (or the
  configured external one), spoken to through exactly the same client;
- books: arb's own update-id sync (:class:`GateBookFeed`): ccxt's gate spot feed does not detect gaps.

The module itself is data (key, ccxt ids, field names, quirks, the sandbox's step rule): what opens an
exchange or a feed imports ccxt, aiohttp and the sandbox inside the method that opens it, so the registry
holds this adapter and ``arb config check`` checks a config without importing ccxt
(``tests/test_startup.py``).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from arb.domain.ids import ClientIdFormat
from arb.domain.market import Symbol
from arb.errors import BadSymbol, ConfigError, UsageError
from arb.eventloop.clock import MarketClock
from arb.venues.adapter import (
    Closers,
    Endpoint,
    FillStreaming,
    SandboxLink,
    VenueRef,
    check_tradable,
    listed_as,
)
from arb.venues.gate.facts import CLIENT_IDS, GATE_SPOT_LIMITS, decimals_of_step
from arb.venues.live.quirks import LiveQuirks
from arb.venues.online import Finding
from arb.venues.throttle import VenueLimits

if TYPE_CHECKING:
    from arb.config import Config
    from arb.domain.venue import Venue
    from arb.marketdata.books import BookStore
    from arb.marketdata.feed_setup import FeedSetup
    from arb.venues.gate.feed import GateBookFeed
    from arb.venues.gate.sandbox import PairSpec
    from arb.venues.gate.sandbox.command import SandboxCommand
    from arb.venues.gate.sandbox.contracts import ContractSpec
    from arb.venues.gate.sandbox.wallet import WalletConfig
    from arb.venues.gate.venue import GateVenue
    from arb.venues.transfers import TransferVenue

QUIRKS = LiveQuirks(
    client_ids=CLIENT_IDS,
    client_id_param="text",
    lookup_param=None,  # GET/DELETE /spot/orders/{order_id} take the text in place of the id
    trade_client_id_keys=("text",),
    status_keys=("status", "finish_as"),  # ccxt reads finish_as first: a partly filled IOC is "cancelled"
    search_closed_on_miss=True,  # Gate finds orders by text only while they are open
    amends_in_place=True,  # PATCH /spot/orders/{text}: an amount alone keeps the order's priority
    history_page_param="page",  # GET /spot/orders and /spot/my_trades: page=1, 2, ... of `limit` rows
    resync_clock_on=frozenset({"REQUEST_EXPIRED"}),
)

SANDBOX_MAX_DECIMALS = 12
"""The sandbox states average fill prices to ``precision + 8`` decimals within 28 significant digits, so
prices up to 1e8 need a price step of at most 12 decimals."""


def sandbox_decimals(step: Decimal) -> int:
    """A sandbox market's step as the decimal places it is listed with (Gate's rule, ``decimals_of_step``);
    ValueError when the sandbox cannot list it. Config validation checks every sandbox market with this."""
    decimals = decimals_of_step(step)
    if decimals > SANDBOX_MAX_DECIMALS:
        raise ValueError(f"step {step} has {decimals} decimals; the sandbox lists at most {SANDBOX_MAX_DECIMALS}")
    return decimals


def sandbox_pairs(config: Config, name: str) -> list[PairSpec]:
    """The sandbox markets of venue ``name``, one per symbol it trades, under the venue's name for it
    (``market_names``): its fees and market rules, as the in-process sandbox lists them and
    ``arb sandbox --config`` starts an external one."""
    from arb.venues.gate.sandbox import PairSpec
    from arb.venues.sim.queue import QueueModel

    section = config.venues[name]
    names = config.venue_markets(name)
    specs = []
    for symbol in names.symbols:
        if section.market_kind(symbol) != "spot":
            continue  # a contract: ``sandbox_contracts``
        market = section.markets[symbol]
        sym = Symbol.parse_market(names.market(symbol))
        specs.append(PairSpec(f"{sym.base}_{sym.quote}", precision=sandbox_decimals(market.price_step),
                              amount_precision=sandbox_decimals(market.amount_step),
                              min_base_amount=market.min_amount, min_quote_amount=market.min_notional,
                              taker_fee=section.taker_fee,
                              maker_fee=section.taker_fee if section.maker_fee is None else section.maker_fee,
                              queue=QueueModel(section.queue_model, section.queue_power)))
    return specs


def sandbox_contracts(config: Config, name: str) -> list[ContractSpec]:
    """The sandbox's USDT perpetuals of venue ``name`` (its markets of kind ``linear_perpetual``): one contract
    is the market's ``amount_step`` of base, its minimum order ``min_amount``; the venue's fees, leverage and
    maintenance margin rate."""
    from arb.venues.gate.sandbox.contracts import ContractSpec
    from arb.venues.sim.queue import QueueModel

    section = config.venues[name]
    names = config.venue_markets(name)
    specs = []
    for symbol in names.symbols:
        if section.market_kind(symbol) != "linear_perpetual":
            continue
        market = section.markets[symbol]
        sym = Symbol.parse_market(names.market(symbol))
        specs.append(ContractSpec(f"{sym.base}_{sym.quote}", quanto_multiplier=market.amount_step,
                                  price_decimals=sandbox_decimals(market.price_step),
                                  order_size_min=max(1, int(market.min_amount / market.amount_step)),
                                  taker_fee=section.taker_fee,
                                  maker_fee=section.taker_fee if section.maker_fee is None else section.maker_fee,
                                  leverage=section.leverage, maintenance_rate=section.maintenance_margin,
                                  queue=QueueModel(section.queue_model, section.queue_power)))
    return specs


def perpetual_venue(config: Config, name: str) -> bool:
    """Whether venue ``name`` is a Gate futures account (its markets USDT perpetuals: one kind per venue)."""
    names = config.venue_markets(name)
    return any(config.venues[name].market_kind(s) == "linear_perpetual" for s in names.symbols)


SWAP_OPTIONS = {"fetchMarkets": {"types": ["swap"]}, "defaultType": "swap"}
"""ccxt's gate as a futures account: USDT perpetuals only, and every account call (balances, positions,
orders, trades, funding) to ``/futures/usdt``."""


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


async def sandbox_mismatch(config: Config, name: str, venue: Venue, exchange: Any) -> list[str]:
    """How an external sandbox differs from venue ``name``'s config: taker fee and market rules per symbol;
    starting balances too while its account has not traded the configured symbols (after trading they
    differ by design, and a restart reconciles against them)."""
    section = config.venues[name]
    names = config.venue_markets(name)  # ``venue`` is unwrapped: it and ``exchange`` speak the venue's names
    found = []
    for symbol in names.symbols:
        listed = exchange.market(names.market(symbol))
        # ccxt lists every Gate contract at the VIP-0 taker fee (0.05%); the sandbox states the contract's own.
        stated = listed["info"].get("taker_fee_rate") if listed.get("contract") else None
        fee = Decimal(str(listed["taker"] if stated is None else stated))
        if fee != section.taker_fee:
            found.append(f"{symbol} taker fee {_plain(fee)} (config {_plain(section.taker_fee)})")
        rules, market = venue.market_rules(names.market(symbol)), section.markets[symbol]
        for field in ("price_step", "amount_step", "min_amount", "min_notional"):
            theirs, ours = getattr(rules, field), getattr(market, field)
            if theirs != ours:
                found.append(f"{symbol} {field} {_plain(theirs)} (config {_plain(ours)})")
    traded = False
    for symbol in names.symbols:
        traded = traded or bool(await venue.fetch_fills(names.market(symbol), datetime(2000, 1, 1, tzinfo=UTC)))
    if not traded and section.balances:
        held = await venue.balances()
        for asset, amount in sorted(names.venue_amounts(section.balances).items()):
            theirs = held[asset].total if asset in held else Decimal(0)
            if theirs != amount:
                found.append(f"{asset} balance {_plain(theirs)} (config {_plain(amount)})")
    return found


def live_exchange(config: Config, name: str, settings: dict[str, Any]) -> Any:
    """Venue ``name``'s ``GateExchange`` on Gate's servers, or on Gate's testnet with ``testnet = true`` (ccxt's
    sandbox URLs, every REST section and the futures WebSocket); no request is made."""
    from arb.venues.gate.exchange import GateExchange

    exchange = GateExchange(settings)
    if config.venues[name].testnet:
        exchange.set_sandbox_mode(True)
    return exchange


def limits(config: Config, name: str) -> VenueLimits:
    """Gate's table; ``rate_limit_per_s`` in the config replaces its global budget."""
    from dataclasses import replace

    from arb.venues.throttle import per_second

    rate = config.venues[name].rate_limit_per_s
    return GATE_SPOT_LIMITS if rate is None else replace(GATE_SPOT_LIMITS, global_budget=per_second(rate))


def _timeout_ms(config: Config) -> int:
    """ccxt's per-request timeout: past it an order's outcome is unknown and is looked up by client id."""
    return int(config.execution.order_timeout_s * 1000)


def live_venue(name: str, exchange: Any, markets: Sequence[str] = ()) -> GateVenue:
    """A Gate exchange (``GateExchange``) behind the venue protocol with Gate's quirks and error table, and its
    dead man's switch; its fills charged in GT valued at GT's price in the quotes of ``markets`` (the venue's
    names for them)."""
    from arb.venues.gate.errors import translate
    from arb.venues.gate.fee_marks import GtMarks
    from arb.venues.gate.venue import GateVenue

    quotes = [market.partition("/")[2] for market in markets]
    return GateVenue(name, exchange, quirks=QUIRKS, translate=translate, fee_marks=GtMarks(exchange, name, quotes))


def _guarded(config: Config, name: str, exchange: Any, wall: Callable[[], float] = time.time, *,
             simulated: bool = False) -> Venue:
    """``wall``: the epoch clock the venue's reset timestamps are read against (the in-process sandbox
    stamps them with the run's clock, market time in a simulation). Gate's request table is Gate's own limits
    (10 placements a second per market): each window held ``SEND_JITTER_S`` longer where requests cross a real
    transport, and as Gate's where the venue is an in-process sandbox on the run's market clock (``simulated``:
    its requests take no market time, so they arrive when they leave)."""
    from arb.venues.guard import GuardedVenue
    from arb.venues.throttle import SEND_JITTER_S, VenueThrottle

    markets = config.venue_markets(name).markets.values()
    throttle = VenueThrottle(name, limits(config, name), wall=wall, jitter_s=0.0 if simulated else SEND_JITTER_S)
    return GuardedVenue(live_venue(name, exchange, tuple(markets)), throttle, wall=wall)


SPOT_AND_PERPETUALS = frozenset(("spot", "linear_perpetual"))


class GateAdapter:
    key: str = "gate"
    ccxt_ids: tuple[str, ...] = ("gate",)
    field_names: frozenset[str] = frozenset({"finish_as", "currency_pair", "with_id", "filled_amount", "filled_total",
                             "avg_deal_price", "amount_precision", "min_base_amount", "min_quote_amount",
                             "order_book_update"})
    has_sandbox: bool = True
    opened_modules: tuple[str, ...] = ("arb.venues.gate.venue", "arb.venues.gate.exchange",
                                       "arb.venues.gate.sandbox.server", "arb.venues.gate.fee_marks")

    def client_ids(self, ccxt_id: str) -> ClientIdFormat:
        return CLIENT_IDS

    def fill_stream(self, venue: Venue, name: str, markets: Sequence[str]) -> FillStreaming:
        """``venue`` behind :class:`~arb.venues.live.streamed.StreamedVenue`: its account's trades from Gate's
        private WebSocket (the sandbox's, for a sandbox venue), authenticated with the venue's key."""
        from arb.venues.gate.private_stream import for_exchange
        from arb.venues.live.streamed import StreamedVenue
        from arb.venues.live.venue import LiveVenue

        inner: object = venue
        while not isinstance(inner, LiveVenue):  # under the throttle guard: the exchange holding the key
            inner = getattr(inner, "inner", None)
            if inner is None:
                raise ValueError(f"{name}: no Gate exchange under the venue to stream fills from")
        pairs = {symbol: inner.exchange.market(symbol)["id"] for symbol in markets}
        stream = for_exchange(inner.exchange, name, pairs, fee_marks=inner.fee_marks)
        return FillStreaming(StreamedVenue(venue, stream), stream.run, stream.counts)

    def live_refusal(self, ccxt_id: str) -> str | None:
        return None  # orders are found by text while open, and among finished orders after that

    def books_refusal(self, ccxt_id: str) -> str | None:
        return None  # our own WebSocket sync

    def testnet_refusal(self, ccxt_id: str) -> str | None:
        return None  # ccxt's gate has urls['test'] (api-testnet.gateapi.io): set_sandbox_mode in _open_live

    def amends_in_place(self, ccxt_id: str) -> bool:
        return QUIRKS.amends_in_place  # PATCH /spot/orders/{id}

    def market_kinds(self, ccxt_id: str) -> frozenset[str] | None:
        return SPOT_AND_PERPETUALS  # spot, and USDT perpetuals (/futures/usdt)

    def transfer_refusal(self, ccxt_id: str) -> str | None:
        return None  # /withdrawals, /wallet/* through arb's signer (venues/gate/transfers.py); the sandbox serves them

    def transfers(self, venue: Venue, name: str) -> TransferVenue:
        from arb.venues.gate.transfers import for_venue

        return for_venue(venue, name)

    def fill_stream_refusal(self, ccxt_id: str) -> str | None:
        return None  # spot.usertrades and spot.orders (venues/gate/private_stream.py)

    def check_sandbox_step(self, step: Decimal) -> None:
        sandbox_decimals(step)

    async def open_live(self, config: Config, ref: VenueRef, closers: Closers) -> Venue:
        from arb.venues.gate.errors import translating

        # A venue that cannot be reached is one arb error naming it, through Gate's table, not a traceback.
        with translating(ref.name):
            return await self._open_live(config, ref, closers)

    async def _open_live(self, config: Config, ref: VenueRef, closers: Closers) -> Venue:
        creds = config.credentials.get(ref.name)
        if creds is None:  # load_config already refuses this in live mode; dry-run/paper never gets here
            raise ConfigError(str(config.path), f"venues.{ref.name}", "live venue without credentials")
        # ccxt's own limiter off, as for the sandbox: arb's throttle paces every call the venue makes at Gate's
        # declared limits per endpoint (facts.GATE_SPOT_LIMITS, the guard below); ccxt's, on top, queued every
        # request one after another, so the 16 cancels of a pulled route left 13.3 ms apart (bench/bench_pull.py:
        # the last on the wire after 225 ms, 29 round trips at 5 ms) instead of together. What the exchange
        # sends outside the guard is rare (a fill stream's reconciliation by REST, the GT ticker for fees).
        settings: dict[str, Any] = {"apiKey": creds.api_key, "secret": creds.secret, "enableRateLimit": False,
                                    "timeout": _timeout_ms(config)}
        if perpetual_venue(config, ref.name):
            settings["options"] = dict(SWAP_OPTIONS)
        exchange = live_exchange(config, ref.name, settings)
        closers.append(lambda: exchange.close())  # late-bound: LiveVenue's close also closes its order line
        await exchange.load_markets()
        venue = _guarded(config, ref.name, exchange)
        check_tradable(ref.name, exchange.markets, config.venue_markets(ref.name), venue)
        return venue

    async def open_sandbox(self, config: Config, ref: VenueRef, clock: Any,
                           closers: Closers) -> tuple[Venue, SandboxLink]:
        from arb.venues.gate.errors import translating

        with translating(ref.name):  # an external sandbox that is down: one error naming the venue
            return await self._open_sandbox(config, ref, clock, closers)

    async def _open_sandbox(self, config: Config, ref: VenueRef, clock: Any,
                            closers: Closers) -> tuple[Venue, SandboxLink]:
        if config.sandbox.url is not None:
            return await self._external_sandbox(config, ref.name, closers)
        from arb.eventloop.simloop import time_held
        from arb.venues.gate.clock import ServerClock
        from arb.venues.gate.exchange import GateExchange
        from arb.venues.gate.sandbox import Account, CaptureFeed, Sandbox, SandboxConfig
        from arb.venues.gate.sandbox.contracts import futures_account, market_id

        name = ref.name
        section = config.venues[name]
        # A fresh key pair per run: the sandbox verifies real signatures, and nothing needs to know the secret
        # beyond this process. Never logged or stored.
        key, secret = "arb-" + secrets.token_hex(8), secrets.token_hex(32)
        specs = sandbox_pairs(config, name)
        contracts = sandbox_contracts(config, name)
        names = config.venue_markets(name)
        perpetual = bool(contracts)
        # Where the run's market source pushes each symbol's book: the pair, or the contract's market.
        markets = [market_id(spec.name) for spec in contracts] if perpetual else [spec.id for spec in specs]
        pairs = dict(zip(names.symbols, markets, strict=True))
        # One time base for the whole run: in a replay the sandbox and the client's signing clock both follow
        # the engine's (market-time) clock, so sent/acknowledged/fill timestamps compare, and the 60 s
        # signature window is checked in that same time.
        #
        # Where the book it matches against comes from. In a simulation the run's market source feeds it
        # (``SandboxLink.sandbox``), event by event at the capture's time, as it feeds every simulated venue.
        # Otherwise the sandbox plays its side of the capture itself in real time, and the engine reads it back
        # over the WebSocket like any live venue.
        feeds: tuple[CaptureFeed, ...] = ()
        capture = config.capture_path()
        if section.capture_venue and capture is not None and not isinstance(clock, MarketClock):
            routes = {(section.capture_venue, s): pairs[s] for s in names.symbols}
            speed = config.replay.speed if config.replay else 1.0
            feeds = (CaptureFeed(capture, routes, speed),)
        held = names.venue_amounts(section.balances)
        account = Account(key, secret, {}, futures=held) if perpetual else Account(key, secret, held)
        sandbox = Sandbox(SandboxConfig(accounts=(account,), pairs=tuple(specs), contracts=tuple(contracts),
                                        port=config.sandbox.port, clock=clock.epoch_s, feeds=feeds,
                                        wallet=sandbox_wallet(config, name)))
        await sandbox.start()
        closers.append(sandbox.stop)
        link = SandboxLink(sandbox.rest_url, sandbox.ws_url, sandbox, pairs, sandbox.feed_done if feeds else None,
                           account=futures_account(key) if perpetual else key)
        extra: dict[str, Any] = {"options": dict(SWAP_OPTIONS)} if perpetual else {}
        exchange = GateExchange.for_endpoint(sandbox.rest_url, sandbox.ws_url, key, secret, enableRateLimit=False,
                                             pairs=None if perpetual else [spec.to_json() for spec in specs],
                                             clock=ServerClock(clock.now_ms), timeout=_timeout_ms(config), **extra)
        closers.append(lambda: exchange.close())  # late-bound: LiveVenue's close also closes its order line
        if perpetual:  # the contracts as ccxt reads them from /futures/usdt/contracts (loopback, at start)
            with time_held():
                await exchange.load_markets()
        await exchange.sync_clock()
        return _guarded(config, name, exchange, wall=clock.epoch_s, simulated=isinstance(clock, MarketClock)), link

    async def open_history(self, config: Config, ref: VenueRef, closers: Closers) -> Venue:
        from arb.venues.gate.errors import translating

        if config.venues[ref.name].kind == "live":
            return await self.open_live(config, ref, closers)
        if config.venues[ref.name].kind != "sandbox" or config.sandbox.url is None:
            raise ValueError(f"{ref.name}: no history outlives a run on an in-process sandbox or a paper venue")
        with translating(ref.name):
            venue, _ = await self._external_sandbox(config, ref.name, closers, matched=False)
        return venue

    async def _external_sandbox(self, config: Config, name: str, closers: Closers,
                                matched: bool = True) -> tuple[Venue, SandboxLink]:
        """An `arb sandbox` running in another process: it outlives us, so a restart can reconcile against it.
        ``matched``: refuse one whose fees, rules or balances differ from the config's (a run about to trade;
        not an audit of one that traded, whose balances have moved since)."""
        from arb.venues.gate.exchange import GateExchange

        assert config.sandbox.url is not None
        creds = config.credentials[name]
        rest_url = config.sandbox.url + "/api/v4"
        ws_url = config.sandbox.url.replace("http", "ws", 1) + "/ws/v4/"
        extra: dict[str, Any] = {"options": dict(SWAP_OPTIONS)} if perpetual_venue(config, name) else {}
        exchange = GateExchange.for_endpoint(rest_url, ws_url, creds.api_key, creds.secret, enableRateLimit=False,
                                             timeout=_timeout_ms(config), **extra)
        closers.append(lambda: exchange.close())  # late-bound: LiveVenue's close also closes its order line
        await exchange.load_markets()
        names = config.venue_markets(name)
        for symbol in names.symbols:
            if names.market(symbol) not in exchange.markets:
                raise BadSymbol(name, f"the sandbox at {config.sandbox.url} does not list "
                                f"{listed_as(name, names, symbol)}")
        await exchange.sync_clock()
        venue = _guarded(config, name, exchange)
        # It is a simulated venue of this config: trading against other fees, rules or balances than the
        # config says would make the run's numbers mean something else. Refused with what differs.
        differences = await sandbox_mismatch(config, name, venue, exchange) if matched else []
        if differences:
            raise ConfigError(str(config.path), f"venues.{name}",
                              f"the sandbox at {config.sandbox.url} does not match this config: "
                              f"{'; '.join(differences)}; start it as the config says with "
                              f"`arb sandbox --config {config.path} --venue {name}`")
        pairs = {s: exchange.market(names.market(s))["id"] for s in names.symbols}
        return venue, SandboxLink(rest_url, ws_url, None, pairs, None)

    async def check_online(self, config: Config, ref: VenueRef) -> list[Finding]:
        """Venue ``ref.name`` checked with the environment's keys (``arb/venues/gate/online.py``): on Gate (its
        testnet with ``testnet = true``), or on the `arb sandbox` at ``[sandbox] url`` for a sandbox venue."""
        from arb.venues.gate.errors import translating
        from arb.venues.gate.exchange import GateExchange
        from arb.venues.gate.online import key_findings

        name = ref.name
        creds = config.credentials.get(name)
        if creds is None:
            return [Finding("error", f"venues.{name}", f"no key in the environment (ARB_{name.upper()}_API_KEY, "
                            f"ARB_{name.upper()}_API_SECRET)")]
        settings: dict[str, Any] = {"enableRateLimit": False, "timeout": _timeout_ms(config)}
        if perpetual_venue(config, name):
            settings["options"] = dict(SWAP_OPTIONS)
        if config.venues[name].kind == "sandbox" and config.sandbox.url is not None:
            exchange = GateExchange.for_endpoint(config.sandbox.url + "/api/v4", None, creds.api_key, creds.secret,
                                                 **settings)
        else:
            exchange = live_exchange(config, name, {**settings, "apiKey": creds.api_key, "secret": creds.secret})
        try:
            with translating(name):
                await exchange.load_markets()
            names = config.venue_markets(name)
            missing = [listed_as(name, names, s) for s in names.symbols if names.market(s) not in exchange.markets]
            if missing:
                return [Finding("error", f"venues.{name}", f"the venue does not list {', '.join(missing)}")]
            return await key_findings(config, name, exchange, _guarded(config, name, exchange))
        finally:
            await exchange.close()

    def sandbox_command(self) -> SandboxCommand:
        from arb.venues.gate.sandbox.command import SandboxCommand

        return SandboxCommand(sandbox_pairs, sandbox_contracts)

    def add_convert_command(self, subparsers: Any) -> None:
        from arb.venues.gate.convert import add_convert_command

        add_convert_command(subparsers)

    def book_feed(self, ref: VenueRef, books: BookStore, symbols: Sequence[str], setup: FeedSetup, *,
                  depth: int, endpoint: Endpoint | None = None) -> GateBookFeed:
        from arb.venues.gate.feed import GateBookFeed, GateFuturesBookFeed

        contracts = [":" in setup.market(s) for s in symbols]  # ccxt's contract symbols: USDT perpetuals
        if any(contracts):
            if not all(contracts):
                raise UsageError(f"{ref.name}: {', '.join(symbols)}: one Gate venue's book feed records spot pairs "
                                 "or USDT perpetuals (ETH/USDT:USDT), not both")
            if endpoint is None:
                return GateFuturesBookFeed(books, symbols, setup)
            base = endpoint.rest_url.removesuffix("/api/v4")
            return GateFuturesBookFeed(books, symbols, setup, ws_url=base.replace("http", "ws", 1) + "/v4/ws/usdt",
                                       rest_url=endpoint.rest_url)
        if endpoint is None:
            return GateBookFeed(books, symbols, setup)
        return GateBookFeed(books, symbols, setup, ws_url=endpoint.ws_url, rest_url=endpoint.rest_url)

ADAPTER = GateAdapter()


SANDBOX_SALT = "arb-in-process"  # an in-process sandbox's deposit addresses: sandbox_deposit_address


def sandbox_wallet(config: Config, name: str) -> WalletConfig:
    """An in-process sandbox's wallet: its deposit addresses those of the venue's name (a run's key is fresh,
    and an automatic transfer's address is in the environment before the run starts), a withdrawal arriving
    after the longest delay ``[rebalance]`` configures (30 s without one), on the run's clock."""
    from arb.venues.gate.sandbox.wallet import WalletConfig

    delays = [r.delay_s for a in config.rebalance.assets.values() for r in (a, *a.routes.values())]
    return WalletConfig(arrival_delay_s=float(max(delays, default=30.0)), salt=SANDBOX_SALT, label=name)


def sandbox_deposit_address(venue: str, asset: str, network: str) -> str:
    """The deposit address of ``asset`` on ``network`` of the in-process sandbox a run opens for ``venue``: what
    its ``ARB_<VENUE>_<ASSET>_<NETWORK>_ADDRESS`` names in a rehearsal of automatic transfers."""
    from arb.venues.gate.sandbox.wallet import deposit_address_of

    return deposit_address_of(SANDBOX_SALT, venue, asset, network)
