"""What a sweep's result is worth across the simulator's assumptions: each strategy setting's realized PnL
bracketed by the latencies and queue models the grid varied (pure).

A grid mixes two kinds of key. **Strategy keys** are what a trader chooses (fees, edges, sizes, the leg
policy, the capture traded); **assumption keys** are what the simulator has to assume about a market it
cannot observe: order and feed latency and the queue model (``ASSUMPTIONS``). A figure measured under one
assumption is a point estimate of a quantity the data does not pin down (on the ETH maker recording realized
PnL went 3.54 / 3.07 / 2.23 / 0.92 USDT at 1 / 5 / 20 / 50 ms). So, per combination of strategy keys, the
bracket gives the realized PnL's **central** figure (the median over the assumptions tried) and its **low**
and **high**, with how many assumption points it spans: a setting whose low is still above zero is one the
result does not owe to a lucky assumption.

Failed points are left out and counted; a strategy setting none of whose points ran has no figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from statistics import median_low

# The grid keys the simulator assumes rather than the trader chooses (``arb/sweep/grid.py`` KEYS).
ASSUMPTIONS = ("latency_ms", "feed_latency_ms", "latency_profile", "queue_model")


@dataclass(frozen=True, slots=True)
class Bracket:
    setting: tuple[tuple[str, str], ...]  # the strategy keys' values, in the grid's key order
    points: int  # assumption points that ran
    failed: int  # assumption points that did not
    low: Decimal | None
    central: Decimal | None  # the median (the lower middle of an even count: a figure that was measured)
    high: Decimal | None


def varied_assumptions(points: Sequence[Mapping[str, object]]) -> list[str]:
    """The assumption keys that take more than one value across ``points``."""
    return [k for k in ASSUMPTIONS if len({repr(p.get(k)) for p in points}) > 1]


def brackets(points: Sequence[Mapping[str, str]], realized: Sequence[Decimal | None]) -> list[Bracket]:
    """Per strategy setting (every key but the varied assumptions), in first-seen order: its realized PnL over
    the assumption points (``realized[i]`` is ``points[i]``'s; None where the point failed). Empty when the
    grid varies no assumption: there is nothing to bracket."""
    varied = varied_assumptions(points)
    if not varied:
        return []
    groups: dict[tuple[tuple[str, str], ...], list[Decimal | None]] = {}
    for point, value in zip(points, realized, strict=True):
        setting = tuple((k, v) for k, v in point.items() if k not in varied)
        groups.setdefault(setting, []).append(value)
    out = []
    for setting, values in groups.items():
        ran = sorted(v for v in values if v is not None)
        out.append(Bracket(setting, len(ran), len(values) - len(ran), ran[0] if ran else None,
                           median_low(ran) if ran else None, ran[-1] if ran else None))
    return out
