"""Reading a config file: TOML, the environment's overrides, the schema, and the checks a file can be given by
itself (two settings that contradict each other, a symbol without its section, two servers on one port).

Everything here is pure of the machine and of arb's runtime: what a config needs from venues' adapters, the
database driver, the capture files or free ports is checked one level up, by the preflight every command
runs (``arb/runtime/preflight.py``), so ``arb config check`` refuses exactly what ``arb run`` would.
The first problem found becomes one :class:`~arb.errors.ConfigError` line naming the file, the key and
what is wrong.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import os
import tomllib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from arb.config.files import DEFAULT_CONFIG, InputFileError, read_input_file
from arb.config.messages import did_you_mean, first_error
from arb.config.model import Config
from arb.config.overrides import apply_overrides, blame
from arb.config.schema import VENUE_NAME, ConfigModel, MonitoringSection, VenueSection, check_path_length
from arb.config.secrets import (
    ALERT_URLS_ENV,
    credentials_from_env,
    env_prefix,
    mask_alert_url,
    reject_secrets,
)
from arb.domain.market import Symbol
from arb.domain.market_names import MarketNameError, MarketNames
from arb.errors import ConfigError


def load_config(path: str | Path = DEFAULT_CONFIG, environ: Mapping[str, str] | None = None) -> Config:
    """Read a config file, apply the environment's ``ARB__SECTION__KEY`` overrides (``arb/config/overrides.py``),
    validate and freeze. Raises ConfigError with one clear line (naming the variable for an override)."""
    path = Path(path)
    shown = str(path)
    environ = os.environ if environ is None else environ
    try:
        raw = tomllib.loads(read_input_file(path), parse_float=Decimal)
    except FileNotFoundError:
        raise ConfigError(shown, "", "file not found") from None
    except InputFileError as exc:
        raise ConfigError(shown, "", f"{exc}, not a config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(shown, "", f"not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(shown, "", f"cannot read: {exc.__class__.__name__}") from None
    raw, overrides = apply_overrides(raw, environ, ConfigModel, did_you_mean)
    try:
        config = _validated(raw, path, shown, environ)
    except ConfigError as exc:
        raise blame(exc, shown, overrides) from None
    return dataclasses.replace(config, overrides={o.key: o.variable for o in overrides})


def config_from_snapshot(snapshot: Mapping[str, Any], shown: str, environ: Mapping[str, str] | None = None) -> Config:
    """The config a run stored (:meth:`Config.snapshot`, its ``config_snapshot``) as a :class:`Config` again,
    checked as a file is, its credentials read from the environment as ``arb run`` reads them: how ``arb
    audit`` reaches the venues that run traded on. What the snapshot masks (the credentials' note, the alert
    URLs) and what it adds (``market_kinds``) are left out. ``shown`` names it in errors (``run 3's config``)."""
    raw = copy.deepcopy({k: v for k, v in snapshot.items() if k != "market_kinds"})  # numbers are put back in it
    raw["venues"] = {name: {k: v for k, v in section.items() if k != "credentials"}
                     for name, section in (snapshot.get("venues") or {}).items()}
    raw["monitoring"] = {**(snapshot.get("monitoring") or {}), "alert_urls": []}
    _numbers_back(raw)
    return _validated(raw, Path(shown), shown, os.environ if environ is None else environ)


def _numbers_back(raw: dict[str, Any]) -> None:
    """A snapshot keeps a duration or a speed (a float key) as the decimal text it was written as, which the
    schema refuses from a file (``speed = "1"`` is a mistake there): each key the schema says wants a number
    gets its text back as the number, in place."""
    try:
        ConfigModel.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            *path, last = error["loc"]
            node: Any = raw
            for part in path:
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, dict) and isinstance(node.get(last), str) and "expected a number" in error["msg"]:
                try:
                    node[last] = Decimal(node[last])
                except ArithmeticError:
                    pass  # not a number after all: the schema's own error says so


def _validated(raw: dict[str, Any], path: Path, shown: str, environ: Mapping[str, str]) -> Config:
    """The file's data (overrides applied) validated in full: the first problem is one ConfigError."""
    reject_secrets(raw, shown, environ_hint=True)
    try:
        model = ConfigModel.model_validate(raw)
    except ValidationError as exc:
        raise first_error(exc, shown) from None

    _check_venue_names(model, shown)
    _check_symbols(model, shown)
    _check_routes(model, shown)
    _check_order_budgets(model, shown)
    _check_rebalance(model, shown)
    config = Config(
        path=path,
        engine=model.engine,
        store=model.store,
        replay=model.replay,
        detection=model.detection,
        symbols=dict(model.symbols),
        risk=model.risk,
        execution=model.execution,
        venues=dict(model.venues),
        sandbox=model.sandbox,
        monitoring=_monitoring(model.monitoring, environ, shown),
        rebalance=model.rebalance,
        credentials={
            venue: creds
            for venue in model.venues
            if (creds := credentials_from_env(venue, environ)) is not None
        },
    )
    _check_replay(config, shown)
    _check_ports(config, shown)
    _check_kill_switch(config, shown)
    return config


def _check_kill_switch(config: Config, shown: str) -> None:
    """The kill-switch file where the risk gate will look, in the config's directory, is a path the system
    can look up (the schema checked the name as written; the directory in front can make it too long)."""
    try:
        check_path_length(str(config.kill_switch_path()))
    except ValueError as exc:
        raise ConfigError(shown, "risk.kill_switch_file", str(exc)) from None


def _check_ports(config: Config, shown: str) -> None:
    """No two of a run's servers on one port: the second could never listen (that it is free now is the
    preflight's to check, ``arb/runtime/preflight.py``: it depends on the machine, not the file)."""
    taken: dict[int, str] = {}
    for key, port in config.listening_ports():
        if port in taken:
            raise ConfigError(shown, key, f"port {port} is {taken[port]}'s too: each server needs its own "
                              "(or 0, any free port)")
        taken[port] = key


def _monitoring(section: MonitoringSection, environ: Mapping[str, str], shown: str) -> MonitoringSection:
    """The section with ``$ARB_ALERT_URLS`` added; every URL one apprise can deliver to (the URL itself is
    never echoed: it may carry a token)."""
    urls = (*section.alert_urls, *environ.get(ALERT_URLS_ENV, "").split())
    if urls:
        import apprise

        for k, url in enumerate(urls):
            if apprise.Apprise.instantiate(url) is None:
                where = (f"monitoring.alert_urls[{k}]" if k < len(section.alert_urls)
                         else f"${ALERT_URLS_ENV} (URL {k - len(section.alert_urls) + 1})")
                raise ConfigError(shown, where, f"not an alert URL apprise can deliver to ({mask_alert_url(url)}); "
                                  "see https://github.com/caronc/apprise/wiki")
    return section.model_copy(update={"alert_urls": urls})


def _check_venue_names(model: ConfigModel, shown: str) -> None:
    for venue in model.venues:
        if not VENUE_NAME.fullmatch(venue):
            raise ConfigError(shown, f"venues.{venue}", "a venue name is letters, digits, '_' and '-' (at most "
                              "64), e.g. spot_main")


def _check_routes(model: ConfigModel, shown: str) -> None:
    """One venue per side of the capture: the engine routes each (capture venue, symbol) to one venue, so a
    second would never be fed (and two copies of one book never cross anyway)."""
    fed_by: dict[str, str] = {}
    for venue, section in model.venues.items():
        source = section.capture_venue
        if source is None or section.kind == "live":  # a live venue's books come from the venue itself
            continue
        if source in fed_by:
            raise ConfigError(shown, f"venues.{venue}.capture_venue",
                              f"{source!r} already feeds venues.{fed_by[source]}: each side of the capture "
                              "feeds one venue")
        fed_by[source] = venue


def _check_rebalance(model: ConfigModel, shown: str) -> None:
    """Each asset's targets name configured venues that hold the asset: a venue trading none of the config's
    symbols in it could never use what a transfer brings."""
    for asset, section in model.rebalance.assets.items():
        for venue in section.targets:
            key = f"rebalance.assets.{asset}.targets.{venue}"
            if venue not in model.venues:
                raise ConfigError(shown, key, f"no venue {venue!r} (venues: {', '.join(model.venues)})")
            symbols = model.venues[venue].symbols or model.engine.symbols
            if not any(asset in s.split("/") for s in symbols):
                raise ConfigError(shown, key, f"{venue} trades no symbol in {asset} ({', '.join(symbols)})")


def _check_order_budgets(model: ConfigModel, shown: str) -> None:
    """A paper venue fills in-process: no order of its leaves arb, so there is nothing to budget (it is not
    throttled either), and an order budget there would be a key nothing reads."""
    for venue, section in model.venues.items():
        if section.kind == "paper" and section.order_budget is not None:
            raise ConfigError(shown, f"venues.{venue}.order_budget", "a paper venue sends no orders to a venue; "
                              "an order budget applies to sandbox and live venues")


def _check_symbols(model: ConfigModel, shown: str) -> None:
    for text in model.symbols:
        try:
            Symbol.parse(text)
        except ValueError as exc:
            raise ConfigError(shown, f"symbols.{text}", str(exc)) from None
    for text in model.engine.symbols:
        if text not in model.symbols:
            raise ConfigError(shown, "engine.symbols", f"{text} has no [symbols.\"{text}\"] section (max_size)")
    _check_venue_symbols(model, shown)
    _check_maker_routes(model, shown)
    for venue, section in model.venues.items():
        for text in section.markets:
            try:
                Symbol.parse(text)
            except ValueError as exc:
                raise ConfigError(shown, f"venues.{venue}.markets.{text}", str(exc)) from None
        if section.kind != "live":
            for text in section.symbols or model.engine.symbols:
                if text not in section.markets:
                    raise ConfigError(
                        shown, f"venues.{venue}.markets",
                        f"a {section.kind} venue needs [venues.{venue}.markets.\"{text}\"] "
                        "(price_step, amount_step, min_amount, min_notional)",
                    )
        _check_market_kinds(venue, section, model.engine.symbols, shown)


def _check_market_kinds(venue: str, section: VenueSection, symbols: Sequence[str], shown: str) -> None:
    """One venue is one kind of account (a spot wallet or a margin account, as Binance's spot and USD-M are
    two, and so are USD-M and COIN-M), and a perpetual's fees are in its settle currency (a linear one's quote,
    an inverse one's base coin). Which kinds a venue trades at all is its
    adapter's to say (``runtime/preflight.py``)."""
    traded = section.symbols or symbols
    kinds = {section.market_kind(text) for text in traded}
    if len(kinds) > 1:
        raise ConfigError(shown, f"venues.{venue}.markets", f"{' and '.join(sorted(kinds))} markets on one venue: a "
                          "venue is one account, a spot wallet or a margin account settled one way; configure two venues")
    if kinds - {"spot"}:
        inverse = kinds == {"inverse_perpetual"}
        settles = {Symbol.parse(text).base if inverse else Symbol.parse(text).quote for text in traded}
        held = sorted(set(section.balances) - settles)
        if held:
            raise ConfigError(shown, f"venues.{venue}.balances", f"a perpetual venue is a margin account: it holds "
                              f"its settle currency ({', '.join(sorted(settles))}), not {', '.join(held)}")
    if kinds - {"spot"} and section.buy_fee_in == "base" and "buy_fee_in" in section.model_fields_set:
        raise ConfigError(shown, f"venues.{venue}.buy_fee_in", "a perpetual charges every fee in its settle "
                          "currency: buy_fee_in = \"base\" does not apply (leave it unset)")


def _check_venue_symbols(model: ConfigModel, shown: str) -> None:
    """Each venue's ``symbols`` and ``market_names`` hold together (the rules of ``MarketNames.build``, which
    the run builds them with), and every engine symbol has two venues to cross between."""
    for venue, section in model.venues.items():
        try:
            names = MarketNames.build(model.engine.symbols, section.symbols, section.market_names)
        except MarketNameError as exc:
            raise ConfigError(shown, f"venues.{venue}.{exc.key}", str(exc)) from None
        if len(names.venue_amounts(section.balances)) < len(section.balances):
            raise ConfigError(shown, f"venues.{venue}.balances", "an asset is given twice: once under the "
                              "engine's name and once under the name market_names gives it on this venue")
    for symbol in model.engine.symbols:
        trading = [name for name, section in model.venues.items() if symbol in (section.symbols or (symbol,))]
        if len(trading) < 2:
            raise ConfigError(shown, "engine.symbols", f"{symbol} is traded on {len(trading)} venue(s) "
                              f"({', '.join(trading) or 'none'}); an arbitrage needs two: add it to another "
                              "venue's symbols")


def _check_maker_routes(model: ConfigModel, shown: str) -> None:
    """A maker symbol's two venues, and a basis symbol's, are configured venues that trade it; a basis
    symbol's spot venue is a spot market and its perpetual venue a perpetual's."""
    for symbol in model.engine.symbols:
        section = model.symbols[symbol]
        pairs: tuple[tuple[str, str], ...] = ()
        if section.maker is not None:
            pairs = (("maker.maker_venue", section.maker.maker_venue), ("maker.taker_venue", section.maker.taker_venue))
        elif section.basis is not None:
            pairs = (("basis.spot_venue", section.basis.spot_venue), ("basis.perp_venue", section.basis.perp_venue))
        for key, venue in pairs:
            where = f"symbols.{symbol}.{key}"
            if venue not in model.venues:
                close = difflib.get_close_matches(venue, list(model.venues), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(shown, where, f"{venue!r} is not a configured venue{hint}; venues: "
                                  f"{', '.join(model.venues)}")
            if symbol not in (model.venues[venue].symbols or (symbol,)):
                raise ConfigError(shown, where, f"{venue} does not trade {symbol} (its symbols)")
            kind = model.venues[venue].market_kind(symbol)
            wanted = {"basis.spot_venue": "spot", "basis.perp_venue": "linear_perpetual"}.get(key, kind)
            if kind != wanted:
                raise ConfigError(shown, where, f"{venue}'s {symbol} is a {kind} market; the basis needs a "
                                  f"{wanted} one there")


def _check_replay(config: Config, shown: str) -> None:
    needs_capture = config.engine.mode == "replay" or any(
        v.kind != "live" and v.capture_venue for v in config.venues.values()
    )
    if config.engine.mode == "replay" and config.replay is None:
        raise ConfigError(shown, "replay", "mode = \"replay\" needs a [replay] section with capture")
    if config.simulated:  # every venue is simulated from the capture, on its market timeline
        mode = config.engine.mode
        for venue, section in config.venues.items():
            if section.kind == "live":
                raise ConfigError(shown, f"venues.{venue}.kind", f"a {mode} run on a capture is a simulation: "
                                  "it cannot use a live venue (mode = \"live\" trades for real)")
            if not section.capture_venue:
                raise ConfigError(shown, f"venues.{venue}.capture_venue",
                                  f"required in {mode} mode on a capture: which venue of the capture feeds "
                                  "this venue (for live books with paper orders: mode = \"live\", dry_run)")
    if needs_capture and config.replay is None:  # paper or live mode: the venue's books would never come
        venue = next(name for name, v in config.venues.items() if v.kind != "live" and v.capture_venue)
        raise ConfigError(shown, f"venues.{venue}.capture_venue",
                          "names a side of the capture, but there is no [replay] section with a capture")
    if config.sandbox.url is not None:
        for venue, section in config.venues.items():
            if section.kind != "sandbox":
                continue
            if config.simulated:
                raise ConfigError(shown, "sandbox.url", f"a {config.engine.mode} run on a capture is a "
                                  "simulation on market time, which a sandbox in another process cannot "
                                  "follow: use the in-process sandbox (no url), or mode = \"live\" against "
                                  "the external one (real time)")
            if venue not in config.credentials:
                env = env_prefix(venue)
                raise ConfigError(shown, f"venues.{venue}",
                                  f"an external sandbox needs {env}API_KEY and {env}API_SECRET in the environment")
    if config.engine.mode == "paper" and config.replay is not None and config.replay.speed <= 0:
        raise ConfigError(shown, "replay.speed",
                          "paper mode plays the capture in real time: set a speed > 0 (1 = recorded pace)")
    if config.engine.mode == "live":
        for venue, section in config.venues.items():
            if section.kind == "live" and venue not in config.credentials:
                env = env_prefix(venue)
                raise ConfigError(shown, f"venues.{venue}",
                                  f"live venue needs {env}API_KEY and {env}API_SECRET in the environment")
        # The capture's venues here (a paper venue, the in-process sandbox) are played in wall time, where
        # orders take real time: at speed 0 the capture would race past them (a rehearsal of seconds, every
        # decision on books already gone).
        played = [venue for venue, section in config.venues.items() if section.capture_venue and (
            section.kind == "paper" or section.kind == "sandbox" and config.sandbox.url is None)]
        if played and config.replay is not None and config.replay.speed <= 0:
            raise ConfigError(shown, "replay.speed",
                              f"live mode plays the capture to {', '.join(played)} in real time: set a speed > 0 "
                              "(1 = recorded pace); 0 would replay it at full speed against orders that take "
                              "wall time")
