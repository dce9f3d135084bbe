"""Pre-trade risk limits. Every check runs before any order of a pair is created.

A refusal returns a short stable reason (stored in ``opportunities.reason``, String(64)):

- ``kill_switch``                  the kill-switch file exists or the flag was raised (signal, operator)
- ``auth_failed:<venue>``          the venue rejected our credentials once: never trade there again this run
- ``circuit_open:<venue>``         too many consecutive failures on the venue; closed after a cool-down
- ``daily_loss_limit``             realized PnL since 00:00 UTC is at or below minus the limit
- ``max_notional``                 the trade's worst-case notional is above the per-trade cap
- ``max_exposure:<venue>:<asset>`` a one-sided fill would push unhedged exposure above the cap
- ``margin_halt:<venue>``          the venue's margin ratio (``arb/margin.py``) is at or above ``margin_halt_ratio``
- ``paused:<symbol>``              an operator paused the symbol (the dashboard's control) until resumed

Time comes from an injected clock (UTC-aware ``datetime``) so cool-downs and day boundaries are tested
without waiting.

What surfaces read of the gate: :meth:`RiskGate.state` (a frozen :class:`RiskState`, no side effects) and
the ``on_event`` hook, called once per :class:`RiskEvent` as it happens (a breaker opening, the kill switch or
a halt engaging, the daily loss limit reached, credentials refused). The hook must not block: alerts queue
the event and deliver it elsewhere (``arb/monitoring/alerts.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from arb.display import money


@dataclass(frozen=True, slots=True)
class RiskLimits:
    max_notional_per_trade: Decimal  # quote
    max_unhedged_exposure: Decimal  # base units, per venue and asset, absolute
    daily_loss_limit: Decimal  # quote, positive number
    max_consecutive_failures: int = 3
    cooldown: timedelta = timedelta(seconds=60)
    kill_switch_file: Path | None = None
    # A margin account's margin ratio (maintenance / margin balance; the venue liquidates at 1): told at
    # ``margin_alert_ratio``, no new pairs or quotes there at ``margin_halt_ratio``.
    margin_alert_ratio: Decimal = Decimal("0.5")
    margin_halt_ratio: Decimal = Decimal("0.8")


@dataclass(frozen=True, slots=True)
class RiskDecision:
    allowed: bool
    reason: str | None = None


ALLOW = RiskDecision(True)


@dataclass(slots=True)
class _Breaker:
    failures: int = 0
    open_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class RiskEvent:
    """Something a trader is told about at once. ``kind``: ``breaker_open`` | ``halt`` (the executor stopped
    trading on an unresolved or unhedgeable pair) | ``kill_switch`` | ``kill_switch_cleared`` (its file was
    removed: trading resumes) | ``daily_loss_limit`` | ``auth_failed`` | ``margin_alert`` | ``margin_halt`` | ``position_mismatch``
    | ``symbol_paused`` | ``symbol_resumed`` (an operator's, ``symbol`` says which)."""

    kind: str
    detail: str
    venue: str | None = None
    symbol: str | None = None


@dataclass(frozen=True, slots=True)
class BreakerState:
    """One venue's circuit breaker: ``closed`` | ``open`` (refusing until ``open_until``) | ``half_open``
    (the cool-down is over: the next failure opens it again at once)."""

    state: str
    failures: int
    open_until: datetime | None


@dataclass(frozen=True, slots=True)
class RiskState:
    """A read-only copy of the gate's state at one instant, for the status view, metrics and alerts."""

    kill_switch: bool
    kill_reason: str | None  # None with ``kill_switch``: the kill-switch file exists
    pnl_today: Decimal  # realized since 00:00 UTC on the run's clock
    daily_loss_limit: Decimal
    breakers: dict[str, BreakerState]  # venues that failed since their last success
    auth_failed: frozenset[str]
    exposure: dict[tuple[str, str], Decimal]  # (venue, asset) -> signed unhedged base
    margin: dict[str, Decimal] = field(default_factory=dict)  # margin account -> its last margin ratio
    margin_halt_ratio: Decimal = Decimal("0.8")
    paused: frozenset[str] = frozenset()  # symbols an operator paused: no new pairs or quotes there

    @property
    def margin_halted(self) -> list[str]:
        """The margin accounts at or above the halt ratio: no new pairs or quotes there."""
        return [venue for venue, ratio in self.margin.items() if ratio >= self.margin_halt_ratio]

    @property
    def daily_limit_reached(self) -> bool:
        return self.pnl_today <= -self.daily_loss_limit


@dataclass
class RiskGate:
    """Mutable risk state of one run; the executor reports outcomes into it."""

    limits: RiskLimits
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    kill_reason: str | None = None
    _auth_failed: set[str] = field(default_factory=set)
    _breakers: dict[str, _Breaker] = field(default_factory=dict)
    _exposure: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    # Pairs in flight, per (venue, asset): the base their buys (long) and sells (short) there could still
    # leave unhedged. A pair holds its share from its check until it has ended (``hold``), so concurrent
    # pairs are judged against each other's worst case too: the exposure check stays atomic.
    _held_long: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    _held_short: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    _pnl_day: datetime | None = None
    _pnl_today: Decimal = Decimal(0)
    on_event: Callable[[RiskEvent], None] | None = None  # told of each RiskEvent as it happens
    _file_kill_seen: bool = False
    _margin: dict[str, Decimal] = field(default_factory=dict)
    _paused: set[str] = field(default_factory=set)
    # The kill-switch file as the text os.access takes: a Path converts itself through two Python calls at
    # every look (once a second of the run's clock), a third of the look.
    _kill_file: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        path = self.limits.kill_switch_file
        self._kill_file = None if path is None else os.fspath(path)

    # -- inputs ---------------------------------------------------------------------------------
    def engage_kill_switch(self, reason: str = "operator") -> None:
        """Stop new trades. The executor's halts engage it too, with a reason starting ``halt:``."""
        if self.kill_reason is None:
            self._emit(RiskEvent("halt" if reason.startswith("halt:") else "kill_switch", reason))
        self.kill_reason = reason

    def pause(self, symbol: str, detail: str) -> None:
        """No new pairs or quotes of ``symbol`` until :meth:`resume` (an operator's control)."""
        if symbol not in self._paused:
            self._paused.add(symbol)
            self._emit(RiskEvent("symbol_paused", detail, symbol=symbol))

    def resume(self, symbol: str, detail: str) -> None:
        if symbol in self._paused:
            self._paused.discard(symbol)
            self._emit(RiskEvent("symbol_resumed", detail, symbol=symbol))

    def paused(self, symbol: str) -> bool:
        return symbol in self._paused

    def record_auth_failure(self, venue: str) -> None:
        if venue not in self._auth_failed:
            self._emit(RiskEvent("auth_failed", f"{venue} refused our credentials: no more trades there", venue))
        self._auth_failed.add(venue)

    def record_success(self, venue: str) -> None:
        self._breakers.pop(venue, None)

    def record_failure(self, venue: str) -> None:
        breaker = self._breakers.setdefault(venue, _Breaker())
        breaker.failures += 1
        if breaker.failures >= self.limits.max_consecutive_failures:
            was_open = breaker.open_until is not None
            breaker.open_until = self.clock() + self.limits.cooldown
            if not was_open:
                self._emit(RiskEvent("breaker_open", f"{venue}: {breaker.failures} consecutive failures; "
                                     f"no pairs there for {self.limits.cooldown.total_seconds():g} s", venue))

    def add_exposure(self, venue: str, asset: str, delta: Decimal) -> None:
        """Signed unhedged base quantity left on ``venue`` after a pair resolved (+ long, - short)."""
        key = (venue, asset)
        self._exposure[key] = self._exposure.get(key, Decimal(0)) + delta

    def exposure(self, venue: str, asset: str) -> Decimal:
        return self._exposure.get((venue, asset), Decimal(0))

    def hold(self, *, buy_venue: str, sell_venue: str, base_asset: str, size: Decimal) -> Callable[[], None]:
        """Count an approved pair's worst case (one leg fills) until the returned call releases it."""
        long, short = (buy_venue, base_asset), (sell_venue, base_asset)
        self._held_long[long] = self._held_long.get(long, Decimal(0)) + size
        self._held_short[short] = self._held_short.get(short, Decimal(0)) + size

        def release() -> None:
            self._held_long[long] -= size
            self._held_short[short] -= size

        return release

    def record_margin(self, venue: str, ratio: Decimal, detail: str = "") -> None:
        """A margin account's margin ratio as last read; an alert when it rises through the alert ratio, a halt
        of new pairs and quotes there while it is at or above the halt ratio (told when it gets there)."""
        before = self._margin.get(venue, Decimal(0))
        self._margin[venue] = ratio
        for threshold, kind, action in ((self.limits.margin_alert_ratio, "margin_alert", "watch it"),
                                        (self.limits.margin_halt_ratio, "margin_halt", "no new pairs or quotes there")):
            if before < threshold <= ratio:
                self._emit(RiskEvent(kind, f"{venue} margin ratio {ratio:.1%} (liquidation at 100%){detail}: {action}",
                                     venue))
            elif ratio < threshold <= before:
                self._emit(RiskEvent(f"{kind}_cleared", f"{venue} margin ratio {ratio:.1%}: below {threshold:.0%} "
                                     "again", venue))

    def record_position_mismatch(self, venue: str, detail: str) -> None:
        """A position on ``venue`` that arb's stored fills do not explain (``runtime/position_check.py``): told
        at once; trading goes on, on the venue's figure."""
        self._emit(RiskEvent("position_mismatch", detail, venue))

    def margin_blocked(self, venue: str) -> str | None:
        ratio = self._margin.get(venue)
        return f"margin_halt:{venue}" if ratio is not None and ratio >= self.limits.margin_halt_ratio else None

    def record_pnl(self, amount: Decimal) -> None:
        self._roll_day()
        limit = -self.limits.daily_loss_limit
        before = self._pnl_today
        self._pnl_today += amount
        if before > limit >= self._pnl_today:
            self._emit(RiskEvent("daily_loss_limit", f"realized pnl today {money(self._pnl_today)} is at or "
                                 f"below -{money(self.limits.daily_loss_limit)}: no more trades today"))

    @property
    def pnl_today(self) -> Decimal:
        self._roll_day()
        return self._pnl_today

    def state(self) -> RiskState:
        """The gate as it stands, without changing it (a breaker past its cool-down reads ``half_open``; it
        only becomes so when the next check looks at it)."""
        now = self.clock()
        breakers = {}
        for venue, b in sorted(dict(self._breakers).items()):
            state = "closed" if b.open_until is None else "open" if now < b.open_until else "half_open"
            breakers[venue] = BreakerState(state, b.failures, b.open_until)
        return RiskState(
            kill_switch=self.kill_reason is not None or self._kill_file_exists(), kill_reason=self.kill_reason,
            pnl_today=self._pnl_today if _day_of(now) == self._pnl_day else Decimal(0),
            daily_loss_limit=self.limits.daily_loss_limit, breakers=breakers,
            auth_failed=frozenset(self._auth_failed), exposure=dict(sorted(dict(self._exposure).items())),
            margin=dict(sorted(self._margin.items())), margin_halt_ratio=self.limits.margin_halt_ratio,
            paused=frozenset(self._paused))

    def _emit(self, event: RiskEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def _roll_day(self) -> None:
        day = _day_of(self.clock())
        if day != self._pnl_day:
            self._pnl_day = day
            self._pnl_today = Decimal(0)

    # -- the check ------------------------------------------------------------------------------
    def kill_switch_engaged(self) -> bool:
        if self.kill_reason is not None:
            return True
        engaged = self._kill_file_exists()
        if engaged and not self._file_kill_seen:
            self._emit(RiskEvent("kill_switch", f"kill-switch file {self.limits.kill_switch_file} exists: no new trades"))
        elif self._file_kill_seen and not engaged:
            self._emit(RiskEvent("kill_switch_cleared",
                                 f"kill-switch file {self.limits.kill_switch_file} removed: trading resumes"))
        self._file_kill_seen = engaged
        return engaged

    def _kill_file_exists(self) -> bool:
        path = self._kill_file
        # os.access, not Path.exists: it is looked for once a second of the run's clock, and its usual answer,
        # no file, cost Path.exists an exception raised and caught each time (~3x the syscall itself).
        return path is not None and os.access(path, os.F_OK)

    def venue_blocked(self, venue: str) -> str | None:
        if venue in self._auth_failed:
            return f"auth_failed:{venue}"
        breaker = self._breakers.get(venue)
        if breaker is not None and breaker.open_until is not None:
            if self.clock() < breaker.open_until:
                return f"circuit_open:{venue}"
            # Cool-down over: half-open. One more failure opens it again at once.
            breaker.open_until = None
            breaker.failures = self.limits.max_consecutive_failures - 1
        return None

    def check(
        self,
        *,
        buy_venue: str,
        sell_venue: str,
        base_asset: str,
        size: Decimal,
        buy_limit: Decimal,
        sell_limit: Decimal,
        symbol: str | None = None,
    ) -> RiskDecision:
        """Decide whether a pair may be sent. Cheap: no I/O beyond one ``stat`` of the kill file."""
        if self.kill_switch_engaged():
            return RiskDecision(False, "kill_switch")
        if symbol in self._paused:
            return RiskDecision(False, f"paused:{symbol}")
        for venue in (buy_venue, sell_venue):
            if (reason := self.venue_blocked(venue) or self.margin_blocked(venue)) is not None:
                return RiskDecision(False, reason)
        if self.pnl_today <= -self.limits.daily_loss_limit:
            return RiskDecision(False, "daily_loss_limit")
        if size * max(buy_limit, sell_limit) > self.limits.max_notional_per_trade:
            return RiskDecision(False, "max_notional")
        # Worst case: only one leg fills. Buying leaves +size on the buy venue, selling -size on the other.
        cap = self.limits.max_unhedged_exposure
        held_long = self._held_long.get((buy_venue, base_asset), Decimal(0))  # pairs in flight: their worst too
        held_short = self._held_short.get((sell_venue, base_asset), Decimal(0))
        if abs(self.exposure(buy_venue, base_asset) + held_long + size) > cap:
            return RiskDecision(False, f"max_exposure:{buy_venue}:{base_asset}")
        if abs(self.exposure(sell_venue, base_asset) - held_short - size) > cap:
            return RiskDecision(False, f"max_exposure:{sell_venue}:{base_asset}")
        return ALLOW


def _day_of(at: datetime) -> datetime:
    """The UTC day ``at`` falls in (its midnight): the daily loss limit's period."""
    return at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
