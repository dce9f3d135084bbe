"""A maker run's Prometheus metrics: a paper run quoting Binance BTC/USDT spot and hedging on the perpetual
(``tests/engine/maker_capture.py``), scraped over HTTP while it quotes and after it ends. While it runs the
endpoint shows quotes resting and the route's counts growing; at the end every ``arb_maker_*`` family holds
the run summary's maker row (``store/maker_views.py``, read back from the database), and the executor's
``arb_orders_total`` plus the maker route's quotes, hedges and flattens are every order the summary counts.
The status view shows the same figures."""

from __future__ import annotations

import asyncio
import io
import re
import time
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from arb.config import load_config
from arb.engine import Engine
from tests.engine.maker_capture import binance_maker_capture, first_seconds, maker_config
from tests.engine.paper_rig import until

from .scrape import by_label, running, scrape

ROUTE = ("BTC/USDT", "spot", "perp")


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return first_seconds(binance_maker_capture(tmp_path_factory.mktemp("maker-capture")), 150)


def _route(samples: dict, name: str) -> float | None:
    values = by_label(samples.get(name, []), "symbol", "maker_venue", "taker_venue")
    return values.get(ROUTE)


async def test_a_maker_runs_metrics_show_its_quotes_while_running_and_its_summary_row_at_the_end(
        capture: Path, tmp_path: Path) -> None:
    # Paper at 10x: the 150 s hold about 15 s of wall time, the monitor's timer reads every second.
    path = maker_config(tmp_path, capture, mode="paper", speed="10")
    path.write_text(path.read_text() + "\n[monitoring]\nmetrics_port = 0\n")
    engine = Engine(load_config(path), db_url=f"sqlite:///{tmp_path / 'maker.db'}", install_signal_handlers=False)
    resting_seen: list[float] = []
    async with running(engine) as run:
        await until(lambda: engine.monitor is not None and engine.monitor.metrics is not None
                    and engine.monitor.metrics.port is not None, "metrics served", 60, run=run)
        assert engine.monitor is not None and engine.monitor.metrics is not None
        port = engine.monitor.metrics.port
        assert port
        during: dict = {}
        deadline = time.monotonic() + 60
        while not run.done() and (_route(during, "arb_maker_hedges_total") or 0) < 1:
            assert time.monotonic() < deadline, "no hedge in the scraped metrics"
            during = await asyncio.to_thread(scrape, port)
            if (resting := _route(during, "arb_maker_resting_quotes")) is not None:
                resting_seen.append(resting)
            await asyncio.sleep(0.2)
        assert not run.done(), "the run ended before a scrape saw it hedge: not a scrape during the run"
        assert (_route(during, "arb_maker_quotes_total") or 0) >= 1
        # Stopped with quotes resting: the end cancels them and settles the pairs after the monitor's last
        # timer read, so the figures at the end are the final read's (Monitor.finish), not the timer's.
        engine.request_stop("test done")
        result = await asyncio.wait_for(run, 120)
        after = await asyncio.to_thread(scrape, port)

    assert max(resting_seen) >= 1, resting_seen  # a quote resting, seen live
    s = result.summary
    (row,) = s["maker"]
    assert (row["symbol"], row["maker_venue"], row["taker_venue"]) == ROUTE
    assert row["hedges"] >= 1  # something to compare
    for name, key in (("arb_maker_quotes_total", "quotes"), ("arb_maker_quotes_refused_total", "refused"),
                      ("arb_maker_quotes_filled_total", "quotes_filled"), ("arb_maker_fills_total", "maker_fills"),
                      ("arb_maker_hedges_total", "hedges"), ("arb_maker_flattens_total", "flattens")):
        assert _route(after, name) == row[key], name
    assert _route(after, "arb_maker_resting_quotes") == 0  # the run's end cancelled them
    for name, key in (("arb_maker_fill_to_hedge_seconds", "fill_to_hedge_ms"),
                      ("arb_maker_unhedged_seconds", "unhedged_ms")):
        stats = {labels[-1]: v for labels, v in by_label(
            after[name], "symbol", "maker_venue", "taker_venue", "stat").items() if labels[:3] == ROUTE}
        assert stats == {stat: float(Decimal(row[key][stat]) / 1000) for stat in ("median", "max")}, name
    assert _route(after, "arb_maker_unhedged_base") == float(Decimal(row["unhedged_base"]))
    parts = {labels[-1]: v for labels, v in by_label(after["arb_maker_pnl_quote"], "symbol", "maker_venue",
                                                       "taker_venue", "part").items() if labels[:3] == ROUTE}
    assert parts == {"adverse": float(Decimal(row["adverse"])), "hedge": float(Decimal(row["hedge_slippage"]))}
    # Every order the summary counts is the executor's or the maker route's: none counted twice or missed.
    executor_orders = sum(by_label(after.get("arb_orders_total", []), "venue", "status").values())
    assert executor_orders + row["quotes"] + row["hedges"] + row["flattens"] == s["orders"]
    assert by_label(after["arb_pnl_quote"], "kind")[("realized",)] == float(Decimal(s["realized_pnl"]))

    # The status view reads the same figures (the maker watch's last read): its line and its table.
    # Its route as every surface names one (buy -> sell, arb.display.route), as the summary stored it.
    label = f"maker BTC/USDT {row['route']}"
    assert row["route"] in ("spot -> perp", "perp -> spot", "spot -> perp, perp -> spot", "perp -> spot, spot -> perp")
    match = re.search(re.escape(f" {label} ") + r"(\d+) quotes, (\d+) resting, (\d+) filled, (\d+) hedges, "
                      r"unhedged (\S+) BTC ", engine.status.line())
    assert match is not None, engine.status.line()
    assert [int(n) for n in match.groups()[:4]] == [row["quotes"], 0, row["quotes_filled"], row["hedges"]]
    assert Decimal(match.group(5)) == Decimal(row["unhedged_base"])
    out = io.StringIO()
    Console(file=out, width=160, force_terminal=False).print(engine.status._table())
    table = out.getvalue()
    assert label in table and match.group(0).split(f" {label} ")[1].strip() in table, table
    assert "crossed / approved" not in table  # detection's stages: this run only quoted
