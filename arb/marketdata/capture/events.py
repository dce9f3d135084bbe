"""The kinds of capture line, as arb holds them: a book event (:class:`CaptureEvent`), a trade
(:class:`CaptureTrade`) and a perpetual's mark and funding rate (:class:`CaptureFunding`), each written as one compact JSON line, fields in ``docs/CAPTURE.md``'s order, numbers
as the decimal strings the venue sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import orjson

EventType = Literal["snapshot", "delta", "reset", "gap"]
Level = tuple[str, str]
"""One price level as recorded: ``(price, size)`` decimal strings, exactly as in the file."""

TradeSide = Literal["buy", "sell"]


@dataclass(frozen=True, slots=True)
class CaptureEvent:
    """One line of a capture: a whole-book ``snapshot``, a ``delta`` of changed levels, or a ``reset``
    (back to ``syncing``) or ``gap`` (unusable until the next snapshot) with no levels.

    ``ts`` is the receive time in ms since the epoch; ``seq`` is the venue's update id after the event
    (the snapshot id for a snapshot) and ``first_seq`` the update id that must follow the previous event's
    ``seq`` for no update to be lost, where the venue provides them: the first update id in the event
    (Gate, Binance spot ``U``), or ``pu + 1`` on Binance futures, whose streams chain events by ``pu``
    (the previous event's ``u``) and skip ids between events. In a delta a size of ``"0"`` removes the level.
    """

    ts: int
    venue: str
    symbol: str
    type: EventType
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    exchange_ts: int | None = None
    seq: int | None = None
    first_seq: int | None = None

    def to_json(self) -> bytes:
        """The event as one compact JSON line (without the newline), fields in the documented order."""
        obj: dict[str, Any] = {"ts": self.ts, "venue": self.venue, "symbol": self.symbol, "type": self.type}
        if self.exchange_ts is not None:
            obj["exchange_ts"] = self.exchange_ts
        if self.seq is not None:
            obj["seq"] = self.seq
        if self.first_seq is not None:
            obj["first_seq"] = self.first_seq
        obj["bids"] = self.bids
        obj["asks"] = self.asks
        return orjson.dumps(obj)


@dataclass(frozen=True, slots=True)
class CaptureTrade:
    """One trade line of a capture: a trade printed on the venue's public tape.

    ``ts`` is the receive time in ms since the epoch, as for a book event; ``price`` and ``amount`` are the
    decimal strings the venue sent (never reformatted; ``amount`` in the unit the venue's book sizes are in:
    contracts on Binance COIN-M); ``side`` is the aggressor's (the taker's) side: ``"buy"`` when a buy
    order took an ask. ``trade_id`` is the venue's trade id as a string (``"id"`` in the file) and
    ``exchange_ts`` the venue's trade time in ms, where it gives one. A trade needs no book: it may come
    before its book's first snapshot, or for a book the capture never has. Build one from outside input
    with :func:`checked_trade`.
    """

    type: ClassVar[Literal["trade"]] = "trade"  # read like a book event's ``type``; not a field

    ts: int
    venue: str
    symbol: str
    price: str
    amount: str
    side: TradeSide
    trade_id: str
    exchange_ts: int | None = None

    def to_json(self) -> bytes:
        """The trade as one compact JSON line (without the newline), fields in the documented order."""
        obj: dict[str, Any] = {"ts": self.ts, "venue": self.venue, "symbol": self.symbol, "type": "trade",
                               "price": self.price, "amount": self.amount, "side": self.side, "id": self.trade_id}
        if self.exchange_ts is not None:
            obj["exchange_ts"] = self.exchange_ts
        return orjson.dumps(obj)


@dataclass(frozen=True, slots=True)
class CaptureFunding:
    """One funding line of a capture: a perpetual's mark price now and the funding rate the venue will settle
    at ``funding_ts`` (Binance's ``markPrice@1s``: ``p`` -> ``mark``, ``i`` -> ``index``, ``r`` -> ``rate``,
    ``T`` -> ``funding_ts``, ``E`` -> ``exchange_ts``). ``rate`` is signed: positive, longs pay shorts.
    Strings as the venue sent them; a simulated perpetual settles the last rate announced before each
    ``funding_ts`` at the last mark before it (``Matcher.on_funding``; ``arb/margin.py``)."""

    type: ClassVar[Literal["funding"]] = "funding"  # read like a book event's ``type``; not a field

    ts: int
    venue: str
    symbol: str
    mark: str
    rate: str
    funding_ts: int
    index: str | None = None
    exchange_ts: int | None = None

    def to_json(self) -> bytes:
        obj: dict[str, Any] = {"ts": self.ts, "venue": self.venue, "symbol": self.symbol, "type": "funding",
                               "mark": self.mark, "rate": self.rate, "funding_ts": self.funding_ts}
        if self.index is not None:
            obj["index"] = self.index
        if self.exchange_ts is not None:
            obj["exchange_ts"] = self.exchange_ts
        return orjson.dumps(obj)


CaptureLine = CaptureEvent | CaptureTrade | CaptureFunding
"""Any line of a capture: what the readers yield with ``trades=True`` and what the writer takes."""
