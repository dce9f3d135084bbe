"""The dashboard in a real headless chromium (``conftest.py``), where a run tells a trader what went wrong:

- a halted run (``tests/engine/helpers.py::halted_config``: a naked leg, exit 3) shows status ``halted``, its
  open position in red with the venue, amount and unrealized PnL its summary stored, realized PnL without
  it beside equity with it, and the halt in the incident list, open at the end;
- a paced paper run's page, sampled while it trades, lists every rejection reason (the bars add up to the
  rejected tile), its opportunities newest first by market time, none more than 2 s behind the status view
  it is shown with, rejected rows with their size and edge;
- a stored run with more than five rejection reasons shows every one of them.

"2 s behind" is wall time, the watcher's: a rejection decided 2 s before the page's status view was taken
is on the page (the decision writer's timer writes queued rows once a wall second). In a paced simulation a
wall second is ``speed`` market seconds, so the check allows ``2 s * speed`` of market time.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from arb.config import load_config
from arb.display import Precision, money
from arb.engine import Engine
from arb.monitoring.dashboard.page import RECENT_ROWS
from arb.monitoring.dashboard.server import DashboardServer
from tests.engine.helpers import halted_config
from tests.engine.paper_rig import paper_config, until
from tests.engine.procs import Proc

from .test_browser import DASHBOARD_ON, WAIT_MS, counted, text

RED = "rgb(248, 81, 73)"  # style.css --red
# Fees low on htx only and a profit floor nothing reaches: the run trades nothing and rejects for many
# reasons (unprofitable after fees, below the minimum edge, profit, notional, amount; abnormal edge...).
REJECTS_ONLY = {
    'min_profit = "0.01"': 'min_profit = "1000"',
    'abnormal_edge_bps = "50"': 'abnormal_edge_bps = "4"',
    'taker_fee = "0"\nfee_tier = "HTX': 'taker_fee = "0.00005"\nfee_tier = "HTX',
}
SPEED = 10
LAG_WALL_MS = 2000


def _ms(iso_utc: str) -> int:
    """``2021-08-20 00:07:37Z`` or ``...37.250Z`` (the page's times) as epoch ms."""
    return round(datetime.fromisoformat(iso_utc.replace("Z", "+00:00")).timestamp() * 1000)


async def _reason_bars(page: Any) -> dict[str, int]:
    rows = await page.eval_on_selector_all(
        "#funnel .bar-row.reason", "rs => rs.map(r => [r.children[0].textContent, r.children[2].textContent])")
    return {label.removeprefix("✕ "): int(n.replace(",", "")) for label, n in rows}


async def test_a_halted_runs_page_shows_its_open_position_in_red_and_the_halt(tmp_path: Path, page: Any) -> None:
    db = tmp_path / "halt.db"
    config = halted_config(tmp_path)
    run = Proc(["run", "--config", str(config), "--db", f"sqlite:///{db}"], cwd=tmp_path)  # as a user runs it
    try:
        assert await asyncio.to_thread(run.finish, 120) == 3, run.text()
    finally:
        run.kill()
    with sqlite3.connect(db) as c:
        summary = json.loads(c.execute("SELECT summary FROM runs").fetchone()[0])
    (stored,) = summary["open_positions"]
    (incident,) = [i for i in summary["incidents"] if i["kind"] == "halt"]
    precision = Precision.from_snapshot(load_config(config).snapshot())
    places = precision.pnl()
    realized, unrealized = Decimal(summary["realized_pnl"]), Decimal(stored["unrealized"])
    base = stored["symbol"].split("/")[0]

    server = DashboardServer(f"sqlite:///{db}", 1, 0)
    server.start()
    try:
        await page.goto(server.url)
        await page.wait_for_function("document.getElementById('pnl-realized').textContent !== '-'",
                                     timeout=WAIT_MS)
        assert await text(page, "#run-status") == "halted"
        # The open position: venue, amount and unrealized PnL as the summary stored them, in red.
        cells = await page.eval_on_selector_all("#positions tbody tr td", "tds => tds.map(td => td.textContent)")
        assert cells[0] == stored["venue"]
        assert cells[2] == f"{money(Decimal(stored['amount']), precision.asset(base, stored['venue']))} {base}"
        assert cells[6] == money(unrealized, precision.quote(stored["symbol"]))
        colors = await page.eval_on_selector_all("#positions tbody tr td",
                                                 "tds => tds.map(td => getComputedStyle(td).color)")
        assert set(colors) == {RED}
        assert await text(page, "#positions-note") == "valued at the mid of the run's end"
        # Realized excludes it; equity is realized plus its unrealized PnL.
        assert await text(page, "#pnl-realized") == money(realized, places)
        assert await text(page, "#pnl-unrealized") == money(unrealized, places)
        assert await text(page, "#equity") == money(realized + unrealized, places)
        assert realized <= 0 < unrealized  # the naked leg's fees only: never a profit booked from it
        # The halt in the incident list, from its start, open at the end.
        rows = await page.eval_on_selector_all(
            "#incidents tbody tr", "trs => trs.map(tr => [...tr.children].map(td => td.textContent))")
        assert rows == [["halt", datetime.fromisoformat(incident["started_at"]).strftime("%H:%M:%SZ"),
                         "open at the end", incident["detail"]]]
        assert await page.eval_on_selector("#incidents tbody tr td:nth-child(3)",
                                           "td => getComputedStyle(td).color") == RED
        # The curve's equity line ends at the equity the tile shows (the realized line does not).
        last = await page.evaluate("lastDoc.curve.points.at(-1)")
        assert Decimal(last[3]) == realized + unrealized and Decimal(last[2]) == realized
    finally:
        server.stop()


async def test_a_running_page_lists_every_reason_and_opportunities_by_time_within_2s(
        tmp_path: Path, page: Any) -> None:
    config = paper_config(tmp_path, "00:05", "00:30", speed=SPEED, extra={**DASHBOARD_ON, **REJECTS_ONLY})
    db = tmp_path / "live.db"
    engine = Engine(config, db_url=f"sqlite:///{db}", install_signal_handlers=False)
    run = asyncio.create_task(engine.run())
    samples: list[tuple[int, list[int]]] = []  # (status view's market time, the listed opportunities' times)
    try:
        await until(lambda: engine.dashboard is not None and engine.dashboard.server is not None, "dashboard",
                    60, run=run)
        assert engine.dashboard is not None and engine.dashboard.server is not None
        await page.goto(engine.dashboard.server.url)
        await page.wait_for_function("Number(document.getElementById('rejected').textContent) >= 3",
                                     timeout=WAIT_MS)
        while len(samples) < 8:
            shown = await text(page, "#updated")
            await page.wait_for_function(f"document.getElementById('updated').textContent !== {json.dumps(shown)}",
                                         timeout=WAIT_MS)
            status = await text(page, "#market-time")
            times = await page.eval_on_selector_all("#opportunities tbody tr td:nth-child(2)",
                                                    "tds => tds.map(td => td.textContent)")
            day = status.split(" ")[0]
            samples.append((_ms(status), [_ms(f"{day} {t}") for t in times]))
            # Every reason, summing to the tile, at every state the page shows.
            assert sum((await _reason_bars(page)).values()) == int((await text(page, "#rejected")).replace(",", ""))
        assert not run.done(), "sampled after the run ended: not while it ran"
        engine.request_stop("test done")
        result = await asyncio.wait_for(run, 60)
    finally:
        if not run.done():
            engine.request_stop("test failed")
            await asyncio.wait_for(asyncio.gather(run, return_exceptions=True), 30)

    with sqlite3.connect(db) as c:
        decided = sorted(_ms(d.replace(" ", "T") + "Z") for (d,) in c.execute("SELECT detected_at FROM opportunities"))
    checked = 0
    for status_ms, times in samples:
        assert times == sorted(times, reverse=True), "newest first, by market time"
        due = [d for d in decided if d <= status_ms - LAG_WALL_MS * SPEED]
        if due:
            checked += 1
            assert times and times[0] >= due[-1], (
                f"the page showed opportunities up to {times[:1]} at status time {status_ms}; "
                f"{due[-1]} was decided over 2 s before")
    assert checked >= 4, f"too few samples had anything due to check: {samples}"

    await page.wait_for_function("document.getElementById('connection').textContent.startsWith('run over')",
                                 timeout=WAIT_MS)
    funnel = result.summary["funnel"]
    assert await _reason_bars(page) == funnel["rejected"]
    assert await text(page, "#rejected") == counted(funnel["rejected_total"]) == counted(len(decided))
    # Every rejected row shows its size and its gross edge; a sized one its net edge after fees too.
    rows = await page.eval_on_selector_all(
        "#opportunities tbody tr", "trs => trs.map(tr => [...tr.children].map(td => td.textContent))")
    assert len(rows) == RECENT_ROWS
    for _, _, _, size, gross, net, _, decision in rows:
        assert decision != "executed" and Decimal(size) >= 0 and Decimal(gross) > 0
        assert (net != "-") == (Decimal(size) > 0), (size, net, decision)


async def test_a_stored_run_shows_every_rejection_reason(tmp_path: Path, page: Any) -> None:
    config = paper_config(tmp_path, "00:00", "00:30", speed=0, mode="replay", extra=REJECTS_ONLY)
    db = f"sqlite:///{tmp_path / 'stored.db'}"
    result = await Engine(config, db_url=db, install_signal_handlers=False).run()
    funnel = result.summary["funnel"]
    assert len(funnel["rejected"]) > 5  # more than the five the page once kept

    server = DashboardServer(db, result.run_id, 0)
    server.start()
    try:
        await page.goto(server.url)
        await page.wait_for_function("document.getElementById('rejected').textContent !== '-'", timeout=WAIT_MS)
        bars = await _reason_bars(page)
        assert bars == funnel["rejected"]
        assert sum(bars.values()) == int((await text(page, "#rejected")).replace(",", "")) == funnel["rejected_total"]
        times = await page.eval_on_selector_all("#opportunities tbody tr td:nth-child(2)",
                                                "tds => tds.map(td => td.textContent)")
        assert len(times) == RECENT_ROWS and times == sorted(times, reverse=True)
        with sqlite3.connect(tmp_path / "stored.db") as c:
            (last,) = c.execute("SELECT max(detected_at) FROM opportunities").fetchone()
        assert times[0] == datetime.fromisoformat(last).replace(tzinfo=UTC).strftime("%H:%M:%S.%f")[:-3] + "Z"
    finally:
        server.stop()
