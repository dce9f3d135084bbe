"""Pre-trade risk limits. Every check runs before any order of a pair is created.

A refusal returns a short stable reason (stored in ``opportunities.reason``, String(64)):

- ``kill_switch``                  the kill-switch file exists or the flag was raised (signal, operator)
- ``auth_failed:<venue>``          the venue rejected our credentials once: never trade there again this run
- ``circuit_open:<venue>``         too many consecutive failures on the venue; closed after a cool-down
- ``daily_loss_limit``             realized PnL since 00:00 UTC is at or below minus the limit
- ``max_notional``                 the trade's worst-case notional is above the per-trade cap
- ``max_exposure:<venue>:<asset>`` a one-sided fill would push unhedged exposure above the cap

Time comes from an injected clock (UTC-aware ``datetime``) so cool-downs and day boundaries are tested
without waiting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path


@dataclass(frozen=True, slots=True)
class RiskLimits:
    max_notional_per_trade: Decimal  # quote
    max_unhedged_exposure: Decimal  # base units, per venue and asset, absolute
    daily_loss_limit: Decimal  # quote, positive number
    max_consecutive_failures: int = 3
    cooldown: timedelta = timedelta(seconds=60)
    kill_switch_file: Path | None = None


@dataclass(frozen=True, slots=True)
class RiskDecision:
    allowed: bool
    reason: str | None = None


ALLOW = RiskDecision(True)


@dataclass(slots=True)
class _Breaker:
    failures: int = 0
    open_until: datetime | None = None


@dataclass
class RiskGate:
    """Mutable risk state of one run; the executor reports outcomes into it."""

    limits: RiskLimits
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    kill_reason: str | None = None
    _auth_failed: set[str] = field(default_factory=set)
    _breakers: dict[str, _Breaker] = field(default_factory=dict)
    _exposure: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    _pnl_day: datetime | None = None
    _pnl_today: Decimal = Decimal(0)

    # -- inputs ---------------------------------------------------------------------------------
    def engage_kill_switch(self, reason: str = "operator") -> None:
        self.kill_reason = reason

    def record_auth_failure(self, venue: str) -> None:
        self._auth_failed.add(venue)

    def record_success(self, venue: str) -> None:
        self._breakers.pop(venue, None)

    def record_failure(self, venue: str) -> None:
        breaker = self._breakers.setdefault(venue, _Breaker())
        breaker.failures += 1
        if breaker.failures >= self.limits.max_consecutive_failures:
            breaker.open_until = self.clock() + self.limits.cooldown

    def add_exposure(self, venue: str, asset: str, delta: Decimal) -> None:
        """Signed unhedged base quantity left on ``venue`` after a pair resolved (+ long, - short)."""
        key = (venue, asset)
        self._exposure[key] = self._exposure.get(key, Decimal(0)) + delta

    def exposure(self, venue: str, asset: str) -> Decimal:
        return self._exposure.get((venue, asset), Decimal(0))

    def record_pnl(self, amount: Decimal) -> None:
        self._roll_day()
        self._pnl_today += amount

    @property
    def pnl_today(self) -> Decimal:
        self._roll_day()
        return self._pnl_today

    def _roll_day(self) -> None:
        day = self.clock().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        if day != self._pnl_day:
            self._pnl_day = day
            self._pnl_today = Decimal(0)

    # -- the check ------------------------------------------------------------------------------
    def kill_switch_engaged(self) -> bool:
        if self.kill_reason is not None:
            return True
        path = self.limits.kill_switch_file
        return path is not None and path.exists()

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
    ) -> RiskDecision:
        """Decide whether a pair may be sent. Cheap: no I/O beyond one ``stat`` of the kill file."""
        if self.kill_switch_engaged():
            return RiskDecision(False, "kill_switch")
        for venue in (buy_venue, sell_venue):
            if (reason := self.venue_blocked(venue)) is not None:
                return RiskDecision(False, reason)
        if self.pnl_today <= -self.limits.daily_loss_limit:
            return RiskDecision(False, "daily_loss_limit")
        if size * max(buy_limit, sell_limit) > self.limits.max_notional_per_trade:
            return RiskDecision(False, "max_notional")
        # Worst case: only one leg fills. Buying leaves +size on the buy venue, selling -size on the other.
        cap = self.limits.max_unhedged_exposure
        if abs(self.exposure(buy_venue, base_asset) + size) > cap:
            return RiskDecision(False, f"max_exposure:{buy_venue}:{base_asset}")
        if abs(self.exposure(sell_venue, base_asset) - size) > cap:
            return RiskDecision(False, f"max_exposure:{sell_venue}:{base_asset}")
        return ALLOW
