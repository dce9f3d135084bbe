"""A restart's check of each perpetual position a venue holds against what arb's stored fills imply.

A venue that outlives the run (a live venue, an external ``arb sandbox``) may hold a position when arb starts:
one an earlier run left open, or one traded by hand or by another program on the same account. The venue's
figure is the truth arb trades on (the basis desk's ``held``, the margin figures); the check says whether
arb's own records explain it. Each (venue, symbol) is compared as reported at the start, in base units,
with the signed sum of every stored fill of that market in any run that traded it as a perpetual
(``store.repo.implied_positions``): equal, a line saying so; different, a ``position_mismatch`` incident and
alert naming both figures. A mismatch does not stop trading: the venue's position is what is held, and
closing or hedging it is safer with it known than with the run refused.

Venues that start empty in every run (paper venues, an in-process sandbox) are not checked: an earlier
run's fills there were on a venue that no longer exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PositionCheck:
    venue: str
    symbol: str
    reported: Decimal  # the venue's position at the start (base; > 0 long)
    implied: Decimal  # what arb's stored fills of this market add up to

    @property
    def agrees(self) -> bool:
        return self.reported == self.implied

    def describe(self) -> str:
        figures = f"{self.venue} {self.symbol} position {_plain(self.reported)} on the venue"
        if self.agrees:
            return f"{figures}, as arb's stored fills imply"
        return (f"{figures}, arb's stored fills imply {_plain(self.implied)}: "
                f"{_plain(self.reported - self.implied)} traded outside arb's records (trading on the venue's figure)")


def check_positions(reported: Mapping[tuple[str, str], Decimal],
                    implied: Mapping[tuple[str, str], Decimal]) -> list[PositionCheck]:
    """Every market either side names (a market with no position on the venue and fills that add up to 0 is
    no news, and left out), in (venue, symbol) order."""
    keys = sorted(set(reported) | set(implied))
    checks = [PositionCheck(v, s, reported.get((v, s), ZERO), implied.get((v, s), ZERO)) for v, s in keys]
    return [c for c in checks if c.reported or c.implied]


def _plain(amount: Decimal) -> str:
    text = format(amount.normalize(), "f")
    return "0" if text in ("-0", "0") else text
