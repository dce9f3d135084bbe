"""One maker side's filled quotes and what of each no hedge has answered yet: whose fills a hedge answers.

Pure bookkeeping, no I/O (``execution/maker.MakerRoute`` moves the orders): a hedge is split across the
quotes it answers oldest first, one IOC per quote, so each maker pair's hedges are its own; dust below the
taker's minimum rides with the next quote's share and says whose it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from arb.domain.market import quantize_step
from arb.quoting.ledger import HedgeRules


@dataclass(frozen=True, slots=True)
class Piece:
    """One IOC of a hedge: the quote whose pair it is linked to, its amount, and the parts of that amount that
    answer other quotes' base (dust too small to hedge alone, carried with it), in the order they are owed."""

    quote_id: str
    amount: Decimal
    carries: tuple[tuple[str, Decimal], ...] = ()

    def parts(self) -> list[tuple[str, Decimal]]:
        """Every quote's part: the carried ones first (older base is answered first), then its own."""
        own = self.amount - sum((a for _, a in self.carries), Decimal(0))
        return [*self.carries, (self.quote_id, own)] if own > 0 else list(self.carries)


@dataclass
class Lots:
    """One maker side's filled quotes and what of each no hedge has filled yet (``open``), oldest first, with
    what hedges on their way may still fill (``in_flight``).

    A hedge's amount is split across them oldest first (:meth:`take`), one IOC per quote, so a retry that
    also carries a newer quote's fill gives each pair its own hedge. A share below the taker's minimum (dust
    the steps left) goes with the next quote's share: the one place a hedge answers another quote's base, so
    the piece says whose (``Piece.carries``), its answer credits each quote its own part
    (:meth:`answered`), and the journal is told, so the store knows the older quote was answered (a restart
    does not hedge it again)."""

    open: dict[str, Decimal] = field(default_factory=dict)
    in_flight: dict[str, Decimal] = field(default_factory=dict)

    def filled(self, quote_id: str, amount: Decimal) -> None:
        self.open[quote_id] = self.open.get(quote_id, Decimal(0)) + amount

    def take(self, amount: Decimal, rules: HedgeRules, price: Decimal) -> list[Piece]:
        pieces: list[Piece] = []
        left = amount
        carried: list[tuple[str, Decimal]] = []
        for quote_id, owed in self.open.items():
            free = owed - self.in_flight.get(quote_id, Decimal(0))
            if left <= 0:
                break
            if free <= 0:
                continue
            share = min(free + sum((a for _, a in carried), Decimal(0)), left)
            share = share if share == left else quantize_step(share, rules.taker_step, ROUND_DOWN)
            if share <= 0 or share < rules.taker_min_amount or share * price < rules.taker_min_notional:
                carried.append((quote_id, free))  # too small alone: it goes with the next quote's share
                continue
            pieces.append(Piece(quote_id, share, _first(carried, share)))
            left -= share
            carried = []
        if left > 0:  # the rest (dust carried to the end, or what the lots do not hold): the last share's
            if pieces:
                last = pieces[-1]
                pieces[-1] = Piece(last.quote_id, last.amount + left, last.carries + _first(carried, left))
            else:
                oldest = self.oldest()
                pieces.append(Piece(oldest, left, _first([c for c in carried if c[0] != oldest], left)))
        for piece in pieces:
            for quote_id, part in piece.parts():
                self.in_flight[quote_id] = self.in_flight.get(quote_id, Decimal(0)) + part
        return pieces

    def answered(self, piece: Piece, filled: Decimal) -> list[tuple[str, Decimal]]:
        """``piece``'s answer: ``filled`` credited to its parts in order. Returns what it answered of other
        quotes' base (the carried parts it filled)."""
        credits = []
        left = filled
        for quote_id, part in piece.parts():
            self.in_flight[quote_id] = self.in_flight.get(quote_id, Decimal(0)) - part
            took = min(part, left, self.open.get(quote_id, Decimal(0)))
            left -= took
            if took:
                self._credit(quote_id, took)
                if quote_id != piece.quote_id:
                    credits.append((quote_id, took))
        if left > 0:  # more than its parts held (the rest the lots did not hold): oldest first, as before
            credits += [(q, a) for q, a in self._settle(left) if q != piece.quote_id]
        for quote_id, _ in piece.parts():
            self._forget_if_done(quote_id)
        return credits

    def flattened(self, amount: Decimal) -> list[tuple[str, Decimal]]:
        """``amount`` flattened: off the oldest quotes' open base first; what each quote was credited."""
        return self._settle(amount)

    def _settle(self, amount: Decimal) -> list[tuple[str, Decimal]]:
        credits = []
        for key in list(self.open):
            if amount <= 0:
                break
            took = min(self.open[key], amount)
            if took > 0:
                self._credit(key, took)
                credits.append((key, took))
                amount -= took
            self._forget_if_done(key)
        return credits

    def _credit(self, quote_id: str, amount: Decimal) -> None:
        self.open[quote_id] -= amount

    def _forget_if_done(self, quote_id: str) -> None:
        if quote_id in self.open and self.open[quote_id] <= 0 and not self.in_flight.get(quote_id):
            del self.open[quote_id]
            self.in_flight.pop(quote_id, None)

    def oldest(self) -> str:
        return next(iter(self.open))


def _first(owed: list[tuple[str, Decimal]], amount: Decimal) -> tuple[tuple[str, Decimal], ...]:
    """The leading parts of ``owed`` that ``amount`` covers, oldest first (the last one cut to fit)."""
    out = []
    for quote_id, part in owed:
        if amount <= 0:
            break
        out.append((quote_id, min(part, amount)))
        amount -= out[-1][1]
    return tuple(out)
