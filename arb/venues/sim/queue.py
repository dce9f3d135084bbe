"""Queue models: where a resting order stands in the queue at its price as the level's displayed size changes.

A capture is market-by-price: it says how much rests at a price, never whose it is or in which order. So when
a level shrinks without a trade (a cancel, or an order amended down), nobody can tell whether the size that
left was ahead of a simulated order or behind it; a queue model is the assumption. Each venue's markets take
one (``[venues.<name>] queue_model``), and every model shares the rest of the matcher's queue rule
(:mod:`arb.venues.sim.matching`): an order joins behind the size shown at its price (``queue_ahead``), a trade
printed at its price takes the queue ahead first, and what is ahead is never more than the level now shows.

- ``conservative`` (the default; hftbacktest's ``RiskAdverseQueueModel``): every cancel was behind the order,
  as far as there was size behind it, so ``queue_ahead`` only falls to the level's new size. The order moves
  up by trades alone (and when the level shrinks below what was ahead of it), so it fills least of all the
  models: the one to size a strategy on.
- ``power`` and ``log`` (hftbacktest's ``ProbQueueModel`` with ``PowerProbQueueFunc`` /
  ``LogProbQueueFunc``): a cancel of ``c`` at the level is behind the order with probability
  ``p = f(back) / (f(back) + f(front))``, where ``front`` is ``queue_ahead``, ``back`` what the level shows
  behind it, and ``f(x) = x ** n`` (``queue_power = n``; the config's default 2, as in hftbacktest's
  examples) or ``f(x) = log(1 + x)``. What is behind can absorb at most ``back``, so the order moves up by
  ``c - min(p c, back)``. At the front of the queue (``front = 0``) ``p = 1``: nothing is ahead to cancel; at
  its back (``back = 0``) ``p = 0``: the whole cancel was ahead. The larger ``n``, the more a cancel is put on
  the longer side: behind an order in the front half of the queue, ahead of one in the back half; ``log``
  gives a long queue's cancels odds nearer even. Both move an order up at least as far as ``conservative``
  on every event, so on the same orders and events they fill at least as much: they bracket it from above.

How a level's change is split (:meth:`QueueModel.ahead_after`): the level went from ``before`` to ``after``,
and ``traded`` was printed at its price since it last changed (the prints already moved the order up, and
the recorded level shows them only now). ``c = before - traded - after``: ``c <= 0`` (a level that grew, or
shrank by its trades only) moves nothing; ``back = max(before - traded - front, 0)``. hftbacktest takes
``back = before - front``, counting the printed size as behind the order; the two differ only when a trade
and a cancel fall between the same two book events. The estimate never goes below zero: a cancel trades
nothing, so it fills nothing (hftbacktest lets a large enough cancel push its estimate below zero and fills
the order by the excess).

Exact money: the probability alone is a float (a power or a logarithm); the amount the order moves up is
``c - min(p c, back)`` in ``Decimal`` with ``p`` converted exactly, rounded **down** to the market's amount
step. Down, so a model never moves an order further than its formula says (a fill is never early by a
rounding), and a cancel smaller than one step moves nothing, as no order smaller than a step can rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, Context, Decimal

CONSERVATIVE, POWER, LOG = "conservative", "power", "log"
QUEUE_MODELS = (CONSERVATIVE, POWER, LOG)
ZERO = Decimal(0)
# The arithmetic of a move, whatever the thread's decimal context (ccxt leaves it rounding half up): wide enough
# that amounts subtract and divide exactly; ``p c``, the one inexact product, rounded up (more behind: less
# moved).
_CTX = Context(prec=200, rounding=ROUND_CEILING)


@dataclass(frozen=True, slots=True)
class QueueModel:
    """One venue's queue assumption: ``name`` one of :data:`QUEUE_MODELS`, ``power`` the power model's
    exponent (``None`` for the others)."""

    name: str = CONSERVATIVE
    power: float | None = None

    def __post_init__(self) -> None:
        if self.name not in QUEUE_MODELS:
            raise ValueError(f"queue model {self.name!r} is not one of {', '.join(QUEUE_MODELS)}")
        if (self.name == POWER) != (self.power is not None):
            raise ValueError(f"the power model, and only it, has an exponent (got {self.name}, {self.power})")
        if self.power is not None and not (math.isfinite(self.power) and self.power > 0):
            raise ValueError(f"the power model's exponent must be finite and above 0 (got {self.power})")

    def __str__(self) -> str:
        """As a run's summary says it: ``conservative``, ``power n=2``, ``log``."""
        return f"{POWER} n={self.power:g}" if self.name == POWER else self.name

    def behind(self, front: Decimal, back: Decimal) -> float:
        """The probability that a cancel at the level was behind the order: ``front`` ahead of it, ``back``
        behind it (both at least 0)."""
        if self.name == CONSERVATIVE or front <= 0:
            return 1.0
        if back <= 0:
            return 0.0
        if self.name == LOG:
            f_back, f_front = math.log1p(float(back)), math.log1p(float(front))
            return f_back / (f_back + f_front)
        assert self.power is not None
        # f(back) / (f(back) + f(front)) as 1 / (1 + (front/back)^n): no overflow at any size or exponent.
        try:
            ratio = (float(front) / float(back)) ** self.power
        except OverflowError:
            return 0.0
        return 1.0 / (1.0 + ratio)

    def ahead_after(self, ahead: Decimal, before: Decimal, after: Decimal, traded: Decimal,
                    step: Decimal) -> Decimal:
        """``queue_ahead`` once the level went from ``before`` to ``after`` with ``traded`` printed at it since
        it last changed (the module's rule); never more than ``ahead`` or ``after``, never below 0."""
        ctx = _CTX
        shown = ctx.subtract(before, traded)  # the level as the prints since its last change left it
        cancelled = ctx.subtract(shown, after)
        if self.name == CONSERVATIVE or cancelled <= 0:
            return min(ahead, after)
        back = max(ctx.subtract(shown, ahead), ZERO)
        behind = min(ctx.multiply(Decimal(self.behind(ahead, back)), cancelled), back)
        moved = ctx.multiply(ctx.divide_int(ctx.subtract(cancelled, behind), step), step)  # down to a step
        return max(min(ctx.subtract(ahead, moved), after), ZERO)
