"""Sandbox configuration (frozen) and fault knobs (mutable at run time, by tests or the control API)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from arb.venues.gate.sandbox import values
from arb.venues.gate.sandbox.contracts import ContractSpec
from arb.venues.gate.sandbox.keys import KeyRights
from arb.venues.gate.sandbox.orders import PairSpec
from arb.venues.gate.sandbox.wallet import WalletConfig


@dataclass(frozen=True, slots=True)
class Account:
    """One API key. The secret is kept out of ``repr`` so it never lands in a log line."""

    key: str
    secret: str = field(repr=False)
    balances: Mapping[str, Decimal] = field(default_factory=dict)
    # Its futures wallet (USDT perpetuals' margin, apart from the spot balances above, as on Gate).
    futures: Mapping[str, Decimal] = field(default_factory=dict)
    gt_deduction: bool = False  # fees paid in GT (needs a GT_<quote> pair and GT): sandbox/matching.py
    # What the key may do (permissions, read-only, IP whitelist), refused with Gate's labels: sandbox/keys.py.
    rights: KeyRights = KeyRights()


@dataclass(frozen=True, slots=True)
class RandomWalkFeed:
    """A seeded random-walk book for ``pair``: ``levels`` per side, ``step_s`` between snapshots."""

    pair: str
    mid: Decimal = Decimal(25)
    tick: Decimal = Decimal("0.001")
    levels: int = 20
    step_s: float = 1.0
    seed: int = 7


@dataclass(frozen=True, slots=True)
class CaptureFeed:
    """Replay ``path`` (CAPTURE.md format); ``routes`` maps (venue, symbol) of the capture to sandbox
    pairs. ``speed`` 1.0 plays at the recorded pace, 10.0 ten times faster, 0 as fast as possible.

    Wall-clock time only: inside a simulation the run's market source feeds the in-process sandbox
    (:meth:`arb.venues.gate.sandbox.server.Sandbox.push_book`, ``push_trade``) on the market timeline instead."""

    path: Path
    routes: Mapping[tuple[str, str], str]
    speed: float = 1.0


DEFAULT_ACCOUNT = Account("sandbox-key", "sandbox-secret", {"USDT": Decimal(10000), "LINK": Decimal(100)})


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    accounts: tuple[Account, ...] = (DEFAULT_ACCOUNT,)
    pairs: tuple[PairSpec, ...] = (PairSpec("LINK_USDT"),)
    contracts: tuple[ContractSpec, ...] = ()  # USDT perpetuals (``futures.py``)
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    clock: Callable[[], float] = time.time
    order_limit: int = 10  # Gate: 10 placements per second per account per market
    order_window_s: float = 1.0
    # Every endpoint, per authenticated key; unauthenticated traffic per address (public requests and
    # failed authentications in separate buckets).
    global_limit: int = 200
    global_window_s: float = 10.0
    seed: int = 0  # fault-injection randomness
    feeds: tuple[RandomWalkFeed | CaptureFeed, ...] = ()
    wallet: WalletConfig = WalletConfig()  # currencies' chains, fees and minimums; withdrawals' arrival delay


@dataclass(slots=True)
class Faults:
    """Misbehaviour on demand. Fractions draw from a seeded RNG so a run can be reproduced."""

    latency_s: float = 0.0
    fraction_429: float = 0.0
    fraction_5xx: float = 0.0
    drop_order_responses: int = 0  # accept the next N orders, then close the connection unanswered
    fail_order_responses: int = 0  # accept the next N orders, then answer 502 as if nothing was done
    drop_cancel_responses: int = 0  # cancel the next N orders, then close the connection unanswered
    fail_cancel_responses: int = 0  # cancel the next N orders, then answer 502 as if nothing was done
    # Place the order at once, then hold its response this long: the window in which a client can die
    # between sending an order and recording the answer.
    order_response_delay_s: float = 0.0
    freeze_book: bool = False
    rng: random.Random = field(default_factory=lambda: random.Random(0), repr=False)

    def update(self, knobs: Mapping[str, object]) -> None:
        """Set knobs by name (the control endpoint's JSON). Every value is checked before any is set: an
        unknown name, or a value out of its knob's range, is a ``ValueError`` and changes nothing."""
        checked = {}
        for name, value in knobs.items():
            check = _KNOBS.get(name)
            if check is None:
                raise ValueError(f"unknown fault knob {name!r}")
            checked[name] = check(value, f"fault knob {name}")
        for name, value in checked.items():
            setattr(self, name, value)


def _seconds(value: object, name: str) -> float:
    return values.number(value, name, 0.0, values.MAX_DELAY_S)


def _fraction(value: object, name: str) -> float:
    return values.number(value, name, 0.0, 1.0)


_KNOBS: dict[str, Callable[[object, str], object]] = {
    "latency_s": _seconds,
    "fraction_429": _fraction,
    "fraction_5xx": _fraction,
    "drop_order_responses": values.count,
    "fail_order_responses": values.count,
    "drop_cancel_responses": values.count,
    "fail_cancel_responses": values.count,
    "order_response_delay_s": _seconds,
    "freeze_book": values.flag,
}
