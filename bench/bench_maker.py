"""Maker fill seen -> hedge on the wire (issue #34), against the same run's floor; real sandbox fills on loopback.

Measures, per maker fill:
- **arb**: from the moment the bytes carrying the ``spot.usertrades`` frame reach arb's private stream (the
  WebSocket connection's ``data_received``, before aiohttp decodes the frame: the earliest point arb sees the
  fill) to the hedge's request bytes handed to the taker venue's socket transport (``WireTap`` of
  ``bench_executor.py``), through the real path: aiohttp's WebSocket reader, ``GatePrivateStream`` (orjson,
  ``usertrades.trade_of``, delivery by trade id), ``StreamedVenue``'s fill stream, ``MakerRoute._on_fill``
  (the ledger, the hedge task), the hedge's limit walked from the taker book, the journal's ``before_send``,
  ``LiveVenue.place`` (Gate's order builder, HMAC-SHA512 signing) and the order line's write, on the event
  loop arb's live runs use (uvloop, ``eventloop/live_loop.py``);
- **the floor**: the minimal work for the same thing, with the same frame's bytes in hand: the WebSocket
  frame's payload sliced off its header, ``json.loads``, the hedge's side, amount and limit in ``Decimal``,
  one order row inserted with a raw DB-API ``sqlite3`` connection (autocommit, WAL, ``synchronous=NORMAL``,
  the same schema), the Gate request built and signed with ``hashlib``/``hmac`` and written to an open
  loopback socket (to a sink in another process). Floor and arb alternate fill by fill, so both see the
  same machine; arb's median and p90 are printed as multiples of the floor's, with where arb's time goes
  stage by stage. Target (issue #50): median <= 2x; the run ends with a verdict line. The floor is timed back to back too, warm (not the target).

The journal: arb's own (``runtime/maker_journal.StoreJournal``, as ``arb run`` builds it): each order's row
committed before it is sent by the write-ahead record's one prepared INSERT (``store/write_ahead.py``: a
statement compiled once, run on the DB-API cursor of a kept connection in its own ``BEGIN IMMEDIATE`` ...
``COMMIT``, SQLite in WAL with ``synchronous=NORMAL``); its first event, ``submitted``, the pair's link, the
answers and the maker fill are written after the send (not timed: the floor does none of it either).

The venues: the maker venue is a Gate sandbox in a process of its own (its pushes reach arb over a real
loopback WebSocket, and none of its work shares arb's loop while a fill is timed), behind ``LiveVenue`` +
``GatePrivateStream`` (``StreamedVenue``), the shape ``tests/execution/maker_rig.py`` wires; each fill is a
market trade printed through the route's resting post-only bid with the sandbox's ``push_trade`` (its
control API), so it is the sandbox's own fill, pushed on ``spot.usertrades``. The taker venue is a second
sandbox in this process (as in ``bench_executor.py``; it handles a hedge only after its bytes are on the
wire). The route's books are a fixed view of both sandboxes' books (no feed runs in the bench). One fill at a time: the next is printed once the hedge is answered. At the end the maker
sandbox's trades of the account and the taker's are checked against what the route filled and hedged.

Run: ``.venv/bin/python bench/bench_maker.py [fills]``
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import hmac
import itertools
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

from aiohttp.client_proto import ResponseHandler
from bench_executor import _ORDER_SQL, Sink, WireTap
from sqlalchemy import select

from arb.domain.market import Side
from arb.domain.venue import FillReport, OrderReport, OrderRequest
from arb.errors import ArbError
from arb.eventloop.live_loop import run_live
from arb.execution.maker import MakerRoute, RouteSpec
from arb.quoting.ledger import HedgeRules
from arb.quoting.pricing import Level, Quote, QuoteTerms
from arb.quoting.refresh import RefreshRule
from arb.quoting.sizing import Funds
from arb.runtime.maker_journal import StoreJournal, VenueFees
from arb.store.db import make_engine, make_session_factory
from arb.store.migrate import upgrade_to_head
from arb.store.models import Order, Run
from arb.venues.gate import GateExchange
from arb.venues.gate.adapter import live_venue
from arb.venues.gate.private_stream import for_exchange
from arb.venues.gate.sandbox import Account, PairSpec, Sandbox, SandboxConfig
from arb.venues.live.streamed import StreamedVenue

D = Decimal
KEY, SECRET = "bench-key", "bench-secret-not-real"
PAIR = PairSpec("LINK_USDT", precision=2, amount_precision=2, min_base_amount=D("0.01"), min_quote_amount=D("1"),
                taker_fee=D("0.001"), maker_fee=D("0.001"))
SYMBOL = "LINK/USDT"
FILL = D("0.1")  # each market trade fills this much of the resting bid
BUFFER_BPS = D("2")
TAKER_BOOK = ([("27.00", "1000000"), ("26.99", "1000000")], [("27.10", "1000000"), ("27.11", "1000000")])
MAKER_BOOK = ([("26.50", "10")], [("27.50", "10")])
TIMEOUT = 10.0
TARGET = 2.0  # issue #50: the hedge on the wire over the interleaved floor, median


def config() -> SandboxConfig:
    return SandboxConfig(accounts=(Account(KEY, SECRET, {"USDT": D("10000000"), "LINK": D("1000000")}),),
                         pairs=(PAIR,), order_limit=100_000, global_limit=1_000_000)


# -- a sandbox in a process of its own --------------------------------------------------------------------
# What the sandbox answers on stdin: a command's words -> its reply line (None: no reply).
Commands = dict[str, Callable[[Sandbox, list[str]], str | None]]


async def serve_sandbox(commands: Commands) -> None:
    """Serve a sandbox with the maker book; print its port; then answer each stdin line by its first word's
    command (this benchmark's and ``bench_pull.py``'s)."""
    async with Sandbox(config()) as sb:
        sb.push_book(PAIR.id, *MAKER_BOOK)
        print(sb.port, flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := (await reader.readline()).decode().split():
            reply = commands[line[0]](sb, line[1:])
            if reply is not None:
                print(reply, flush=True)


class SandboxProcess:
    """``script --flag`` (its :func:`serve_sandbox`) as a child process, asked line by line."""

    def __init__(self, script: str, flag: str) -> None:
        self.process = subprocess.Popen([sys.executable, script, flag], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin, self.stdout = self.process.stdin, self.process.stdout
        self.port = int(self.stdout.readline())

    def tell(self, line: str) -> None:
        self.stdin.write(line + "\n")
        self.stdin.flush()

    def ask(self, line: str) -> str:
        self.tell(line)
        return self.stdout.readline().strip()

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def _trades(sb: Sandbox, _: list[str]) -> str:
    ours = [t for t in sb.engine.trades if t.account == KEY]
    return f"{len(ours)} {sum((t.amount for t in ours), D(0))}"


# ``trade <price> <amount> <aggressor>`` prints a trade in its market (its control API); ``trades`` says the
# account's trades (count and amount).
def _trade(sb: Sandbox, words: list[str]) -> None:
    sb.push_trade(PAIR.id, D(words[0]), D(words[1]), words[2])  # no reply: arb sees it on its streams


MAKER_COMMANDS: Commands = {"trade": _trade, "trades": _trades}


class MakerProcess(SandboxProcess):
    def __init__(self) -> None:
        super().__init__(__file__, "--maker-sandbox")

    def trade(self, price: Decimal, amount: Decimal, aggressor: str) -> None:
        self.tell(f"trade {price} {amount} {aggressor}")

    def trades(self) -> tuple[int, Decimal]:
        count, amount = self.ask("trades").split()
        return int(count), D(amount)


# -- arb's side -------------------------------------------------------------------------------------------
class ReadTap:
    """perf_counter_ns when bytes that ``carries`` picks reached an aiohttp connection of this process, taken as
    ``data_received`` is entered (before aiohttp parses them; by default a ``spot.usertrades`` update's
    WebSocket frame). Installed on the class before the connection is made: uvloop binds a protocol's
    ``data_received`` when the connection is made."""

    def __init__(self, carries: Callable[[Any, bytes], bool] | None = None) -> None:
        self.reads: list[int] = []
        self.carries = carries or (lambda protocol, data: b'"spot.usertrades"' in data and b'"update"' in data)

    def install(self, protocols: tuple[type, ...] = (ResponseHandler,)) -> None:
        """On each of ``protocols`` (aiohttp's connections by default)."""
        reads, carries = self.reads, self.carries
        for protocol in protocols:
            received = protocol.data_received

            def data_received(connection: Any, data: bytes, received: Any = received) -> None:
                t = time.perf_counter_ns()
                received(connection, data)
                if carries(connection, data):
                    reads.append(t)

            protocol.data_received = data_received


class FixedBooks:
    """The route's view of the books: both sandboxes' pushed books, fresh (``MakerRoute.Books``)."""

    def __init__(self) -> None:
        def levels(rows: Sequence[tuple[str, str]]) -> tuple[Level, ...]:
            return tuple((D(p), D(s)) for p, s in rows)

        self._levels = {("taker", "bids"): levels(TAKER_BOOK[0]), ("taker", "asks"): levels(TAKER_BOOK[1]),
                        ("maker", "bids"): levels(MAKER_BOOK[0]), ("maker", "asks"): levels(MAKER_BOOK[1])}

    def levels(self, venue: str, symbol: str, side: str) -> Sequence[Level]:
        return self._levels[venue, side]

    def age_ms(self, venue: str, symbol: str) -> int:
        return 0



class TimedJournal:
    """arb's own journal (``runtime/maker_journal.StoreJournal``: each order's row committed before it is
    sent by one prepared INSERT on a kept connection, its answers and fills, its pairs settled), with the
    journal's stage marked and the hedge's answer signalled."""

    def __init__(self, inner: StoreJournal) -> None:
        self.inner = inner
        self.hedge_answered = asyncio.Event()
        self.marks: dict[str, int] = {}

    async def before_send(self, venue: str, request: OrderRequest, purpose: str, quote: Quote | None,
                          answers: str, reference: Decimal | None = None) -> None:
        self.marks["journal"] = time.perf_counter_ns()
        await self.inner.before_send(venue, request, purpose, quote, answers, reference)
        self.marks["journalled"] = time.perf_counter_ns()

    async def refused(self, venue: str, client_order_id: str, error: Exception) -> None:
        await self.inner.refused(venue, client_order_id, error)

    async def absent(self, venue: str, client_order_id: str, detail: str) -> None:
        await self.inner.absent(venue, client_order_id, detail)

    async def not_sent(self, venue: str, client_order_id: str, error: ArbError) -> None:
        await self.inner.not_sent(venue, client_order_id, error)

    async def answered(self, venue: str, report: OrderReport, reason: str | None = None) -> None:
        await self.inner.answered(venue, report, reason)
        if venue == "taker":
            self.hedge_answered.set()

    async def amended(self, venue: str, report: OrderReport) -> None:
        await self.inner.amended(venue, report)

    async def maker_fill(self, fill: FillReport) -> None:
        await self.inner.maker_fill(fill)


def route_spec(size: Decimal) -> RouteSpec:
    return RouteSpec(
        SYMBOL, "maker", "taker", (Side.BUY,), size,
        QuoteTerms(min_profit_bps=D("1"), slippage_buffer_bps=BUFFER_BPS, maker_fee=PAIR.maker_fee,
                   taker_fee=PAIR.taker_fee, maker_tick=D("0.01")),
        RefreshRule(refresh_bps=D("5"), max_quote_age_ms=10_000),
        HedgeRules(D("0.01"), PAIR.min_base_amount, PAIR.min_quote_amount, max_unhedged=D("2"), max_attempts=3,
                   retry_ms=50),
        max_notional=D("1e9"),
    )


# -- the floor --------------------------------------------------------------------------------------------
def ws_frame(text: str) -> bytes:
    """``text`` as a server's (unmasked) WebSocket text frame."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


class Floor:
    """The minimal path from a ``spot.usertrades`` frame's bytes to the hedge's bytes on a loopback socket."""

    STEP, TICK = D("0.01"), D("0.01")
    BEST_BID = D(TAKER_BOOK[0][0][0])

    def __init__(self, db_path: Path, run_id: int, sink: Sink) -> None:
        self.db = sqlite3.connect(db_path, isolation_level=None)  # autocommit: the INSERT is its transaction
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            self.db.execute(f"PRAGMA {pragma}")
        self.run_id = run_id
        self.sock = sink.connect()
        self.host = f"127.0.0.1:{sink.port}".encode()
        self.n = 0
        self.limit_factor = 1 - BUFFER_BPS / 10_000

    def hedge(self, frame: bytes) -> int:
        """One fill's hedge, frame in hand to request handed to the kernel; returns the nanoseconds taken."""
        t0 = time.perf_counter_ns()
        n = frame[1] & 0x7F
        payload = frame[2:] if n < 126 else frame[4:] if n == 126 else frame[10:]
        for trade in json.loads(payload)["result"]:
            side = "sell" if trade["side"] == "buy" else "buy"
            amount = D(trade["amount"]).quantize(self.STEP, ROUND_DOWN)
            price = (self.BEST_BID * self.limit_factor).quantize(self.TICK, ROUND_DOWN)
            self.n += 1
            client_id = f"t-floor{self.n}"
            now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            self.db.execute(_ORDER_SQL, (None, self.run_id, "taker", SYMBOL, side, "limit", "ioc", "complete",
                                         client_id, str(price), str(amount), "0", "created", now, now))
            body = json.dumps({"currency_pair": "LINK_USDT", "type": "limit", "side": side, "amount": str(amount),
                               "price": str(price), "time_in_force": "ioc", "text": client_id}).encode()
            ts = str(int(time.time()))
            signed = f"POST\n/api/v4/spot/orders\n\n{hashlib.sha512(body).hexdigest()}\n{ts}"
            sign = hmac.new(SECRET.encode(), signed.encode(), hashlib.sha512).hexdigest()
            self.sock.sendall(
                b"POST /api/v4/spot/orders HTTP/1.1\r\nHost: " + self.host + b"\r\nKEY: " + KEY.encode()
                + b"\r\nTimestamp: " + ts.encode() + b"\r\nSIGN: " + sign.encode()
                + b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode()
                + b"\r\n\r\n" + body)
        return time.perf_counter_ns() - t0

    def close(self) -> None:
        self.sock.close()
        self.db.close()


def new_run(url: str) -> int:
    upgrade_to_head(url)
    engine = make_engine(url)
    with make_session_factory(engine).begin() as s:
        run = Run(started_at=datetime.now(UTC), mode="paper", config_snapshot={}, summary=None)
        s.add(run)
        s.flush()
        run_id = run.id
    engine.dispose()
    return run_id


# -- the run ----------------------------------------------------------------------------------------------
STAGES = ("frame read -> stream", "stream parse -> route", "route + ledger -> hedge task", "hedge limit",
          "journal (SQLite)", "build and sign", "hand to the socket")


async def main(fills: int) -> None:
    warmup = 10
    maker_process = MakerProcess()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        run_id = new_run(url)
        floor_run = new_run(f"sqlite:///{Path(tmp) / 'floor.db'}")  # its own file: no shared checkpoints
        engine = make_engine(url)
        async with Sandbox(config()) as sb_taker:
            sb_taker.push_book(PAIR.id, *TAKER_BOOK)
            wire = WireTap({sb_taker.port: "taker"})
            wire.install()
            reads = ReadTap()
            reads.install()
            maker_url = f"http://127.0.0.1:{maker_process.port}"
            ex_maker = GateExchange.for_endpoint(maker_url + "/api/v4", f"ws://127.0.0.1:{maker_process.port}/ws/v4/",
                                                 KEY, SECRET, enableRateLimit=False, pairs=[PAIR.to_json()])
            ex_taker = GateExchange.for_endpoint(sb_taker.rest_url, sb_taker.ws_url, KEY, SECRET,
                                                 enableRateLimit=False, pairs=[PAIR.to_json()])
            for ex in (ex_maker, ex_taker):
                await ex.sync_clock(force=True)
            stream = for_exchange(ex_maker, "maker", {SYMBOL: PAIR.id})
            maker = StreamedVenue(live_venue("maker", ex_maker), stream)
            taker = live_venue("taker", ex_taker)
            books = FixedBooks()
            store = StoreJournal(make_session_factory(engine), run_id, {"maker": maker, "taker": taker}, books,
                                 {name: VenueFees(PAIR.maker_fee, PAIR.taker_fee) for name in ("maker", "taker")},
                                 lambda: datetime.now(UTC))
            store.taker_of["maker", SYMBOL] = "taker"
            journal = TimedJournal(store)
            ids = itertools.count(1)
            funds = Funds(D("1e6"), D("1e9"), D("1e6"), D("1e9"))
            size = FILL * (fills + warmup + 10)
            route = MakerRoute(route_spec(size), maker, taker, books, journal, funds=lambda: funds,
                               now_ms=lambda: 1_700_000_000_000,
                               new_client_id=lambda purpose: f"t-{purpose[0]}{next(ids)}", max_book_age_ms=5_000)
            marks = journal.marks
            # Stage marks: where the stream reads a frame, the route takes the fill, the hedge task starts, the
            # order is built and signed (a perf_counter_ns each; the journal marks its own).
            on_message = stream.on_message
            frames: list[str | bytes] = []

            def timed_on_message(data: str | bytes) -> str | None:
                marks["stream"] = time.perf_counter_ns()
                if "spot.usertrades" in data and "update" in data:  # type: ignore[operator]
                    frames.append(data)
                return on_message(data)

            stream.on_message = timed_on_message  # type: ignore[method-assign]
            [on_fill] = stream._listeners

            def timed_on_fill(fill: FillReport) -> None:
                marks["route"] = time.perf_counter_ns()
                on_fill(fill)

            stream._listeners[0] = timed_on_fill
            hedge = route._hedge

            async def timed_hedge(request: Any) -> None:
                marks["hedge task"] = time.perf_counter_ns()
                await hedge(request)

            route._hedge = timed_hedge  # type: ignore[method-assign]
            prepare = taker.prepare

            async def timed_prepare(request: OrderRequest) -> Any:
                prepared = await prepare(request)
                marks["prepared"] = time.perf_counter_ns()
                return prepared

            taker.prepare = timed_prepare  # type: ignore[method-assign]

            task = asyncio.create_task(stream.run())
            await asyncio.wait_for(stream.subscribed.wait(), TIMEOUT)
            await route.on_books()
            quote = route.resting[Side.BUY]

            async def one_fill() -> tuple[int, dict[str, int]]:
                wire.clear()
                reads.reads.clear()
                journal.hedge_answered.clear()
                maker_process.trade(quote.price, FILL, "sell")  # a market sell through the resting bid
                async with asyncio.timeout(TIMEOUT):
                    await journal.hedge_answered.wait()
                    while route._tasks:
                        await asyncio.wait(set(route._tasks))
                [t_read], [t_wire] = reads.reads, wire.sent["taker"]
                return t_wire - t_read, {
                    STAGES[0]: marks["stream"] - t_read, STAGES[1]: marks["route"] - marks["stream"],
                    STAGES[2]: marks["hedge task"] - marks["route"], STAGES[3]: marks["journal"] - marks["hedge task"],
                    STAGES[4]: marks["journalled"] - marks["journal"], STAGES[5]: marks["prepared"] - marks["journalled"],
                    STAGES[6]: t_wire - marks["prepared"]}

            for _ in range(warmup):  # connections open, the hedge's builder check passed, code hot
                await one_fill()
            frame = ws_frame(frames[-1] if isinstance(frames[-1], str) else frames[-1].decode())
            sink = Sink()
            floor = Floor(Path(tmp) / "floor.db", floor_run, sink)
            for _ in range(warmup):
                floor.hedge(frame)
            # What is built lives for the run: out of the collector's view, as the engine's (``engine/lifecycle.py``,
            # before its decision loop). Without it, 300 fills' cycles paid ~2.8 s of full collections over the
            # whole heap (ccxt's exchange classes), which a run of ``arb run`` never walks.
            gc.freeze()
            arb_ns, floor_ns = [], []
            stages: dict[str, list[int]] = {stage: [] for stage in STAGES}
            for _ in range(fills):
                floor_ns.append(floor.hedge(frame))  # interleaved: floor and arb see the same machine
                ns, by_stage = await one_fill()
                arb_ns.append(ns)
                for stage, x in by_stage.items():
                    stages[stage].append(x)
            floor_block = [floor.hedge(frame) for _ in range(fills)]
            floor.close()
            sink.close()

            await route.close()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            # Every fill real and hedged once: the maker sandbox's trades of the account are the route's fills,
            # the taker sandbox's are its hedges.
            made, made_amount = maker_process.trades()
            hedged = sum((t.amount for t in sb_taker.engine.trades if t.account == KEY), D(0))
            total = warmup + fills
            assert made_amount == route.ledger.filled(Side.BUY) == hedged == route.ledger.hedged(Side.BUY) \
                == FILL * total, (made_amount, hedged)
            assert stream.pushed == total and stream.recovered == 0 and route.errors == []
            store.settle_all()
            with make_session_factory(engine)() as s:  # the database as arb run leaves it
                orders = s.scalars(select(Order)).all()
                quote_fills = sum(len(o.fills) for o in orders if o.purpose == "quote")
                hedges = [o for o in orders if o.purpose == "hedge"]
                assert made == quote_fills == total, (made, quote_fills, total)
                assert len(hedges) == total and all(o.filled == FILL and o.status == "filled" for o in hedges)
            for ex in (ex_maker, ex_taker):
                await ex.close()
        store.close()
        engine.dispose()
    maker_process.close()

    def q(xs: list[int], p: int) -> float:
        return statistics.quantiles(xs, n=100)[p - 1] / 1e6

    def med(xs: list[int]) -> float:
        return statistics.median(xs) / 1e6

    print(f"fills={fills} (+{warmup} warm-up), {FILL} LINK each: real sandbox fills pushed on spot.usertrades, "
          "each hedged by one IOC on the taker sandbox (loopback, real signing, SQLite journal)")
    print(f"maker fill seen -> hedge on the wire: median {med(arb_ns):.3f} ms, p90 {q(arb_ns, 90):.3f} ms")
    print(f"floor, interleaved with arb:          median {med(floor_ns):.3f} ms, p90 {q(floor_ns, 90):.3f} ms")
    ratio = med(arb_ns) / med(floor_ns)
    # Two decimals where the target is judged: at one, a median of 2.04 read "2.0x > 2x: FAIL".
    print(f"arb / floor:                          median {ratio:.2f}x (target <= {TARGET:g}x), "
          f"p90 {q(arb_ns, 90) / q(floor_ns, 90):.2f}x")
    print(f"floor, back to back (warm):           median {med(floor_block):.3f} ms, p90 {q(floor_block, 90):.3f} ms;"
          f" arb / it: median {med(arb_ns) / med(floor_block):.1f}x, p90 {q(arb_ns, 90) / q(floor_block, 90):.1f}x"
          " (caches warm between floor runs, as arb's never are; not the target)")
    print("where arb's time goes (median per stage):")
    for stage, xs in stages.items():
        print(f"  {stage:<30} {med(xs):.3f} ms  ({med(xs) / med(arb_ns):.0%})")
    print(f"verdict: hedge / interleaved floor median {ratio:.2f}x {'<=' if ratio <= TARGET else '>'} {TARGET:g}x "
          f"(load average {os.getloadavg()[0]:.2f}): {'PASS' if ratio <= TARGET else 'FAIL'}; the kill switch's "
          "pull: bench_pull.py")


if __name__ == "__main__":
    if sys.argv[1:] == ["--maker-sandbox"]:
        asyncio.run(serve_sandbox(MAKER_COMMANDS))
    else:
        run_live(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
