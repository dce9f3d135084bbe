"""Frozen, typed configuration loaded from ``config.toml``.

Everything is validated up front, so a bad file fails before anything connects or trades: unknown keys,
wrong types, out-of-range values, venues no adapter speaks (``arb.venues.registry``), malformed symbols,
missing capture files.
The first problem found becomes one :class:`~arb.errors.ConfigError` line naming the file, the key and
what is wrong.

One validation: whatever ``arb run`` would refuse later is refused here, by the code that refuses it at
run time. Numbers are finite and within the range arb's arithmetic is built for
(``arb.domain.market.MAX_QUANTITY``); price and amount steps are ones arb can round to
(``arb.domain.market.check_step``) and, on a sandbox venue, ones its adapter's sandbox can list
(``VenueAdapter.check_sandbox_step``); a live venue is one its adapter can look orders up on by client id
(``VenueAdapter.live_refusal``); two venues never replay the same side of a capture; database
URLs parse with a driver that is installed (``arb.store.db``: the code every database command connects
through); the capture opens and its first line reads (``arb.marketdata.capture.read_capture``).

Secrets never live in the file. API keys come from the environment, ``ARB_<VENUE>_API_KEY`` and
``ARB_<VENUE>_API_SECRET`` (``ARB_<VENUE>_API_PASSWORD`` where a venue needs one); a secret-looking key in
the file is itself an error, so a key pasted there by mistake is caught before it is committed anywhere.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from arb.domain.market import MAX_QUANTITY, Symbol, check_step
from arb.errors import ArbError, ConfigError
from arb.venues.market_names import MarketNameError, MarketNames

DEFAULT_CONFIG = Path("config.toml")
BUNDLED_PREFIX = "bundled:"
BUNDLED_DIR = Path(__file__).parent / "data"

# Keys that look like credentials. Matching is on the normalized key name anywhere in the file.
SECRET_KEY_NAMES = frozenset(
    {"apikey", "api_key", "key", "secret", "api_secret", "secret_key", "password", "passphrase",
     "private_key", "privatekey", "token", "uid"}
)


def check_path_length(text: str) -> None:
    """ValueError unless the system can look ``text`` up: each part of it at most the file system's NAME_MAX
    bytes, the whole at most PATH_MAX, and every character one a file name can hold. A path past those
    limits is not missing, it is an error (``OSError: File name too long``) wherever it is first used."""
    try:
        encoded = os.fsencode(text)
    except UnicodeEncodeError as exc:
        raise ValueError(f"not a file name the system can encode ({exc.reason} at character {exc.start})") from None
    path = Path(text)
    existing = _existing_parent(path)
    name_max, path_max = _pathconf(existing, "PC_NAME_MAX", 255), _pathconf(existing, "PC_PATH_MAX", 4096)
    if len(encoded) >= path_max:  # PATH_MAX counts the terminating NUL
        raise ValueError(f"a path of {len(encoded)} bytes is too long (at most {path_max - 1} here)")
    for part in path.parts:
        size = len(os.fsencode(part))
        if size > name_max:
            raise ValueError(f"a file name of {size} bytes is too long (at most {name_max} here)")


def _existing_parent(path: Path) -> Path:
    """The nearest directory above ``path`` that exists: the file system whose limits it lives under."""
    for parent in path.absolute().parents:
        try:
            if parent.is_dir():
                return parent
        except OSError:  # itself too long to look up
            continue
    return Path(path.absolute().anchor)


def _pathconf(path: Path, name: str, default: int) -> int:
    try:
        value = os.pathconf(path, name)
    except (OSError, ValueError):  # not a limit this system reports
        return default
    return value if value > 0 else default


def _exact_decimal(value: Any) -> Any:
    """Accept TOML strings and integers as exact decimals; floats via their shortest repr.

    ``taker_fee = 0.001`` in TOML is a float whose repr is ``'0.001'``, exactly what the user wrote;
    ``Decimal(0.001)`` would instead carry the binary approximation into every fee computed from it.
    """
    if isinstance(value, bool):
        raise ValueError("expected a decimal number, got a boolean")
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except ArithmeticError:
            raise ValueError(f"not a decimal number: {value!r}") from None
    return value


def _step(value: Decimal) -> Decimal:
    check_step(value)  # the rule rounding applies at run time (arb/domain/market.py)
    return value


# Amounts, prices, balances and money limits: finite, and at most MAX_QUANTITY (the range arb's exact
# arithmetic is sized for). Basis points below 10,000: a 100% allowance would price a sell leg at zero.
Dec = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(allow_inf_nan=False)]
PositiveDec = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(gt=0, le=MAX_QUANTITY, allow_inf_nan=False)]
NonNegDec = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(ge=0, le=MAX_QUANTITY, allow_inf_nan=False)]
FeeRate = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(ge=0, lt=Decimal("0.05"), allow_inf_nan=False)]
Bps = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(ge=0, lt=10_000, allow_inf_nan=False)]
Step = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(allow_inf_nan=False), AfterValidator(_step)]


def _seconds(*, gt: float | None = None, ge: float | None = None, le: float, default: float | None) -> Any:
    """A finite duration (or speed) in a sane range: ``inf`` would overflow a timedelta or a timer."""
    return Field(default=default, gt=gt, ge=ge, le=le, allow_inf_nan=False)


DAY_MS = 86_400_000
# The slowest request rate a venue may be given: one request per 100 s, a hundred times slower than the
# slowest budget an exchange publishes (about one a second). A run's start alone makes several requests
# (markets, balances, open orders, fills) and a pair's legs and lookups several more; below this a run sits
# silent for hours after "run N started" (at 1e-9, one request per 32 years: it never moves again).
MIN_RATE_PER_S = 0.01


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class EngineSection(_Section):
    mode: Literal["replay", "paper", "live"] = "replay"
    symbols: tuple[str, ...] = Field(min_length=1)
    book_depth: int = Field(default=20, ge=1, le=1000)
    status: Literal["auto", "rich", "plain", "off"] = "auto"
    # A plain status line every this many wall seconds (the rich view redraws 4 times a second regardless):
    # from 0.1 (ten lines a second already scroll faster than anyone reads; 1e-6 flooded the terminal) to an
    # hour (a long live run still says it is alive).
    status_interval_s: float = _seconds(default=5.0, ge=0.1, le=3600)
    stale_after_ms: int = Field(default=10_000, gt=0, le=DAY_MS)  # a book silent this long is `stale`
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    dry_run: bool = False

    @field_validator("symbols")
    @classmethod
    def _symbols_well_formed(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            Symbol.parse(text)
        if len(set(value)) != len(value):
            raise ValueError("symbols are listed twice")
        return value


class StoreSection(_Section):
    url: str = "sqlite:///arb.db"

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql")):
            raise ValueError("only sqlite:/// and postgresql+psycopg:// URLs are supported")
        check_db_url(value)
        return value


class ReplaySection(_Section):
    # A path (relative to the config file) or "bundled:<name>" for data shipped inside the package. A
    # directory or glob of files (a day per file) replays them in name order as one timeline.
    capture: str = Field(min_length=1)
    speed: float = _seconds(default=0.0, ge=0, le=1e6)  # 0 = as fast as possible, 1 = recorded speed


class DetectionSection(_Section):
    min_edge_bps: NonNegDec = Decimal("0.5")
    min_profit: NonNegDec = Decimal("0")
    abnormal_edge_bps: PositiveDec = Decimal("50")
    max_book_age_ms: int = Field(default=500, gt=0, le=DAY_MS)


class SymbolSection(_Section):
    max_size: PositiveDec  # base units per opportunity


class RiskSection(_Section):
    max_notional_per_trade: PositiveDec
    max_exposure_per_asset: PositiveDec  # unhedged base units per venue and asset
    daily_loss_limit: PositiveDec
    max_consecutive_failures: int = Field(default=3, ge=1, le=1_000_000)
    failure_cooldown_s: float = _seconds(default=60.0, gt=0, le=86_400)
    kill_switch_file: str = Field(default="arb.kill", min_length=1)  # "" would name ".", which exists

    @field_validator("kill_switch_file")
    @classmethod
    def _a_path(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("a file name cannot contain a NUL character")
        check_path_length(value)  # the risk gate looks it up before every trade: OSError there stops the run
        return value


class ExecutionSection(_Section):
    slippage_bps: Bps = Decimal("2")
    leg_policy: Literal["unwind", "complete", "halt"] = "unwind"
    imbalance_max_slippage_bps: Bps = Decimal("20")
    order_timeout_s: float = _seconds(default=5.0, gt=0, le=600)
    lookup_attempts: int = Field(default=6, ge=1, le=100)  # lookups by client id before an order is unresolved
    # Pairs executing at once, each on its own symbol; 1: a pair is decided only when none is in flight.
    max_pairs_in_flight: int = Field(default=1, ge=1, le=64)


class MarketSection(_Section):
    """Trading rules for a symbol on a paper or sandbox venue (live venues report their own)."""

    price_step: Step
    amount_step: Step
    min_amount: NonNegDec = Decimal(0)
    min_notional: NonNegDec = Decimal(0)


VENUE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # it becomes ARB_<NAME>_API_KEY


class VenueSection(_Section):
    # sandbox: the adapter's local exchange; paper: fills against the book locally; live: real.
    kind: Literal["sandbox", "paper", "live"]
    # Which adapter speaks this venue (arb/venues/registry.py); default: the venue's name. The venue's name
    # is the user's choice (gate_main, gate_hedge) once the adapter is named.
    adapter: str | None = Field(default=None, min_length=1)
    ccxt_id: str | None = Field(default=None, min_length=1)  # the ccxt exchange id; default: the adapter's
    taker_fee: FeeRate
    fee_tier: str = Field(min_length=1)  # which published tier taker_fee comes from
    buy_fee_in: Literal["base", "quote"] = "base"
    capture_venue: str | None = Field(default=None, min_length=1)  # which venue of the capture feeds this one
    balances: dict[str, NonNegDec] = Field(default_factory=dict)  # starting balances (paper/sandbox)
    # Simulated venues (paper, sandbox): a request's trip to the venue (it is matched at arrival) and the
    # answer's trip back, each plus a uniform draw in [0, latency_jitter_ms] seeded per venue
    # (arb/venues/latent.py). In a replay these are market time.
    latency_ms: int = Field(default=0, ge=0, le=60_000)
    ack_latency_ms: int | None = Field(default=None, ge=0, le=60_000)  # default: latency_ms
    latency_jitter_ms: int = Field(default=0, ge=0, le=60_000)
    # In a simulation: this venue's book updates reach arb this much later than the capture recorded them
    # (the capture's timestamps are already a real receipt time; 0 replays them as they were). Unset: read
    # from the capture's exchange times where it has them, else 0 (arb/runtime/feed_latency.py).
    feed_latency_ms: int | None = Field(default=None, ge=0, le=60_000)
    # Overrides the adapter's declared global request rate (per second; on a generic ccxt venue in ccxt
    # cost units, each request at its endpoint's cost). Default: the adapter's (ccxt's rateLimit). At least
    # MIN_RATE_PER_S.
    rate_limit_per_s: float | None = _seconds(default=None, ge=MIN_RATE_PER_S, le=1e6)
    markets: dict[str, MarketSection] = Field(default_factory=dict)  # keyed by the engine's symbol
    # The engine symbols this venue trades (default: all of [engine] symbols); detection pairs it only with
    # venues trading the same symbol. ``market_names``: engine symbol -> this venue's name for the market
    # where it differs ({ "BTC/USDT" = "XBT/USDT" }); its assets follow (arb/venues/market_names.py).
    symbols: tuple[str, ...] | None = Field(default=None, min_length=1)
    market_names: dict[str, str] = Field(default_factory=dict)

    @field_validator("balances")
    @classmethod
    def _asset_codes(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for asset in value:
            if not (asset.isalnum() and asset.upper() == asset):
                raise ValueError(f"asset code {asset!r} must be upper-case letters/digits, e.g. USDT")
        return value


class SandboxSection(_Section):
    port: int = Field(default=0, ge=0, le=65535)  # 0 = any free loopback port
    # Connect to an already-running `arb sandbox` (e.g. http://127.0.0.1:8765) instead of starting one
    # in-process; its key/secret come from ARB_<VENUE>_API_KEY / ARB_<VENUE>_API_SECRET like a live venue's.
    url: str | None = None

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None:
            from urllib.parse import urlsplit

            try:
                parts = urlsplit(value)
                parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
            except ValueError:
                parts = None
            if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("must be an http(s) URL such as http://127.0.0.1:8765")
        return value.rstrip("/") if value else value


class MonitoringSection(_Section):
    """What a trader watches from outside the process (``arb/monitoring/``)."""

    # Prometheus /metrics on 127.0.0.1 at this port while `arb run` runs (0 = any free port); None = off.
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    # The read-only web dashboard on http://127.0.0.1:<port>/ while `arb run` runs (0 = any free port, the
    # URL is printed at start); None = off. `arb dashboard` serves a stored run's.
    dashboard_port: int | None = Field(default=None, ge=0, le=65535)
    # Apprise URLs (tgram://, slack://, discord://, mailto://, json://...) told of halts, breaker trips,
    # stale venues, the daily loss limit and the kill switch. They usually hold a token: prefer the
    # environment, ARB_ALERT_URLS (whitespace-separated), which is added to these.
    alert_urls: tuple[str, ...] = Field(default=(), repr=False)


class _ConfigModel(_Section):
    engine: EngineSection
    store: StoreSection = StoreSection()
    replay: ReplaySection | None = None
    detection: DetectionSection = DetectionSection()
    symbols: dict[str, SymbolSection]
    risk: RiskSection
    execution: ExecutionSection = ExecutionSection()
    venues: dict[str, VenueSection] = Field(min_length=2)
    sandbox: SandboxSection = SandboxSection()
    monitoring: MonitoringSection = MonitoringSection()


@dataclass(frozen=True, slots=True)
class Credentials:
    """API credentials read from the environment. ``repr``/``str`` never show them."""

    api_key: str
    secret: str
    password: str | None = None

    def __repr__(self) -> str:
        return "Credentials(***)"

    __str__ = __repr__


@dataclass(frozen=True)
class Config:
    """The validated configuration plus where it came from and the credentials found for it."""

    path: Path
    engine: EngineSection
    store: StoreSection
    replay: ReplaySection | None
    detection: DetectionSection
    symbols: Mapping[str, SymbolSection]
    risk: RiskSection
    execution: ExecutionSection
    venues: Mapping[str, VenueSection]
    sandbox: SandboxSection
    credentials: Mapping[str, Credentials]
    overrides: Mapping[str, str] = dataclasses.field(default_factory=dict)  # key -> the ARB__ variable setting it
    monitoring: MonitoringSection = MonitoringSection()  # alert_urls: the file's and $ARB_ALERT_URLS

    @property
    def simulated(self) -> bool:
        """A replay, or paper mode on a capture: a deterministic simulation on the capture's market time
        (``arb/runtime/simloop.py``); paper is the same simulation paced in wall time."""
        return self.engine.mode == "replay" or (self.engine.mode == "paper" and self.replay is not None)

    def venue_markets(self, venue: str) -> MarketNames:
        """The engine symbols ``venue`` trades and its names for them (validated by :func:`load_config`)."""
        section = self.venues[venue]
        return MarketNames.build(self.engine.symbols, section.symbols, section.market_names)

    def venues_trading(self, symbol: str) -> tuple[str, ...]:
        """The venues that trade ``symbol``, in config order: the only ones detection pairs for it."""
        return tuple(name for name, section in self.venues.items()
                     if section.symbols is None or symbol in section.symbols)

    def listening_ports(self) -> list[tuple[str, int]]:
        """(key, port) of each fixed port a run listens on, on 127.0.0.1: the metrics endpoint, the dashboard
        and the in-process sandbox (0, any free port, and what is off are left out)."""
        m = self.monitoring
        ports = [(key, port) for key, port in (("monitoring.metrics_port", m.metrics_port),
                                                ("monitoring.dashboard_port", m.dashboard_port)) if port]
        if self.sandbox.port and self.sandbox.url is None and any(v.kind == "sandbox" for v in self.venues.values()):
            ports.append(("sandbox.port", self.sandbox.port))
        return ports

    def capture_path(self) -> Path | None:
        if self.replay is None:
            return None
        return resolve_capture(self.replay.capture, self.path)

    def snapshot(self) -> dict[str, Any]:
        """The effective config as plain JSON-able data, secrets masked. Stored with every run."""
        data: dict[str, Any] = {
            "engine": self.engine.model_dump(mode="json"),
            "store": {"url": mask_url(self.store.url)},
            "replay": self.replay.model_dump(mode="json") if self.replay else None,
            "detection": self.detection.model_dump(mode="json"),
            "symbols": {k: v.model_dump(mode="json") for k, v in self.symbols.items()},
            "risk": self.risk.model_dump(mode="json"),
            "execution": self.execution.model_dump(mode="json"),
            "venues": {k: v.model_dump(mode="json") for k, v in self.venues.items()},
            "sandbox": self.sandbox.model_dump(mode="json"),
            "monitoring": {**self.monitoring.model_dump(mode="json"),
                           "alert_urls": [mask_alert_url(u) for u in self.monitoring.alert_urls]},
        }
        for venue in self.venues:
            found = venue in self.credentials
            data["venues"][venue]["credentials"] = "*** (from environment)" if found else "(not set)"
        return _no_floats(data)


def _no_floats(node: Any) -> Any:
    """Durations and speeds are floats in the config; the store keeps numbers exact, so they become the
    decimal they were written as."""
    if isinstance(node, float):
        return Decimal(repr(node))
    if isinstance(node, dict):
        return {k: _no_floats(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_no_floats(v) for v in node]
    return node


def mask_url(url: str) -> str:
    """Hide a database password: ``postgresql://u:pw@h/db`` -> ``postgresql://u:***@h/db``."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    userinfo, at, host = rest.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in userinfo else url


def mask_alert_url(url: str) -> str:
    """An alert URL with everything past its scheme hidden (tokens live in the host, path or query):
    ``tgram://123:abc/456`` -> ``tgram://***``."""
    scheme, sep, _ = url.partition("://")
    return f"{scheme}://***" if sep else "***"


ALERT_URLS_ENV = "ARB_ALERT_URLS"


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


def resolve_capture(capture: str, config_path: Path) -> Path:
    if capture.startswith(BUNDLED_PREFIX):
        return BUNDLED_DIR / f"{capture[len(BUNDLED_PREFIX):]}.jsonl.gz"
    path = Path(capture)
    return path if path.is_absolute() else config_path.parent / path


def bundled_captures() -> list[str]:
    """The names ``bundled:<name>`` accepts: the captures shipped in ``arb/data``."""
    return sorted(p.name.removesuffix(".jsonl.gz") for p in BUNDLED_DIR.glob("*.jsonl.gz"))


def capture_argument(text: str) -> Path:
    """argparse ``type=`` for a capture on the command line: a path (relative to the working directory) or
    ``bundled:<name>``, as in the config. One that is not there, or a file of it that is empty or does not
    open (``capture.check_not_empty``, as the reader would refuse it), is a usage error (one line, exit 2)."""
    import argparse

    from arb.errors import CaptureFormatError
    from arb.marketdata.capture import check_not_empty
    from arb.marketdata.timeline import WHAT_A_CAPTURE_IS, capture_files

    path = resolve_capture(text, Path("."))
    files = capture_files(path)
    if files:  # a file, or a directory or glob of them: one timeline
        try:
            for file in files:
                check_not_empty(file)
        except CaptureFormatError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return path
    if text.startswith(BUNDLED_PREFIX):
        raise argparse.ArgumentTypeError(
            f"no bundled capture {text[len(BUNDLED_PREFIX):]!r} (bundled: {', '.join(bundled_captures())})")
    raise argparse.ArgumentTypeError(f"capture file not found: {text!r} ({WHAT_A_CAPTURE_IS})")


def env_prefix(venue: str) -> str:
    return f"ARB_{venue.upper().replace('-', '_')}_"


def credentials_from_env(venue: str, environ: Mapping[str, str]) -> Credentials | None:
    prefix = env_prefix(venue)
    key, secret = environ.get(prefix + "API_KEY"), environ.get(prefix + "API_SECRET")
    if not key or not secret:
        return None
    return Credentials(key, secret, environ.get(prefix + "API_PASSWORD") or None)


def load_config(path: str | Path = DEFAULT_CONFIG, environ: Mapping[str, str] | None = None) -> Config:
    """Read a config file, apply the environment's ``ARB__SECTION__KEY`` overrides (``arb/config_overrides.py``),
    validate and freeze. Raises ConfigError with one clear line (naming the variable for an override)."""
    from arb.config_overrides import apply_overrides, blame

    path = Path(path)
    shown = str(path)
    environ = os.environ if environ is None else environ
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(shown, "", "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(shown, "", f"not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(shown, "", f"cannot read: {exc.__class__.__name__}") from None
    raw, overrides = apply_overrides(raw, environ, _ConfigModel, _did_you_mean)
    try:
        config = _validated(raw, path, shown, environ)
    except ConfigError as exc:
        raise blame(exc, shown, overrides) from None
    return dataclasses.replace(config, overrides={o.key: o.variable for o in overrides})


def _validated(raw: dict[str, Any], path: Path, shown: str, environ: Mapping[str, str]) -> Config:
    """The file's data (overrides applied) validated in full: the first problem is one ConfigError."""
    _reject_secrets(raw, shown, environ_hint=True)
    try:
        model = _ConfigModel.model_validate(raw)
    except ValidationError as exc:
        raise _first_error(exc, shown) from None

    _check_venues(model, shown)
    _check_symbols(model, shown)
    _check_markets(model, shown)
    _check_routes(model, shown)
    _check_db_env(environ)
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
        credentials={
            venue: creds
            for venue in model.venues
            if (creds := credentials_from_env(venue, environ)) is not None
        },
    )
    _check_replay(config, shown)
    _check_ports(config, shown)
    return config


def _check_ports(config: Config, shown: str) -> None:
    """No two of a run's servers on one port: the second could never listen (that it is free now is the
    preflight's to check, ``arb/runtime/preflight.py``: it depends on the machine, not the file)."""
    taken: dict[int, str] = {}
    for key, port in config.listening_ports():
        if port in taken:
            raise ConfigError(shown, key, f"port {port} is {taken[port]}'s too: each server needs its own "
                              "(or 0, any free port)")
        taken[port] = key


def check_db_url(url: str) -> None:
    """ValueError unless arb can connect through ``url``: it parses, names SQLite or PostgreSQL with a driver
    that is installed (checked by ``arb.store.db.make_engine``, which every command connects through; no
    connection is made), has no parameter the driver would ignore, and names a database that outlives a
    connection: an SQLite file whose directory exists, not in-memory SQLite (the migrations would build
    their schema in one memory database and the run write to another, empty one)."""
    import warnings

    from sqlalchemy.exc import SAWarning

    from arb.store.db import make_engine, parse_url, sqlite_file

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", SAWarning)  # e.g. a query parameter the driver would ignore
            make_engine(url).dispose()
        path = sqlite_file(url)
        in_memory = path is None and parse_url(url).get_backend_name() == "sqlite"
    except ArbError as exc:
        raise ValueError(str(exc)) from None
    except SAWarning as exc:
        raise ValueError(str(exc).split(" (Background")[0]) from None
    if in_memory:
        raise ValueError("an in-memory SQLite database is gone when its connection closes: name a file, "
                         "e.g. sqlite:///arb.db")
    if path is not None and not path.parent.is_dir():
        raise ValueError(f"the directory of the database file {path} does not exist")


def _check_db_env(environ: Mapping[str, str]) -> None:
    """``$ARB_DB_URL`` (the database ``arb db`` and ``arb report`` use without ``--db``), when set."""
    from arb.store.db import DB_URL_ENV

    url = environ.get(DB_URL_ENV)
    if url:
        try:
            check_db_url(url)
        except ValueError as exc:
            raise ConfigError(f"${DB_URL_ENV}", "", str(exc)) from None


def _reject_secrets(node: Any, shown: str, environ_hint: bool, prefix: str = "") -> None:
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if prefix.endswith(".balances") or prefix == "symbols":
            continue  # asset codes and symbols, not settings: "KEY" or "UID" may be real assets
        if key.lower().replace("-", "_") in SECRET_KEY_NAMES:
            venue = prefix.split(".")[1] if prefix.startswith("venues.") else "VENUE"
            env = env_prefix(venue)
            # The value itself is never echoed: it may be a real secret.
            raise ConfigError(
                shown, dotted,
                f"secrets are not allowed in the config file; set {env}API_KEY and {env}API_SECRET "
                "in the environment instead (and remove this key, and rotate it if it was real)",
            )
        _reject_secrets(value, shown, environ_hint, dotted)


def _section_at(loc: Sequence[object]) -> type[BaseModel] | None:
    """The section model a key path ends in (``("venues", "gate")`` -> VenueSection), or None."""
    model: type[BaseModel] = _ConfigModel
    parts = list(loc)
    while parts:
        field = model.model_fields.get(str(parts.pop(0)))
        if field is None:
            return None
        annotation = field.annotation
        args = typing.get_args(annotation)
        if typing.get_origin(annotation) is dict:  # venues, symbols, markets: the next part is a name
            if not parts:
                return None
            parts.pop(0)
            annotation = args[1]
        else:
            annotation = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), annotation)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _did_you_mean(loc: Sequence[object]) -> str:
    """`` (did you mean 'taker_fee'?)`` for a mistyped key, from its section's own keys; else nothing."""
    section = _section_at(loc[:-1])
    if section is None:
        return ""
    close = difflib.get_close_matches(str(loc[-1]), list(section.model_fields), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _first_error(exc: ValidationError, shown: str) -> ConfigError:
    errors = exc.errors(include_url=False)
    err = _typo_of_missing(errors) or errors[0]
    key = ".".join(str(part) for part in err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        return ConfigError(shown, key, "unknown key" + _did_you_mean(err["loc"]))
    if kind == "missing":
        return ConfigError(shown, key, "required key is missing")
    message = re.sub(r"Decimal\('([^']*)'\)", r"\1", err["msg"].removeprefix("Value error, "))
    value = err.get("input")
    if key == "store.url" and isinstance(value, str):
        value = mask_url(value)  # never echo a database password
        if value in message:
            return ConfigError(shown, key, message)
    if isinstance(value, (str, int, float, Decimal)) and not isinstance(value, bool):
        if not isinstance(value, str):
            message += f" (got {value})"
        elif len(value) > ECHO_MAX:  # one line, not a screenful of a 4,000-character path
            message += f" (got {value[:ECHO_MAX]!r}... {len(value):,} characters)"
        elif repr(value) not in message:  # unless the message quotes it already (``not a decimal number: 'x'``)
            message += f" (got {value!r})"
    return ConfigError(shown, key, message)


def _typo_of_missing(errors: Sequence[Any]) -> Any:
    """A required key reported missing because it was mistyped (``daily_los_limit``) is reported as the
    typo, which is what the user wrote and must fix: the unknown key close to a missing one in its table."""
    for missing in (e for e in errors if e["type"] == "missing"):
        for extra in (e for e in errors if e["type"] == "extra_forbidden"):
            same_table = tuple(extra["loc"][:-1]) == tuple(missing["loc"][:-1])
            if same_table and difflib.get_close_matches(str(extra["loc"][-1]), [str(missing["loc"][-1])], n=1):
                return extra
    return None


ECHO_MAX = 80  # characters of a refused value an error line shows


def _check_venues(model: _ConfigModel, shown: str) -> None:
    # Imported here: the registry imports ccxt (~0.5 s) and `arb --help` should not wait for it.
    from arb.venues.registry import UnknownVenue, resolve, sandbox_adapters

    for venue, section in model.venues.items():
        key = f"venues.{venue}"
        if not VENUE_NAME.fullmatch(venue):
            raise ConfigError(shown, key, "a venue name is letters, digits, '_' and '-' (at most 64), "
                              "e.g. spot_main")
        try:
            ref = resolve(venue, section.adapter, section.ccxt_id)
        except UnknownVenue as exc:
            where = ".adapter" if section.adapter else ".ccxt_id" if section.ccxt_id else ""
            raise ConfigError(shown, key + where, str(exc)) from None
        if section.kind == "sandbox" and not ref.adapter.has_sandbox:
            raise ConfigError(shown, f"{key}.kind", f"the {ref.adapter.key} adapter has no sandbox "
                              f"(adapters with one: {', '.join(sandbox_adapters())})")
        # Books from the venue itself (a live venue; a paper one with no capture outside a replay) come
        # through its adapter's feed (arb/runtime/feeds.py), and a live venue trades through it.
        own_books = section.kind == "live" or (
            section.kind == "paper" and not section.capture_venue and model.engine.mode != "replay")
        refusal = ref.adapter.books_refusal(ref.ccxt_id) if own_books else None
        if refusal is None and section.kind == "live" and not model.engine.dry_run:
            refusal = ref.adapter.live_refusal(ref.ccxt_id)  # never trade blind
        if refusal is not None:
            raise ConfigError(shown, key, refusal)


def _check_markets(model: _ConfigModel, shown: str) -> None:
    """A sandbox venue lists each market the way its adapter's sandbox does (the Gate sandbox: in decimal
    places): its steps must be ones it can state. The same rule builds the sandbox's markets at run time."""
    from arb.venues.registry import resolve

    for venue, section in model.venues.items():
        if section.kind != "sandbox":
            continue
        adapter = resolve(venue, section.adapter, section.ccxt_id).adapter
        for symbol in section.symbols or model.engine.symbols:
            market = section.markets[symbol]
            for field in ("price_step", "amount_step"):
                try:
                    adapter.check_sandbox_step(getattr(market, field))
                except ValueError as exc:
                    raise ConfigError(shown, f"venues.{venue}.markets.{symbol}.{field}",
                                      f"{exc} (a sandbox venue)") from None


def _check_routes(model: _ConfigModel, shown: str) -> None:
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


def _check_symbols(model: _ConfigModel, shown: str) -> None:
    for text in model.symbols:
        try:
            Symbol.parse(text)
        except ValueError as exc:
            raise ConfigError(shown, f"symbols.{text}", str(exc)) from None
    for text in model.engine.symbols:
        if text not in model.symbols:
            raise ConfigError(shown, "engine.symbols", f"{text} has no [symbols.\"{text}\"] section (max_size)")
    _check_venue_symbols(model, shown)
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


def _check_venue_symbols(model: _ConfigModel, shown: str) -> None:
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
    if needs_capture and config.replay is not None:
        from arb.marketdata.timeline import WHAT_A_CAPTURE_IS, capture_files

        capture = config.capture_path()
        if capture is None or not capture_files(capture):
            name = config.replay.capture
            if name.startswith(BUNDLED_PREFIX):
                raise ConfigError(shown, "replay.capture", f"no bundled capture {name[len(BUNDLED_PREFIX):]!r} "
                                  f"(bundled: {', '.join(bundled_captures())})")
            raise ConfigError(shown, "replay.capture", f"capture file not found: {capture} ({WHAT_A_CAPTURE_IS})")
        _check_capture_opens(capture, shown)
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


# TOML basic strings: these escapes, \uXXXX for every other control character. C1 controls and bidi
# overrides are escaped too (valid TOML either way): the output goes to a terminal.
_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_TOML_UNSAFE = re.compile('["\\\\\\x00-\\x1f\\x7f-\\x9f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]')
_TOML_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string that re-parses to exactly ``text`` and is safe to print."""
    return '"' + _TOML_UNSAFE.sub(lambda m: _TOML_ESCAPES.get(m.group(), f"\\u{ord(m.group()):04X}"), text) + '"'


def _check_capture_opens(capture: Path, shown: str) -> None:
    """The capture opens and its first line reads, through the strict reader the run uses: a file that is
    not a capture (another format, a damaged gzip header, unreadable) fails here, not after the run has
    started. A file damaged further in still fails the run at that line (``file:line``); reading all of
    it here would make every start as slow as a pass over the whole capture."""
    from contextlib import closing

    from arb.errors import CaptureFormatError
    from arb.marketdata.timeline import read_timeline

    try:
        with closing(read_timeline(capture)) as events:  # the first file of a timeline
            next(events, None)
    except CaptureFormatError as exc:
        raise ConfigError(shown, "replay.capture", str(exc)) from None


def render_toml(data: Mapping[str, Any], notes: Mapping[str, str] | None = None) -> str:
    """A small TOML writer for the effective config (tables of scalars, lists and nested tables).

    ``notes``: a comment for a dotted key (``risk.daily_loss_limit``), written after its line (a table's:
    after its header); ``arb config check`` marks the values set from the environment with it.

    Strings and keys come from the user's file and are escaped (:func:`toml_string`): the output always
    re-parses (``tests/config/test_render_toml.py``) and never carries a raw control character."""
    lines: list[str] = []

    def scalar(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return repr(value)  # inf, nan and 1e+20 are TOML as Python writes them
        if isinstance(value, Decimal):
            if not value.is_finite():
                return "nan" if value.is_nan() else ("-inf" if value < 0 else "inf")
            return str(value)
        if isinstance(value, (list, tuple)):
            return "[" + ", ".join(scalar(v) for v in value) + "]"
        return toml_string(str(value))

    def key(part: str) -> str:
        return part if _TOML_BARE_KEY.fullmatch(part) else toml_string(part)

    def note(dotted: str) -> str:
        text = (notes or {}).get(dotted)
        return f"  # {printable_note(text)}" if text else ""

    def table(name: str, dotted: str, node: Mapping[str, Any]) -> None:
        plain = {k: v for k, v in node.items() if not isinstance(v, Mapping) and v is not None}
        nested = {k: v for k, v in node.items() if isinstance(v, Mapping)}
        if plain or not nested or note(dotted):
            lines.append(f"[{name}]{note(dotted)}")
            lines.extend(f"{key(k)} = {scalar(v)}{note(f'{dotted}.{k}')}" for k, v in plain.items())
            lines.append("")
        for k, v in nested.items():
            table(f"{name}.{key(k)}", f"{dotted}.{k}", v)

    def printable_note(text: str) -> str:
        return toml_string(text)[1:-1]  # escaped like a string: a comment cannot hold a line break

    for name, node in data.items():
        if isinstance(node, Mapping):
            table(key(name), name, node)
    return "\n".join(lines)
