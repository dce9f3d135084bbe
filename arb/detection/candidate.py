"""The float sizing of one ordered venue pair, and the fee algebra both implementations share.

Sizing works in *hedged base* ``x``: base that is both bought (net of a base fee) and sold. Per unit of
``x`` the buy leg costs ``ask * buy_cost_factor`` quote and the sell leg yields ``bid * (1 - sell_fee)``;
the buy order amount is ``x / buy_net_factor``. With those, both fee modes reduce to one merge of two
piecewise-constant price curves, and "the marginal unit is still profitable" is simply
``bid_eff(x) > ask_eff(x)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from arb.detection.types import FeeMode

# A marginal unit must earn more than this fraction of its cost to count as profitable. Exact break-even
# levels are common on price grids (100.1 * 0.999 == 99.9 * 1.001); float64 sums put them a hair either
# side of zero at random, Decimal exactly on it. A margin far above float noise and far below any real
# edge makes the float core and the exact reference draw the same line.
MIN_MARGIN = Decimal("1e-12")


def buy_net_factor(fee_mode: FeeMode, fee: float) -> float:
    """Base that arrives per unit of base bought."""
    return 1.0 - fee if fee_mode is FeeMode.BASE else 1.0


def buy_cost_factor(fee_mode: FeeMode, fee: float) -> float:
    """Quote paid, fee included, per unit of hedged base per unit of ask price."""
    return 1.0 / (1.0 - fee) if fee_mode is FeeMode.BASE else 1.0 + fee


@dataclass(frozen=True, slots=True)
class Candidate:
    """Buy on venue ``buy`` (index into the venue list), sell on venue ``sell``: the float-sized cross.

    ``profitable_size`` is where the marginal unit stops paying (depth-limited too); ``size`` is that capped
    by max size and balances. Both in hedged base. Prices are raw book prices (VWAPs over the walked
    levels, ``*_worst`` the last level touched); ``cost`` includes the buy fee, ``proceeds`` exclude the sell
    fee, ``profit = proceeds - cost``. All zero when ``size`` is zero.
    """

    buy: int
    sell: int
    gross_edge_bps: float
    profitable_size: float
    size: float
    buy_amount: float
    buy_vwap: float
    sell_vwap: float
    buy_worst: float
    sell_worst: float
    cost: float
    proceeds: float
    profit: float

    @property
    def crossed(self) -> bool:
        return self.gross_edge_bps > 0.0
