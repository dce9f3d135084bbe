"""Alerts from a real engine run: a real-time rehearsal (the in-process Gate sandbox over its WebSocket and
REST, a paper HTX), alerting to a webhook receiver on loopback through apprise's generic ``json://`` URL.

The fault: a 5xx burst starts as a pair goes out. Gate's placement is ambiguous, which trips Gate's breaker
(one failure is enough here); its one lookup by client id fails too, so the leg is unresolved and the
executor halts. Both must reach the receiver, and nothing of the URL (a token) may reach the log."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from tests.engine.paper_rig import SpyEngine, rehearsal_config, until

from .receiver import Receiver


async def test_a_breaker_trip_and_a_halt_reach_the_webhook(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.DEBUG)
    async with Receiver() as receiver:
        monkeypatch.setenv("ARB_ALERT_URLS", receiver.url)  # as a user keeps a token out of the file
        config = rehearsal_config(tmp_path, "00:00", "01:20", speed=40, extra={
            "max_consecutive_failures = 3": "max_consecutive_failures = 1",
            "lookup_attempts = 6 ": "lookup_attempts = 1 ",
        })
        assert config.monitoring.alert_urls == (receiver.url,)
        engine = SpyEngine(config, db_url=f"sqlite:///{tmp_path / 'alerts.db'}", install_signal_handlers=False)
        run = asyncio.create_task(engine.run())
        try:
            await until(lambda: engine.funnel.executed >= 1, "trading", 60, run=run)
            sandbox = engine.sandbox("gate")
            engine.at_next_handover = lambda: setattr(sandbox.faults, "fraction_5xx", 1.0)
            await until(lambda: engine.state.stop.is_set(), "the run halted", 60, run=run)
            sandbox.faults.fraction_5xx = 0.0
            result = await asyncio.wait_for(run, 60)
        finally:
            if not run.done():
                engine.request_stop("test failed")
                await asyncio.wait_for(asyncio.gather(run, return_exceptions=True), 30)
        # Delivered before run() returned: the run's end waits (bounded) for queued alerts.
        kinds = receiver.kinds()
    assert result.summary["stop_reason"].startswith("halted after opportunity"), result.summary["stop_reason"]
    assert "breaker open" in kinds and "halt" in kinds, receiver.posts
    assert kinds.index("breaker open") < kinds.index("halt")  # in the order they happened
    breaker = receiver.posts[kinds.index("breaker open")]
    assert breaker["title"].startswith(f"arb run {result.run_id} (live on ") and breaker["title"].endswith("): breaker open")
    assert breaker["message"].startswith("gate:")
    assert "halt:unresolved_leg:" in receiver.posts[kinds.index("halt")]["message"]
    # The URL's token is never logged (but by the test's own receiver, which logs the requests it serves).
    logged = [r.getMessage() for r in caplog.records if r.name != "aiohttp.access"]
    assert logged and not [m for m in logged if "s3cr3t-token" in m]
