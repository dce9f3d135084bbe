"""Frozen, typed configuration loaded from ``config.toml``.

Everything is validated up front, so a bad file fails before anything connects or trades: unknown keys,
wrong types, out-of-range values, venue ids ccxt does not know, malformed symbols, missing capture files.
The first problem found becomes one :class:`~arb.errors.ConfigError` line naming the file, the key and
what is wrong.

Secrets never live in the file. API keys come from the environment, ``ARB_<VENUE>_API_KEY`` and
``ARB_<VENUE>_API_SECRET`` (``ARB_<VENUE>_API_PASSWORD`` where a venue needs one); a secret-looking key in
the file is itself an error, so a key pasted there by mistake is caught before it is committed anywhere.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from arb.domain.market import Symbol
from arb.errors import ConfigError

DEFAULT_CONFIG = Path("config.toml")
BUNDLED_PREFIX = "bundled:"
BUNDLED_DIR = Path(__file__).parent / "data"

# Keys that look like credentials. Matching is on the normalized key name anywhere in the file.
SECRET_KEY_NAMES = frozenset(
    {"apikey", "api_key", "key", "secret", "api_secret", "secret_key", "password", "passphrase",
     "private_key", "privatekey", "token", "uid"}
)


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


Dec = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(allow_inf_nan=False)]
PositiveDec = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(gt=0, allow_inf_nan=False)]
NonNegDec = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(ge=0, allow_inf_nan=False)]
FeeRate = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(ge=0, lt=Decimal("0.05"))]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class EngineSection(_Section):
    mode: Literal["replay", "paper", "live"] = "replay"
    symbols: tuple[str, ...] = Field(min_length=1)
    book_depth: int = Field(default=20, ge=1, le=1000)
    status: Literal["auto", "rich", "plain", "off"] = "auto"
    status_interval_s: float = Field(default=5.0, gt=0)
    stale_after_ms: int = Field(default=10_000, gt=0)  # a book silent this long is `stale`
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
        return value


class ReplaySection(_Section):
    # A path (relative to the config file) or "bundled:<name>" for data shipped inside the package.
    capture: str
    speed: float = Field(default=0.0, ge=0)  # 0 = as fast as possible, 1 = recorded speed


class DetectionSection(_Section):
    min_edge_bps: NonNegDec = Decimal("0.5")
    min_profit: NonNegDec = Decimal("0")
    abnormal_edge_bps: PositiveDec = Decimal("50")
    max_book_age_ms: int = Field(default=500, gt=0)


class SymbolSection(_Section):
    max_size: PositiveDec  # base units per opportunity


class RiskSection(_Section):
    max_notional_per_trade: PositiveDec
    max_exposure_per_asset: PositiveDec  # unhedged base units per venue and asset
    daily_loss_limit: PositiveDec
    max_consecutive_failures: int = Field(default=3, ge=1)
    failure_cooldown_s: float = Field(default=60.0, gt=0)
    kill_switch_file: str = "arb.kill"


class ExecutionSection(_Section):
    slippage_bps: NonNegDec = Decimal("2")
    leg_policy: Literal["unwind", "complete", "halt"] = "unwind"
    imbalance_max_slippage_bps: NonNegDec = Decimal("20")
    order_timeout_s: float = Field(default=5.0, gt=0)
    lookup_attempts: int = Field(default=6, ge=1)  # lookups by client id before an order is unresolved


class MarketSection(_Section):
    """Trading rules for a symbol on a paper or sandbox venue (live venues report their own)."""

    price_step: PositiveDec
    amount_step: PositiveDec
    min_amount: NonNegDec = Decimal(0)
    min_notional: NonNegDec = Decimal(0)


class VenueSection(_Section):
    # sandbox: arb's local Gate-compatible exchange; paper: fills against the book locally; live: real.
    kind: Literal["sandbox", "paper", "live"]
    taker_fee: FeeRate
    fee_tier: str = Field(min_length=1)  # which published tier taker_fee comes from
    buy_fee_in: Literal["base", "quote"] = "base"
    capture_venue: str | None = None  # which venue of the capture feeds this venue's books
    balances: dict[str, NonNegDec] = Field(default_factory=dict)  # starting balances (paper/sandbox)
    latency_ms: int = Field(default=0, ge=0)  # simulated one-way latency (paper)
    rate_limit_per_s: float = Field(default=10.0, gt=0)
    markets: dict[str, MarketSection] = Field(default_factory=dict)

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
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as http://127.0.0.1:8765")
        return value.rstrip("/") if value else value


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


def resolve_capture(capture: str, config_path: Path) -> Path:
    if capture.startswith(BUNDLED_PREFIX):
        return BUNDLED_DIR / f"{capture[len(BUNDLED_PREFIX):]}.jsonl.gz"
    path = Path(capture)
    return path if path.is_absolute() else config_path.parent / path


def env_prefix(venue: str) -> str:
    return f"ARB_{venue.upper().replace('-', '_')}_"


def credentials_from_env(venue: str, environ: Mapping[str, str]) -> Credentials | None:
    prefix = env_prefix(venue)
    key, secret = environ.get(prefix + "API_KEY"), environ.get(prefix + "API_SECRET")
    if not key or not secret:
        return None
    return Credentials(key, secret, environ.get(prefix + "API_PASSWORD") or None)


def load_config(path: str | Path = DEFAULT_CONFIG, environ: Mapping[str, str] | None = None) -> Config:
    """Read, validate and freeze a config file. Raises ConfigError with one clear line."""
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

    _reject_secrets(raw, shown, environ_hint=True)
    try:
        model = _ConfigModel.model_validate(raw)
    except ValidationError as exc:
        raise _first_error(exc, shown) from None

    _check_venues(model, shown)
    _check_symbols(model, shown)
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
        credentials={
            venue: creds
            for venue in model.venues
            if (creds := credentials_from_env(venue, environ)) is not None
        },
    )
    _check_replay(config, shown)
    return config


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


def _first_error(exc: ValidationError, shown: str) -> ConfigError:
    err = exc.errors(include_url=False)[0]
    key = ".".join(str(part) for part in err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        return ConfigError(shown, key, "unknown key")
    if kind == "missing":
        return ConfigError(shown, key, "required key is missing")
    message = re.sub(r"Decimal\('([^']*)'\)", r"\1", err["msg"].removeprefix("Value error, "))
    value = err.get("input")
    if isinstance(value, (str, int, float, Decimal)) and not isinstance(value, bool):
        message += f" (got {value!r})" if isinstance(value, str) else f" (got {value})"
    return ConfigError(shown, key, message)


def _check_venues(model: _ConfigModel, shown: str) -> None:
    import ccxt  # imported here: ccxt takes ~0.5 s to import and `arb --help` should not wait for it

    for venue in model.venues:
        if venue not in ccxt.exchanges:
            close = difflib.get_close_matches(venue, ccxt.exchanges, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(shown, f"venues.{venue}", f"unknown venue id: not a ccxt exchange id{hint}")


def _check_symbols(model: _ConfigModel, shown: str) -> None:
    for text in model.symbols:
        try:
            Symbol.parse(text)
        except ValueError as exc:
            raise ConfigError(shown, f"symbols.{text}", str(exc)) from None
    for text in model.engine.symbols:
        if text not in model.symbols:
            raise ConfigError(shown, "engine.symbols", f"{text} has no [symbols.\"{text}\"] section (max_size)")
    for venue, section in model.venues.items():
        for text in section.markets:
            try:
                Symbol.parse(text)
            except ValueError as exc:
                raise ConfigError(shown, f"venues.{venue}.markets.{text}", str(exc)) from None
        if section.kind != "live":
            for text in model.engine.symbols:
                if text not in section.markets:
                    raise ConfigError(
                        shown, f"venues.{venue}.markets",
                        f"a {section.kind} venue needs [venues.{venue}.markets.\"{text}\"] "
                        "(price_step, amount_step, min_amount, min_notional)",
                    )


def _check_replay(config: Config, shown: str) -> None:
    needs_capture = config.engine.mode == "replay" or any(
        v.kind != "live" and v.capture_venue for v in config.venues.values()
    )
    if config.engine.mode == "replay":
        if config.replay is None:
            raise ConfigError(shown, "replay", "mode = \"replay\" needs a [replay] section with capture")
        for venue, section in config.venues.items():
            if section.kind == "live":
                raise ConfigError(shown, f"venues.{venue}.kind", "a replay run cannot use a live venue")
            if not section.capture_venue:
                raise ConfigError(shown, f"venues.{venue}.capture_venue",
                                  "required in replay mode: which venue of the capture feeds this venue")
    if needs_capture and config.replay is not None:
        capture = config.capture_path()
        if capture is None or not capture.is_file():
            raise ConfigError(shown, "replay.capture", f"capture file not found: {capture}")
    if config.sandbox.url is not None:
        for venue, section in config.venues.items():
            if section.kind != "sandbox":
                continue
            if config.engine.mode == "replay":
                raise ConfigError(shown, "sandbox.url", "a replay drives the in-process sandbox's book; "
                                  "use mode = \"paper\" with an external sandbox")
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


def render_toml(data: Mapping[str, Any]) -> str:
    """A small TOML writer for the effective config (tables of scalars, lists and nested tables)."""
    lines: list[str] = []

    def scalar(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return repr(value)
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, (list, tuple)):
            return "[" + ", ".join(scalar(v) for v in value) + "]"
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'

    def key(part: str) -> str:
        return part if part.replace("_", "").replace("-", "").isalnum() else f'"{part}"'

    def table(name: str, node: Mapping[str, Any]) -> None:
        plain = {k: v for k, v in node.items() if not isinstance(v, Mapping) and v is not None}
        nested = {k: v for k, v in node.items() if isinstance(v, Mapping)}
        if plain or not nested:
            lines.append(f"[{name}]")
            lines.extend(f"{key(k)} = {scalar(v)}" for k, v in plain.items())
            lines.append("")
        for k, v in nested.items():
            table(f"{name}.{key(k)}", v)

    for name, node in data.items():
        if isinstance(node, Mapping):
            table(key(name), node)
    return "\n".join(lines)
