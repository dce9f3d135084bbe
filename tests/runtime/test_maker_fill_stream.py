"""A maker venue that is not simulated takes its fills from its adapter's private stream: ``open_venues``
puts the Gate venue (here arb's in-process sandbox, on wall time as in a live rehearsal) behind its fill
stream, under the engine's names, with the stream's task for the engine to supervise; a simulation's maker
venue must be a paper venue, and a live venue arb has no stream from is refused (Binance: futures; spot is
taken, ``venues/binance/private_stream.py``), each in one line."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from pathlib import Path

import pytest
from engine.helpers import config_with  # tests/engine/helpers.py

from arb.config import load_config
from arb.domain.market import Side
from arb.domain.venue import FillReport, FillStream, OrderRequest
from arb.errors import ConfigError
from arb.eventloop.clock import WallClock
from arb.marketdata.books import BookStore
from arb.runtime.preflight import preflight
from arb.runtime.venues import open_venues

D = Decimal
TIMEOUT = 60.0  # bounds a hang only (none is expected to fire): on a loaded CI machine 10 s ran out once
MAKER = '''[symbols."LINK/USDT"]
strategy = "maker"

[symbols."LINK/USDT".maker]
maker_venue = "gate"
taker_venue = "htx"
quote_size = "1"
min_profit_bps = "1"
'''


def _config(tmp_path: Path, mode: str) -> Path:
    return config_with(tmp_path, extra={
        '[symbols."LINK/USDT"]\nmax_size = "20"              # base units per opportunity\n': MAKER,
        'mode = "replay"              # replay | paper | live': f'mode = "{mode}"',
        "speed = 0                    # 0 = as fast as possible; 1 = recorded speed":
            f"speed = {1 if mode == 'live' else 0}",  # live: the sandbox plays the capture in real time
        'status = "auto"': 'status = "off"',
    })


async def test_a_live_gate_maker_venue_takes_its_fills_from_its_private_stream(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, "live"))
    preflight(config, ports=False)  # a Gate maker venue outside a simulation may rest quotes
    venues = await open_venues(config, BookStore(), WallClock())
    try:
        gate = venues.venues["gate"]
        assert isinstance(gate, FillStream) and set(venues.fill_streams) == {"gate"}
        sandbox = venues.sandboxes["gate"].sandbox
        assert sandbox is not None
        fills: list[FillReport] = []
        gate.watch_fills(fills.append)
        stream = asyncio.ensure_future(venues.fill_streams["gate"]())
        try:
            async with asyncio.timeout(TIMEOUT):
                while not getattr(gate, "stream").subscribed.is_set():  # noqa: B009 - the Gate stream
                    await asyncio.sleep(0.01)
            client_id = "t-arbmakerstream1"
            report = await gate.place(OrderRequest(client_id, "LINK/USDT", Side.BUY, D("2"), D("20.00"), "poc"))
            assert report.filled == 0  # resting
            # Far under the capture's market (~27 USDT, which the sandbox plays meanwhile): only this print
            # reaches it.
            sandbox.push_trade("LINK_USDT", D("20.00"), D("0.5"), "sell")
            async with asyncio.timeout(TIMEOUT):
                while not fills:
                    await asyncio.sleep(0.01)  # the sandbox's push over its WebSocket
            # Delivered at least once (a route keys them by trade id): one trade, under the engine's names.
            assert len({f.trade_id for f in fills}) == 1, fills
            # The stream's counters, as the engine reads them for the metrics (Engine.counters).
            counts = venues.fill_stream_counts["gate"]()
            assert counts == getattr(gate, "stream").counts()  # noqa: B009 - the Gate stream
            assert counts["pushed"] + counts["recovered"] == 1 and counts["connections"] >= 1
            fill = fills[0]
            assert (fill.client_order_id, fill.symbol, fill.side, fill.amount, fill.price) == (
                client_id, "LINK/USDT", Side.BUY, D("0.5"), D("20.00"))
        finally:
            stream.cancel()
            await asyncio.gather(stream, return_exceptions=True)
    finally:
        await venues.close()


def test_a_simulated_maker_venue_must_be_paper(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, "replay"))
    with pytest.raises(ConfigError) as caught:
        preflight(config, ports=False)
    text = str(caught.value)
    assert "symbols.LINK/USDT.maker.maker_venue" in text and "in a simulation quotes rest on a paper venue" in text
    assert "\n" not in text


@pytest.mark.parametrize(("ccxt_id", "refused"), [("binance", False), ("binanceusdm", True)])
def test_a_live_binance_maker_venue_is_taken_on_spot_and_refused_on_a_perpetual_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ccxt_id: str, refused: bool) -> None:
    from engine.maker_capture import maker_config

    path = maker_config(tmp_path, tmp_path / "unused.jsonl", mode="live")
    # Live: no capture, the paper taker venue mirrors the live books (no capture_venue).
    text = re.sub(r"\[replay\][^[]*", "", path.read_text())
    text = re.sub(r'capture_venue = "[a-z]+"\n', "", text)
    text = text.replace('[venues.spot]\nkind = "paper"\nadapter = "binance"',
                                    f'[venues.spot]\nkind = "live"\nadapter = "binance"\nccxt_id = "{ccxt_id}"')
    path.write_text(text)
    monkeypatch.setenv("ARB_SPOT_API_KEY", "key")
    monkeypatch.setenv("ARB_SPOT_API_SECRET", "secret")
    config = load_config(path)
    if not refused:
        preflight(config, ports=False)  # its fills come from Binance's user data (venues/binance/private_stream.py)
        return
    with pytest.raises(ConfigError) as caught:
        preflight(config, ports=False)
    text = str(caught.value)
    # A perpetual (USD-M here, a Gate futures account alike): no perpetual's fills are streamed, and no futures
    # dead man's switch is armed.
    assert "symbols.BTC/USDT.maker.maker_venue" in text and "spot trades BTC/USDT as a perpetual" in text
    assert "\n" not in text
