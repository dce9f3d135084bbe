"""A maker-taker config on a real recording with trades: Binance BTC/USDT spot (the maker venue: its depth
diffs and 9,757 trades) against the USD-M perpetual of the same window (the taker venue), 2024-08-08
23:54-24:00 UTC, from ``tests/data`` through ``arb convert binance``.

The two converted captures are merged into one timeline by receive time, the perpetual's market named
``BTC/USDT`` as arb's market names take BASE/QUOTE only. The perpetual traded about 37 USDT (~6 bps) under
spot in this window: the example earns mostly that basis, which is why it trades at all at these fees.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Iterator
from pathlib import Path

from built_once import built_once

from arb.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
SPOT = DATA / "binance-spot-btcusdt-20240808.gz"
USDM = DATA / "binance-usdm-btcusdt-20240808.gz"
LATENCY_MS = 5


def binance_maker_capture(directory: Path, *, spot_file: Path = SPOT, usdm_file: Path = USDM,
                          symbol: str = "BTC/USDT") -> Path:
    """Spot and USD-M converted by ``arb convert binance`` and merged by ``ts`` into ``directory/maker.jsonl``
    (beside the two converted files): converted once per test session, copied here (``tests/built_once.py``)."""
    inputs = hashlib.sha256(f"{spot_file.resolve()}|{usdm_file.resolve()}".encode()).hexdigest()[:12]
    built_once(f"binance-{symbol}-{inputs}", ("spot.jsonl", "usdm.jsonl", "maker.jsonl"), directory,
               lambda folder: _convert(folder, spot_file, usdm_file, symbol))
    return directory / "maker.jsonl"


def _convert(directory: Path, spot_file: Path, usdm_file: Path, symbol: str) -> None:
    spot, usdm = directory / "spot.jsonl", directory / "usdm.jsonl"
    assert main(["convert", "binance", str(spot_file), "--symbol", symbol, "--out", str(spot)]) == 0
    assert main(["convert", "binance", str(usdm_file), "--symbol", f"{symbol}:USDT", "--out", str(usdm)]) == 0

    def lines(path: Path, rename: tuple[str, str] | None = None) -> Iterator[tuple[int, str]]:
        with path.open() as f:
            for line in f:
                if rename is not None:
                    line = line.replace(*rename)
                yield json.loads(line)["ts"], line

    out = directory / "maker.jsonl"
    with out.open("w") as f:
        for _, line in heapq.merge(lines(spot), lines(usdm, (f'"{symbol}:USDT"', f'"{symbol}"')),
                                   key=lambda item: item[0]):
            f.write(line)


def first_seconds(capture: Path, seconds: int) -> Path:
    """The capture's first ``seconds`` of receive time, beside it (``first-<seconds>s.jsonl``)."""
    out = capture.with_name(f"first-{seconds}s.jsonl")
    with capture.open() as f, out.open("w") as g:
        first = None
        for line in f:
            ts = json.loads(line)["ts"]
            first = ts if first is None else first
            if ts >= first + seconds * 1000:
                break
            g.write(line)
    return out


def maker_config(directory: Path, capture: Path, *, name: str = "maker.toml", mode: str = "replay",
                 speed: str = "0", min_profit_bps: str = "0.5", perp_usdt: str = "10000", levels: int = 1) -> Path:
    """Quotes of 0.002 BTC on spot (maker fee 0), hedged on the perpetual (a linear perpetual, margin 1x, taker
    0.017%), both paper venues
    with 5 ms each way, and their books reaching arb 5 ms after the recorder had them (the venue matches at
    the recorded time: the queue rule can be checked against the recording's own instants)."""
    text = f"""
[engine]
mode = "{mode}"
symbols = ["BTC/USDT"]
status = "off"

[replay]
capture = "{capture.resolve().as_posix()}"
speed = {speed}

[symbols."BTC/USDT"]
strategy = "maker"

[symbols."BTC/USDT".maker]
maker_venue = "spot"
taker_venue = "perp"
quote_size = "0.002"
min_profit_bps = "{min_profit_bps}"
slippage_buffer_bps = "0.5"
refresh_bps = "2"
max_quote_age_ms = 30000
levels = {levels}
level_step_bps = "1"

[risk]
max_notional_per_trade = "2000"
max_exposure_per_asset = "1"
daily_loss_limit = "100"
kill_switch_file = "{(directory / 'arb.kill').resolve().as_posix()}"

[venues.spot]
kind = "paper"
adapter = "binance"
taker_fee = "0.00023"
maker_fee = "0"
fee_tier = "illustrative: maker 0, taker 0.023%"
capture_venue = "binance"
balances = {{ USDT = "10000", BTC = "0.2" }}
latency_ms = {LATENCY_MS}
feed_latency_ms = {LATENCY_MS}
markets."BTC/USDT" = {{ price_step = "0.01", amount_step = "0.00001", min_amount = "0.00001", min_notional = "5" }}

[venues.perp]
kind = "paper"
adapter = "binance"
ccxt_id = "binanceusdm"
taker_fee = "0.00017"
fee_tier = "Binance USD-M VIP 9 taker 0.017%"
capture_venue = "binanceusdm"
balances = {{ USDT = "{perp_usdt}" }}
latency_ms = {LATENCY_MS}
feed_latency_ms = {LATENCY_MS}
markets."BTC/USDT" = {{ kind = "linear_perpetual", price_step = "0.1", amount_step = "0.001", min_amount = "0.001", min_notional = "5" }}
"""
    path = directory / name
    path.write_text(text)
    return path


def taker_config(directory: Path, capture: Path, *, min_edge_bps: str = "100") -> Path:
    """:func:`maker_config`'s venues and risk, BTC/USDT traded as a taker pair of 0.002 BTC at ``min_edge_bps``
    (by default an edge this window never has: a run that watches and tries no pair)."""
    path = maker_config(directory, capture, name="taker.toml")
    head, rest = path.read_text().split('[symbols."BTC/USDT"]')
    path.write_text(f'{head}[detection]\nmin_edge_bps = "{min_edge_bps}"\n\n[symbols."BTC/USDT"]\n'
                    f'max_size = "0.002"\n\n[risk]{rest.split("[risk]", 1)[1]}')
    return path


def maker_run_db(directory: Path) -> Path:
    """``arb run`` of :func:`maker_config` on the whole of :func:`binance_maker_capture`, SQLite, as
    ``directory/maker.db``: for modules that only read such a run (its paths name another folder), replayed
    once per test session and copied (``tests/built_once.py``)."""
    def build(folder: Path) -> None:
        config = maker_config(folder, binance_maker_capture(folder))
        assert main(["run", "--config", str(config), "--db", f"sqlite:///{folder / 'maker.db'}"]) == 0
        assert not (folder / "maker.db-wal").exists()  # all of it in the one file copied

    built_once("maker-run", ("maker.db",), directory, build)
    return directory / "maker.db"


def maker_halt_config(directory: Path, capture: Path, *, name: str = "halt.toml", extra: str = "") -> Path:
    """:func:`maker_config` with a hedge that cannot be had: arb sees the perpetual's book 2 s late (its
    stale-book bound raised to 10 s, so it still quotes), hedges at that book's price with no buffer and no
    widening, once (``hedge_attempts = 1``), under the ``halt`` leg policy. On the first 150 s of the capture
    the first fill's hedge (a maker sell, 0.002 BTC) finds the perpetual's asks gone and the run halts with
    that base sold on spot and not bought back."""
    path = maker_config(directory, capture, name=name)
    text = path.read_text().replace('slippage_buffer_bps = "0.5"', 'slippage_buffer_bps = "0"\nhedge_widen_bps = "0"\n'
                                    'hedge_attempts = 1\nleg_policy = "halt"')
    head, perp = text.split("[venues.perp]")
    perp = perp.replace(f"feed_latency_ms = {LATENCY_MS}", "feed_latency_ms = 2000")
    path.write_text(f"{head}[venues.perp]{perp}\n[detection]\nmax_book_age_ms = 10000\n{extra}")
    return path
