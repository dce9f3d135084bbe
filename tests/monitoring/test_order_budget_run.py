"""A replay whose Gate sandbox venue has a tight order budget: orders wait for room or are refused before
they leave, and the status view, the Prometheus metrics and the run summary show the same use, read from one
snapshot (``OrderBudget.snapshot``)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from sqlalchemy import create_engine, text

from arb.config import load_config
from arb.engine import Engine
from arb.runtime.status import StatusReporter
from arb.runtime.summary import render_summary
from arb.venues.throttle import budget_text
from tests.engine.helpers import config_with, trimmed_capture

from .scrape import by_label, run_and_scrape

# One order per 1.5 s (the second decision, a second after the first, waits) and three an hour (the fourth and
# every later one is refused).
BUDGET = 'order_budget = [{ orders = 1, per_s = 1.5 }, { orders = 3, per_s = 3600 }]'


class LastLine(StatusReporter):
    """The plain status view, keeping the line it would print as the run stops (on the run's loop and clock,
    as the summary and the metrics' last refresh are read)."""

    last: str | None = None

    def stop(self) -> None:
        if self._engine is not None:
            self.last = self.line()
        super().stop()


async def test_orders_held_back_and_headroom_agree_on_every_surface(tmp_path: Path) -> None:
    capture = trimmed_capture(tmp_path, "00:42:18", "00:42:34")  # nine pairs when nothing holds them back
    config = load_config(config_with(tmp_path, fee="0.0001", extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
        "[venues.gate]\n": f"[venues.gate]\n{BUDGET}\n",
        "[monitoring]": "[monitoring]\nmetrics_port = 0",
    }), environ={})
    db = f"sqlite:///{tmp_path / 'budget.db'}"
    status = LastLine("plain", interval_s=3600, stream=io.StringIO())
    result, after = await run_and_scrape(Engine(config, db_url=db, status=status, install_signal_handlers=False))

    s = result.summary
    use = s["order_budget"]["gate"]
    refused = s["funnel"]["rejected"]["not_sent:gate:OrderBudgetExceeded"]
    assert s["funnel"]["executed"] == 3 and use["refused"] == refused >= 1 and use["waited"] >= 1
    assert use["headroom"] == {"1/1.5s": 1, "3/3600s": 0}
    assert s["order_budget"].keys() == {"gate"}  # htx is a paper venue: nothing leaves it
    # The same figures, worded once, on the summary, the status view and the metrics.
    assert f"order budget gate       {budget_text(use)}" in render_summary(s).splitlines()
    assert status.last is not None and f" order budget gate {budget_text(use)}" in status.last
    assert by_label(after["arb_order_budget_held_total"], "venue", "outcome") == {
        ("gate", "waited"): use["waited"], ("gate", "refused"): use["refused"]}
    assert by_label(after["arb_order_budget_headroom"], "venue", "window") == {
        ("gate", "1/1.5s"): 1.0, ("gate", "3/3600s"): 0.0}
    # A refused pair never left: both its orders went created -> rejected, nothing looked up.
    with create_engine(db).connect() as c:
        paths = c.execute(text(
            "SELECT group_concat(e.to_status, '>') FROM orders o JOIN order_events e ON e.order_id = o.id "
            "JOIN opportunities p ON p.id = o.opportunity_id WHERE p.reason = 'not_sent:gate:OrderBudgetExceeded' "
            "GROUP BY o.id")).scalars().all()
    assert paths == ["created>rejected"] * (2 * refused)


def test_a_replay_without_a_configured_budget_shows_gate_s_own(tmp_path: Path) -> None:
    # The shipped venues: the Gate sandbox under Gate's documented 10 a second per market, which this window's
    # decisions (a second apart) never reach; the paper htx has none.
    capture = trimmed_capture(tmp_path, "00:42:18", "00:42:34")
    config = load_config(config_with(tmp_path, fee="0.0001", extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
        'status = "auto"': 'status = "off"',
    }), environ={})
    engine = Engine(config, db_url=f"sqlite:///{tmp_path / 'shipped.db'}", install_signal_handlers=False)
    result = asyncio.run(engine.run())
    assert result.summary["funnel"]["executed"] == 9
    assert result.summary["order_budget"] == {
        "gate": {"waited": 0, "refused": 0, "headroom": {"10/1s per market": 10}}}
