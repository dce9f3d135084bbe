"""Inventory that can no longer fund ``max_size``: watched per venue, symbol and direction on the run's clock.

A pair buys on one venue (spending its quote) and sells on another (spending its base); on a perpetual (a
margin account) both directions spend margin, the notional its free settle currency can hold
(``VenueSet.sizing_funds``): a perpetual sells without holding base. When what a direction spends cannot pay
for ``max_size`` at the venue's best ask (before fees), or a spot venue's free base is below ``max_size``,
that direction of that symbol is **depleted** there: detection can still trade smaller pairs, then only
dust, which it rejects as ``balance_insufficient`` (``detection/finalize.py``). The watch says so when it
starts and when it clears, once each: :func:`watch_inventory` logs one WARNING line, and the engine opens an
incident (``runtime/incidents.py``) and sends an alert (``monitoring/alerts.py``). A change is said once it
has held for ``HOLD_S`` of the run's clock, stamped with when it began: a venue that trades both ways
crosses the line with every other pair, and a trader wants to hear of a venue that stays short, not of each
crossing.

It also measures how fast each venue's assets are being used up: **seconds to empty** is the free balance
divided by its consumption rate over the last ``WINDOW_S`` seconds of the run's clock (market time in a
simulation), i.e. ``balance_now * elapsed / (balance_then - balance_now)`` where *then* is the oldest
reading in the window; ``None`` (Prometheus: ``+Inf``) when the balance did not fall over the window.

:class:`InventoryWatch` is pure: readings and times in, changes out (tested with explicit times); the
task that feeds it once a second of the run's clock is :func:`watch_inventory`.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

from arb.display import money
from arb.eventloop.simloop import every
from arb.marketdata.book import TopArrays

log = logging.getLogger(__name__)

WINDOW_S = 300.0  # the consumption rate's window, seconds of the run's clock
EVERY_S = 1.0  # how often the task looks, seconds of the run's clock
HOLD_S = 30.0  # how long a depletion (or its clearing) must last before it is said
_ZERO = Decimal(0)
AMOUNT_PLACES = 8  # balances and needs in its line: a satoshi, finer than any venue's amount step
Side = Literal["buy", "sell"]
_SIDES: tuple[Side, Side] = ("buy", "sell")  # a buy spends the quote, a sell the base


@dataclass(frozen=True, slots=True)
class Depletion:
    """A direction that became depleted (``started``) or funded again (not ``started``)."""

    venue: str
    symbol: str
    side: Side  # buy: the venue's quote pays; sell: its base is sold
    asset: str
    balance: Decimal  # free, as last read
    needed: Decimal  # what max_size needs of ``asset`` (quote at the best ask, before fees; or base)
    max_size: Decimal
    started: bool
    since_ms: int = 0  # when the venue first fell short (started) or could fund again, on the run's clock
    size_key: str = "max_size"  # the config key the size is: a maker symbol's is its quote_size

    @property
    def key(self) -> str:
        return f"{self.venue} {self.symbol} {self.side}"

    def describe(self) -> str:
        """One line naming the venue, asset, balance and what max_size needs."""
        base = self.symbol.split("/")[0]
        verb = "buys" if self.side == "buy" else "sells"
        # A margin account's free balance is a quotient carried to 60 digits: shown to a satoshi, as any amount.
        balance, needed = money(self.balance, AMOUNT_PLACES), money(self.needed, AMOUNT_PLACES)
        if self.started:
            return (f"{self.venue} {self.asset} {balance} cannot fund {self.size_key} {self.max_size:f} {base}: "
                    f"{verb} of {self.symbol} on {self.venue} need {needed} {self.asset}")
        return (f"{self.venue} {self.asset} {balance} funds {self.size_key} {self.max_size:f} {base} again "
                f"(needs {needed} {self.asset}): {verb} of {self.symbol} on {self.venue} resume full size")

    def next_step(self) -> str:
        verb = "bought" if self.side == "buy" else "sold"
        return (f"move {self.asset} to {self.venue} (or lower {self.size_key}); until then {self.symbol} is {verb} "
                f"there only in smaller sizes, then not at all")


class _Book(Protocol):
    venue: str
    symbol: str

    def top_arrays(self, n: int | None = None) -> TopArrays: ...


Ask = Decimal | float
"""A book's best ask: exact, or the book's own float of it (whose ``repr`` is the exact price, as for every
price a book holds: ``marketdata/drops.py`` admits no price of more than 15 significant digits)."""
# A float ask is screened in floats: one further than this (relative to the ask) from the line balance / size
# is on the same side of it in floats as in Decimal, as three roundings of ~1e-16 cannot move the line
# further; one closer is decided in Decimal.
_SCREEN = 1e-12

# (symbol, size, side, the asset it spends, its key, the size as a float, whether it is priced at the ask: a
# buy, and a perpetual's sell, spend a notional; a spot sell spends the size itself)
_Direction = tuple[str, Decimal, Side, str, str, float, bool]


def _exact(ask: Ask) -> Decimal:
    return ask if isinstance(ask, Decimal) else Decimal(repr(ask))


def _line(balance: Decimal, size_f: float) -> float:
    """The ask above which ``balance`` (quote) is short of a size (``size_f``, positive: config/schema.py), in
    floats: short when size * ask > balance. A size too small for a double (``max_size = "1e-400"``, positive
    as the schema asks) has no float line: NaN, which no screen passes (:func:`_short_at` decides it exactly).
    Divided by its 0.0, the watch failed at every look and its run stopped."""
    return float(balance) / size_f if size_f else math.nan


def _short_at(balance: Decimal, size: Decimal, line: float, ask: Ask) -> bool:
    """Whether ``balance`` (quote) is short of ``size`` at ``ask``: by the float ``line`` (:func:`_line`) when
    the ask is far from it, by the ask's own exact decimal near it."""
    # Far from the line by more than _SCREEN of the ask: the line's three roundings cannot move it across
    # (when the line is over 1000 asks away, the distance is most of the line itself). Compiled, ``price``
    # is a C double: the screen of each of a look's ~500 buys makes no float object.
    if type(ask) is float:
        price: float = ask
        if abs(price - line) > _SCREEN * price:
            return price > line
    return balance < size * _exact(ask)


class InventoryWatch:
    """Per (venue, symbol, side): funded or depleted; per (venue, asset): the readings of the last window."""

    def __init__(self, max_size: Mapping[str, Decimal], venues: Iterable[str], *, window_s: float = WINDOW_S,
                 hold_s: float = HOLD_S, size_keys: Mapping[str, str] | None = None,
                 margin: Mapping[str, Mapping[str, str]] | None = None) -> None:
        """``margin``: per margin account's venue, its perpetuals (symbol -> settle currency), whose sells spend
        margin as their buys do."""
        self.size_keys = dict(size_keys or {})  # symbol -> the config key its size is, where not max_size
        self.venues = tuple(venues)
        self.window_ms = round(window_s * 1000)
        self.hold_ms = round(hold_s * 1000)
        self.depleted: dict[str, Depletion] = {}  # key -> the change that started it
        self._turning: dict[str, tuple[bool, int]] = {}  # key -> (short now, since when): not said yet
        # Per venue, its free balances at each look of the last window: (time, a copy, the same copy while
        # they stand still). One reading a venue, not one an asset: ~100 assets a venue, every second of a run.
        self._readings: dict[str, deque[tuple[int, Mapping[str, Decimal]]]] = {}
        # What the last update looked at (copies): each venue's balances and the asks. The same again, with
        # nothing turning, changes nothing: a run's balances and asks mostly stand still between seconds.
        self._seen: tuple[dict[str, Mapping[str, Decimal]], Mapping[tuple[str, str], Ask | None]] | None = None
        # Every direction priced at the ask, at the balances seen: (its ask's key, its key, the ask above which it
        # is short, in floats, its balance, its size), for the look's shortcut (``_priced_as_said``).
        self._priced_lines: list[tuple[tuple[str, str], str, float, Decimal, Decimal]] = []
        # Per venue, both directions of every symbol, named once (a look goes through all of them every
        # second of the run): _Direction, a symbol's buy first.
        margin = margin or {}
        self._directions: dict[str, list[_Direction]] = {
            venue: [(symbol, size, side, asset, f"{venue} {symbol} {side}", float(size), priced)
                    for symbol, size in max_size.items()
                    for side, (asset, priced) in zip(_SIDES, _spends(symbol, margin.get(venue, {}).get(symbol)),
                                                     strict=True)]
            for venue in self.venues}

    def update(self, now_ms: int, balances: Mapping[str, Mapping[str, Decimal]],
               asks: Mapping[tuple[str, str], Ask | None]) -> list[Depletion]:
        """Look at the free ``balances`` (venue -> asset -> free) and each book's best ask at ``now_ms``: the
        directions that have been depleted, or funded again, for ``hold_s`` by now. A venue not read yet,
        or a buy with no ask to price it, keeps its state."""
        changes: list[Depletion] = []
        seen = self._seen
        # Nothing turning and the balances as last looked at: the sells are as said, and so is every buy whose
        # ask still prices it the same way (asks move every second; a direction's state rarely does). The
        # balances equal to what was seen as a whole (every watched venue read, no other: the usual answer, one
        # comparison in C) are each venue's as seen.
        unchanged = (seen is not None and not self._turning
                     and (balances == seen[0]
                          or all(balances.get(venue) == seen[0].get(venue) for venue in self.venues))
                     and (seen[1] == asks or self._priced_as_said(asks if type(asks) is dict else dict(asks))))
        if not unchanged:  # unchanged: only the readings are taken
            self._look_at(balances, asks)
            for venue in self.venues:
                if venue not in balances:
                    continue
                for (symbol, size, side, asset, key, _, _), balance, short, ask in self._states(
                        venue, balances[venue], asks):
                    if short == (key in self.depleted):
                        self._turning.pop(key, None)
                        continue
                    turning = self._turning.get(key)
                    if turning is None or turning[0] != short:
                        turning = self._turning[key] = (short, now_ms)
                    if now_ms - turning[1] >= self.hold_ms:
                        del self._turning[key]
                        needed = size if ask is None else size * _exact(ask)
                        change = Depletion(venue, symbol, side, asset, balance, needed, size, started=short,
                                           since_ms=turning[1], size_key=self.size_keys.get(symbol, "max_size"))
                        changes.append(change)
                        if short:
                            self.depleted[key] = change
                        else:
                            del self.depleted[key]
        assert self._seen is not None
        window_start = now_ms - self.window_ms
        for venue, held in self._seen[0].items():  # each venue read: its balances as now, kept by the look
            readings = self._readings.get(venue)
            if readings is None:  # not setdefault: it would build a deque every second to throw away
                readings = self._readings[venue] = deque()
            readings.append((now_ms, held))
            while len(readings) > 1 and readings[1][0] <= window_start:
                readings.popleft()  # keep one reading at or before the window's start
        return changes

    def _look_at(self, balances: Mapping[str, Mapping[str, Decimal]], asks: Mapping[tuple[str, str], Ask | None]
                 ) -> None:
        """Keep what this look sees (:attr:`_seen`: a venue's copy is kept while its balances stand still) and
        the line each priced direction is short beyond at these balances."""
        before = self._seen[0] if self._seen is not None else {}
        held = {venue: kept if (kept := before.get(venue)) == balances[venue] else dict(balances[venue])
                for venue in self.venues if venue in balances}
        self._seen = (held, dict(asks))
        self._priced_lines = [((venue, symbol), key, _line(balance, size_f), balance, size)
                              for venue, free in held.items()
                              for symbol, size, _, asset, key, size_f, priced in self._directions[venue] if priced
                              for balance in (free.get(asset, _ZERO),)]

    def _priced_as_said(self, asks: dict[tuple[str, str], Ask | None]) -> bool:
        """Whether every direction priced at the ask is short of its size at ``asks`` exactly when it is said
        depleted, at the balances last seen (as :meth:`_states` decides, with each line worked out once a look)."""
        depleted = self.depleted
        for ask_key, key, line, balance, size in self._priced_lines:
            ask = asks.get(ask_key)
            if ask is not None and _short_at(balance, size, line, ask) != (key in depleted):
                return False
        return True

    def steady(self, balances: Mapping[str, Mapping[str, Decimal]],
               asks: Mapping[tuple[str, str], Ask | None]) -> bool:
        """Whether :meth:`update` on these balances and asks changes nothing, now or later while they stay
        so: no change is waiting out its hold and every direction is as it was last said."""
        if self._turning:
            return False
        return all(short == (direction[4] in self.depleted)
                   for venue in self.venues if venue in balances
                   for direction, _, short, _ in self._states(venue, balances[venue], asks))

    def _states(self, venue: str, held: Mapping[str, Decimal], asks: Mapping[tuple[str, str], Ask | None]
                ) -> Iterator[tuple[_Direction, Decimal, bool, Ask | None]]:
        """(direction, free balance of its asset, whether it is short of what its size needs, the ask that
        priced it: None for a spot sell) for both directions of every symbol on ``venue``; a priced direction
        with no ask to price it is left out (it keeps its state). Short: the balance is below the size (a spot
        sell) or the size at the ask (a buy, a perpetual's sell)."""
        for direction in self._directions[venue]:
            symbol, size, _, asset, _, size_f, priced = direction
            balance = held.get(asset, _ZERO)
            if not priced:
                yield direction, balance, balance < size, None
            elif (ask := asks.get((venue, symbol))) is not None:
                yield direction, balance, _short_at(balance, size, _line(balance, size_f), ask), ask

    def seconds_to_empty(self) -> dict[tuple[str, str], float | None]:
        """(venue, asset) -> seconds until the free balance is gone at the rate it fell over the window (0 when
        it is gone); None when it did not fall. Each asset of a venue's last reading, from the first reading of
        the window that holds it (one the venue no longer reports has no balance to run out of)."""
        out: dict[tuple[str, str], float | None] = {}
        for venue, readings in self._readings.items():
            t1, last = readings[-1]
            for asset, b1 in last.items():
                t0, b0 = next((t, held[asset]) for t, held in readings if asset in held)
                if b1 <= 0:
                    out[venue, asset] = 0.0
                elif b0 > b1 and t1 > t0:
                    out[venue, asset] = float(b1 * (t1 - t0) / (b0 - b1)) / 1000
                else:
                    out[venue, asset] = None
        return dict(sorted(out.items()))

    def snapshot(self) -> dict[str, object]:
        """For ``RunView.snapshot()``: exact strings, None for "not being used up"."""
        return {
            "window_s": self.window_ms / 1000,
            "seconds_to_empty": [{"venue": v, "asset": a, "seconds": s}
                                 for (v, a), s in self.seconds_to_empty().items()],
            "depleted": [{"venue": d.venue, "symbol": d.symbol, "side": d.side, "asset": d.asset,
                          "balance": format(d.balance, "f"), "needed": format(d.needed, "f")}
                         for _, d in sorted(self.depleted.items())],
        }


async def watch_inventory(watch: InventoryWatch, balances: Mapping[str, Mapping[str, Decimal]],
                          books: Iterable[_Book], now_ms: Callable[[], int],
                          on_change: Callable[[Depletion], None], every_s: float = EVERY_S) -> None:
    """Feed ``watch`` once every ``every_s`` of the run's clock (a simulation's loop time is market time):
    a depletion is one WARNING line (its clearing one INFO line), then ``on_change`` (the incident and the alert)."""
    def look() -> None:
        for change in watch.update(now_ms(), balances, best_asks(books)):
            if change.started:
                log.warning("inventory depleted: %s", change.describe())
            else:
                log.info("inventory cleared: %s", change.describe())
            on_change(change)

    # Idle while nothing would change (simloop.tick): a quiet gap in a capture takes no ticks.
    await every(every_s, look, lambda: watch.steady(balances, best_asks(books)))


def _spends(symbol: str, settle: str | None) -> tuple[tuple[str, bool], tuple[str, bool]]:
    """What a buy and a sell of ``symbol`` spend, and whether each is priced at the ask: on spot, the quote
    (priced) and the base (the size itself); on a perpetual settled in ``settle``, margin both ways."""
    base, quote = symbol.split("/")
    if settle is not None:
        return (settle, True), (settle, True)
    return (quote, True), (base, False)


def best_asks(books: Iterable[_Book]) -> dict[tuple[str, str], float | None]:
    """(venue, symbol) -> each book's best ask, None for an empty side: the books as they are now, so a book first
    seen after the watch started is priced too. Each book's own float of it (its top view, kept current for
    detection), not a Decimal made of it (~2 µs a book, 500 books a second on 100 symbols x 5 venues): the watch
    makes the few it needs exact."""
    return {(b.venue, b.symbol): float(top[0]) if len(top := b.top_arrays()[2]) else None for b in books}
