"""Gate ``spot.trades`` into captures: the converter writes every recorded update as a trade in its place (the
cryptofeed sample holds 9), a frame in Gate's documented shape reads the same, and the live feed subscribes to
the channel only when recording, reads its updates alike and survives a refused subscription."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from arb.errors import CaptureFormatError
from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureEvent, CaptureTrade
from arb.marketdata.feed_setup import FeedSetup
from arb.marketdata.trades import TradeTape
from arb.venues.gate.convert import gate_ws_sample_events
from arb.venues.gate.feed import GateBookFeed

DATA = Path(__file__).resolve().parents[2] / "data"
WS = (DATA / "gateio-ws-1.0.txt").read_text().splitlines()
HTTP = (DATA / "gateio-http-0.0.txt").read_text().splitlines()
# Gate's documented example of a spot.trades update (API v4 WebSocket docs, "Public trades channel"), with the
# fields newer servers add (``time_ms``, ``range``): a frame of today's shape, hand-made.
DOCUMENTED = {"time": 1606292218, "time_ms": 1606292218231, "channel": "spot.trades", "event": "update",
              "result": {"id": 309143071, "create_time": 1606292218, "create_time_ms": "1606292218213.4578",
                         "side": "sell", "currency_pair": "GT_USDT", "amount": "16.4700000000",
                         "price": "0.4705000000", "range": "2390902-2390902"}}


def _recorded_trade_frames() -> list[tuple[int, dict[str, object]]]:
    """The sample's received spot.trades updates, read directly: (receive ms, result)."""
    found = []
    for line in WS:
        if '"channel":"spot.trades"' in line and '"event":"update"' in line and " <-" not in line:
            ts, _, payload = line.partition(": ")
            found.append((int(float(ts) * 1000), orjson.loads(payload)["result"]))
    return found


def test_every_recorded_trade_update_is_converted_in_its_place() -> None:
    lines = list(gate_ws_sample_events(WS, HTTP, trades=True))
    trades = [line for line in lines if isinstance(line, CaptureTrade)]
    recorded = _recorded_trade_frames()
    assert len(trades) == len(recorded) == 9
    for trade, (ts, result) in zip(trades, recorded, strict=True):
        assert (trade.price, trade.amount, trade.side, trade.trade_id) == (result["price"], result["amount"],
                                                                           result["side"], str(result["id"]))
        assert trade.symbol == str(result["currency_pair"]).replace("_", "/") and trade.venue == "gate"
        assert trade.exchange_ts == int(str(result["create_time_ms"]).partition(".")[0])  # whole ms
        assert abs(trade.ts - ts) <= 1
    assert trades[0] == CaptureTrade(1619093543755, "gate", "DIS/USDT", "121.5800000000", "0.2010000000", "sell",
                                     "816995772", 1619093543708)
    assert [line.ts for line in lines] == sorted(line.ts for line in lines)
    # the books are those of a conversion without trades
    assert [line for line in lines if isinstance(line, CaptureEvent)] == list(gate_ws_sample_events(WS, HTTP))


def test_a_frame_of_the_documented_shape_converts() -> None:
    ws = [*WS, f"1619093600.25: {orjson.dumps(DOCUMENTED).decode()}"]  # received after every book frame
    trade = [line for line in gate_ws_sample_events(ws, HTTP, trades=True) if isinstance(line, CaptureTrade)][-1]
    assert trade == CaptureTrade(1619093600250, "gate", "GT/USDT", "0.4705000000", "16.4700000000", "sell",
                                 "309143071", 1606292218213)


@pytest.mark.parametrize(("change", "says"), [
    ({"side": "taker"}, "'side' must be 'buy' or 'sell'"),
    ({"price": "0"}, "'price' must be a positive"),
    ({"create_time_ms": "soon"}, "create_time_ms"),
    ({"id": None}, "trade 'id'"),
])
def test_a_malformed_trade_frame_is_named_by_its_line(change: dict[str, object], says: str) -> None:
    frame = {**DOCUMENTED, "result": {**DOCUMENTED["result"], **change}}  # type: ignore[dict-item]
    ws = [*WS[:10], f"1619093533.5: {orjson.dumps(frame).decode()}", *WS[10:]]
    with pytest.raises(CaptureFormatError, match=rf"^ws\.txt:11: not a Gate WebSocket recording line .*{says}"):
        list(gate_ws_sample_events(ws, HTTP, trades=True, ws_source="ws.txt"))
    assert list(gate_ws_sample_events(ws, HTTP)) == list(gate_ws_sample_events(WS, HTTP))  # not asked for: passed


def _feed(tape: TradeTape | None) -> GateBookFeed:
    return GateBookFeed(BookStore(), ["DIS/USDT", "NEO/BTC"], FeedSetup("gate", trades=tape, clock_ms=lambda: 42_000))


def test_the_feed_subscribes_to_trades_only_with_a_tape_and_reads_them() -> None:
    assert [orjson.loads(f)["channel"] for f in _feed(None)._subscriptions()] == ["spot.order_book_update"] * 2
    tape, got = TradeTape(), []
    tape.add_listener(got.append)
    feed = _feed(tape)
    subscribe = [orjson.loads(f) for f in feed._subscriptions()][-1]
    assert (subscribe["channel"], subscribe["event"], subscribe["payload"]) == ("spot.trades", "subscribe",
                                                                               ["DIS_USDT", "NEO_BTC"])
    for line in WS:
        if " <-" not in line and '"channel":"spot.trades"' in line:
            feed.on_message(line.partition(": ")[2])
    ours = [r for _, r in _recorded_trade_frames() if r["currency_pair"] in ("DIS_USDT", "NEO_BTC")]
    assert [(t.symbol, t.trade_id, t.side, t.ts) for t in got] == [
        (str(r["currency_pair"]).replace("_", "/"), str(r["id"]), r["side"], 42_000) for r in ours]
    assert feed.trades == len(got) == 6
    # another pair's trades (subscribed by someone else?) are dropped and counted, never a resync
    assert feed.drops.by_venue() == {"gate": {"unknown_pair": 3}}
    assert feed.ignored == 1  # the subscription's acknowledgement


def test_a_refused_trades_subscription_leaves_the_books_alone() -> None:
    feed = _feed(TradeTape())
    feed.on_message(orjson.dumps({"time": 1, "channel": "spot.trades", "event": "subscribe",
                                  "error": {"code": 2, "message": "unknown channel spot.trades"}}))
    assert feed.drops.by_venue() == {"gate": {"venue_error": 1}}
    assert feed.dropped == 1 and all(sync.book.seq is None for sync in feed.syncs.values())
    assert not feed._fetching  # no resync asked for
