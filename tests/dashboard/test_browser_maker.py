"""The maker panel in a real headless chromium (``conftest.py``), during a paced paper maker run
(``tests/engine/maker_capture.py``: Binance spot quoted, the USD-M perpetual hedged, ``[monitoring]
dashboard_port = 0``): while the run quotes, the panel lists the quotes resting on the venue now; once the
run ends the page keeps its final figures, each route's the run summary's maker row (``maker_views.py``)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from arb.config import load_config
from arb.display import Precision, money
from arb.engine import Engine
from tests.engine.maker_capture import binance_maker_capture, maker_config
from tests.engine.paper_rig import until

from .test_browser import WAIT_MS, counted, text


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return binance_maker_capture(tmp_path_factory.mktemp("maker-capture"))


async def _cells(page: Any, table: str) -> list[list[str]]:
    return await page.eval_on_selector_all(  # type: ignore[no-any-return]
        f"#{table} tbody tr", "trs => trs.map(tr => [...tr.children].map(td => td.textContent))")


async def test_a_maker_runs_page_shows_its_resting_quotes_then_the_summarys_maker_figures(
        capture: Path, tmp_path: Path, page: Any) -> None:
    path = maker_config(tmp_path, capture, mode="paper", speed="20")
    path.write_text(path.read_text() + "\n[monitoring]\ndashboard_port = 0\n")
    config = load_config(path)
    db = f"sqlite:///{tmp_path / 'maker.db'}"
    engine = Engine(config, db_url=db, install_signal_handlers=False)
    run = asyncio.create_task(engine.run())
    try:
        await until(lambda: engine.dashboard is not None and engine.dashboard.server is not None, "dashboard",
                    60, run=run)
        assert engine.dashboard is not None and engine.dashboard.server is not None
        await page.goto(engine.dashboard.server.url)
        # Quoting: a quote resting now, and pairs already hedged.
        await page.wait_for_function(
            "document.querySelectorAll('#maker-resting tbody tr').length > 0"
            " && Number(document.getElementById('executed').textContent) >= 1", timeout=WAIT_MS)
        assert await page.is_visible("#maker-card")
        assert await text(page, "#resting-note") == "on the venue now"
        resting = await _cells(page, "maker-resting")
        assert not run.done(), "the page was checked after the run ended: not during the run"
        engine.request_stop("test done")
        result = await asyncio.wait_for(run, 60)
    finally:
        if not run.done():
            engine.request_stop("test failed")
            await asyncio.wait_for(asyncio.gather(run, return_exceptions=True), 30)

    # Each resting row as the page showed it: a quote of the maker venue, its side, size and what it had filled.
    for _, _, venue, symbol, side, price, amount, filled in resting:
        assert (venue, symbol, side) in {("spot", "BTC/USDT", "buy"), ("spot", "BTC/USDT", "sell")}
        assert Decimal(price) > 0 and Decimal(amount) <= Decimal("0.002") and 0 <= Decimal(filled) < Decimal(amount)

    # The final state: the summary's maker row (read back from the database), at the page's places.
    await page.wait_for_function("document.getElementById('connection').textContent.startsWith('run over')",
                                 timeout=WAIT_MS)
    [m] = result.summary["maker"]
    precision = Precision.from_snapshot(config.snapshot())
    places = precision.pnl()

    def spread(key: str) -> list[str]:
        return ["-", "-"] if m[key] is None else [money(Decimal(m[key][s]), 2) for s in ("median", "max")]

    assert await _cells(page, "maker-routes") == [[
        f"{m['symbol']}  {m['route']}", *(counted(m[k]) for k in (
            "quotes", "refused", "quotes_filled", "maker_fills", "hedges", "flattens")),
        *spread("fill_to_hedge_ms"), *spread("unhedged_ms"),
        f"{money(Decimal(m['unhedged_base']), precision.asset('BTC', 'spot'))} BTC",
        money(Decimal(m["adverse"]), places), money(Decimal(m["hedge_slippage"]), places)]]
    assert m["quotes"] >= 2 and m["maker_fills"] >= 1
    assert await text(page, "#resting-note") == "at the run's end"
    # No taker symbol: the funnel shows no detection stages (as the summary prints none), only what ran.
    labels = await page.eval_on_selector_all("#funnel .bar-row > span:first-child", "s => s.map(x => x.textContent)")
    assert labels == ["book updates", "executed (maker pairs)"]
    assert await page.locator("#maker-resting tbody tr").count() == 0  # the run cancelled every quote
    assert await text(page, "#resting-empty") == "none: every quote was cancelled"

    # The perpetual it hedges on is a margin account: the holdings panel is the summary's holdings at the end
    # books, and the page's one equity is theirs at mark (arb/valuation.py), not the pairs' realized.
    h = result.summary["holdings"]
    assert await page.is_visible("#holdings-card")
    assert await text(page, "#holdings-note") == "at the run's end books"

    def shown(value: Decimal | None, at: int) -> str:
        return "-" if value is None else money(value, at)

    assert await _cells(page, "holdings") == [
        [p["venue"], p["symbol"], "position" if p["linear"] else "spot change",
         money(p["amount"], precision.asset("BTC", p["venue"])), shown(p["entry"], precision.price("BTC/USDT")),
         shown(p["mark"], precision.price("BTC/USDT")), shown(p["at_mark"], places), shown(p["at_unwind"], places)]
        for p in h["held"]]
    assert await text(page, "#equity") == money(h["equity_at_mark"]["USDT"], places)
    assert await text(page, "#pnl-unrealized") == money(h["equity_at_mark"]["USDT"] - h["realized"]["USDT"], places)
    figures = await text(page, "#holdings-figures")
    assert f"equity change {money(h['equity_at_mark']['USDT'], places)} USDT at mark" in figures
    assert f"realized (closed) {money(h['realized']['USDT'], places)}" in figures
    [b] = h["basis"]
    assert (await text(page, "#holdings-basis")).startswith(
        f"basis still held: BTC: spot {money(b['spot'], precision.asset('BTC', 'spot'))}, "
        f"perp {money(b['perp'], precision.asset('BTC', 'perp'))}")
    assert b["spot"] < 0 < b["perp"]  # quotes sold on spot, hedged by buying the perpetual
