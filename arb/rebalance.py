"""Where inventory should sit, and the transfers that put it back: the rebalancing rule (pure).

Cross-exchange trading moves base to one venue and quote to the other until a side cannot trade. Each asset
has a **target share** per venue (they add up to 1) and a **band**: a venue holding the asset is *out of its
band* when its share of the asset's total is further than ``band`` from its target, or when it holds less than
what its trading needs (``needs``: what ``quote_size``/``max_size`` takes of it, the depletion watch's figure,
``runtime/depletion.py``). Amounts on their way to a venue count as held there (a transfer planned earlier is
not planned twice).

When any venue of an asset is out of its band, :func:`plan` moves the asset from the venues above their target
to those below it, largest surplus to largest shortfall first, so that every venue ends at its target:

- a transfer sends ``amount`` from its source, and ``amount - fee`` arrives (the route's withdrawal fee is
  taken out of it); ``amount`` is the shortfall plus the fee, so the destination lands on its target;
- never more than the source's surplus above its target, nor more than it holds free (amounts to 8 places,
  rounded down);
- never below the route's minimum, nor one whose fee would eat what it moves (such a transfer is skipped).

So the asset's total after every plan arrives is the total before less the plans' fees, and when the fees are
small against the band each venue ends within it (``tests/test_rebalance.py``, properties).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

ZERO = Decimal(0)
STEP = Decimal("0.00000001")  # amounts planned to 8 places, rounded down: never more than there is


@dataclass(frozen=True, slots=True)
class Route:
    """A transfer's terms from one venue to another, for one asset."""

    fee: Decimal  # taken out of the amount sent, in the asset
    minimum: Decimal  # the least amount the source lets leave
    delay_ms: int  # expected time to arrive
    network: str = ""


@dataclass(frozen=True, slots=True)
class Target:
    """One asset's target share per venue (adding up to 1) and its band."""

    shares: Mapping[str, Decimal]
    band: Decimal


@dataclass(frozen=True, slots=True)
class Plan:
    """One transfer to make: ``amount`` leaves ``source``, ``amount - fee`` reaches ``dest`` at ``arrives_ms``."""

    asset: str
    amount: Decimal
    source: str
    dest: str
    fee: Decimal
    minimum: Decimal
    network: str
    planned_ms: int
    arrives_ms: int
    reason: str  # which venue left its band, and how

    @property
    def received(self) -> Decimal:
        return self.amount - self.fee


def shares(held: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Each venue's share of the total held (all 0 when nothing is)."""
    total = sum(held.values(), ZERO)
    return {venue: (amount / total if total > 0 else ZERO) for venue, amount in held.items()}


def out_of_band(asset: str, target: Target, held: Mapping[str, Decimal],
                needs: Mapping[str, Decimal] | None = None) -> str | None:
    """Why the first venue of ``asset`` that is out of its band is (one line), None when none is."""
    total = sum(held.values(), ZERO)
    if total <= 0:
        return None
    for venue in sorted(held):
        need = (needs or {}).get(venue, ZERO)
        if held[venue] < need:
            return f"{venue} {asset} {held[venue]:f} cannot fund what its trading needs ({need:f})"
    # The venue furthest below its target is named first: the one that stops trading.
    for venue, share in sorted(shares(held).items(), key=lambda item: (item[1] - target.shares[item[0]], item[0])):
        goal = target.shares[venue]
        if abs(share - goal) > target.band:
            return f"{venue} holds {share:.4f} of {asset}, target {goal:f} +- {target.band:f}"
    return None


def plan(asset: str, target: Target, free: Mapping[str, Decimal], in_flight: Mapping[str, Decimal],
         route: Callable[[str, str], Route], now_ms: int, needs: Mapping[str, Decimal] | None = None) -> list[Plan]:
    """The transfers that bring ``asset`` back to its targets when a venue is out of its band (none
    otherwise). ``free``: what each target venue holds free now; ``in_flight``: what is on its way to each."""
    venues = sorted(target.shares)
    held = {v: free.get(v, ZERO) + in_flight.get(v, ZERO) for v in venues}
    reason = out_of_band(asset, target, held, needs)
    if reason is None:
        return []
    total = sum(held.values(), ZERO)
    goal = {v: target.shares[v] * total for v in venues}
    surplus = {v: min(held[v] - goal[v], free.get(v, ZERO)) for v in venues if held[v] > goal[v]}
    short = {v: goal[v] - held[v] for v in venues if held[v] < goal[v]}
    plans = []
    for dest in sorted(short, key=lambda v: (-short[v], v)):
        for source in sorted(surplus, key=lambda v: (-surplus[v], v)):
            terms = route(source, dest)
            amount = min(short[dest] + terms.fee, surplus[source]).quantize(STEP, ROUND_DOWN)
            if amount <= terms.fee or amount < terms.minimum or amount <= 0:
                continue
            plans.append(Plan(asset, amount, source, dest, terms.fee, terms.minimum, terms.network, now_ms,
                              now_ms + terms.delay_ms, reason))
            surplus[source] -= amount
            short[dest] -= amount - terms.fee
            if short[dest] <= 0:
                break
    return plans
