"""A paper run of the shipped capture that exhausts one venue's quote balance (htx starts with 1,200 USDT,
two pairs' worth at max_size 20 LINK): the direction that buys on htx dies, and the run says so:

- its rejections are ``balance_insufficient`` (inventory), never ``below_min_amount``;
- one WARNING line names the venue, the asset, the balance and what max_size needs;
- the webhook gets an ``inventory depleted`` alert titled as every alert (run, mode, host) with its next
  step, and one when it clears (pairs the other way bring USDT back); the summary lists the depletion as
  an incident that did not stop the run;
- the metrics say htx's USDT funds no max_size (``arb_inventory_depleted``), and give its time to empty at
  the rate it fell (``arb_inventory_seconds_to_empty``), as a scrape reads them at the moment it happened;
  a scrape at the end agrees with the watch then."""

from __future__ import annotations

import logging
import math
import socket
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from arb.config import load_config
from arb.display import money
from arb.engine import Engine
from arb.eventloop.clock import from_ms
from arb.runtime.depletion import Depletion
from tests.engine.maker_capture import binance_maker_capture, first_seconds, taker_config
from tests.engine.paper_rig import paper_config

from .receiver import Receiver
from .scrape import by_label, run_and_scrape

HTX_BALANCES = 'balances = { USDT = "5000", LINK = "200" }\nlatency_ms = 20 '


class SeesDepletions(Engine):
    """The engine, which also reads its metrics as a scrape would at each depletion it reports."""

    seen: list[tuple[Depletion, dict[str, Any]]]

    def _depletion(self, change: Depletion) -> None:
        super()._depletion(change)
        assert self.monitor is not None and self.monitor.metrics is not None
        self.monitor.metrics.refresh()  # on the run's loop, as the monitor's timer does
        text = generate_latest(self.monitor.metrics.registry).decode()
        samples: dict[str, Any] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples.setdefault(sample.name, []).append(sample)
        self.seen.append((change, samples))


async def test_a_paper_run_that_exhausts_htx_usdt_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with Receiver() as receiver:
        config = paper_config(tmp_path, "00:00", "00:10", speed=200, extra={
            HTX_BALANCES: HTX_BALANCES.replace('"5000"', '"1200"'),
            "[monitoring]": f'[monitoring]\nmetrics_port = 0\nalert_urls = ["{receiver.url}"]',
        })
        engine = SeesDepletions(config, db_url=f"sqlite:///{tmp_path / 'd.db'}", install_signal_handlers=False)
        engine.seen = []
        result, after = await run_and_scrape(engine)
        posts = list(receiver.posts)

    # The depletion as it started: htx's USDT short of 20 LINK at htx's best ask.
    starts = [(c, m) for c, m in engine.seen if c.started and (c.venue, c.asset) == ("htx", "USDT")]
    assert starts, [c.describe() for c, _ in engine.seen]
    change, at_start = starts[0]
    assert change.side == "buy" and change.balance < change.needed
    # Its rejections: the pairs buying on htx that its USDT could fund only below a minimum, from when it
    # fell short (the watch looks once a second of market time) are inventory, not the venue's minimum.
    with sqlite3.connect(tmp_path / "d.db") as c:
        rows = c.execute("SELECT detected_at, reason FROM opportunities WHERE buy_venue = 'htx' AND reason IN "
                         "('balance_insufficient', 'below_min_amount', 'below_min_notional') ORDER BY id").fetchall()
    began = from_ms(change.since_ms) - timedelta(seconds=1)
    inventory = [r for at, r in rows if datetime.fromisoformat(at).replace(tzinfo=UTC) >= began
                 and r == "balance_insufficient"]
    assert inventory and result.summary["funnel"]["rejected"]["balance_insufficient"] >= len(inventory), rows
    warnings = [r.getMessage() for r in caplog.records
                if r.levelno == logging.WARNING and r.getMessage().startswith("inventory depleted: htx USDT")]
    assert warnings[0] == f"inventory depleted: {change.describe()}"
    assert len(warnings) == len(starts)  # one line each time it fell short, none while it stayed short
    assert f"htx USDT {money(change.balance, 8)} cannot fund max_size 20 LINK" in warnings[0]
    assert f"need {money(change.needed, 8)} USDT" in warnings[0]
    # The metrics at that moment: depleted, and a finite time to empty (the balance fell in the window).
    assert by_label(at_start["arb_inventory_depleted"], "venue", "asset")[("htx", "USDT")] >= 1
    seconds = by_label(at_start["arb_inventory_seconds_to_empty"], "venue", "asset")[("htx", "USDT")]
    assert 0 <= seconds < math.inf
    assert by_label(at_start["arb_inventory_seconds_to_empty"], "venue", "asset")[("gate", "LINK")] is not None
    # At the end, a scrape over HTTP: the watch's state then (pairs the other way refill htx's USDT).
    assert engine.inventory is not None
    still = "htx LINK/USDT buy" in engine.inventory.depleted
    assert by_label(after["arb_inventory_depleted"], "venue", "asset")[("htx", "USDT")] == float(still)
    # The alerts: titled as every alert, naming venue, asset, balance, need and the next step; each clearing
    # said too.
    host = socket.gethostname()
    assert all(p["title"].startswith(f"arb run {result.run_id} (paper on {host}): ") for p in posts)
    htx_usdt = [p for p in posts if p["message"].startswith("htx USDT ")]
    depleted = [p for p in htx_usdt if p["title"].endswith(": inventory depleted")]
    cleared = [p for p in htx_usdt if p["title"].endswith(": inventory depleted cleared")]
    assert change.describe() in depleted[0]["message"] and "Next: move USDT to htx" in depleted[0]["message"]
    assert len(depleted) == len(starts) and len(cleared) == len(starts) - still
    # The incident: started, never the stop reason.
    incidents = [i for i in result.summary["incidents"] if i["kind"] == "inventory_depleted"]
    assert any(i["detail"] == change.describe() for i in incidents)
    assert result.summary["stop_reason"] is None


@pytest.fixture(autouse=True)
def _no_env_alerts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARB_ALERT_URLS", raising=False)


async def test_a_perpetual_with_its_margin_untouched_is_never_said_depleted(
        tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    """A spot/perpetual taker run of the Binance BTC/USDT recording that tries no pair: the perpetual's 10,000
    USDT of margin funds 0.002 BTC either way at any price of the window. Its sizing funds' base, read at the
    run's start before the perpetual's book had a mid, was 0 BTC and never read again: the run said the
    perpetual could not fund a sell ~30 s in, and kept that incident open to the end."""
    capture = first_seconds(binance_maker_capture(tmp_path_factory.mktemp("maker-capture")), 60)
    engine = Engine(load_config(taker_config(tmp_path, capture)), db_url=f"sqlite:///{tmp_path / 'p.db'}",
                    install_signal_handlers=False)
    result = await engine.run()
    assert result.funnel.executed == 0
    assert engine.inventory is not None and engine.inventory.depleted == {}
    assert [i for i in result.summary["incidents"] if i["kind"] == "inventory_depleted"] == []
