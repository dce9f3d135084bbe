"""The dashboard's controls in a real headless chromium (``conftest.py``) during a real engine run (paper mode on
a real capture, ``[monitoring] dashboard_port = 0``, ``$ARB_DASHBOARD_TOKEN`` set): a click on pause with no
token typed is refused on the page and the engine trades on (the server's refusals, 401 and 403, are
``test_controls.py``'s: the browser logs them as errors); with it typed in, the engine pauses the symbol
(its risk gate refuses the symbol's pairs), the page shows it paused and lists the incident."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from arb.engine import Engine
from arb.monitoring.dashboard.server import TOKEN_ENV
from tests.engine.paper_rig import SYMBOL, paper_config, until

DASHBOARD_ON = {"[monitoring]": "[monitoring]\ndashboard_port = 0"}
WAIT_MS = 60_000
TOKEN = "desk-token-for-the-browser-test"


async def test_a_click_on_pause_pauses_the_engine_and_the_page_shows_it(
        tmp_path: Path, page: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    config = paper_config(tmp_path, "00:00", "10:00", speed=20, extra=DASHBOARD_ON)
    engine = Engine(config, db_url=f"sqlite:///{tmp_path / 'live.db'}", install_signal_handlers=False)
    run = asyncio.create_task(engine.run())
    try:
        await until(lambda: engine.dashboard is not None and engine.dashboard.server is not None, "dashboard",
                    60, run=run)
        assert engine.dashboard is not None and engine.dashboard.server is not None
        assert engine.operator is not None and engine.operator.risk is not None
        await page.goto(engine.dashboard.server.url)
        button = page.locator(f"#controls button[data-symbol='{SYMBOL}']")
        await button.wait_for(timeout=WAIT_MS)
        await page.wait_for_function("!document.getElementById('control-token').disabled", timeout=WAIT_MS)
        assert (await button.inner_text()).strip() == "pause"
        # No token typed: refused, said on the page, and the engine trades on.
        await button.click()
        await page.wait_for_function(
            "document.getElementById('control-result').textContent.includes('nothing sent')", timeout=WAIT_MS)
        await asyncio.sleep(0)  # the engine's loop is this one: give the watcher its turn
        assert not engine.operator.risk.paused(SYMBOL) and not engine.operator.pending()
        # With the token: the engine pauses the symbol, and the page shows what the engine says.
        await page.fill("#control-token", TOKEN)
        await button.click()
        await page.wait_for_function(
            "document.getElementById('control-result').textContent.includes('queued')", timeout=WAIT_MS)
        await until(lambda: engine.operator is not None and engine.operator.risk is not None
                    and engine.operator.risk.paused(SYMBOL), "paused", 60, run=run)
        await page.wait_for_function(
            f"[...document.querySelectorAll('#controls tbody tr')].some(r => r.cells[0].textContent === '{SYMBOL}'"
            f" && r.cells[1].textContent === 'paused' && r.querySelector('button').textContent === 'resume')",
            timeout=WAIT_MS)
        await page.wait_for_function(
            "document.getElementById('incidents').textContent.includes('symbol paused')", timeout=WAIT_MS)
        one = Decimal(1)
        assert engine.operator.risk.check(buy_venue="a", sell_venue="b", base_asset="LINK", size=one, buy_limit=one,
                                          sell_limit=one, symbol=SYMBOL).reason == f"paused:{SYMBOL}"
        assert not run.done(), "the page was checked after the run ended: not during the run"
        # The token is in its field only: not in the page's markup or text, a URL, or the browser's storage.
        assert TOKEN not in await page.content() and TOKEN not in page.url
        assert TOKEN not in await page.evaluate("JSON.stringify({...localStorage}) + JSON.stringify({...sessionStorage})")
        engine.request_stop("test done")
        result = await asyncio.wait_for(run, 60)
    finally:
        if not run.done():
            engine.request_stop("test failed")
            await asyncio.wait_for(asyncio.gather(run, return_exceptions=True), 30)
    # The pause is a stored incident: in the run's summary, which the database keeps.
    assert any(i["kind"] == "symbol_paused" and SYMBOL in i["detail"] for i in result.summary["incidents"])
