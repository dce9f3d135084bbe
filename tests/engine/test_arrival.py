"""The arrival rule (``arb/runtime/arrival.py``): an order reaching a simulated venue at market time t meets
every market event at or before t. At a latency that lands the legs exactly on the capture's next snapshot
both venues (the Gate sandbox and the paper venue) fill at the *new* book; a millisecond sooner, at the old."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from arb.config import load_config
from arb.engine import Engine
from arb.eventloop.simloop import run_simulation
from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureEvent, CaptureTrade, CaptureWriter, parse_event, read_capture
from arb.runtime.feed_latency import clock_offsets, feed_clocks
from arb.runtime.feeds import market_source
from arb.runtime.summary import render_summary

from .helpers import BUNDLED, config_with

T0 = 1_629_417_600_000


def _capture(path: Path) -> Path:
    """binance (gate's side) and huobi (htx's) cross at T0 by 20 bps, a second after a quiet first instant;
    one second later both move 1.5 bps against the pair, within its 2 bps slippage allowance, so the legs
    still fill, at the new prices; a second after that the cross is gone."""
    def snap(ts: int, venue: str, bid: str, ask: str) -> CaptureEvent:
        return CaptureEvent(ts, venue, "LINK/USDT", "snapshot", ((bid, "5"),), ((ask, "5"),))
    events = [snap(T0 - 1000, "binance", "19.990", "20.000"), snap(T0 - 1000, "huobi", "19.9900", "20.0000"),
              snap(T0, "binance", "19.990", "20.000"), snap(T0, "huobi", "20.0400", "20.0500"),
              snap(T0 + 1000, "binance", "19.990", "20.003"), snap(T0 + 1000, "huobi", "20.0370", "20.0500"),
              snap(T0 + 2000, "binance", "19.990", "20.000"), snap(T0 + 2000, "huobi", "19.9900", "20.0000")]
    with CaptureWriter(path) as writer:
        writer.write_all(events)
    return path


@pytest.mark.parametrize(("latency_ms", "gate_price", "htx_price"), [
    (1000, "20.003", "20.037"),  # arrives at T0 + 1000, with that instant's snapshots: the new book
    (999, "20.000", "20.04"),  # a millisecond before them: the book detection saw
])
async def test_an_order_arriving_at_a_snapshot_instant_meets_the_new_book(
        tmp_path: Path, latency_ms: int, gate_price: str, htx_price: str) -> None:
    capture = _capture(tmp_path / "aligned.jsonl")
    path = config_with(tmp_path, fee="0", extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
        'status = "auto"': 'status = "off"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
        "latency_ms = 20 ": f"latency_ms = {latency_ms}\n#",
        'capture_venue = "binance"\n': f'capture_venue = "binance"\nlatency_ms = {latency_ms}\n',
    })
    db = f"sqlite:///{tmp_path / 'arrival.db'}"
    result = await Engine(load_config(path), db_url=db, install_signal_handlers=False).run()
    with create_engine(db).connect() as c:
        fills = c.execute(text("SELECT o.venue, f.price, f.amount, f.ts FROM fills f JOIN orders o ON o.id = f.order_id "
                               "WHERE o.run_id = :r ORDER BY o.venue"), {"r": result.run_id}).all()
    assert [(v, Decimal(p), Decimal(a)) for v, p, a, _ in fills] == [
        ("gate", Decimal(gate_price), Decimal(5)), ("htx", Decimal(htx_price), Decimal(5))]
    # Each fill is stamped with its arrival: the decision's instant plus the trip out.
    assert {str(ts)[:23] for *_, ts in fills} == {f"2021-08-20 00:00:0{latency_ms // 1000}.{latency_ms % 1000:03d}"}


@pytest.mark.parametrize("trades", [0, 3])
async def test_the_summary_names_the_rule_resting_orders_fill_by(tmp_path: Path, trades: int) -> None:
    """With the capture's trades the queue rule; without any, only a crossing book fills a resting order."""
    capture = _capture(tmp_path / "plain.jsonl")
    if trades:
        lines = capture.read_bytes().splitlines()
        tape = [CaptureTrade(T0 + 500 + i, "binance", "LINK/USDT", "19.990", "1", "sell", str(i)).to_json()
                for i in range(trades)]
        capture.write_bytes(b"\n".join(lines[:4] + tape + lines[4:]) + b"\n")
    path = config_with(tmp_path, fee="0", extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
        'status = "auto"': 'status = "off"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
    })
    result = await Engine(load_config(path), db_url=f"sqlite:///{tmp_path / 'rule.db'}",
                          install_signal_handlers=False).run()
    assert result.summary["market_trades"] == trades
    assert result.summary["queue_models"] == {"gate": "conservative", "htx": "conservative"}  # the default
    line = next(x for x in render_summary(result.summary).splitlines() if x.startswith("resting orders"))
    assert line.endswith(f"queue rule on {trades} recorded trades, queue model conservative" if trades else
                         "fill only when the book crosses them (the capture has no trades)")


def _stamped(path: Path) -> Path:
    """The aligned capture with binance's (gate's) lines stamped with exchange times: the recorder's clock
    is 5 s ahead of the venue's, and the T0 + 1000 update took 300 ms more than the others to arrive."""
    stamped = []
    for line in _capture(tmp := path.with_suffix(".plain.jsonl")).read_bytes().splitlines():
        event = parse_event(line)
        if event.venue == "binance":
            extra = 300 if event.ts == T0 + 1000 else 0
            event = dataclasses.replace(event, exchange_ts=event.ts - 5000 - extra)
        stamped.append(event)
    tmp.unlink()
    with CaptureWriter(path) as writer:
        writer.write_all(stamped)
    return path


@pytest.mark.parametrize(("override", "gate_price"), [
    (None, "20.003"),  # read from the data: the update happened at the venue at T0 + 700, before the order
    (0, "20.000"),  # overridden to none: the venue's book changes when the recorder saw it, at T0 + 1000
])
async def test_feed_latency_read_from_exchange_times_moves_the_venues_book_earlier(
        tmp_path: Path, override: int | None, gate_price: str) -> None:
    capture = _stamped(tmp_path / "stamped.jsonl")
    gate_extra = f"latency_ms = 800\nfeed_latency_ms = {override}\n" if override is not None else "latency_ms = 800\n"
    path = config_with(tmp_path, fee="0", extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
        'status = "auto"': 'status = "off"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
        "latency_ms = 20 ": "latency_ms = 800\n#",
        'capture_venue = "binance"\n': f'capture_venue = "binance"\n{gate_extra}',
    })
    db = f"sqlite:///{tmp_path / 'stamped.db'}"
    result = await Engine(load_config(path), db_url=db, install_signal_handlers=False).run()
    with create_engine(db).connect() as c:
        fills = c.execute(text("SELECT o.venue, f.price FROM fills f JOIN orders o ON o.id = f.order_id "
                               "WHERE o.run_id = :r AND o.purpose = 'entry' ORDER BY o.venue"),
                          {"r": result.run_id}).all()
    assert [(v, Decimal(p)) for v, p in fills] == [("gate", Decimal(gate_price)), ("htx", Decimal("20.04"))]


@pytest.mark.parametrize(("overrides", "unread"), [
    ({}, ["htx"]),  # gate's from its exchange times; huobi's lines have none: htx's cannot be read
    ({"gate": 0}, ["htx"]),  # gate's overridden (to none, but said)
    ({"gate": 0, "htx": 20}, []),  # every venue's said
    ({"htx": 20, "stamps": False}, ["gate"]),  # no exchange times anywhere: gate's cannot be read either
])
async def test_a_venue_whose_feed_latency_the_capture_cannot_say_is_named_at_the_start_and_in_the_summary(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, overrides: dict[str, object], unread: list[str]) -> None:
    """It got 0 ms without a word (on the ETH recordings "from data" meant spot 0 ms, perp from data)."""
    stamps = overrides.pop("stamps", True)
    capture = _stamped(tmp_path / "stamped.jsonl") if stamps else _capture(tmp_path / "plain.jsonl")
    extra = {
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
        'status = "auto"': 'status = "off"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
    }
    if "gate" in overrides:
        extra['capture_venue = "binance"\n'] = f'capture_venue = "binance"\nfeed_latency_ms = {overrides["gate"]}\n'
    if "htx" in overrides:
        extra['capture_venue = "huobi"\n'] = f'capture_venue = "huobi"\nfeed_latency_ms = {overrides["htx"]}\n'
    path = config_with(tmp_path, fee="0", extra=extra)
    with caplog.at_level(logging.WARNING, logger="arb.runtime.feeds"):
        result = await Engine(load_config(path), db_url=f"sqlite:///{tmp_path / 'unread.db'}",
                              install_signal_handlers=False).run()
    said = [r.getMessage() for r in caplog.records if "feed latency" in r.getMessage()]
    assert result.summary["feed_latency_unread"] == unread
    lines = [x for x in render_summary(result.summary).splitlines() if x.startswith("feed latency unread")]
    if not unread:
        assert said == [] and lines == []
        return
    names = ", ".join(unread)
    assert said == [f"feed latency unread for {names}: the capture has no exchange times for it, so its books "
                    "reach arb with none (0 ms); set [venues.<name>] feed_latency_ms"]
    assert lines == [f"feed latency unread     {names}: 0 ms (the capture has no exchange times for it; set "
                     "feed_latency_ms)"]


@pytest.mark.parametrize(("override", "received_at", "stamped_at"), [
    (None, T0 + 1000, T0 + 700),  # from the data: arb receives it when the recorder did; it happened 300 ms before
    (200, T0 + 1200, T0 + 1000),  # an override: arb receives it 200 ms after the recorder; the venue had it then
])
def test_arbs_book_ages_from_when_the_update_happened_at_the_venue(
        tmp_path: Path, override: int | None, received_at: int, stamped_at: int) -> None:
    capture = _stamped(tmp_path / "stamped.jsonl")
    routes = {("binance", "LINK/USDT"): "gate", ("huobi", "LINK/USDT"): "htx"}
    books = BookStore()
    seen: list[tuple[int, int | None]] = []

    async def play() -> None:
        loop = asyncio.get_running_loop()
        books.add_watcher(lambda book: seen.append((T0 - 1000 + round(loop.time() * 1000), book.received_ts))
                          if book.venue == "gate" else None)
        await market_source(capture, routes, books, T0 - 1000,
                            feed=feed_clocks(capture, routes, {"gate": override, "htx": None}))

    run_simulation(play(), 0)
    # Applied when arb receives it, aged from when it happened: its age then is the feed latency, which the
    # status view, the metrics, detection and the stored opportunities read.
    assert (received_at, stamped_at) in seen, seen


def test_the_clock_offset_is_read_from_as_few_lines_as_it_needs() -> None:
    """The bundled capture has no exchange times: its first line per venue says so, and reading stops."""
    read = 0

    def lines():  # type: ignore[no-untyped-def]
        nonlocal read
        for event in read_capture(BUNDLED):
            read += 1
            yield event

    assert clock_offsets(lines(), {("binance", "LINK/USDT"): "gate", ("huobi", "LINK/USDT"): "htx"}) == {}
    assert read == 2


def test_a_source_stopped_between_instants_releases_requests_waiting_on_the_arrival_rule(tmp_path: Path) -> None:
    """A run stopped mid-capture (Ctrl-C, the kill switch) ends its market source while the next instant is
    announced but not applied; the run's end then cancels resting quotes, through the venues' latency and
    the arrival rule. No event will be applied any more, so that request meets the market as it stands:
    it used to wait forever (a paper maker run stopped at such a moment hung at closing its quotes)."""
    from arb.runtime.arrival import MarketArrival

    capture = _capture(tmp_path / "stopped.jsonl")

    async def main() -> bool:
        arrival = MarketArrival()
        announced = asyncio.Event()
        due_at = arrival.due_at

        def spy(loop_s: float | None) -> None:
            due_at(loop_s)
            if loop_s is not None and loop_s > 0:
                announced.set()  # the instant after the first: announced, its sleep not over

        arrival.due_at = spy  # type: ignore[method-assign]
        source = asyncio.create_task(market_source(capture, {("binance", "LINK/USDT"): "gate"}, BookStore(),
                                                   T0 - 1000, arrival=arrival))
        await announced.wait()
        source.cancel()  # the run stops here
        await asyncio.gather(source, return_exceptions=True)
        await asyncio.sleep(1.5)  # a request's trip out carries market time past the announced instant
        try:
            await asyncio.wait_for(arrival.settled(), 5)
        except TimeoutError:
            return False
        return True

    assert run_simulation(main(), speed=0)
