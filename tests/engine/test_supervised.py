"""Supervised tasks in a running engine: a hostile frame never kills a feed, a silent feed is resubscribed,
a task that keeps failing ends the run ``failed`` with one line, and the user sees every count.

Paper mode against the in-process sandbox (Gate's books over its WebSocket through our update-id sync),
the capture played at 40x; every wait is on a condition with a deadline.
"""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import create_engine, text

from arb.config import load_config
from arb.engine import Engine
from arb.marketdata.book import Health
from arb.runtime.status import StatusReporter
from arb.runtime.summary import render_summary
from arb.runtime.supervisor import RestartPolicy, Supervisor, TaskFailed
from tests.marketdata.ws_proxy import WsProxy

from .helpers import config_with, trimmed_capture
from .paper_rig import PAIR, SpyEngine, WatchedLoop, rehearsal_config, until

# Issue 13's reproduction: pushed to the sandbox's book control endpoint while `arb run` trades in paper mode.
ISSUE_FRAME = '{"pair":"LINK_USDT","kind":"delta","bids":[["27.0500000000000000001","5"]],"asks":[]}'


async def push_control_book(engine: SpyEngine, body: str) -> None:
    """POST ``body`` to the sandbox's ``/_sandbox/book`` over HTTP, as the issue did."""
    async with aiohttp.ClientSession() as http, http.post(
            engine.sandbox("gate").base_url + "/_sandbox/book", data=body,
            headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 200, await resp.text()


async def stop(engine: Engine, run: asyncio.Task[Any]) -> Any:
    engine.request_stop("test done")
    return await asyncio.wait_for(run, 60)


async def test_issue_13_an_over_precise_delta_no_longer_ends_the_gate_feed(tmp_path: Path) -> None:
    config = rehearsal_config(tmp_path, "00:00", "01:00", speed=40)
    status_out = io.StringIO()
    engine = SpyEngine(config, db_url=f"sqlite:///{tmp_path / 'issue.db'}", install_signal_handlers=False,
                       status=StatusReporter("plain", interval_s=0.05, stream=status_out))
    run = asyncio.create_task(engine.run())
    try:
        await until(lambda: engine.feeds is not None and engine.health("gate") is Health.LIVE, "gate live", run=run)
        feeds = engine.feeds
        assert feeds is not None
        feed = feeds.feeds["gate"]
        await push_control_book(engine, ISSUE_FRAME)
        await until(lambda: engine.drops.counts[("gate", "over_precise")] >= 1, "the over-precise level counted",
                    run=run)
        # Before the fix the feed's task ended here: no update applied again, `gate:syncing(...)` forever.
        applied = feed.applied
        await until(lambda: feed.applied > applied + 20 and engine.health("gate") is Health.LIVE,
                    "the gate feed still applying updates, its book live", run=run)
        await until(lambda: "dropped gate:" in status_out.getvalue(), "the status line shows the drops", run=run)
        assert not engine.supervisor.tasks["feed-gate"].done()
        result = await stop(engine, run)
    finally:
        if not run.done():
            engine.request_stop("test failed")
            await asyncio.wait_for(asyncio.gather(run, return_exceptions=True), 30)
    assert result.summary["feed_drops"]["gate"]["over_precise"] >= 1
    assert result.summary["task_restarts"] == {}
    assert re.search(r"^frames dropped\s+gate \d+ \(over_precise \d+\)$", render_summary(result.summary), re.M)


class ProxiedLoop(WatchedLoop):
    """The decision loop with a :class:`WsProxy` between its Gate feed and the sandbox's WebSocket."""

    spy: ProxiedEngine

    async def run(self) -> None:
        link = self.trading.venues.sandboxes["gate"]
        proxy = self.spy.proxy = await WsProxy(link.ws_url).start()
        link.ws_url = proxy.ws_url
        try:
            await super().run()
        finally:
            await proxy.close()


class ProxiedEngine(SpyEngine):
    """The engine whose Gate feed goes through a :class:`WsProxy` (its decision loop starts it)."""

    watched_loop = ProxiedLoop
    proxy: WsProxy | None = None


def _update(**result: Any) -> str:
    import json

    body = {"t": 1, "s": PAIR, "U": 1, "u": 1, "b": [["27.1", "1"]], "a": []} | result
    return json.dumps({"time": 1, "channel": "spot.order_book_update", "event": "update",
                       "result": {k: v for k, v in body.items() if v is not None}})


BURST: list[str | bytes] = [
    b"\x00\xffnot json",  # bad_json (binary)
    '{"channel": "spot.order_book_update", "event": "update", "result": {"s": "LINK_',  # bad_json (cut)
    "[1, 2, 3]",  # not_object
    _update(u=None),  # missing_field
    _update(U="abc"),  # bad_id
    _update(b=[["1e5", "1"]]),  # bad_number
]
EXPECTED = {"bad_json": 2, "not_object": 1, "missing_field": 1, "bad_id": 1, "bad_number": 1}


async def test_gate_feed_survives_a_burst_of_malformed_frames_and_the_summary_counts_them(tmp_path: Path) -> None:
    config = rehearsal_config(tmp_path, "00:00", "01:00", speed=40)
    db = tmp_path / "burst.db"
    engine = ProxiedEngine(config, db_url=f"sqlite:///{db}", install_signal_handlers=False)
    run = asyncio.create_task(engine.run())
    rounds = 5
    try:
        await until(lambda: engine.proxy is not None and bool(engine.proxy.clients)
                    and engine.health("gate") is Health.LIVE, "gate live through the proxy", run=run)
        assert engine.proxy is not None
        for _ in range(rounds):  # malformed frames among the sandbox's own, and the issue's frame
            for raw in BURST:
                await engine.proxy.inject(raw)
            await push_control_book(engine, ISSUE_FRAME)
        await until(lambda: all(engine.drops.counts[("gate", r)] >= n * rounds for r, n in EXPECTED.items())
                    and engine.drops.counts[("gate", "over_precise")] >= rounds, "every drop counted", run=run)
        updates = engine.funnel.book_updates
        await until(lambda: engine.health("gate") is Health.LIVE and engine.funnel.book_updates > updates + 20,
                    "gate live again, updates flowing", run=run)
        assert not engine.supervisor.tasks["feed-gate"].done()
        result = await stop(engine, run)
    finally:
        if not run.done():
            engine.request_stop("test failed")
            await asyncio.wait_for(asyncio.gather(run, return_exceptions=True), 30)
    drops = result.summary["feed_drops"]["gate"]
    assert {r: drops[r] for r in EXPECTED} == {r: n * rounds for r, n in EXPECTED.items()}
    assert drops["over_precise"] >= rounds and set(drops) == {*EXPECTED, "over_precise"}
    assert result.summary["task_restarts"] == {}
    assert engine.handovers and all(h.all_live for h in engine.handovers)  # never traded a resyncing book
    line = re.search(r"^frames dropped\s+gate (\d+) \((.*)\)$", render_summary(result.summary), re.M)
    assert line and int(line.group(1)) == sum(drops.values()) and "bad_json 10" in line.group(2)
    with create_engine(f"sqlite:///{db}").connect() as c:  # stored with the run, as the summary shows it
        stored = c.execute(text("SELECT summary FROM runs WHERE id = :r"), {"r": result.run_id}).scalar_one()
    assert '"feed_drops"' in str(stored) and '"bad_json": 10' in str(stored)


async def test_the_watchdog_resubscribes_a_silent_gate_feed(tmp_path: Path) -> None:
    config = rehearsal_config(tmp_path, "00:00", "01:00", speed=40, extra={
        "stale_after_ms = 10000": "stale_after_ms = 600"})
    engine = SpyEngine(config, db_url=f"sqlite:///{tmp_path / 'w.db'}", install_signal_handlers=False)
    run = asyncio.create_task(engine.run())
    try:
        await until(lambda: engine.feeds is not None and engine.health("gate") is Health.LIVE, "gate live", run=run)
        feeds = engine.feeds
        assert feeds is not None
        feed = feeds.feeds["gate"]
        connections = feed.connections
        sandbox = engine.sandbox("gate")
        sandbox.faults.freeze_book = True  # the venue goes silent; the connection stays up
        await until(lambda: feeds.resubscribes["gate"] >= 1 and feed.connections > connections,
                    "the silent feed marked stale and resubscribed", run=run)
        sandbox.faults.freeze_book = False
        await until(lambda: engine.health("gate") is Health.LIVE, "gate live again", run=run)
        result = await stop(engine, run)
    finally:
        if not run.done():
            engine.request_stop("test failed")
            await asyncio.wait_for(asyncio.gather(run, return_exceptions=True), 30)
    assert result.summary["stale_resubscribes"]["gate"] >= 1
    assert "htx" not in result.summary["stale_resubscribes"]  # a capture-paced venue has no feed to ask
    assert re.search(r"^stale feeds resubscribed gate \d+$", render_summary(result.summary), re.M)


class BrokenStatus(StatusReporter):
    """A status view whose every refresh fails."""

    def line(self) -> str:
        raise RuntimeError("status view broke")


async def test_a_task_that_keeps_failing_ends_the_run_failed_with_one_line(tmp_path: Path) -> None:
    capture = trimmed_capture(tmp_path, "00:00", "00:03")
    config = load_config(config_with(tmp_path, extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture}"',
        "speed = 0 ": "speed = 30 ",  # 6 s of replay, far longer than three failures take
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
    }))
    restarts: list[float] = []

    async def no_wait(seconds: float) -> None:  # the backoff, recorded instead of slept
        restarts.append(seconds)
        await asyncio.sleep(0)

    db = tmp_path / "failed.db"
    engine = Engine(config, db_url=f"sqlite:///{db}", install_signal_handlers=False,
                    status=BrokenStatus("plain", interval_s=0.001, stream=io.StringIO()),
                    supervisor=Supervisor(RestartPolicy(max_restarts=2, window_s=60), sleep=no_wait))
    with pytest.raises(TaskFailed) as failed:
        await engine.run()
    message = "task status failed 3 times within 60 s, giving up: RuntimeError: status view broke"
    assert str(failed.value) == message and len(restarts) == 2
    with create_engine(f"sqlite:///{db}").connect() as c:
        status, reason, ended = c.execute(text("SELECT status, status_reason, ended_at FROM runs")).one()
    assert (status, reason) == ("failed", message) and ended is not None
