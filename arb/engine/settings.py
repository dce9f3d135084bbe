"""What the configuration says the paired executor and the risk gate are: the run's policies, built once at
its start from ``[execution]`` and ``[risk]``."""

from __future__ import annotations

from datetime import timedelta

from arb.config import Config
from arb.execution.executor import ExecutorConfig
from arb.execution.imbalance import ImbalancePolicy
from arb.execution.lookup import LookupPolicy
from arb.execution.risk import RiskLimits


def lookup_policy(attempts: int) -> LookupPolicy:
    """``attempts`` lookups by client order id for an ambiguous order: at once, then after 0.05, 0.2, 0.5,
    1 s and every 2 s after that (a just-placed order can briefly be unknown to the venue)."""
    schedule = (0.05, 0.2, 0.5, 1.0)
    delays = tuple(schedule[i] if i < len(schedule) else 2.0 for i in range(attempts - 1))
    return LookupPolicy(delays=delays)


def risk_limits(config: Config) -> RiskLimits:
    r = config.risk
    return RiskLimits(
        max_notional_per_trade=r.max_notional_per_trade,
        max_unhedged_exposure=r.max_exposure_per_asset,
        daily_loss_limit=r.daily_loss_limit,
        max_consecutive_failures=r.max_consecutive_failures,
        cooldown=timedelta(seconds=r.failure_cooldown_s),
        kill_switch_file=config.kill_switch_path(),
        margin_alert_ratio=r.margin_alert_ratio,
        margin_halt_ratio=r.margin_halt_ratio,
    )


def executor_config(config: Config) -> ExecutorConfig:
    e = config.execution
    return ExecutorConfig(slippage_bps=e.slippage_bps, policy=ImbalancePolicy(e.leg_policy),
                          policy_bound_bps=e.imbalance_max_slippage_bps,
                          lookup=lookup_policy(e.lookup_attempts))
