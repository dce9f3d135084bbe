"""The dashboard in a real headless chromium (``conftest.py``):

- during a real engine run (paper mode: the in-process Gate sandbox and a paper HTX on a real capture,
  ``[monitoring] dashboard_port = 0``) the page loads, updates without a reload, and once the run ends it
  holds the run's final figures, equal to the summary (which is read back from the database);
- ``arb dashboard --db`` (a real process) on a finished run shows the PnL ``arb report`` reports.
"""

from __future__ import annotations

import asyncio
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from arb.cli import main
from arb.display import Precision, money
from arb.engine import Engine
from arb.monitoring.dashboard.page import CURVE_POINTS, RECENT_ROWS
from tests.engine.paper_rig import paper_config, until
from tests.engine.procs import Proc

DASHBOARD_ON = {"[monitoring]": "[monitoring]\ndashboard_port = 0"}
WAIT_MS = 60_000


async def text(page: Any, selector: str) -> str:
    return (await page.inner_text(selector)).strip()


def counted(n: int) -> str:
    """How the page prints a count (en-US grouping)."""
    return f"{n:,}"


async def test_live_run_page_updates_and_ends_with_the_summary_figures(tmp_path: Path, page: Any) -> None:
    # A window longer than the test needs: the test stops the run once the page has shown it trading.
    config = paper_config(tmp_path, "00:00", "10:00", speed=20, extra=DASHBOARD_ON)
    db = f"sqlite:///{tmp_path / 'live.db'}"
    engine = Engine(config, db_url=db, install_signal_handlers=False)
    run = asyncio.create_task(engine.run())
    try:
        await until(lambda: engine.dashboard is not None and engine.dashboard.server is not None, "dashboard",
                    60, run=run)
        assert engine.dashboard is not None and engine.dashboard.server is not None
        url = engine.dashboard.server.url
        assert url.startswith("http://127.0.0.1:")
        await page.goto(url)
        await page.wait_for_function("document.getElementById('book-updates').textContent !== '-'",
                                     timeout=WAIT_MS)
        assert await text(page, "#run-status") == "running"
        first = await text(page, "#book-updates")
        # Updates without a reload: the same page shows a later count, and a trade.
        await page.wait_for_function(
            f"document.getElementById('book-updates').textContent !== {json.dumps(first)}", timeout=WAIT_MS)
        await page.wait_for_function("Number(document.getElementById('executed').textContent) >= 2",
                                     timeout=WAIT_MS)
        assert await page.locator("#books tbody tr").count() == 2  # both venues' books, live
        assert not run.done(), "the page was checked after the run ended: not during the run"
        engine.request_stop("test done")
        result = await asyncio.wait_for(run, 60)
    finally:
        if not run.done():
            engine.request_stop("test failed")
            await asyncio.wait_for(asyncio.gather(run, return_exceptions=True), 30)

    # The server's last message: the run's final state, kept by the page after the server is gone.
    await page.wait_for_function("document.getElementById('connection').textContent.startsWith('run over')",
                                 timeout=WAIT_MS)
    s = result.summary
    places = Precision.from_snapshot(config.snapshot()).pnl()
    assert await text(page, "#run-status") == "completed"
    assert await text(page, "#pnl-realized") == money(s["realized_pnl"], places)
    assert await text(page, "#pnl-expected") == money(s["expected_profit"], places)
    assert await text(page, "#executed") == counted(s["opportunities"]["executed"])
    assert await text(page, "#rejected") == counted(s["funnel"]["rejected_total"])
    assert await text(page, "#book-updates") == counted(s["funnel"]["book_updates"])
    for key in ("slippage", "fees", "unfilled", "imbalance"):
        assert await text(page, f"#pnl-{key}") == money(s["pnl_attribution"][f"pnl_{key}"], places)
    executed = s["opportunities"]["executed"]
    assert await page.locator("#trades tbody tr").count() == min(executed, RECENT_ROWS)
    # The curve: a step per executed opportunity (the page draws at most CURVE_POINTS of them).
    steps = await page.eval_on_selector("#curve path.realized", "p => p.getAttribute('d').split('V').length - 1")
    assert steps == min(executed, CURVE_POINTS)


async def test_arb_dashboard_shows_a_finished_runs_stored_pnl_equal_to_arb_report(
    tmp_path: Path, page: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    config = paper_config(tmp_path, "00:00", "00:05", speed=0, mode="replay")
    db = f"sqlite:///{tmp_path / 'done.db'}"
    result = await Engine(config, db_url=db, install_signal_handlers=False).run()
    assert result.summary["opportunities"]["executed"] >= 2
    assert main(["report", "--db", db, "--run", str(result.run_id), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    realized = Decimal(report["pnl"]["totals"]["realized_pnl"])
    expected = Decimal(report["pnl"]["totals"]["expected_pnl"])
    places = Precision.from_snapshot(config.snapshot()).pnl()

    proc = Proc(["dashboard", "--db", db, "--last", "--port", "0"], cwd=tmp_path)
    try:
        proc.wait_for("the dashboard's URL", lambda: any("http://" in line for line in proc.err), timeout=60)
        found = re.search(r"at (http://127\.0\.0\.1:\d+/)", "".join(proc.err))
        assert found, proc.text()
        await page.goto(found.group(1))
        await page.wait_for_function("document.getElementById('pnl-realized').textContent !== '-'",
                                     timeout=WAIT_MS)
        assert await text(page, "#run-title") == f"run {result.run_id}"
        assert await text(page, "#run-status") == "completed"
        assert await text(page, "#pnl-realized") == money(realized, places)
        assert await text(page, "#pnl-expected") == money(expected, places)
        rows = report["pnl"]["rows"]
        assert await text(page, "#executed") == counted(len(rows))
        newest = await text(page, "#trades tbody tr:first-child td:first-child")
        assert newest == str(rows[-1]["opportunity"])
        assert await page.locator("#books tbody tr").count() == 0  # no live books for a stored run
        # No engine to control: the controls card is its note, nothing to type or press; the page is read-only.
        assert not await page.is_visible("#control-token") and not await page.is_visible("#controls")
        assert await text(page, "#access") == "read-only"
        assert await text(page, "#transfers-empty") == "none"
        proc.popen.terminate()  # SIGTERM, as Ctrl-C: a clean stop, which the page is told of
        assert proc.finish(30) == 0, proc.text()
        await page.wait_for_function(
            "document.getElementById('connection').textContent === 'dashboard stopped'", timeout=WAIT_MS)
        assert await text(page, "#pnl-realized") == money(realized, places)  # the figures stay
    finally:
        proc.kill()

