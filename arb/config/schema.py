"""The configuration's schema: every section as a frozen pydantic model, each value's type and range.

Numbers are finite and within the range arb's arithmetic is built for (``arb.domain.market.MAX_QUANTITY``);
price and amount steps are ones arb can round to (``arb.domain.market.check_step``); amounts and fees are
exact decimals as written. Nothing here reads a file, the environment or anything above ``arb.domain``.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from arb.domain.market import MAX_QUANTITY, Symbol, check_step


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
    """Accept TOML strings and integers as exact decimals; a TOML float arrives as the decimal written (the
    config is read with ``parse_float=Decimal``), and a Python float via its shortest repr.

    ``taker_fee = 0.001`` read as a binary float would be right by its repr, but past 17 significant digits
    the repr is already rounded (``0.0001234567890123456789`` became ``0.00012345678901234567``), so the file
    is never read as floats; ``Decimal(0.001)`` would carry the binary approximation itself.
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


def _a_number(value: Any) -> Any:
    """A float key takes a TOML number (an integer, a float, or the exact decimal a float is read as), not a
    string or a boolean that pydantic's lax mode would convert (``speed = "1"``, ``speed = true``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise ValueError(f"expected a number, got {type(value).__name__ if value is not None else 'nothing'}")
    return value


def _step(value: Decimal) -> Decimal:
    check_step(value)  # the rule rounding applies at run time (arb/domain/market.py)
    return value


# Amounts, prices, balances and money limits: finite, and at most MAX_QUANTITY (the range arb's exact
# arithmetic is sized for). Basis points below 10,000: a 100% allowance would price a sell leg at zero.
PositiveDec = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(gt=0, le=MAX_QUANTITY, allow_inf_nan=False)]
NonNegDec = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(ge=0, le=MAX_QUANTITY, allow_inf_nan=False)]
FeeRate = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(ge=0, lt=Decimal("0.05"), allow_inf_nan=False)]
# A maker fee may be negative: a rebate the venue pays on a resting order's fill.
MakerFeeRate = Annotated[Decimal, BeforeValidator(_exact_decimal),
                         Field(gt=Decimal("-0.05"), lt=Decimal("0.05"), allow_inf_nan=False)]
Bps = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(ge=0, lt=10_000, allow_inf_nan=False)]
Step = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(allow_inf_nan=False), AfterValidator(_step)]
# Durations, speeds and rates: binary floats (nothing exact is computed from them). Integer keys are StrictInt
# and switches StrictBool: TOML says which type a value is, and ``levels = true`` or ``join_top = "yes"`` is a
# mistake to name, not a value to convert (pydantic's lax mode made them 1 and True).
Number = Annotated[float, BeforeValidator(_a_number)]


def _seconds(*, gt: float | None = None, ge: float | None = None, le: float, default: float | None) -> Any:
    """A finite duration (or speed) in a sane range: ``inf`` would overflow a timedelta or a timer."""
    return Field(default=default, gt=gt, ge=ge, le=le, allow_inf_nan=False)


DAY_MS = 86_400_000
# The slowest request rate a venue may be given: one request per 100 s, a hundred times slower than the
# slowest budget an exchange publishes (about one a second). A run's start alone makes several requests
# (markets, balances, open orders, fills) and a pair's legs and lookups several more; below this a run sits
# silent for hours after "run N started" (at 1e-9, one request per 32 years: it never moves again).
MIN_RATE_PER_S = 0.01
# The power queue model's exponent when none is given: f(x) = x^2, as hftbacktest's examples use it.
DEFAULT_QUEUE_POWER = 2.0


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class EngineSection(_Section):
    mode: Literal["replay", "paper", "live"] = "replay"
    symbols: tuple[str, ...] = Field(min_length=1)
    book_depth: StrictInt = Field(default=20, ge=1, le=1000)
    status: Literal["auto", "rich", "plain", "off"] = "auto"
    # A plain status line every this many wall seconds (the rich view redraws 4 times a second regardless):
    # from 0.1 (ten lines a second already scroll faster than anyone reads; 1e-6 flooded the terminal) to an
    # hour (a long live run still says it is alive).
    status_interval_s: Number = _seconds(default=5.0, ge=0.1, le=3600)
    stale_after_ms: StrictInt = Field(default=10_000, gt=0, le=DAY_MS)  # a book silent this long is `stale`
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    dry_run: StrictBool = False

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
        # That it parses with an installed driver is the preflight's (arb.store.db.check_db_url): it needs
        # SQLAlchemy, which this module does not import.
        if not value.startswith(("sqlite:", "postgresql")):
            raise ValueError("only sqlite:/// and postgresql+psycopg:// URLs are supported")
        return value


class ReplaySection(_Section):
    # A path (relative to the config file) or "bundled:<name>" for data shipped inside the package. A
    # directory or glob of files (a day per file) replays them in name order as one timeline.
    capture: str = Field(min_length=1)
    speed: Number = _seconds(default=0.0, ge=0, le=1e6)  # 0 = as fast as possible, 1 = recorded speed


class DetectionSection(_Section):
    min_edge_bps: NonNegDec = Decimal("0.5")
    min_profit: NonNegDec = Decimal("0")
    abnormal_edge_bps: PositiveDec = Decimal("50")
    max_book_age_ms: StrictInt = Field(default=500, gt=0, le=DAY_MS)


class MakerSection(_Section):
    """A maker symbol's route (``strategy = "maker"``): post-only quotes rest on ``maker_venue`` and each fill
    is hedged with an IOC on ``taker_venue`` (``arb/execution/maker.py``; the README's "Maker-taker")."""

    maker_venue: str = Field(min_length=1)
    taker_venue: str = Field(min_length=1)
    both_ways: StrictBool = False  # also quote on taker_venue, hedged on maker_venue (a second route)
    sides: Literal["both", "bid", "ask"] = "both"  # which sides of the maker venue's book are quoted
    quote_size: PositiveDec  # base units per quote
    min_profit_bps: Bps  # after both fees, of the quote's notional
    slippage_buffer_bps: Bps = Decimal("2")  # the hedge may fill this much worse than its walked price
    refresh_bps: PositiveDec = Decimal("2")  # reprice when the hedge's price moved this much either way
    max_quote_age_ms: StrictInt = Field(default=30_000, gt=0, le=DAY_MS)  # market time a quote may rest
    join_top: StrictBool = False  # never improve the maker's own best by more than one tick
    # Quotes per side (1 to 5): level k rests quote_size more, priced on the taker depth behind the k levels
    # in front and asking k x level_step_bps more profit (arb/execution/maker.py's RouteSpec).
    levels: StrictInt = Field(default=1, ge=1, le=5)
    level_step_bps: Bps = Decimal("0")
    # Base a side may owe a hedge and still quote; default quote_size x levels (every level of a side filled).
    max_unhedged: NonNegDec | None = None
    hedge_attempts: StrictInt = Field(default=5, ge=1, le=100)  # hedges of one amount before the leg policy
    hedge_retry_ms: StrictInt = Field(default=200, ge=1, le=60_000)  # the first retry's delay; doubles each time
    hedge_widen_bps: Bps = Decimal("10")  # each retry's limit this much further out than the last
    leg_policy: Literal["halt", "flatten"] = "halt"  # a side whose hedges all failed
    flatten_slippage_bps: Bps = Decimal("50")  # the flatten IOC's limit past the maker's book
    # A quote an earlier run left resting (a crash, a kill) is found by its client id at start and resumed;
    # true: cancelled instead. Either way what it filled meanwhile is hedged.
    cancel_at_start: StrictBool = False

    @field_validator("taker_venue")
    @classmethod
    def _two_venues(cls, value: str, info: Any) -> str:
        if value == info.data.get("maker_venue"):
            raise ValueError("the taker venue must differ from the maker venue")
        return value


SignedBps = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(ge=-1000, le=1000, allow_inf_nan=False)]


class BasisSection(_Section):
    """A spot-perpetual basis (``arb/detection/basis.py``): two IOC legs open a position when the basis net of
    both taker fees reaches ``open_bps`` and close it when it has come back to ``close_bps`` (negative: closing
    may cost that much)."""

    spot_venue: str = Field(min_length=1)
    perp_venue: str = Field(min_length=1)
    size: PositiveDec  # base units per pair
    max_position: PositiveDec  # base units held at most
    open_bps: SignedBps = Decimal("5")
    close_bps: SignedBps = Decimal("-5")
    # "carry": long spot, short the perpetual (opened when the perpetual trades above spot); "reverse": short
    # spot (base held there), long the perpetual (opened when it trades below).
    direction: Literal["carry", "reverse"] = "carry"
    # The perpetual's next funding payment, as its funding lines announce it, counts in the open's edge when it
    # is at most this far ahead (8 hours: the next one of an 8-hour venue always counts; 0: never), and a
    # payment the position would make counts in the close's when it is at most close_before_funding_s ahead
    # (0: never). No funding known (no funding lines): both terms are 0 (arb/detection/basis.py).
    funding_horizon_s: StrictInt = Field(default=28_800, ge=0, le=DAY_MS // 1000)
    close_before_funding_s: StrictInt = Field(default=300, ge=0, le=DAY_MS // 1000)

    @model_validator(mode="after")
    def _close_below_open(self) -> BasisSection:
        if self.close_bps >= self.open_bps:
            raise ValueError(f"close_bps {self.close_bps} must be below open_bps {self.open_bps}: a basis that "
                             "opens a position must not close it at the same prices")
        if self.spot_venue == self.perp_venue:
            raise ValueError("spot_venue and perp_venue must be two venues")
        if self.close_before_funding_s > self.funding_horizon_s:
            raise ValueError(f"close_before_funding_s {self.close_before_funding_s} must not exceed "
                             f"funding_horizon_s {self.funding_horizon_s}: a pair closed to avoid a payment "
                             "would open again without counting it")
        return self


class SymbolSection(_Section):
    # "taker": detection crosses the venues' books with two IOC legs; "maker": quotes rest on one venue and
    # every fill is hedged on the other ([symbols.X.maker]); "basis": a spot-perpetual position opened and
    # closed on the basis ([symbols.X.basis]).
    strategy: Literal["taker", "maker", "basis"] = "taker"
    max_size: PositiveDec | None = None  # base units per opportunity (taker)
    maker: MakerSection | None = None
    basis: BasisSection | None = None

    @model_validator(mode="after")
    def _strategy_keys(self) -> SymbolSection:
        if (self.basis is not None) != (self.strategy == "basis"):
            raise ValueError('strategy = "basis" needs a [basis] section (spot_venue, perp_venue, size, '
                             "max_position), and only it has one")
        if self.strategy == "basis":
            if self.max_size is not None or self.maker is not None:
                raise ValueError("a basis symbol's size is basis.size; it has no max_size or [maker] section")
            return self
        if self.strategy == "taker":
            if self.max_size is None:
                raise ValueError("max_size is required (base units per opportunity)")
            if self.maker is not None:
                raise ValueError('a [maker] section needs strategy = "maker"')
        else:
            if self.maker is None:
                raise ValueError('strategy = "maker" needs a [maker] section (maker_venue, taker_venue, '
                                 "quote_size, min_profit_bps)")
            if self.max_size is not None:
                raise ValueError("max_size is the taker strategy's; a maker symbol's size is maker.quote_size")
        return self

    @property
    def size(self) -> Decimal:
        """Base units one decision trades: the taker's max_size, a maker's quote_size, a basis pair's size."""
        if self.maker is not None:
            return self.maker.quote_size
        if self.basis is not None:
            return self.basis.size
        assert self.max_size is not None
        return self.max_size


class RiskSection(_Section):
    max_notional_per_trade: PositiveDec
    max_exposure_per_asset: PositiveDec  # unhedged base units per venue and asset
    daily_loss_limit: PositiveDec
    max_consecutive_failures: StrictInt = Field(default=3, ge=1, le=1_000_000)
    failure_cooldown_s: Number = _seconds(default=60.0, gt=0, le=86_400)
    # Relative to the config file's directory unless absolute (``Config.kill_switch_path``). "" would name the
    # directory itself, which exists.
    kill_switch_file: str = Field(default="arb.kill", min_length=1)
    # A perpetual venue's margin ratio (maintenance / margin balance; liquidation at 1, arb/margin.py): an
    # alert at the first, no new pairs or quotes there at the second.
    margin_alert_ratio: Annotated[Decimal, BeforeValidator(_exact_decimal), Field(gt=0, lt=1, allow_inf_nan=False)] = Decimal("0.5")
    margin_halt_ratio: Annotated[Decimal, BeforeValidator(_exact_decimal), Field(gt=0, lt=1, allow_inf_nan=False)] = Decimal("0.8")

    @model_validator(mode="after")
    def _alert_before_halt(self) -> RiskSection:
        if self.margin_alert_ratio > self.margin_halt_ratio:
            raise ValueError(f"margin_alert_ratio {self.margin_alert_ratio} is above margin_halt_ratio "
                             f"{self.margin_halt_ratio}: the alert comes first")
        return self

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
    order_timeout_s: Number = _seconds(default=5.0, gt=0, le=600)
    lookup_attempts: StrictInt = Field(default=6, ge=1, le=100)  # lookups by client id before an order is unresolved
    # Pairs executing at once, each on its own symbol; 1: a pair is decided only when none is in flight.
    max_pairs_in_flight: StrictInt = Field(default=1, ge=1, le=64)


class MarketSection(_Section):
    """Trading rules for a symbol on a paper or sandbox venue (live venues report their own)."""

    price_step: Step
    amount_step: Step
    min_amount: NonNegDec = Decimal(0)
    min_notional: NonNegDec = Decimal(0)
    # spot, a linear perpetual (a position settled in the quote: arb/margin.py) or an inverse one (Binance
    # COIN-M: settled in the base coin, amounts, steps and minimum in contracts of contract_size quote each,
    # min_notional in quote). Unset: spot.
    kind: Literal["spot", "linear_perpetual", "inverse_perpetual"] | None = None
    contract_size: PositiveDec | None = None  # an inverse perpetual's, and only its: quote per contract

    @field_validator("kind", mode="before")
    @classmethod
    def _kinds_simulated(cls, value: Any) -> Any:
        if value == "future":
            raise ValueError("future markets are not simulated yet: arb books spot, linear_perpetual and "
                             "inverse_perpetual markets (a perpetual is margined and settled in one currency)")
        return value

    @model_validator(mode="after")
    def _contract_size_is_inverse(self) -> MarketSection:
        inverse = self.kind == "inverse_perpetual"
        if inverse and self.contract_size is None:
            raise ValueError("an inverse_perpetual market needs contract_size: the quote one contract is worth "
                             "(e.g. 100 USD on a BTC coin-margined perpetual)")
        if not inverse and self.contract_size is not None:
            raise ValueError(f"contract_size is an inverse_perpetual market's; this one is {self.kind or 'spot'} "
                             "(its amounts are base)")
        return self


VENUE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # it becomes ARB_<NAME>_API_KEY
WEEK_S = 7 * 86_400


class OrderWindowSection(_Section):
    """One window of a venue's order budget: at most ``orders`` orders (placements; an amend counts as one)
    in any ``per_s`` seconds, on the account or on each market (``per``)."""

    # At most a million: each order in a window is kept until it leaves (Binance's day, 200,000, is the
    # largest any venue arb speaks documents).
    orders: StrictInt = Field(ge=1, le=1_000_000)
    # From a millisecond (the run's clock's resolution) to a week (a venue's longest, a day).
    per_s: Number = Field(ge=0.001, le=WEEK_S, allow_inf_nan=False)
    per: Literal["account", "market"] = "account"


def _a_list_of_windows(value: Any) -> Any:
    if value is not None and not isinstance(value, (list, tuple)):
        raise ValueError('a list of windows, e.g. [{ orders = 100, per_s = 10 }, { orders = 10, per_s = 1, '
                         'per = "market" }]')
    return value


def _one_window_each(windows: tuple[OrderWindowSection, ...] | None) -> tuple[OrderWindowSection, ...] | None:
    seen: set[tuple[float, str]] = set()
    for window in windows or ():
        if (window.per_s, window.per) in seen:
            raise ValueError(f"two windows of {window.per_s:g} s per {window.per}: give each window once")
        seen.add((window.per_s, window.per))
    return windows


class VenueSection(_Section):
    # sandbox: the adapter's local exchange; paper: fills against the book locally; live: real.
    kind: Literal["sandbox", "paper", "live"]
    # Which adapter speaks this venue (arb/venues/registry.py); default: the venue's name. The venue's name
    # is the user's choice (gate_main, gate_hedge) once the adapter is named.
    adapter: str | None = Field(default=None, min_length=1)
    ccxt_id: str | None = Field(default=None, min_length=1)  # the ccxt exchange id; default: the adapter's
    taker_fee: FeeRate
    maker_fee: MakerFeeRate | None = None  # a resting order's fill (negative: a rebate); default taker_fee
    fee_tier: str = Field(min_length=1)  # which published tier taker_fee comes from
    buy_fee_in: Literal["base", "quote"] = "base"
    capture_venue: str | None = Field(default=None, min_length=1)  # which venue of the capture feeds this one
    balances: dict[str, NonNegDec] = Field(default_factory=dict)  # starting balances (paper/sandbox)
    # Simulated venues (paper, sandbox): a request's trip to the venue (it is matched at arrival) and the
    # answer's trip back, each plus a uniform draw in [0, latency_jitter_ms] seeded per venue
    # (arb/venues/latent.py). In a replay these are market time.
    latency_ms: StrictInt = Field(default=0, ge=0, le=60_000)
    ack_latency_ms: StrictInt | None = Field(default=None, ge=0, le=60_000)  # default: latency_ms
    latency_jitter_ms: StrictInt = Field(default=0, ge=0, le=60_000)
    # Instead of the three above: a latency profile, a JSON file (relative to this config file unless absolute)
    # giving the order's trips out and back, a cancel's and feed latency as distributions: constant,
    # lognormal or empirical quantiles (arb/venues/latency_profile.py; `arb latency` writes one from a run).
    latency_profile: str | None = Field(default=None, min_length=1)
    # In a simulation: this venue's book updates reach arb this much later than the capture recorded them
    # (the capture's timestamps are already a real receipt time; 0 replays them as they were). Unset: read
    # from the capture's exchange times where it has them, else 0 (arb/runtime/feed_latency.py).
    feed_latency_ms: StrictInt | None = Field(default=None, ge=0, le=60_000)
    # Simulated venues (paper, sandbox): whether a cancel at a resting order's level was ahead of it
    # (arb/venues/sim/queue.py). "conservative": behind it wherever it could have been (the fewest fills);
    # "power", "log": hftbacktest's probabilistic models, ``queue_power`` the power model's exponent (default
    # 2; only with "power").
    queue_model: Literal["conservative", "power", "log"] = "conservative"
    queue_power: Number | None = Field(default=None, gt=0, le=100, allow_inf_nan=False)
    # Overrides the adapter's declared global request rate (per second; on a generic ccxt venue in ccxt
    # cost units, each request at its endpoint's cost). Default: the adapter's (ccxt's rateLimit). At least
    # MIN_RATE_PER_S.
    rate_limit_per_s: Number | None = _seconds(default=None, ge=MIN_RATE_PER_S, le=1e6)
    # Orders this venue's account may send (sandbox and live venues): every window holds, an order waits for
    # room and is refused before it leaves when the wait is longer than [execution] order_timeout_s
    # (arb/venues/throttle.py, OrderBudget). Default: the venue's documented budget (arb/venues/registry.py:
    # Gate, Binance spot); none for another ccxt venue. [] = no budget.
    order_budget: Annotated[tuple[OrderWindowSection, ...] | None, BeforeValidator(_a_list_of_windows),
                            AfterValidator(_one_window_each)] = None
    markets: dict[str, MarketSection] = Field(default_factory=dict)  # keyed by the engine's symbol
    # A derivative venue's leverage: initial margin is notional / leverage (arb/margin.py). Default 1: an
    # order holds its whole notional, as a spot buy would.
    leverage: Annotated[Decimal, BeforeValidator(_exact_decimal), Field(ge=1, le=125, allow_inf_nan=False)] = Decimal(1)
    # The maintenance margin rate liquidation prices are shown at (Binance USD-M's first bracket: 0.4%).
    maintenance_margin: Annotated[Decimal, BeforeValidator(_exact_decimal),
                                  Field(ge=0, lt=Decimal("0.5"), allow_inf_nan=False)] = Decimal("0.004")
    # The engine symbols this venue trades (default: all of [engine] symbols); detection pairs it only with
    # venues trading the same symbol. ``market_names``: engine symbol -> this venue's name for the market
    # where it differs ({ "BTC/USDT" = "XBT/USDT" }); its assets follow (arb/domain/market_names.py).
    symbols: tuple[str, ...] | None = Field(default=None, min_length=1)
    market_names: dict[str, str] = Field(default_factory=dict)
    # A live venue on its test environment (ccxt's sandbox URLs: Gate's testnet, Binance's spot and futures
    # testnets): its keys are the testnet's, and every surface of the run says so. Which venues have one is
    # their adapter's to say (``VenueAdapter.testnet_refusal``, checked by the preflight).
    testnet: StrictBool = False

    def market_kind(self, symbol: str) -> str:
        """``symbol``'s market kind here: its market's ``kind``, else spot (a venue's adapter says which kinds
        it trades: ``runtime/preflight.py`` holds the two together)."""
        market = self.markets.get(symbol)
        return market.kind if market is not None and market.kind is not None else "spot"

    @model_validator(mode="before")
    @classmethod
    def _power_by_default(cls, data: Any) -> Any:
        """The power model's exponent, written out when not given, so the stored config says which it was."""
        if isinstance(data, dict) and data.get("queue_model") == "power" and data.get("queue_power") is None:
            return {**data, "queue_power": DEFAULT_QUEUE_POWER}
        return data

    @field_validator("queue_model")
    @classmethod
    def _simulated_queue(cls, value: str, info: Any) -> str:
        if value != "conservative" and info.data.get("kind") == "live":
            raise ValueError("a live venue's queue is the venue's own; queue_model is a simulated venue's "
                             "(kind paper or sandbox)")
        return value

    @field_validator("testnet")
    @classmethod
    def _live_testnet(cls, value: bool, info: Any) -> bool:
        kind = info.data.get("kind")
        if value and kind is not None and kind != "live":
            raise ValueError(f"testnet points a live venue at its test environment; this venue is kind = \"{kind}\" "
                             "(set kind = \"live\", or remove testnet)")
        return value

    @field_validator("queue_power")
    @classmethod
    def _power_model_only(cls, value: float | None, info: Any) -> float | None:
        model = info.data.get("queue_model")
        if value is not None and model is not None and model != "power":
            raise ValueError(f'queue_power is the power model\'s exponent; queue_model is "{model}" '
                             '(set queue_model = "power", or remove queue_power)')
        return value

    @field_validator("latency_profile")
    @classmethod
    def _one_order_latency(cls, value: str | None, info: Any) -> str | None:
        """A profile gives the venue's order latency: with latency_ms (or the answer's, or jitter) too, one of
        the two would be a key nothing reads."""
        if value is not None:
            set_too = [key for key in ("latency_ms", "ack_latency_ms", "latency_jitter_ms")
                       if info.data.get(key) not in (None, 0)]
            if set_too:
                raise ValueError(f"latency_profile and {' and '.join(set_too)} are both set: the profile gives this "
                                 "venue's order latency in place of latency_ms, ack_latency_ms and "
                                 "latency_jitter_ms (remove one)")
        return value

    @field_validator("balances")
    @classmethod
    def _asset_codes(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for asset in value:
            if not (asset.isalnum() and asset.upper() == asset):
                raise ValueError(f"asset code {asset!r} must be upper-case letters/digits, e.g. USDT")
        return value


class SandboxSection(_Section):
    port: StrictInt = Field(default=0, ge=0, le=65535)  # 0 = any free loopback port
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
    metrics_port: StrictInt | None = Field(default=None, ge=0, le=65535)
    # The read-only web dashboard on http://127.0.0.1:<port>/ while `arb run` runs (0 = any free port, the
    # URL is printed at start); None = off. `arb dashboard` serves a stored run's.
    dashboard_port: StrictInt | None = Field(default=None, ge=0, le=65535)
    # Apprise URLs (tgram://, slack://, discord://, mailto://, json://...) told of halts, breaker trips,
    # stale venues, the daily loss limit and the kill switch. They usually hold a token: prefer the
    # environment, ARB_ALERT_URLS (whitespace-separated), which is added to these.
    alert_urls: tuple[str, ...] = Field(default=(), repr=False)


class TransferRoute(_Section):
    """What a simulation assumes of a transfer of one asset (``[rebalance.assets.X]``, or one of its ``routes``
    from one venue to another): how long it takes to arrive, the fee taken out of it, the least the venue lets
    leave, and the network it is sent on. Live (``transfers = "auto"`` on a venue that withdraws), the venue's
    own withdrawal terms give the fee and minimum where it states them (``runtime/live_transfers.py``)."""

    delay_s: Number = _seconds(default=30.0, ge=0, le=7 * 86_400)
    fee: NonNegDec = Decimal(0)
    minimum: NonNegDec = Decimal(0)
    network: str = Field(default="", max_length=64)


class RebalanceAsset(TransferRoute):
    """One asset's target share per venue and its band, and its transfers' terms (overridable per route,
    ``routes."spot->perp"``)."""

    targets: dict[str, Annotated[Decimal, BeforeValidator(_exact_decimal), Field(ge=0, le=1, allow_inf_nan=False)]] = Field(
        min_length=2)
    band: Annotated[Decimal, BeforeValidator(_exact_decimal), Field(gt=0, lt=1, allow_inf_nan=False)]
    routes: dict[str, TransferRoute] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _shares_add_up(self) -> RebalanceAsset:
        total = sum(self.targets.values(), Decimal(0))
        if total != 1:
            raise ValueError(f"targets add up to {total}, not 1: each is a venue's share of the asset")
        for route in self.routes:
            source, arrow, dest = route.partition("->")
            if not arrow or source not in self.targets or dest not in self.targets or source == dest:
                raise ValueError(f"route {route!r} is not \"<venue>-><venue>\" between two of targets' venues "
                                 f"({', '.join(self.targets)})")
        return self

    def route(self, source: str, dest: str) -> TransferRoute:
        """The terms of a transfer from ``source`` to ``dest``: its route's, else the asset's."""
        return self.routes.get(f"{source}->{dest}", self)


class RebalanceSection(_Section):
    """Inventory kept where it trades (``arb/rebalance.py``): ``off`` watches nothing; ``plan`` plans and
    stores transfers (an alert, live); ``auto`` makes them (in a simulation: debited at once, credited after
    the route's delay less its fee)."""

    transfers: Literal["off", "plan", "auto"] = "plan"
    assets: dict[str, RebalanceAsset] = Field(default_factory=dict)
    check_s: Number = _seconds(default=1.0, gt=0, le=3600)  # how often balances are looked at, run's clock


class ConfigModel(_Section):
    """The whole file, validated."""

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
    rebalance: RebalanceSection = RebalanceSection()
