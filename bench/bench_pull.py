"""Kill switch seen -> every resting quote's cancel on the wire (issue #44), for 1, 4 and 16 quotes, against
one cancel's round trip measured in the same run.

Measures, on the event loop arb's live runs use (uvloop, ``eventloop/live_loop.py``), with a maker route
(``execution/maker.MakerRoute``) resting N post-only bids (``levels=N``) on a Gate sandbox:

- **one cancel's round trip**: a single resting order cancelled through the same venue (``venue.cancel``),
  from its ``DELETE`` request's bytes handed to the socket to the answer back in the caller (and, printed
  beside it, from the call); the unit every pull is printed in;
- **a pull of N quotes** (N = 1, 4, 16), from the moment the kill switch is seen (``t0``, taken just before
  ``route.close("kill_switch")``: what ``QuotingDesk.check`` -> ``QuotingDesk.close`` calls on every route):
  to the first and to the last of the N cancels' ``DELETE`` bytes handed to the socket's transport (the last:
  all "on the wire"; ``bench_executor.py``'s ``WireTap``, its transports noting ``DELETE`` requests here);
  to the last answer's first bytes reaching its connection (all answers back); and to the last answer back
  in the route (the venue's ``cancel`` returning to it), which comes after the answers before it have been
  journalled, one at a time on the same loop, as in a run. Median and max over repetitions, in ms, and the
  median in multiples of one cancel's round trip. Also counted: the connections opened during the pull (a
  cancel is ccxt's ``cancel_order``, built, signed and read by ccxt, written on arb's order line,
  ``venues/order_line.py``, as placements are: one kept-alive connection each while in flight).

Two clients, both behind the throttle guard (``venues/guard.GuardedVenue``, Gate's cancel budget, 200/s)
and the private fill stream (``StreamedVenue``):
- **arb**: ``GateExchange`` with ``enableRateLimit=False``, as ``arb run`` builds it for a sandbox and (since
  this bench found the next line) for the real Gate (``venues/gate/adapter.py``);
- **ccxt-limited**, the baseline: ``enableRateLimit=True``, as the real Gate's client was built before: every
  ccxt request, a cancel included, also waits in ccxt's own leaky bucket (Gate's ``rateLimit`` 50 ms, a cancel
  costing 0.27 of it: 13.3 ms a cancel once the bucket is empty), which the pull's concurrency cannot get
  past: 16 cancels on the wire after ~225 ms.
The guard's placement and global budgets are lifted: the bench places quotes far faster than a run may, and
must not leave the pull's cancels waiting for budget its placements took (16 cancels fit Gate's own).

The venue: a Gate sandbox (``arb.venues.gate.sandbox.Sandbox``) in a process of its own, as in
``bench_maker.py``: in this process its work for each cancel (aiohttp's server, the signature check, the
matcher, the private stream's push) would run on arb's loop between the cancels' writes and between their
answers, adding up to N times its per-request work to both measures. Its injected latency
(``faults.latency_s``: 5 and 50 ms, slept before it handles each request) makes a round trip worth
measuring; it is 0 while the quotes are placed (the pull is what is timed) and set, acknowledged, before
each pull. Books are fixed (``bench_maker.FixedBooks``); the journal is arb's own (``StoreJournal`` on
SQLite). At the end every order the account placed on the sandbox must be cancelled.

Run: ``.venv/bin/python bench/bench_pull.py [repetitions]`` (default 10: about 50 s)
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import itertools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import bench_executor
from aiohttp.client_proto import ResponseHandler
from bench_executor import WireTap
from bench_maker import (
    KEY,
    PAIR,
    SECRET,
    SYMBOL,
    Commands,
    FixedBooks,
    ReadTap,
    SandboxProcess,
    new_run,
    route_spec,
    serve_sandbox,
)

from arb.domain.market import Side
from arb.domain.venue import OrderReport, OrderRequest
from arb.eventloop.live_loop import run_live
from arb.execution.maker import MakerRoute
from arb.quoting.sizing import Funds
from arb.runtime.maker_journal import StoreJournal, VenueFees
from arb.store.db import make_engine, make_session_factory
from arb.venues.gate import GateExchange
from arb.venues.gate.adapter import live_venue
from arb.venues.gate.facts import GATE_SPOT_LIMITS
from arb.venues.gate.private_stream import for_exchange
from arb.venues.gate.sandbox import Sandbox
from arb.venues.guard import GuardedVenue
from arb.venues.live.streamed import StreamedVenue
from arb.venues.order_line import _Connection
from arb.venues.throttle import PLACE, Budget, VenueThrottle

D = Decimal
COUNTS = (1, 4, 16)
TARGET_TRIPS = 1.0  # the last of N cancels on the wire, in one cancel's round trips (issue #44)
LATENCIES_MS = (5, 50)
CLIENTS = {"arb": False, "ccxt-limited": True}  # name -> ccxt's enableRateLimit (see the docstring)
SIZE = D("0.1")
TIMEOUT = 10.0
WARMUP = 2
# Gate's table but for the placement and global budgets (see the module docstring); the cancels' own: Gate's.
LIMITS = dataclasses.replace(GATE_SPOT_LIMITS, global_budget=Budget(100_000, 1.0),
                             per_market={PLACE: Budget(100_000, 1.0)})


# -- the sandbox, in a process of its own ------------------------------------------------------------------
def _latency(sb: Sandbox, words: list[str]) -> str:
    sb.faults.latency_s = float(words[0])
    return "ok"


def _orders(sb: Sandbox, _: list[str]) -> str:
    ours = [o for o in sb.engine.orders.values() if o.account == KEY]
    return f"{len(ours)} {sum(o.status == 'cancelled' and o.finish_as == 'cancelled' for o in ours)}"


# ``latency <s>`` sets its injected latency; ``orders`` says the account's orders: how many, how many cancelled.
PULL_COMMANDS: Commands = {"latency": _latency, "orders": _orders}


class PullSandbox(SandboxProcess):
    def __init__(self) -> None:
        super().__init__(__file__, "--sandbox")

    def latency(self, seconds: float) -> None:
        """Set before the next request is sent: the sandbox answers once it has."""
        assert self.ask(f"latency {seconds}") == "ok"

    def orders(self) -> tuple[int, int]:
        total, cancelled = self.ask("orders").split()
        return int(total), int(cancelled)


# -- arb's side -------------------------------------------------------------------------------------------
class _CancelTapped(bench_executor._Tapped):
    """``bench_executor``'s tapped transport, noting a cancel's ``DELETE`` (only) where it notes a ``POST``;
    ``answer_due`` until the connection's next answer starts arriving (``answer_tap``)."""

    __slots__ = ("answer_due",)

    def __init__(self, transport: Any, sent: list[int]) -> None:
        super().__init__(transport, sent)
        self.answer_due = False

    def write(self, data: Any) -> None:
        self._note(data)
        self._transport.write(data)

    def writelines(self, chunks: Any) -> None:
        chunks = list(chunks)
        if chunks:
            self._note(chunks[0])
        self._transport.writelines(chunks)

    def _note(self, head: Any) -> None:
        if bytes(head[:7]) == b"DELETE ":
            self._sent.append(time.perf_counter_ns())
            self.answer_due = True


class CancelTap(WireTap):
    """``WireTap`` noting cancels: it wraps each connection's transport in ``bench_executor._Tapped`` as the
    connection is made, replaced here by :class:`_CancelTapped` before any is."""

    def install(self) -> None:
        bench_executor._Tapped = _CancelTapped  # type: ignore[misc]
        super().install()


def answer_tap() -> ReadTap:
    """perf_counter_ns when a cancel's answer first reached its connection (``data_received`` entered, before
    it is parsed): the order line's, or aiohttp's where a client's cancels go through ccxt's session."""
    def carries(protocol: Any, data: bytes) -> bool:
        transport = protocol.transport
        if isinstance(transport, _CancelTapped) and transport.answer_due:
            transport.answer_due = False
            return True
        return False

    return ReadTap(carries)


@dataclass
class Pulls:
    """Nanoseconds per repetition, from t0 (the kill switch seen), by what is measured."""

    first: list[int] = field(default_factory=list)  # the first DELETE handed to the socket
    wire: list[int] = field(default_factory=list)  # the last DELETE handed to the socket: all on the wire
    read: list[int] = field(default_factory=list)  # the last answer's bytes reaching arb's connection
    handled: list[int] = field(default_factory=list)  # the last answer back in the route (the ones before it
    # journalled meanwhile, on the same loop)
    connects: list[int] = field(default_factory=list)  # connections opened during the pull

    MEASURES = {"first cancel on the wire": "first", "last cancel on the wire": "wire",
                "last answer read": "read", "last answer in the route": "handled"}


@dataclass
class Measured:
    round_trip: list[int] = field(default_factory=list)  # one cancel: DELETE on the wire -> its answer
    call: list[int] = field(default_factory=list)  # one cancel: venue.cancel called -> its answer
    pulls: dict[int, Pulls] = field(default_factory=lambda: {n: Pulls() for n in COUNTS})


@dataclass
class Taps:
    sandbox: PullSandbox
    wire: CancelTap
    reads: ReadTap

    def clear(self) -> None:
        self.wire.clear()
        self.reads.reads.clear()

    def opened(self) -> int:
        """Connections opened to the venue so far: the order line's and ccxt's aiohttp session's."""
        return sum(self.wire.connects.values())


class Client:
    """The route's venues on one ccxt client configuration, each quote count's route, the journal."""

    def __init__(self, port: int, rate_limited: bool, journal_of: Callable[[dict[str, Any]], StoreJournal],
                 ids: Iterator[int]) -> None:
        url = f"http://127.0.0.1:{port}"
        self.exchanges = [GateExchange.for_endpoint(url + "/api/v4", f"ws://127.0.0.1:{port}/ws/v4/", KEY, SECRET,
                                                    enableRateLimit=rate_limited, pairs=[PAIR.to_json()])
                          for _ in range(2)]
        ex_maker, ex_taker = self.exchanges
        self.stream = for_exchange(ex_maker, "maker", {SYMBOL: PAIR.id})
        guarded = GuardedVenue(live_venue("maker", ex_maker), VenueThrottle("maker", LIMITS))
        self.maker = StreamedVenue(guarded, self.stream)
        taker = live_venue("taker", ex_taker)  # only its market rules are read: nothing is hedged
        self.answers: list[int] = []
        cancel = self.maker.cancel

        async def timed_cancel(client_order_id: str, symbol: str) -> OrderReport:
            report = await cancel(client_order_id, symbol)
            self.answers.append(time.perf_counter_ns())
            return report

        self.maker.cancel = timed_cancel  # type: ignore[method-assign]
        self.journal = journal_of({"maker": self.maker, "taker": taker})
        self.ids = ids
        books, funds = FixedBooks(), Funds(D("1e6"), D("1e9"), D("1e6"), D("1e9"))
        self.routes = {n: MakerRoute(dataclasses.replace(route_spec(SIZE), levels=n, level_step_bps=D("10")),
                                     self.maker, taker, books, self.journal, funds=lambda: funds,
                                     now_ms=lambda: 1_700_000_000_000,
                                     new_client_id=lambda purpose: f"t-{purpose[0]}{next(ids)}",
                                     max_book_age_ms=5_000)
                       for n in COUNTS}
        self.journal.taker_of["maker", SYMBOL] = "taker"
        self.journal.owes = lambda quote_id: any(r.owes(quote_id) for r in self.routes.values())
        self.task: asyncio.Task[None] | None = None
        self.placed = 0  # orders placed on the sandbox, each to be cancelled

    async def start(self) -> None:
        await self.exchanges[0].sync_clock(force=True)
        self.task = asyncio.create_task(self.stream.run())
        await asyncio.wait_for(self.stream.subscribed.wait(), TIMEOUT)

    async def close(self) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        for ex in self.exchanges:
            await ex.close()
        self.journal.close()


async def quiet() -> None:
    """The placements' pushes read off the private stream: the kill switch is seen by a quiet loop."""
    await asyncio.sleep(0.01)


async def pull(client: Client, n: int, taps: Taps, latency_s: float, into: Pulls | None) -> None:
    route = client.routes[n]
    taps.sandbox.latency(0)
    await route.on_books()
    assert len(route.resting_levels) == n, route.resting_levels
    client.placed += n
    taps.sandbox.latency(latency_s)
    await quiet()
    taps.clear()
    client.answers.clear()
    connects = taps.opened()
    t0 = time.perf_counter_ns()
    await route.close("kill_switch")
    sent, reads = taps.wire.sent["maker"], taps.reads.reads
    assert len(sent) == len(reads) == len(client.answers) == n and not route.resting_levels \
        and route.errors == [], (len(sent), len(reads), len(client.answers), route.resting_levels, route.errors)
    if into is not None:
        into.first.append(min(sent) - t0)
        into.wire.append(max(sent) - t0)
        into.read.append(max(reads) - t0)
        into.handled.append(max(client.answers) - t0)
        into.connects.append(taps.opened() - connects)


async def one_cancel(client: Client, taps: Taps, latency_s: float, into: Measured | None) -> None:
    taps.sandbox.latency(0)
    client_order_id = f"t-o{next(client.ids)}"
    report = await client.maker.place(OrderRequest(client_order_id, SYMBOL, Side.BUY, SIZE, D("26.00"), "poc"))
    assert report.state.value == "open", report
    client.placed += 1
    taps.sandbox.latency(latency_s)
    await quiet()
    taps.clear()
    client.answers.clear()
    t_call = time.perf_counter_ns()
    await client.maker.cancel(client_order_id, SYMBOL)
    [t_answer], [t_wire] = client.answers, taps.wire.sent["maker"]
    if into is not None:
        into.round_trip.append(t_answer - t_wire)
        into.call.append(t_answer - t_call)


async def measure(client: Client, taps: Taps, reps: int) -> tuple[dict[int, Measured], Pulls]:
    """Per venue latency (ms), what was measured; and the client's very first pull of 16 (the connections
    held only what the pulls of 1 and 4 left)."""
    await client.start()
    cold = Pulls()
    warm_s = LATENCIES_MS[0] / 1000
    for rep in range(WARMUP):  # connections open, the quotes' builder check passed, code hot
        for n in COUNTS:
            await pull(client, n, taps, warm_s, cold if rep == 0 and n == COUNTS[-1] else None)
        await one_cancel(client, taps, warm_s, None)
    # What is built lives for the run: out of the collector's view, as the engine's (``engine/lifecycle.py``,
    # before its decision loop). Without it, a full collection (~145 ms here) now and then lands in a pull.
    gc.freeze()
    out = {ms: Measured() for ms in LATENCIES_MS}
    for _ in range(reps):
        for ms, measured in out.items():  # latencies alternate: both see the same machine
            await one_cancel(client, taps, ms / 1000, measured)
            for n in COUNTS:
                await pull(client, n, taps, ms / 1000, measured.pulls[n])
            await one_cancel(client, taps, ms / 1000, measured)
    await client.close()
    return out, cold


def ms(ns: float) -> float:
    return ns / 1e6


def report(name: str, rate_limited: bool, results: dict[int, Measured], cold: Pulls) -> None:
    print(f"\n{name} client (ccxt enableRateLimit={rate_limited}); its first pull of {COUNTS[-1]}, connections "
          f"cold: last cancel on the wire {ms(cold.wire[0]):.2f} ms ({LATENCIES_MS[0]} ms latency), "
          f"{cold.connects[0]} connections opened")
    for latency, m in results.items():
        rtt = statistics.median(m.round_trip)
        print(f"  venue latency {latency} ms: one cancel's round trip (DELETE on the wire -> answer) median "
              f"{ms(rtt):.2f} ms, max {ms(max(m.round_trip)):.2f} ms (venue.cancel called -> answer: median "
              f"{ms(statistics.median(m.call)):.2f} ms), n={len(m.round_trip)}")
        print(f"    {'from the kill switch seen':<26}" + "".join(f"{'N=' + str(n):>28}" for n in COUNTS))
        print(f"    {'(median / max ms, x RTT)':<26}" + "".join(f"{'':>28}" for _ in COUNTS))
        for label, attr in Pulls.MEASURES.items():
            cells = []
            for p in m.pulls.values():
                xs = getattr(p, attr)
                med, top = statistics.median(xs), max(xs)
                cells.append(f"{ms(med):6.2f} / {ms(top):6.2f} ({med / rtt:4.2f}x)")
            print(f"    {label:<26}" + "".join(f"{c:>28}" for c in cells))
        opened = [f"{statistics.median(p.connects):g} / {max(p.connects)}" for p in m.pulls.values()]
        print(f"    {'connections opened':<26}" + "".join(f"{c:>28}" for c in opened))


async def main(reps: int) -> None:
    sandbox = PullSandbox()
    taps = Taps(sandbox, CancelTap({sandbox.port: "maker"}), answer_tap())
    taps.wire.install()
    taps.reads.install((_Connection, ResponseHandler))
    ids = itertools.count(1)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            run_id = new_run(url)
            engine = make_engine(url)
            sessions = make_session_factory(engine)
            fees = {name: VenueFees(PAIR.maker_fee, PAIR.taker_fee) for name in ("maker", "taker")}

            def journal_of(venues: dict[str, Any]) -> StoreJournal:
                return StoreJournal(sessions, run_id, venues, FixedBooks(), fees, lambda: datetime.now(UTC))

            results, placed = {}, 0
            for name, rate_limited in CLIENTS.items():
                client = Client(sandbox.port, rate_limited, journal_of, ids)
                results[name] = await measure(client, taps, reps)
                placed += client.placed
            engine.dispose()
        total, cancelled = sandbox.orders()
    finally:
        sandbox.close()
    assert total == cancelled == placed, (total, cancelled, placed)

    print(f"repetitions={reps} (+{WARMUP} warm-up) per venue latency; a maker route's N resting bids on a Gate "
          "sandbox in its own process (loopback, real signing, SQLite journal); t0: the kill switch seen, "
          "route.close('kill_switch')")
    for name, (measured, cold) in results.items():
        report(name, CLIENTS[name], measured, cold)
    print(f"\nsandbox: {total} orders of the account, all {cancelled} cancelled")
    # Issue #44's figure, which #50 keeps: arb's N quotes all on the wire within one cancel's round trip.
    arb, _ = results["arb"]
    trips = {(latency, n): statistics.median(m.pulls[n].wire) / statistics.median(m.round_trip)
             for latency, m in arb.items() for n in COUNTS}
    met = all(x <= TARGET_TRIPS for x in trips.values())
    print(f"targets: every quote's cancel on the wire (N = {', '.join(map(str, COUNTS))}) within {TARGET_TRIPS:g} "
          f"round trip of one cancel, at each venue latency; load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    worst = max(trips, key=lambda k: trips[k])
    print(f"verdict: arb's slowest pull {worst[1]} quotes at {worst[0]} ms, {trips[worst]:.2f} round trips "
          f"{'<=' if met else '>'} {TARGET_TRIPS:g}: {'PASS' if met else 'FAIL'}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--sandbox"]:
        asyncio.run(serve_sandbox(PULL_COMMANDS))
    else:
        run_live(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
