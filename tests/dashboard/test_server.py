"""The dashboard's web server (``server.py``) on the populated database, in its own thread: the page and
its files, ``/api/state`` (the page's document), the event stream and its last ``final`` event, and one
clear line when the port is taken."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator

import aiohttp
import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from arb.errors import ArbError
from arb.monitoring.dashboard.page import document
from arb.monitoring.dashboard.server import STATIC, DashboardServer
from arb.store.db import make_engine
from arb.store.models import Run
from tests.conftest import Populated


@pytest.fixture
def served(populated: Populated) -> Iterator[DashboardServer]:
    server = DashboardServer(populated.url, populated.run_id, 0, refresh_s=0.05)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_the_page_its_files_and_the_state(served: DashboardServer, populated: Populated) -> None:
    async with aiohttp.ClientSession(served.url) as http:
        async with http.get("/") as page:
            assert page.status == 200 and "/static/app.js" in await page.text()
        for name in ("app.js", "style.css"):
            async with http.get(f"/static/{name}") as static:
                assert static.status == 200 and await static.read() == (STATIC / name).read_bytes()
        async with http.get("/static/../server.py") as outside:
            assert outside.status in (403, 404)
        async with http.get("/api/state") as state:
            doc = await state.json()
    engine = make_engine(populated.url)
    try:
        with Session(engine) as s:
            expected = json.loads(json.dumps(document(s, populated.run_id)))
    finally:
        engine.dispose()
    assert doc == {**expected, "db": doc["db"], "controls": doc["controls"]}
    assert doc["db"] == populated.url.split("?")[0] or doc["db"].startswith("postgresql")
    # A stored run: no engine, so no control acts, and the page is told why (test_controls.py: a live one's).
    assert doc["controls"] == {"enabled": False, "why": "a stored run: there is no engine to control",
                               "symbols": [], "paused": [], "kill_switch": False, "quotes": False}


async def test_the_stream_sends_the_state_then_the_final_state_when_the_server_stops(
    served: DashboardServer, populated: Populated
) -> None:
    async with aiohttp.ClientSession() as http, http.get(served.url + "api/events") as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"
        first = await _event(stream)
        assert first[0] == "state" and first[1]["run"]["id"] == populated.run_id
        served.publish({"view": _view_snapshot(), "updates_per_s": 5.0})
        second = await _event(stream)  # the change is sent on the next refresh
        assert second[0] == "state" and second[1]["live"]["updates_per_s"] == 5.0
        await asyncio.to_thread(served.stop)
        kind, doc = await _event(stream)
        assert kind == "final" and doc["pnl"] == first[1]["pnl"]
        assert await stream.content.read() == b""  # then the stream ends


async def test_a_failing_read_is_said_once_and_the_stream_carries_on(
    served: DashboardServer, populated: Populated, caplog: pytest.LogCaptureFixture
) -> None:
    served.publish({"view": _view_snapshot(), "updates_per_s": 5.0})  # a live run: read at every refresh
    async with aiohttp.ClientSession() as http, http.get(served.url + "api/events") as stream:
        assert (await _event(stream))[0] == "state"
        with populated.factory.begin() as s:  # the run goes away under the dashboard
            s.execute(delete(Run).where(Run.id == populated.run_id))
        deadline = asyncio.get_running_loop().time() + 10
        while not any("cannot read run" in r.getMessage() for r in caplog.records):
            assert asyncio.get_running_loop().time() < deadline, "the failed read was not logged"
            await asyncio.sleep(0.05)
        await asyncio.sleep(5 * served.refresh_s)  # several more failing refreshes
        warnings = [r.getMessage() for r in caplog.records if "cannot read run" in r.getMessage()]
        assert warnings == [f"dashboard: cannot read run {populated.run_id}: no run with id {populated.run_id} "
                            "in the database (1 runs)"]
        await asyncio.to_thread(served.stop)
        assert await _event(stream) == ("final", None)  # the page keeps what it last got


def test_a_port_in_use_is_one_clear_error(populated: Populated) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ArbError, match=rf"^dashboard: cannot listen on 127\.0\.0\.1:{port}: "):
            DashboardServer(populated.url, populated.run_id, port).start()


async def _event(stream: aiohttp.ClientResponse) -> tuple[str, dict | None]:
    kind, data = "", ""
    while True:
        line = (await asyncio.wait_for(stream.content.readline(), 10)).decode().rstrip("\n")
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and kind:
            return kind, json.loads(data)


def _view_snapshot() -> dict:
    return {"market_time_ms": 1, "books": [], "funnel": {"book_updates": 1, "rejected": {}, "rejected_total": 0},
            "exposure": {}, "risk": None, "incidents": {}, "stop_reason": None, "stale_balances": []}
