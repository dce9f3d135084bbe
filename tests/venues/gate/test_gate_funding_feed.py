"""A Gate USDT perpetual's mark price and funding rate recorded as capture funding lines, against the sandbox
over loopback: ``arb record``'s feed for a symbol it names as a contract (``--market
gate:ETH/USDT=ETH/USDT:USDT``, as a config's ``market_names`` does) subscribes to ``futures.tickers``; each
ticker is a funding line whose funding time is the contract's ``funding_next_apply``, read when the feed
starts and read again once a ticker's time has passed it. A malformed ticker is a counted drop: the feed and
its book go on."""

from __future__ import annotations

import asyncio
from argparse import Namespace
from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path

import pytest

from arb.commands.record import build_feeds
from arb.errors import UsageError
from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureFunding, read_capture
from arb.marketdata.recorder import record
from arb.marketdata.trades import TradeTape
from arb.venues.gate.feed import GateFuturesBookFeed
from arb.venues.gate.sandbox import SandboxConfig
from arb.venues.gate.sandbox.contracts import ContractSpec
from arb.venues.gate.sandbox.server import Sandbox

T0_S = 1_723_161_600  # the sandbox's clock, seconds: it moves only when the test shifts it
EIGHT_HOURS_MS = 8 * 3600_000
SYMBOL, CONTRACT = "ETH/USDT", "ETH/USDT:USDT"  # recorded under the engine's symbol, as a config names it


async def _until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


async def test_a_gate_perpetual_records_its_tickers_as_funding_lines_at_the_contracts_funding_time(
        tmp_path: Path) -> None:
    due = (T0_S + 60) * 1000  # Gate states funding times in whole seconds
    due_next = due + EIGHT_HOURS_MS
    config = SandboxConfig(contracts=(ContractSpec("ETH_USDT"),), clock=lambda: T0_S)
    async with Sandbox(config) as sb:
        sb.push_book("usdt:ETH_USDT", [("2600", "5")], [("2601", "5")])
        sb.push_funding("ETH_USDT", D("2600.5"), D("0.0001"), due)  # the contract states it before the feed starts
        store, tape = BookStore(), TradeTape()
        args = Namespace(endpoint=[f"gate={sb.rest_url},{sb.ws_url}"], market=[f"gate:{SYMBOL}={CONTRACT}"], depth=20)
        [feed] = build_feeds(["gate"], [SYMBOL], store, args, tape)  # what arb record runs
        assert isinstance(feed, GateFuturesBookFeed)
        book = store.book("gate", SYMBOL)
        stop = asyncio.Event()

        async def drive() -> None:
            await sb.hub.wait_for_ticker_subscriptions(1)  # sent after the book's: both are live
            assert feed.next_funding_ms == {"ETH_USDT": due}
            sb.push_book("usdt:ETH_USDT", [("2600", "6")], [], kind="delta")  # the first diff: the feed syncs
            await _until(lambda: book.best_bid() is not None)
            sb.push_funding("ETH_USDT", D("2601"), D("0.0001"), due, index=D("2600.9"))
            await _until(lambda: tape.funding_lines == 1)
            sb.hub.publish_ticker({"contract": "ETH_USDT", "mark_price": "n/a", "funding_rate": "0.0001"})
            await _until(lambda: feed.dropped == 1)
            # Past the funding time: Gate's ticker now quotes the next period. No line names the time that has
            # passed; the contract is read again and the lines go on with the funding time it states.
            sb.shift_clock(61)
            ignored = feed.ignored
            sb.push_funding("ETH_USDT", D("2602"), D("-0.0002"), due_next)
            await _until(lambda: feed.next_funding_ms["ETH_USDT"] == due_next and feed.ignored == ignored + 1)
            sb.push_funding("ETH_USDT", D("2603"), D("-0.0002"), due_next, index=D("2602.5"))
            await _until(lambda: tape.funding_lines == 2)
            stop.set()

        out = tmp_path / "gate-perp.jsonl"
        async with asyncio.timeout(20):
            driver = asyncio.create_task(drive())
            written = await record([feed], store, out, stop=stop, trades=tape)
            await driver
    lines = list(read_capture(out, trades=True))
    assert written == len(lines) and [line.type for line in lines] == ["snapshot", "funding", "funding"]
    funding = [line for line in lines if isinstance(line, CaptureFunding)]
    assert [(f.venue, f.symbol, f.mark, f.rate, f.funding_ts, f.index, f.exchange_ts) for f in funding] == [
        ("gate", SYMBOL, "2601", "0.0001", due, "2600.9", T0_S * 1000),
        ("gate", SYMBOL, "2603", "-0.0002", due_next, "2602.5", (T0_S + 61) * 1000)]
    assert feed.next_funding_ms == {"ETH_USDT": due_next} and feed.funding == 2 and feed.connections == 1
    assert feed.drops.by_venue() == {"gate": {"missing_field": 1}}
    assert book.best_bid() is None  # reset as the feed stopped, after the recording ended: not in the file


def test_one_gate_feed_records_spot_pairs_or_perpetuals_not_both() -> None:
    args = Namespace(endpoint=[], market=[f"gate:{SYMBOL}={CONTRACT}"], depth=20)
    with pytest.raises(UsageError, match="spot pairs or USDT perpetuals"):
        build_feeds(["gate"], [SYMBOL, "BTC/USDT"], BookStore(), args, TradeTape())
    # without --market a pair is a spot pair, recorded from the spot book (the feed that subscribes spot.trades)
    [spot] = build_feeds(["gate"], [SYMBOL], BookStore(), Namespace(endpoint=[], market=[], depth=20), TradeTape())
    assert not isinstance(spot, GateFuturesBookFeed)
