"""Hostile captures with trades and funding lines (issue #47): generated, not listed.

A strategy builds captures a reader may accept: a snapshot per venue, then book deltas, trades and funding
lines in ``ts`` order, with the values that broke arb before drawn among ordinary ones: amounts far below the
market's amount step and off it, ids and sequence numbers past 64 bits, gaps from none to years between lines,
prints through the book and far from it. Each is written to a file and replayed through the strict reader into
the one matcher with a post-only bid and ask resting at the touch (re-placed once filled) on the spot venue
and a position held on the perpetual, as a replay feeds its simulated venues. Whatever the capture holds:

- reading fails only with one ``file:line`` :class:`CaptureFormatError`;
- every fill is whole amount steps (a 0.00000001 BTC print on a 0.00001 step filled 0.00000001);
- one print fills no more than its amount; balances never go below zero;
- the matcher's work per line does not grow with the lines before it (no fill is made of nothing; its trade
  list grows by at most the orders one line reaches).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arb.errors import CaptureFormatError
from arb.marketdata.capture import CaptureEvent, CaptureFunding, CaptureTrade
from arb.marketdata.capture.parse import MAX_TS
from arb.marketdata.timeline import read_timeline
from arb.venues.sim.matching import Matcher, Refused
from arb.venues.sim.orders import SimMarket

D = Decimal
STEP = D("0.00001")
CASES = 60
SPOT, PERP = "binance", "binanceusdm"

AMOUNTS = st.one_of(
    st.sampled_from(["0.00000001", "0.000005", "0.00001", "0.0000234", "0.002", "0.0020099", "5", "1e-8", "0"]),
    st.decimals(D("0.00000001"), D("3"), places=8).map(lambda d: format(d, "f")),
)
PRICES = st.one_of(st.sampled_from(["59999.99", "60000", "60000.01", "60000.02", "1", "1000000"]),
                   st.decimals(D("59990"), D("60010"), places=2).map(lambda d: format(d, "f")))
GAPS = st.sampled_from([0, 0, 1, 7, 1000, 60_000, 3_600_000, 2 * 86_400_000, 365 * 86_400_000, 10**18])
IDS = st.one_of(st.integers(0, 10**6).map(str), st.just("9" * 25), st.text(min_size=1, max_size=8))
SEQS = st.one_of(st.none(), st.integers(1, 10**6), st.just(10**23))


@st.composite
def captures(draw: st.DrawFn) -> list[dict[str, object]]:
    """A capture's lines as objects: snapshots of both venues, then deltas, trades and funding lines."""
    ts = draw(st.integers(0, 2 * 10**12))
    lines: list[dict[str, object]] = []
    for venue in (SPOT, PERP):
        lines.append({"ts": ts, "venue": venue, "symbol": "BTC/USDT", "type": "snapshot",
                      "bids": [["60000", "1.5"], ["59999.99", "0.00002"]], "asks": [["60000.01", "0.7"]]})
    for _ in range(draw(st.integers(1, 25))):
        ts += draw(GAPS)
        kind = draw(st.sampled_from(["trade", "trade", "trade", "delta", "funding"]))
        venue = draw(st.sampled_from([SPOT, SPOT, PERP]))
        line: dict[str, object] = {"ts": ts, "venue": venue, "symbol": "BTC/USDT", "type": kind}
        if kind == "trade":
            line.update(price=draw(PRICES), amount=draw(AMOUNTS), side=draw(st.sampled_from(["buy", "sell"])),
                        id=draw(IDS))
        elif kind == "delta":
            side = draw(st.sampled_from(["bids", "asks"]))
            line.update(bids=[], asks=[])
            line[side] = [[draw(PRICES), draw(st.one_of(AMOUNTS, st.just("0")))]]
            if (seq := draw(SEQS)) is not None:
                line.update(seq=seq)
        else:
            line.update(venue=PERP, mark=draw(PRICES), rate=draw(st.sampled_from(["0.0001", "-0.0003", "0"])),
                        funding_ts=ts + draw(st.sampled_from([-1000, 0, 1, 8 * 3_600_000])))
        lines.append(line)
    return lines


def _matcher() -> Matcher:
    spot = SimMarket("BTC/USDT", "BTC", "USDT", D("0.01"), STEP, STEP)
    perp = SimMarket("BTC/USDT:USDT", "BTC", "USDT", D("0.1"), D("0.001"), D("0.001"), linear=True)
    m = Matcher([spot, perp])
    m.set_balance("a", "USDT", D(10**6))
    m.set_balance("a", "BTC", D(10))
    return m


def _touch(m: Matcher, ts: int, ids: list[int]) -> None:
    """A post-only bid and ask of 0.002 at the spot touch, each re-placed once it is gone."""
    book = m.book("BTC/USDT")
    resting = {o.side for o in m.open_orders("a", "BTC/USDT")}
    for side, price in (("buy", book.best_bid()), ("sell", book.best_ask())):
        if price is None or side in resting:
            continue
        ids[0] += 1
        try:
            m.place("a", "BTC/USDT", side, price, D("0.002"), "poc", f"q{ids[0]}", ts)
        except Refused:
            pass  # the touch crossed: post-only refused, as a venue would


def _replay(path: Path) -> None:
    m = _matcher()
    ids = [0]
    held = False
    try:
        for event in read_timeline(path, trades=True):
            market = "BTC/USDT" if event.venue == SPOT else "BTC/USDT:USDT"
            before = len(m.trades)
            if isinstance(event, CaptureTrade):
                m.on_trade(market, D(event.price), D(event.amount), event.side, event.ts)
                made = m.trades[before:]
                assert sum((t.amount for t in made), D(0)) <= D(event.amount)
            elif isinstance(event, CaptureFunding):
                m.on_funding(market, D(event.mark), D(event.rate), event.funding_ts, event.ts)
            else:
                assert isinstance(event, CaptureEvent)
                m.on_book(market, event.type, event.bids, event.asks, event.ts)
            if event.venue == SPOT:
                _touch(m, event.ts, ids)
            elif not held and m.book(market).best_ask() is not None:
                held = True  # a position on the perpetual, so funding lines pay or charge it
                try:
                    m.place("a", market, "buy", D("70000"), D("0.001"), "ioc", "p1", event.ts)
                except Refused:
                    pass
            assert len(m.trades) - before <= 2 + len(m.open_orders())
    except CaptureFormatError as exc:
        line = str(exc)
        assert "\n" not in line and re.match(rf"{re.escape(str(path))}:[1-9][0-9]*: \S", line), line
    for trade in m.trades:
        assert trade.amount > 0 and trade.amount % m.markets[trade.market].amount_step == 0, trade
    for balances in m.balances.values():
        for currency, balance in balances.items():
            assert balance.available >= 0 and balance.locked >= 0, (currency, balance)


@settings(max_examples=CASES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(lines=captures())
def test_a_capture_with_trades_and_funding_replays_or_fails_as_file_and_line(
    lines: list[dict[str, object]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("trades") / "c.jsonl"
    path.write_text("".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines))
    _replay(path)


@pytest.mark.parametrize(("kind", "field", "ts"), [
    *((kind, "ts", ts) for kind in ("delta", "trade", "funding") for ts in (10**18, MAX_TS + 1)),
    ("funding", "funding_ts", 10**18),  # only a funding line has one
])
def test_a_time_after_9999_is_refused_naming_its_line(tmp_path: Path, kind: str, field: str, ts: int) -> None:
    """A ``ts`` of 1e18 (issue #47: a replay stepped its clock towards it and never ended) is a damaged line:
    refused by the strict reader, naming it; the last instant a datetime holds is read."""
    first = {"ts": 5, "venue": SPOT, "symbol": "BTC/USDT", "type": "snapshot", "bids": [["1", "1"]], "asks": []}
    line: dict[str, object] = {"ts": MAX_TS, "venue": SPOT, "symbol": "BTC/USDT", "type": kind}
    line.update({"delta": {"bids": [], "asks": []}, "trade": {"price": "1", "amount": "1", "side": "buy", "id": "1"},
                 "funding": {"mark": "1", "rate": "0", "funding_ts": MAX_TS}}[kind])
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(first) + "\n" + json.dumps(line) + "\n")
    assert len(list(read_timeline(path, trades=True))) == 2
    line[field] = ts
    path.write_text(json.dumps(first) + "\n" + json.dumps(line) + "\n")
    with pytest.raises(CaptureFormatError, match=rf"c\.jsonl:2: '{field}' {ts} is after 9999-12-31"):
        list(read_timeline(path, trades=True))
