"""Alert delivery through apprise: queued, delivered off the caller's thread, failures logged once per kind
and never raised, URLs (tokens) never logged."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from arb.monitoring.alerts import Alert, Alerts, StaleBooks

from .receiver import Receiver


async def test_alerts_reach_a_webhook_in_order_with_title_and_body() -> None:
    async with Receiver() as receiver:
        alerts = Alerts([receiver.url], title="arb run 9")
        alerts.publish(Alert("breaker_open", "gate: 3 consecutive failures", "gate"))
        alerts.publish(Alert("stale_venue", "no book update for 12000 ms", "htx"))
        await asyncio.to_thread(alerts.close)
    assert receiver.kinds() == ["breaker open", "stale venue"]
    assert receiver.posts[0]["title"] == "arb run 9: breaker open"
    assert receiver.posts[0]["message"] == "gate: 3 consecutive failures"
    assert receiver.posts[1]["message"] == "htx: no book update for 12000 ms"  # the venue named once
    assert receiver.paths == ["/hook/s3cr3t-token"] * 2
    assert alerts.sent == {"breaker_open": 1, "stale_venue": 1} and not alerts.failures


def test_a_failing_destination_is_logged_once_masked_and_never_raised(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"json://127.0.0.1:{port}/hook/s3cr3t-token"
    caplog.set_level(logging.DEBUG)
    alerts = Alerts([url])
    for _ in range(3):
        alerts.publish(Alert("halt", "halt:unresolved_leg:4"))  # returns at once
    alerts.close()
    assert sum(alerts.failures.values()) == 3 and not alerts.sent
    warnings = [r for r in caplog.records if r.name.startswith("arb.monitoring")]
    assert len(warnings) == 1 and "json://***" in warnings[0].getMessage()
    assert "s3cr3t" not in caplog.text and str(port) not in caplog.text  # apprise's own records silenced


def test_a_book_going_stale_is_told_once_until_it_recovers() -> None:
    stale = StaleBooks()
    live = {"venue": "gate", "symbol": "LINK/USDT", "health": "live", "age_ms": 5}
    silent = {**live, "health": "stale", "age_ms": 12000}
    assert stale.changes([live]) == []
    assert [a.venue for a in stale.changes([silent])] == ["gate"]
    assert stale.changes([silent]) == []
    assert stale.changes([live]) == [] and len(stale.changes([silent])) == 1
