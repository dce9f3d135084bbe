"""The dashboard's controls (``server.py``'s ``POST /api/control/...``) into a running engine's operator desk
(``runtime/operator.py``), on market time (a ``SimulatedLoop``: the check interval is a second of its clock,
no sleeps): refused without the token, with a wrong one, or with the controls off, and then nothing reaches
the engine; with the token the symbol is paused within one check interval, the executor's risk check refuses
its pairs, and the action is an incident. The token is never in the log."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from arb.eventloop.simloop import run_simulation
from arb.execution.risk import RiskGate, RiskLimits
from arb.monitoring.dashboard.server import DashboardServer
from arb.runtime.incidents import IncidentLog
from arb.runtime.operator import CHECK_S, OperatorDesk
from tests.conftest import Populated

TOKEN = "s3cret-T0ken-for-the-desk"
ORIGIN = datetime(2026, 11, 25, tzinfo=UTC)
SYMBOLS = ("BTC/USDT", "ETH/USDT")
PAIR = {"buy_venue": "gate", "sell_venue": "okx", "base_asset": "BTC", "size": Decimal("0.01"),
        "buy_limit": Decimal(100), "sell_limit": Decimal(101)}


class Engine:
    """The engine's parts the controls reach: its risk gate and incident log on the loop's market clock, and
    the operator desk wired to them as ``Engine._start_watchers`` wires it."""

    def __init__(self) -> None:
        self.now = ORIGIN

        def clock() -> datetime:
            try:
                return ORIGIN + timedelta(seconds=asyncio.get_running_loop().time())
            except RuntimeError:  # off the loop (the server's thread reading the state)
                return self.now

        self.incidents = IncidentLog(clock)
        self.risk = RiskGate(RiskLimits(Decimal(1000), Decimal(1), Decimal(100)), clock=clock,
                             on_event=self.incidents.on_risk_event)
        self.desk = OperatorDesk(SYMBOLS, (), self.incidents)
        self.desk.risk = self.risk

    def kinds(self) -> list[tuple[str, bool]]:
        return [(i.kind, i.ended_at is None) for i in self.incidents.incidents]


def _served(populated: Populated, parts: Engine, token: str | None) -> DashboardServer:
    server = DashboardServer(populated.url, populated.run_id, 0, refresh_s=0.05, controls=parts.desk, token=token)
    server.start()
    return server


@pytest.fixture
def parts() -> Engine:
    return Engine()


@pytest.fixture
def served(populated: Populated, parts: Engine) -> Iterator[DashboardServer]:
    server = _served(populated, parts, TOKEN)
    try:
        yield server
    finally:
        server.stop()


def _post(server: DashboardServer, action: str, body: dict[str, Any] | None = None,
          token: str | None = TOKEN) -> tuple[int, dict[str, Any]]:
    """A control as the page sends it (from the test's thread: the server answers from its own)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    try:
        connection.request("POST", f"/api/control/{action}", json.dumps(body or {}), headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _after(seconds: float, desk: OperatorDesk) -> None:
    """Run the desk's watcher for ``seconds`` of market time."""
    async def main() -> None:
        watcher = asyncio.ensure_future(desk.watch())
        await asyncio.sleep(seconds)
        watcher.cancel()

    run_simulation(main(), speed=0.0)


@pytest.mark.parametrize("token", [None, "", "wrong", TOKEN[:-1], TOKEN + "x"])
def test_a_control_without_the_right_token_is_refused_and_the_engine_does_not_pause(
        served: DashboardServer, parts: Engine, token: str | None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    status, body = _post(served, "pause", {"symbol": "BTC/USDT"}, token=token)
    assert status == (403 if token else 401), body
    assert "nothing done" in body["error"] and TOKEN not in body["error"]
    assert not parts.desk.pending()
    _after(3 * CHECK_S, parts.desk)
    assert not parts.risk.paused("BTC/USDT") and parts.incidents.incidents == []
    assert parts.risk.check(symbol="BTC/USDT", **PAIR).allowed
    assert TOKEN not in caplog.text  # nor in anything the server logged of the refusal


def test_controls_are_off_without_a_token_and_say_so(populated: Populated, parts: Engine) -> None:
    server = _served(populated, parts, None)
    try:
        status, body = _post(server, "kill_switch")
        assert status == 403 and "ARB_DASHBOARD_TOKEN was not set" in body["error"]
        controls = server.controls_state()  # what /api/state's document carries as "controls"
    finally:
        server.stop()
    assert controls["enabled"] is False and "ARB_DASHBOARD_TOKEN" in controls["why"]
    _after(2 * CHECK_S, parts.desk)
    assert not parts.risk.kill_switch_engaged() and parts.incidents.incidents == []


def test_with_the_token_the_symbol_pauses_within_one_check_interval(served: DashboardServer, parts: Engine,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    timeline: dict[str, float] = {}

    async def main() -> None:
        loop = asyncio.get_running_loop()
        watcher = asyncio.ensure_future(parts.desk.watch())
        await asyncio.sleep(0.35)  # between two of the watcher's looks
        status, body = _post(served, "pause", {"symbol": "BTC/USDT"})  # the loop waits for the answer: no time
        assert status == 202 and body["queued"] == "pause", body
        timeline["asked"] = loop.time()
        while not parts.risk.paused("BTC/USDT"):
            await asyncio.sleep(0.01)
        timeline["paused"] = loop.time()
        # The executor's risk check refuses the paused symbol's pairs, and only its.
        timeline["refused"] = parts.risk.check(symbol="BTC/USDT", **PAIR).reason == "paused:BTC/USDT"
        timeline["other"] = parts.risk.check(symbol="ETH/USDT", **PAIR).allowed
        assert _post(served, "resume", {"symbol": "BTC/USDT"})[0] == 202
        while parts.risk.paused("BTC/USDT"):
            await asyncio.sleep(0.01)
        timeline["resumed"] = loop.time()
        watcher.cancel()

    run_simulation(main(), speed=0.0)
    assert 0 < timeline["paused"] - timeline["asked"] <= CHECK_S
    assert timeline["refused"] is True and timeline["other"] is True
    assert timeline["resumed"] - timeline["paused"] <= CHECK_S
    # Stored as the run's incident: started when the engine paused it, ended when it resumed.
    (incident,) = parts.incidents.incidents
    assert (incident.kind, incident.key) == ("symbol_paused", "BTC/USDT")
    assert incident.started_at == ORIGIN + timedelta(seconds=1)  # the watcher's look after the request
    assert incident.ended_at == ORIGIN + timedelta(seconds=timeline["resumed"])
    assert "paused by the operator (dashboard)" in incident.detail
    assert parts.incidents.still_open() is None  # a pause never becomes the run's stop reason
    assert TOKEN not in caplog.text


def test_the_kill_switch_and_a_bad_request(served: DashboardServer, parts: Engine) -> None:
    assert _post(served, "pause", {"symbol": "DOGE/USDT"}) == (
        400, {"error": "pause: symbol 'DOGE/USDT' is not one this run trades (BTC/USDT, ETH/USDT)"})
    assert _post(served, "cancel_quotes")[0] == 400  # no maker symbol: nothing can rest
    assert _post(served, "explode")[0] == 400
    assert not parts.desk.pending()
    assert _post(served, "kill_switch")[0] == 202
    _after(CHECK_S, parts.desk)
    assert parts.risk.kill_switch_engaged() and parts.risk.kill_reason == "operator: dashboard"
    assert parts.kinds() == [("kill_switch", True)]
    assert parts.risk.check(symbol="ETH/USDT", **PAIR).reason == "kill_switch"


def test_a_stored_runs_dashboard_has_no_controls(populated: Populated) -> None:
    """``arb dashboard --db``: no engine behind it, so a control is refused whatever the token."""
    server = DashboardServer(populated.url, populated.run_id, 0, token=TOKEN)
    server.start()
    try:
        assert _post(server, "kill_switch") == (
            403, {"error": "kill_switch: a stored run: there is no engine to control; nothing done"})
    finally:
        server.stop()
