"""What ``arb sandbox`` needs from Gate's sandbox: its own arguments, the :class:`SandboxConfig` they (or an arb
config's sandbox venue) describe, and serving it in the foreground until interrupted.

``arb/commands/sandbox.py`` is the command; it finds this through the venue registry (the adapter's
``sandbox_command()``), as ``arb convert`` finds each venue's converter, so nothing outside ``arb/venues/``
names the venue. The API key and secret come from ``ARB_SANDBOX_KEY`` / ``ARB_SANDBOX_SECRET`` (demo values
otherwise); the secret is never printed. The first line on stdout is ``sandbox listening rest=<url> ws=<url>``
so scripts can start it on ``--port 0`` and read where it went.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from arb.errors import ConfigError, UsageError
from arb.venues.gate.sandbox import values
from arb.venues.gate.sandbox.config import Account, CaptureFeed, RandomWalkFeed, SandboxConfig
from arb.venues.gate.sandbox.contracts import ContractSpec, market_id
from arb.venues.gate.sandbox.orders import PairSpec

if TYPE_CHECKING:
    from arb.config import Config

T = TypeVar("T")

# The random walk quotes ``levels`` prices a tick apart below its mid: below this, its lowest bid would be 0.
_WALK = RandomWalkFeed("")
MIN_MID = (_WALK.levels + 1) * _WALK.tick


def _checked(check: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse ``type=`` from a ``values`` check: its ``ValueError`` becomes the one-line usage error
    (argparse would otherwise print only "invalid value")."""

    def convert(text: str) -> T:
        try:
            return check(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


_mid = _checked(lambda text: values.amount(text, "the mid", low=MIN_MID))
# The config's bound on ``[replay] speed``; 0 plays as fast as possible. nan, inf and -5 are refused: the feed
# would divide by them (nan: every event due at once, never; -5: due before it started).
MAX_SPEED = 1e6


def _speed(text: str) -> float:
    """``--speed``: a float as Python writes one (``10``, ``0.5``, ``1e3``), finite, from 0 to ``MAX_SPEED``."""
    try:
        speed = float(text)
    except ValueError:
        speed = math.nan
    if not (math.isfinite(speed) and 0 <= speed <= MAX_SPEED):
        raise argparse.ArgumentTypeError(f"must be a finite number from 0 to {MAX_SPEED:g}, got {values.shown(text)}")
    return speed


# How many of a capture's venues or symbols a refusal lists (a capture may hold thousands).
_LISTED = 10
_fee = _checked(lambda text: values.amount(text, "the fee rate", high=Decimal("0.999")))


@_checked
def _balance(text: str) -> tuple[str, Decimal]:
    """``CUR=AMOUNT``: a Gate currency and a plain amount in ``[0, 1e15]``."""
    currency, sep, amount = text.partition("=")
    try:
        if not sep:
            raise ValueError("no '='")
        return values.currency(currency, "CUR"), values.amount(amount, "AMOUNT")
    except ValueError as exc:
        raise ValueError(f"expected CUR=AMOUNT, got {text!r}: {exc}") from None


def _account(balances: dict[str, Decimal], futures: dict[str, Decimal] | None = None) -> Account:
    return Account(os.environ.get("ARB_SANDBOX_KEY", "sandbox-key"),
                   os.environ.get("ARB_SANDBOX_SECRET", "sandbox-secret"), balances, futures=futures or {})


class SandboxCommand:
    """Gate's sandbox behind ``arb sandbox``; ``pairs`` and ``contracts`` are the adapter's ``sandbox_pairs``
    and ``sandbox_contracts`` (a config's sandbox markets), handed in so this module does not import the
    adapter that imports it."""

    def __init__(self, pairs: Callable[[Config, str], list[PairSpec]],
                 contracts: Callable[[Config, str], list[ContractSpec]]) -> None:
        self._pairs, self._contracts = pairs, contracts

    def add_arguments(self, p: argparse.ArgumentParser, capture: Callable[[str], Path]) -> None:
        """The sandbox's own options, after the command's ``--config``/``--venue``/``--host``/``--port``;
        ``capture``: the commands' ``--capture`` argument type."""
        p.add_argument("--pair", type=_checked(values.pair_id), default="LINK_USDT",
                       help="the sandbox currency pair (Gate id, BASE_QUOTE)")
        p.add_argument("--capture", type=capture,
                       help="replay this capture file (CAPTURE.md format), or bundled:<name>")
        p.add_argument("--capture-venue", default="binance", help="which venue of the capture feeds --pair")
        p.add_argument("--capture-symbol", default=None, help="which symbol of the capture (default from --pair)")
        p.add_argument("--speed", type=_speed, default=1.0,
                       help=f"replay speed: 1 recorded pace, 0 as fast as possible (at most {MAX_SPEED:g})")
        p.add_argument("--mid", type=_mid, default=Decimal("27.1"),
                       help=f"random-walk start price (at least {MIN_MID}: its levels stay above 0)")
        p.add_argument("--fee", type=_fee, default=Decimal("0.002"), help="taker and maker fee rate, 0 to 0.999")
        p.add_argument(
            "--balance",
            type=_balance,
            action="append",
            default=[],
            metavar="CUR=AMOUNT",
            help="starting balance (repeatable), default USDT=10000 and 100 of the base",
        )

    def from_arguments(self, args: argparse.Namespace) -> SandboxConfig:
        """The sandbox the command line describes (no ``--config``)."""
        pair = PairSpec(args.pair, taker_fee=args.fee, maker_fee=args.fee)
        balances = {"USDT": Decimal(10000), pair.base: Decimal(100)}
        balances.update(args.balance)  # (currency, amount) pairs, checked as arguments
        feed: CaptureFeed | RandomWalkFeed
        if args.capture is not None:
            symbol = f"{pair.base}/{pair.quote}" if args.capture_symbol is None else args.capture_symbol
            _check_stream(args.capture, args.capture_venue, symbol, given=args.capture_symbol is not None)
            feed = CaptureFeed(args.capture, {(args.capture_venue, symbol): pair.id}, speed=args.speed)
        else:
            feed = RandomWalkFeed(pair.id, mid=args.mid)
        return SandboxConfig(accounts=(_account(balances),), pairs=(pair,), host=args.host, port=args.port,
                             feeds=(feed,))

    def from_config(self, config: Config, names: Sequence[str], args: argparse.Namespace) -> SandboxConfig:
        """The sandbox the arb config's sandbox venues ``names`` describe, so that config's runs trade what it
        says (the command has checked the config as ``arb run`` would and chosen the venues). One Gate account
        serves them, as one Gate account has a spot and a futures wallet: at most one spot venue (its pairs,
        the spot wallet) and one futures venue (its USDT perpetuals, the futures wallet)."""
        spot = [n for n in names if not self._contracts(config, n)]
        futures = [n for n in names if self._contracts(config, n)]
        for kind, chosen in (("spot", spot), ("futures", futures)):
            if len(chosen) > 1:
                raise ConfigError(str(config.path), f"venues.{chosen[1]}",
                                  f"one sandbox has one {kind} wallet, and {' and '.join(chosen)} both need it: "
                                  f"start one `arb sandbox --config {config.path} --venue NAME` per venue")
        pairs = [spec for n in spot for spec in self._pairs(config, n)]
        contracts = [spec for n in futures for spec in self._contracts(config, n)]
        routes: dict[tuple[str, str], str] = {}
        for n in names:
            section, markets = config.venues[n], config.venue_markets(n)
            ids = ([market_id(c.name) for c in self._contracts(config, n)] if n in futures
                   else [spec.id for spec in self._pairs(config, n)])
            if section.capture_venue:
                routes.update({(section.capture_venue, s): i for s, i in zip(markets.symbols, ids, strict=True)})
        capture = config.capture_path()
        feed: CaptureFeed | RandomWalkFeed
        if capture is not None and routes:
            feed = CaptureFeed(capture, routes, speed=config.replay.speed if config.replay else 1.0)
        else:
            feed = RandomWalkFeed((pairs[0].id if pairs else market_id(contracts[0].name)), mid=args.mid)

        def wallet(chosen: list[str]) -> dict[str, Decimal]:
            return {k: v for n in chosen for k, v in config.venue_markets(n).venue_amounts(config.venues[n].balances).items()}

        # Without a spot venue the sandbox lists no pair of its own making (its default pair is LINK_USDT).
        return SandboxConfig(accounts=(_account(wallet(spot), wallet(futures)),), pairs=tuple(pairs), contracts=tuple(contracts), host=args.host,
                             port=args.port, feeds=(feed,))

    def serve(self, config: SandboxConfig, venues: Sequence[str] | None) -> int:
        """Run the sandbox in the foreground until interrupted; says where it listens and how the engine's
        ``venues`` sign in (None: a venue named ``gate``)."""
        from arb.venues.gate.sandbox.server import Sandbox  # here, not at the top: see arb/commands/run.py

        async def serve() -> None:
            async with Sandbox(config) as sb:
                print(f"sandbox listening rest={sb.rest_url} ws={sb.ws_url}", flush=True)
                print(_keys_line(venues or ("gate",)), flush=True)
                # A feed that fails (a capture damaged past what was checked before serving: an arb config's
                # capture is checked only as far as its first line, as `arb run` checks it) stops the sandbox
                # at once with its file:line error, not at Ctrl-C.
                await sb.feeds_finished()
                await asyncio.Event().wait()  # until interrupted

        asyncio.run(serve())
        return 0


def _check_stream(capture: Path, venue: str, symbol: str, *, given: bool) -> None:
    """The capture holds ``venue``'s ``symbol``, and reads to its end: a usage error otherwise (exit 2, before
    anything is served), naming what the capture has. Without the check an unknown venue or symbol served an
    empty book without a word, and a damaged capture at speed 0 was reported only at Ctrl-C. ``given``: the
    symbol came from ``--capture-symbol`` (else from ``--pair``)."""
    from arb.marketdata.timeline import read_streams  # the capture reader: only when a capture is played

    streams = read_streams(capture)  # CaptureFormatError (file:line, exit 2) for a damaged capture
    if (venue, symbol) in streams:
        return
    venues = sorted({v for v, _ in streams})
    if venue not in venues:
        raise UsageError(f"--capture-venue {values.shown(venue)}: {capture} has no such venue (its venues: "
                         f"{_listed(venues)})")
    symbols = _listed(sorted(s for v, s in streams if v == venue))
    if given:
        raise UsageError(f"--capture-symbol {values.shown(symbol)}: {capture} has no such symbol of {venue} "
                         f"(its symbols there: {symbols})")
    raise UsageError(f"--pair's symbol {symbol}: {capture} has no such symbol of {venue} (its symbols there: "
                     f"{symbols}; --capture-symbol chooses one)")


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(values.shown(n, 30).strip("'") for n in names[:_LISTED])
    return shown + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


def _keys_line(venues: Sequence[str]) -> str:
    """How an engine's ``venues`` sign in (every one with the one account's pair): the demo key pair when it is
    in use (public, fine to print); never a secret that came from the environment."""
    from arb.config.secrets import env_prefix  # the engine's own rule for a venue's variables

    prefixes = [env_prefix(v) for v in venues]
    if "ARB_SANDBOX_KEY" in os.environ or "ARB_SANDBOX_SECRET" in os.environ:
        names = " and ".join(f"{p}API_KEY / {p}API_SECRET" for p in prefixes)
        return f"account keys: from ARB_SANDBOX_KEY / ARB_SANDBOX_SECRET (give the engine the same as {names})"
    pairs = " ".join(f"{p}API_KEY=sandbox-key {p}API_SECRET=sandbox-secret" for p in prefixes)
    return f"account keys: the demo pair: {pairs} (set ARB_SANDBOX_KEY / ARB_SANDBOX_SECRET to choose your own)"
