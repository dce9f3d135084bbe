"""The hedge ledger of one maker route: every maker fill in, the hedges that answer it out, exactly once.

Pure state, on market time (``now_ms`` comes in); the caller sends what it asks for and reports back. One
ledger per (symbol, maker venue, taker venue); each maker side has its own account, since a filled maker
bid is hedged by a taker sell and a filled maker ask by a taker buy.

Per side, in base units: ``filled`` (the sum of distinct maker trades), ``hedged`` (what hedges have
filled), ``in_flight`` (what hedges sent and not yet answered may still fill). ``waiting = filled - hedged
- in_flight`` is owed a hedge (less what the leg policy flattened). The rules:

- **Exactly once.** A maker fill is keyed by its trade id: a duplicate notification (the private stream and
  a REST lookup both report it; a reconnect replays it) adds nothing. Fills are summed, so the order they
  arrive in does not matter. A hedge is sized from ``waiting``, never from a fill, so no two hedges can
  answer the same base: ``hedged + in_flight <= filled`` always.
- **Below the minimum.** ``waiting`` is hedged in whole taker steps once it reaches the taker's minimum
  amount (and notional, at the hedge's price); less stays ``waiting`` (open exposure, shown as such) until
  the next fill lifts it over.
- **Retry, then the leg policy.** A hedge that fills less than it asked leaves the rest ``waiting``; the next
  hedge goes after a backoff (``retry_ms * 2**(attempt-1)``), its limit widened ``widen_bps`` further each
  attempt, up to ``max_attempts``. Past that the side is ``failed``: the ledger asks for no more hedges and
  the caller applies the leg policy (halt, or flatten what is waiting on the maker venue).
- **No new quote over the bound.** A side may quote only while ``filled - hedged`` (waiting and in flight)
  is at most ``max_unhedged`` and it has not failed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from arb.domain.market import Side, quantize_step

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class HedgeRules:
    taker_step: Decimal  # the taker venue's amount step
    taker_min_amount: Decimal
    taker_min_notional: Decimal
    max_unhedged: Decimal  # base units a side may owe before it stops quoting
    max_attempts: int = 5
    retry_ms: int = 200  # the first retry's delay; doubles each attempt
    widen_bps: Decimal = Decimal("10")  # each retry's limit this much further than the last


@dataclass(frozen=True, slots=True)
class MakerFill:
    trade_id: str
    side: Side  # the maker order's side
    amount: Decimal  # base units
    price: Decimal


@dataclass(frozen=True, slots=True)
class HedgeRequest:
    """A hedge to send now: ``amount`` on ``side`` of the taker venue, its limit ``widen_bps`` past the walked
    price plus the buffer. ``key`` names it in :meth:`HedgeLedger.on_hedge_done`."""

    key: int
    maker_side: Side
    amount: Decimal
    attempt: int  # 1 for the first try at this base
    widen_bps: Decimal

    @property
    def side(self) -> Side:
        return self.maker_side.opposite


@dataclass(slots=True)
class _Account:
    filled: Decimal = ZERO
    hedged: Decimal = ZERO
    in_flight: Decimal = ZERO
    flattened: Decimal = ZERO  # closed on the maker venue by the leg policy instead of hedged
    attempt: int = 0  # consecutive hedges that came back short
    retry_at_ms: int = 0
    failed: bool = False

    @property
    def waiting(self) -> Decimal:
        return self.filled - self.hedged - self.flattened - self.in_flight

    @property
    def unhedged(self) -> Decimal:
        return self.filled - self.hedged - self.flattened


@dataclass(slots=True)
class HedgeLedger:
    rules: HedgeRules
    _seen: set[str] = field(default_factory=set)
    _accounts: dict[Side, _Account] = field(default_factory=lambda: {Side.BUY: _Account(), Side.SELL: _Account()})
    _sent: dict[int, HedgeRequest] = field(default_factory=dict)
    _next_key: int = 1

    def on_fill(self, fill: MakerFill, price_now: Decimal, now_ms: int) -> list[HedgeRequest]:
        """Record a maker fill (once per trade id) and return the hedge it makes due, if any. ``price_now``:
        the taker price the hedge would get, for the minimum notional."""
        if fill.trade_id in self._seen:
            return []
        self._seen.add(fill.trade_id)
        self._accounts[fill.side].filled += fill.amount
        return self.due(now_ms, {fill.side: price_now})

    def adopt(self, side: Side, trade_ids: Iterable[str], unhedged: Decimal) -> None:
        """An earlier run's quote (found at start): its trades are known (a replay of one adds nothing) and
        ``unhedged`` of its base, filled with no hedge yet, is owed a hedge."""
        self._seen.update(trade_ids)
        self._accounts[side].filled += unhedged

    def knows(self, trade_id: str) -> bool:
        """Whether the maker fill ``trade_id`` is already recorded (a repeat adds nothing)."""
        return trade_id in self._seen

    def due(self, now_ms: int, prices: dict[Side, Decimal]) -> list[HedgeRequest]:
        """The hedges to send now: each side with a hedgeable ``waiting`` amount whose backoff has passed.
        ``prices``: per maker side, the taker price its hedge would get now."""
        out = []
        for side, price in prices.items():
            account = self._accounts[side]
            if account.failed or now_ms < account.retry_at_ms:
                continue
            amount = quantize_step(account.waiting, self.rules.taker_step, ROUND_DOWN)
            if amount <= 0 or amount < self.rules.taker_min_amount or amount * price < self.rules.taker_min_notional:
                continue
            attempt = account.attempt + 1
            request = HedgeRequest(self._next_key, side, amount, attempt, self.rules.widen_bps * (attempt - 1))
            self._next_key += 1
            self._sent[request.key] = request
            account.in_flight += amount
            out.append(request)
        return out

    def on_hedge_done(self, key: int, filled: Decimal, now_ms: int) -> bool:
        """A hedge's final answer: ``filled`` of its amount executed (the rest is cancelled, as an IOC's is).
        Returns True when the side has now failed (``max_attempts`` hedges came back short): apply the leg
        policy to what is waiting."""
        request = self._sent.pop(key)
        if not ZERO <= filled <= request.amount:
            raise ValueError(f"hedge {key} filled {filled} of {request.amount}")
        account = self._accounts[request.maker_side]
        account.in_flight -= request.amount
        account.hedged += filled
        if filled == request.amount:
            account.attempt = 0
            account.retry_at_ms = 0
            return False
        account.attempt = request.attempt
        if account.attempt >= self.rules.max_attempts:
            account.failed = True
            return True
        account.retry_at_ms = now_ms + self.rules.retry_ms * 2 ** (account.attempt - 1)
        return False

    def settled_by_flatten(self, side: Side, amount: Decimal) -> None:
        """``amount`` of the waiting base of ``side`` was closed on the maker venue (the leg policy's flatten):
        it no longer needs a hedge."""
        account = self._accounts[side]
        if not ZERO <= amount <= account.waiting:
            raise ValueError(f"flattened {amount}, but {account.waiting} is waiting")
        account.flattened += amount

    def may_quote(self, side: Side) -> bool:
        account = self._accounts[side]
        return not account.failed and account.unhedged <= self.rules.max_unhedged

    def unhedged(self, side: Side) -> Decimal:
        """Base filled on the maker venue on ``side`` with no hedge fill yet (waiting and in flight)."""
        return self._accounts[side].unhedged

    def waiting(self, side: Side) -> Decimal:
        return self._accounts[side].waiting

    def filled(self, side: Side) -> Decimal:
        return self._accounts[side].filled

    def hedged(self, side: Side) -> Decimal:
        return self._accounts[side].hedged

    def retry_at_ms(self, side: Side) -> int:
        """When a short hedge's rest may go (0: no backoff pending)."""
        return self._accounts[side].retry_at_ms

    def failed(self, side: Side) -> bool:
        return self._accounts[side].failed

    @property
    def in_flight(self) -> tuple[HedgeRequest, ...]:
        return tuple(self._sent.values())
