"""What a run needs beyond a config that is valid by itself, checked before anything is written.

``arb/config/`` holds what a config file can be checked for by itself (types, ranges, two settings that
contradict each other), and imports nothing of the runtime. What depends on arb's runtime and on the machine
at the moment of starting sits here, one level up, in one step that every command taking a config runs
(``arb run``, ``arb replay``, ``arb sweep``, ``arb config check``, ``arb sandbox --config``, and the
notebooks through ``arb/analysis/locate.py``), so ``arb config check`` refuses exactly what ``arb run``
would, with the same line:

- each venue is one an adapter speaks (``arb.venues.registry``), and can do what its kind asks: a sandbox
  venue has a sandbox and lists its markets' steps the way that sandbox can; a live venue's books come
  through a feed it has, and it can look orders up by client id (``VenueAdapter.live_refusal``);
- the database URLs (``[store] url``, ``$ARB_DB_URL``) parse with a driver that is installed and name a
  database that outlives a connection (``arb.store.db.check_db_url``);
- the capture is there and its first line reads, through the strict reader the run uses;
- each latency profile a venue names reads as one (``arb/venues/latency_profile.py``), and gives no feed latency
  where ``feed_latency_ms`` is set too;
- the ports a run listens on are free (the metrics endpoint, the dashboard and the in-process sandbox).

The engine runs it before it takes the database's lease, so a run that cannot start stops before its row
(or its database) exists.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path

from arb.config import Config
from arb.config.files import BUNDLED_PREFIX, bundled_captures
from arb.config.overrides import Override, blame
from arb.domain.market import Symbol, on_step
from arb.errors import CaptureFormatError, ConfigError
from arb.marketdata.timeline import WHAT_A_CAPTURE_IS, capture_files, no_capture_there, read_timeline
from arb.store.db import check_db_url
from arb.store.location import DB_URL_ENV
from arb.venues.latency_profile import venue_profile
from arb.venues.registry import UnknownVenue, ref_for, resolve, sandbox_adapters
from arb.venues.transfers import destination_address

HOST = "127.0.0.1"  # where the metrics endpoint, the dashboard and the in-process sandbox listen


def preflight(config: Config, *, ports: bool = True, environ: Mapping[str, str] | None = None) -> None:
    """:class:`~arb.errors.ConfigError` naming the key of the first thing the run cannot have, blamed on the
    ``ARB__`` variable that set it where one did. ``ports=False``: for a reader of the run's database (a
    notebook), which listens on nothing."""
    shown = str(config.path)
    overrides = [Override(variable, tuple(key.split("."))) for key, variable in config.overrides.items()]
    try:
        _check_transfers(config, shown, os.environ if environ is None else environ)
        _check_venues(config, shown)
        _check_markets(config, shown)
        _check_market_kinds(config, shown)
        check_maker_routes(config, shown)
        _check_store(config, shown)
        _check_db_env(os.environ if environ is None else environ)
        _check_capture(config, shown)
        for venue in config.venues:
            venue_profile(config, venue)
        if ports:
            _check_ports(config, shown)
    except ConfigError as exc:
        raise blame(exc, shown, overrides) from None


def _check_transfers(config: Config, shown: str, environ: Mapping[str, str]) -> None:
    """``transfers = "auto"`` moves inventory where arb holds the wallet itself (a paper venue, an in-process
    sandbox in a simulation) or can withdraw through the venue's adapter (``runtime/live_transfers.py``): a live
    venue, or a sandbox of a live-mode run, each destination's deposit address in the environment. Refused
    before the run trades otherwise."""
    if config.rebalance.transfers != "auto":
        return
    simulated = config.simulated
    for asset, section in config.rebalance.assets.items():
        for venue in section.targets:
            kind = config.venues[venue].kind
            if kind == "sandbox" and config.sandbox.url is not None:  # no peer in this process to credit
                raise ConfigError(shown, "rebalance.transfers",
                                  f"\"auto\" transfers {asset} on {venue}, a sandbox in another process: its "
                                  "withdrawals reach no venue of this run; use \"plan\" (a stored plan and an "
                                  "alert), or the in-process sandbox")
            if not ((kind == "live" and not config.engine.dry_run) or (kind == "sandbox" and not simulated)):
                continue  # a simulated wallet: moved by the rebalancer itself
            ref = ref_for(config, venue)
            refusal = ref.adapter.transfer_refusal(ref.ccxt_id)
            if refusal is not None:
                raise ConfigError(shown, "rebalance.transfers",
                                  f"\"auto\" transfers {asset} on {venue}: {refusal}; use \"plan\" (a stored "
                                  "plan and an alert)")
            for source in section.targets:
                if source == venue:
                    continue
                network = section.route(source, venue).network
                if not network:
                    raise ConfigError(shown, f"rebalance.assets.{asset}.network",
                                      f"not set: a withdrawal to {venue} is sent on a network the venue names "
                                      "(its chain, e.g. TRX or ETH), and money sent on the wrong one is lost")
                # where a transfer to this venue is sent: its address, from the environment
                destination_address(venue, asset, network, environ)


def _check_ports(config: Config, shown: str) -> None:
    for key, port in config.listening_ports():
        problem = port_problem(port)
        if problem is not None:
            raise ConfigError(shown, key, f"cannot listen on {HOST}:{port}: {problem}")


def port_problem(port: int) -> str | None:
    """Why ``HOST:port`` cannot be listened on now (``Address already in use``), or None. Bound the way the
    servers bind (``SO_REUSEADDR``: a port whose last connections linger in TIME_WAIT is free), then let go."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def _check_store(config: Config, shown: str) -> None:
    try:
        check_db_url(config.store.url)
    except ValueError as exc:
        raise ConfigError(shown, "store.url", str(exc)) from None


def _check_venues(config: Config, shown: str) -> None:
    for venue, section in config.venues.items():
        key = f"venues.{venue}"
        try:
            ref = resolve(venue, section.adapter, section.ccxt_id)
        except UnknownVenue as exc:
            where = ".adapter" if section.adapter else ".ccxt_id" if section.ccxt_id else ""
            raise ConfigError(shown, key + where, str(exc)) from None
        if section.kind == "sandbox" and not ref.adapter.has_sandbox:
            raise ConfigError(shown, f"{key}.kind", f"the {ref.adapter.key} adapter has no sandbox "
                              f"(adapters with one: {', '.join(sandbox_adapters())})")
        if section.testnet:  # the schema allows it on a live venue only
            refusal = ref.adapter.testnet_refusal(ref.ccxt_id)
            if refusal is not None:
                raise ConfigError(shown, f"{key}.testnet", refusal)
        # Books from the venue itself (a live venue; a paper one with no capture outside a replay) come
        # through its adapter's feed (arb/runtime/feeds.py), and a live venue trades through it.
        own_books = section.kind == "live" or (
            section.kind == "paper" and not section.capture_venue and config.engine.mode != "replay")
        refusal = ref.adapter.books_refusal(ref.ccxt_id) if own_books else None
        if refusal is None and section.kind == "live" and not config.engine.dry_run:
            refusal = ref.adapter.live_refusal(ref.ccxt_id)  # never trade blind
        if refusal is not None:
            raise ConfigError(shown, key, refusal)


def check_maker_routes(config: Config, shown: str) -> None:
    """A maker symbol's route can run: its maker venues (both, ``both_ways``) have a fill stream arb takes
    fills from in this mode, and where the config gives the markets (paper and sandbox venues) the quote size
    is on both venues' amount steps and at least both minimums (a live venue's rules are checked when the run
    has read them, ``runtime/quoting.py``)."""
    for symbol in config.maker_symbols:
        maker = config.symbols[symbol].maker
        assert maker is not None
        key = f"symbols.{symbol}.maker"
        makers = [maker.maker_venue, maker.taker_venue] if maker.both_ways else [maker.maker_venue]
        for venue in makers:
            section = config.venues[venue]
            kind = "paper" if config.engine.dry_run and section.kind == "live" else section.kind
            where = f"{key}.maker_venue" if venue == maker.maker_venue else f"{key}.both_ways"
            if kind == "paper":
                continue  # the one matcher's fills, pushed in-process
            if config.simulated:
                raise ConfigError(shown, where, f"{venue} is a {kind} venue: in a simulation quotes rest on a "
                                  "paper venue (a sandbox's private stream runs on wall time, not market time)")
            ref = resolve(venue, section.adapter, section.ccxt_id)
            kinds = ref.adapter.market_kinds(ref.ccxt_id)
            if (section.market_kind(symbol) != "spot" or ":" in config.venue_markets(venue).market(symbol)
                    or (kinds is not None and "spot" not in kinds)):  # configured, named or listed a contract
                raise ConfigError(shown, where, f"{venue} trades {symbol} as a perpetual: quotes rest on a spot "
                                  "venue or a paper one (arb streams no perpetual's fills and arms no futures "
                                  "dead man's switch yet); a perpetual can be the taker venue that hedges")
            refusal = ref.adapter.fill_stream_refusal(ref.ccxt_id)
            if refusal is not None:
                raise ConfigError(shown, where, f"{venue}: {refusal}, so quotes cannot rest there (a paper venue, "
                                  "or one arb streams fills from)")
        for venue in (maker.maker_venue, maker.taker_venue):
            market = config.venues[venue].markets.get(symbol)
            if market is None:  # a live venue: its rules are read at the run's start
                continue
            size = maker.quote_size
            if not on_step(size, market.amount_step):
                raise ConfigError(shown, f"{key}.quote_size", f"{size:f} is not a multiple of {venue}'s amount "
                                  f"step {market.amount_step:f}: every quote would be cut to a smaller one")
            if size < market.min_amount:
                raise ConfigError(shown, f"{key}.quote_size", f"{size:f} is below {venue}'s minimum amount "
                                  f"{market.min_amount:f}")


def _check_markets(config: Config, shown: str) -> None:
    """A sandbox venue lists each market the way its adapter's sandbox does (the Gate sandbox: in decimal
    places): its steps must be ones it can state. The same rule builds the sandbox's markets at run time."""
    for venue, section in config.venues.items():
        if section.kind != "sandbox":
            continue
        adapter = resolve(venue, section.adapter, section.ccxt_id).adapter
        for symbol in section.symbols or config.engine.symbols:
            market = section.markets[symbol]
            for field in ("price_step", "amount_step"):
                try:
                    adapter.check_sandbox_step(getattr(market, field))
                except ValueError as exc:
                    raise ConfigError(shown, f"venues.{venue}.markets.{symbol}.{field}",
                                      f"{exc} (a sandbox venue)") from None


def _check_market_kinds(config: Config, shown: str) -> None:
    """A paper or sandbox venue's markets are of a kind its venue trades (a paper USD-M venue's are linear
    perpetuals: ``kind = "linear_perpetual"``, said in the config, not guessed), a kind a run trades (not an
    inverse perpetual yet: the simulated venue books one, but the engine sizes and settles pairs in base, not
    contracts), and a sandbox's perpetual is named as ccxt names a contract (``ETH/USDT:USDT``: the sandbox
    lists it among Gate's USDT perpetuals)."""
    for venue, section in config.venues.items():
        if section.kind == "live":
            continue  # ccxt's markets say, when the venue opens
        ref = resolve(venue, section.adapter, section.ccxt_id)
        trades = ref.adapter.market_kinds(ref.ccxt_id)
        names = config.venue_markets(venue)
        for symbol in section.symbols or config.engine.symbols:
            kind = section.market_kind(symbol)
            key = f"venues.{venue}.markets.{symbol}.kind"
            if trades is not None and kind not in trades:
                raise ConfigError(shown, key, f"{ref.ccxt_id} trades {' and '.join(sorted(trades))} markets, not "
                                  f"{kind}: set kind = \"{min(trades)}\"")
            if kind == "inverse_perpetual":
                raise ConfigError(shown, key, "an inverse perpetual is booked by the simulated venue (arb/margin.py) "
                                  "but a run does not trade one yet: its sizing and pairs are in base, not contracts")
            if section.kind == "sandbox" and kind != "spot" and ":" not in names.market(symbol):
                sym = Symbol.parse(symbol)
                raise ConfigError(shown, f"venues.{venue}.market_names", f"{symbol} is a perpetual on the sandbox, "
                                  f"which lists it as ccxt names a contract: market_names = {{ \"{symbol}\" = "
                                  f"\"{symbol}:{sym.quote}\" }}")


def _check_capture(config: Config, shown: str) -> None:
    """The capture a simulated venue plays is there and opens (``load`` checked that there is one to name)."""
    needs_capture = config.engine.mode == "replay" or any(
        v.kind != "live" and v.capture_venue for v in config.venues.values())
    if not needs_capture or config.replay is None:
        return
    capture = config.capture_path()
    if capture is None or not capture_files(capture):
        name = config.replay.capture
        if name.startswith(BUNDLED_PREFIX):
            raise ConfigError(shown, "replay.capture", f"no bundled capture {name[len(BUNDLED_PREFIX):]!r} "
                              f"(bundled: {', '.join(bundled_captures())})")
        why = "capture file not found" if capture is None else no_capture_there(capture)
        raise ConfigError(shown, "replay.capture", f"{why}: {capture} ({WHAT_A_CAPTURE_IS})")
    _check_capture_opens(capture, shown)


def _check_capture_opens(capture: Path, shown: str) -> None:
    """The capture opens and its first line reads, through the strict reader the run uses: a file that is
    not a capture (another format, a damaged gzip header, unreadable) fails here, not after the run has
    started. A file damaged further in still fails the run at that line (``file:line``); reading all of
    it here would make every start as slow as a pass over the whole capture."""
    problem = capture_refusal(capture)
    if problem is not None:
        raise ConfigError(shown, "replay.capture", problem)


def capture_refusal(capture: Path) -> str | None:
    """Why ``capture`` (a file, or a timeline's first file) does not open as one, read through the strict
    reader the run uses (``file:line: what``), or None. A sweep's grid checks its captures with it too."""
    try:
        with closing(read_timeline(capture)) as events:
            next(events, None)
    except CaptureFormatError as exc:
        return str(exc)
    return None


def _check_db_env(environ: Mapping[str, str]) -> None:
    """``$ARB_DB_URL`` (the database ``arb db`` and ``arb report`` use without ``--db``), when set."""
    url = environ.get(DB_URL_ENV)
    if url:
        try:
            check_db_url(url)
        except ValueError as exc:
            raise ConfigError(f"${DB_URL_ENV}", "", str(exc)) from None
