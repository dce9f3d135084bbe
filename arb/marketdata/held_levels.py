"""One book side's levels as they were held at an instant, made exact ``(price, size)`` Decimals only when read.

``BookSide.held`` copies a side's levels as it holds them (a tick-mode side: each price's tick and its size's
exact integer; a float-mode side: each price's float and its size's text), which costs a few integers a level;
:class:`HeldLevels` builds the Decimals the first time it is read. ``BookSide.exact`` is its levels built at
once. The run's end keeps every book's (``engine/lifecycle.py``: a live feed empties its books as it closes)
and the valuation reads only those of the markets the run holds something in: on 100 symbols x 5 venues,
building all 500 books' 20,000 Decimals had cost ~50 ms of every run's end.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import overload

from arb.marketdata.tick_map import exact_decimal

Level = tuple[Decimal, Decimal]


class HeldLevels(Sequence[Level]):
    """Best first. ``decimals`` >= 0: ``prices`` are ticks of that many decimals and ``sizes`` exact sizes
    (``tick_map.exact_size``) or, where none spells the size, its text; -1: ``prices`` are floats (whose repr
    is the price) and ``sizes`` texts."""

    __slots__ = ("_built", "_decimals", "_prices", "_sizes")

    def __init__(self, prices: list[int] | list[float], sizes: list[int | str], decimals: int) -> None:
        self._prices, self._sizes, self._decimals = prices, sizes, decimals
        self._built: list[Level] | None = None

    def _levels(self) -> list[Level]:
        built = self._built
        if built is None:
            if self._decimals >= 0:  # a tick scaled by the side's decimals is the price as the venue spelled it
                scale = -self._decimals
                built = [(Decimal(tick).scaleb(scale), Decimal(size) if isinstance(size, str) else exact_decimal(size))
                         for tick, size in zip(self._prices, self._sizes, strict=True)]
            else:
                built = [(Decimal(repr(price)), Decimal(size)) for price, size in zip(self._prices, self._sizes,
                                                                                       strict=True)]
            self._built = built
        return built

    def __len__(self) -> int:
        return len(self._prices)

    @overload
    def __getitem__(self, index: int) -> Level: ...

    @overload
    def __getitem__(self, index: slice) -> list[Level]: ...

    def __getitem__(self, index: int | slice) -> Level | list[Level]:
        return self._levels()[index]

    def __iter__(self) -> Iterator[Level]:
        return iter(self._levels())
