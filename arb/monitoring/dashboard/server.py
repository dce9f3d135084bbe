"""The dashboard's web server: one page, its static files, and the run's state as JSON and as a stream.

aiohttp (already installed: ccxt depends on it, and the sandbox serves with it), on loopback only. GET only,
but for a running engine's controls (``POST /api/control/...``), which act only with the token the run was
started with in ``$ARB_DASHBOARD_TOKEN`` (none set: the controls are off, and the page says so). It answers only requests addressed to it (``Host:`` is
``127.0.0.1:PORT`` or ``localhost:PORT``; anything else is 421), so a web page whose name was rebound to
127.0.0.1 (DNS rebinding) cannot read it. Every error of ``/api/...`` is JSON, ``{"error": "..."}``: 503
when the run cannot be read (the database deleted, replaced, or no longer arb's), 404 and 405 as HTTP
says. A request aiohttp's parser refuses is one INFO line (:mod:`arb.http_log`). Routes:

- ``/``: the page; ``/static/...``: its script and style sheet (files of this package, no build step);
- ``/api/state``: the run's state now, one JSON document (what the page draws; handy for ``curl``);
- ``/api/events``: the same documents as server-sent events, sent when the state changed, checked every
  ``REFRESH_S``; a last ``final`` event when the server stops, so a page that watched a run keeps the
  run's final figures after the server is gone;
- ``POST /api/control/{pause|resume|kill_switch|cancel_quotes}`` (``{"symbol": ...}`` for pause and resume),
  with ``Authorization: Bearer <token>``: queued for the engine (:class:`~arb.runtime.operator.OperatorDesk`),
  which applies it within one check interval of its clock and records it as an incident; 202 once queued.
  Without a token 401, with a wrong one 403, controls off (no token set, or a stored run) 403, a bad request
  400: each one JSON line, and nothing queued. The token is compared in constant time and never logged.

The server runs on its own event loop in its own thread (:meth:`DashboardServer.start`), or in the
foreground for a finished run (:meth:`DashboardServer.serve`). Database reads run in a worker thread of
that loop through a read-only engine (:func:`arb.store.db.make_reader_engine`: it never holds the write lock
the engine waits for, and changes no byte of the database); a running engine's live figures come in through
:meth:`DashboardServer.publish` (``live.py``), so the server never touches the engine's objects.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from arb.errors import ArbError, StoreError
from arb.http_log import ProtocolErrorLog
from arb.monitoring.dashboard.page import document
from arb.runtime.operator import OperatorDesk
from arb.store.db import display_url, file_identity, make_reader_engine, read_failure, sqlite_file

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
# The files ``/static/`` serves: the package's own, by name. A request names one of them or is a 404 without
# touching the file system (aiohttp's static route resolved any name it was given: 300 characters raised
# "File name too long", logged with a traceback as a 500).
STATIC_FILES = frozenset(p.name for p in STATIC.iterdir() if p.is_file())
HOST = "127.0.0.1"
REFRESH_S = 1.0
FINAL_WAIT_S = 2.0  # how long stop() waits for connected pages to receive the final state
TOKEN_ENV = "ARB_DASHBOARD_TOKEN"  # the controls' token: from the environment only, never the config
MAX_CONTROL_BODY = 1024  # a control's JSON body ({"symbol": ...}); anything larger is refused unread


class DashboardServer:
    """Serves run ``run_id`` of ``db_url`` on ``HOST:port`` (0: any free port; :attr:`url` says which)."""

    def __init__(self, db_url: str, run_id: int, port: int, *, refresh_s: float = REFRESH_S,
                 controls: OperatorDesk | None = None, token: str | None = None) -> None:
        self.db_url = db_url
        self.run_id = run_id
        self.port = port
        self.refresh_s = refresh_s
        self._live: dict[str, Any] | None = None  # the engine's latest published figures (a live run)
        # Each listening page's queue of (event, document) and the last document it was sent.
        self._clients: dict[asyncio.Queue[tuple[str, str]], str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._sessions: sessionmaker[Session] | None = None
        self._ended: dict[str, Any] | None = None  # a stored run that has ended: its rows no longer change
        # The SQLite file and which file it is now: one deleted or replaced later is said, not read.
        self._file = sqlite_file(db_url)
        self._identity = file_identity(self._file) if self._file is not None else None
        self.controls = controls  # a running engine's operator desk; None: a stored run, nothing to control
        self._token = token.encode("utf-8", "surrogateescape") if token else None  # never logged or shown

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def hosts(self) -> frozenset[str]:
        """The ``Host:`` values a request to this server carries (lower case)."""
        names = (HOST, "localhost")
        return frozenset(f"{name}:{self.port}" for name in names) | (
            frozenset(names) if self.port == 80 else frozenset())

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Serve from a thread of its own; returns once listening (or raises why it cannot)."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            try:
                asyncio.run(self.serve(ready.set))
            except BaseException as exc:  # noqa: BLE001 - handed to start(), or said once it has returned
                if ready.is_set():
                    log.error("dashboard stopped serving: %s: %s", type(exc).__name__, exc)
                    return
                failure.append(exc)
                ready.set()

        self._thread = threading.Thread(target=main, name="arb-dashboard", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            raise failure[0]

    def publish(self, live: dict[str, Any]) -> None:
        """The engine's latest live figures, ``{"view": RunView.snapshot(), "updates_per_s": float}``; read on
        the server's next refresh. Any thread."""
        self._live = live

    def request_stop(self) -> None:
        """Send connected pages the final state, then stop serving. Any thread, a signal handler too."""
        loop, stopping = self._loop, self._stopping
        if loop is None or stopping is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(stopping.set)
        except RuntimeError:  # closed in between: nothing left to stop
            pass

    def stop(self) -> None:
        """:meth:`request_stop`, and wait until the server's thread has ended."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    async def serve(self, on_ready: Callable[[], None] | None = None) -> None:
        """Serve until :meth:`request_stop` (or cancellation); ``on_ready()`` once listening."""
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        engine = make_reader_engine(self.db_url)
        self._sessions = sessionmaker(bind=engine)
        runner = web.AppRunner(self._app(), access_log=None, shutdown_timeout=FINAL_WAIT_S,
                               logger=ProtocolErrorLog())
        await runner.setup()
        try:
            site = web.TCPSite(runner, HOST, self.port)
            try:
                await site.start()
            except OSError as exc:
                raise ArbError(f"dashboard: cannot listen on {HOST}:{self.port}: {exc.strerror or exc}") from None
            self.port = runner.addresses[0][1]
            if on_ready is not None:
                on_ready()
            broadcast = asyncio.create_task(self._broadcast(), name="dashboard-broadcast")
            try:
                await self._stopping.wait()
            finally:
                broadcast.cancel()
            await self._send_final()
        finally:
            await runner.cleanup()
            await asyncio.to_thread(engine.dispose)

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, Any]:
        """The page's document: the run as stored, plus the engine's live figures when it is running."""
        assert self._sessions is not None
        self._check_file()
        if self._ended is not None and self._live is None:
            return self._ended
        with self._sessions.begin() as session:  # one read snapshot for every query of this document
            doc = document(session, self.run_id, self._live)
        doc["db"] = display_url(self.db_url)
        doc["controls"] = self.controls_state()
        if self._live is None and doc["run"]["status"] != "running":
            self._ended = doc
        return doc

    def controls_state(self) -> dict[str, Any]:
        """What the page shows of the controls: whether they act and why not, the symbols, which are paused."""
        live = (self._live or {}).get("controls") or {}
        why = ("a stored run: there is no engine to control" if self.controls is None
               else f"controls are off: ${TOKEN_ENV} was not set when the run started" if self._token is None
               else None)
        return {"enabled": why is None, "why": why, "symbols": live.get("symbols", []),
                "paused": live.get("paused", []), "kill_switch": live.get("kill_switch", False),
                "quotes": live.get("quotes", False)}

    def _check_file(self) -> None:
        """:class:`StoreError` if the SQLite file is no longer the one the dashboard started on."""
        now = file_identity(self._file) if self._file is not None else None
        if now == self._identity:
            return
        what = "deleted" if now is None else "replaced by another file"
        raise StoreError(f"{display_url(self.db_url)} was {what} after the dashboard started")

    async def _state_json(self) -> str:
        return json.dumps(await asyncio.to_thread(self.state), separators=(",", ":"))

    def _unreadable(self, exc: Exception) -> str:
        """One line for a state that could not be read."""
        if isinstance(exc, SQLAlchemyError):
            exc = read_failure(self.db_url, exc)
        why = str(exc) if isinstance(exc, ArbError) else f"{type(exc).__name__}: {exc}"
        return f"cannot read run {self.run_id}: {(why.splitlines() or [type(exc).__name__])[0]}"

    async def _broadcast(self) -> None:
        """Every ``refresh_s`` while a page listens: read the state and send it to each page it changed for.
        A read that fails (the database away) is said once per outage; the pages keep what they had."""
        failing = False
        while True:
            if self._clients:
                try:
                    text = await self._state_json()
                except Exception as exc:  # noqa: BLE001 - the next refresh tries again
                    if not failing:
                        log.warning("dashboard: %s", self._unreadable(exc))
                    failing = True
                else:
                    failing = False
                    for queue, sent in list(self._clients.items()):
                        if text != sent:
                            self._send(queue, "state", text)
            await asyncio.sleep(self.refresh_s)

    async def _send_final(self) -> None:
        if not self._clients:
            return
        try:
            text = await self._state_json()
        except Exception:  # noqa: BLE001 - the database is gone: the pages keep what they last got
            text = "null"
        for queue in list(self._clients):
            self._send(queue, "final", text)
        waiting = [asyncio.create_task(q.join()) for q in self._clients]
        await asyncio.wait(waiting, timeout=FINAL_WAIT_S)
        for task in waiting:
            task.cancel()

    def _send(self, queue: asyncio.Queue[tuple[str, str]], kind: str, text: str) -> None:
        if queue.full():  # a slow page skips a state rather than falling behind
            queue.get_nowait()
            queue.task_done()
        queue.put_nowait((kind, text))
        self._clients[queue] = text

    # ------------------------------------------------------------------ http
    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/", self._index)
        app.router.add_get("/api/state", self._api_state)
        app.router.add_get("/api/events", self._events)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_post("/api/control/{action}", self._control)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Requests addressed to another host are refused (DNS rebinding); errors of the API are JSON."""
        host = request.headers.get("Host", "")
        if host.lower() not in self.hosts():
            log.info("dashboard: refused a request for Host %r", host[:100])
            return _error(421, f"this dashboard answers requests for {HOST}:{self.port} or localhost:{self.port} "
                               f"only, not Host {host[:100]!r}")
        if not request.path.startswith("/api/"):
            return await handler(request)
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else {}
            return _error(exc.status, f"{request.method} {request.path[:200]}: {exc.reason}", allow)
        except Exception as exc:  # a bug: said with its traceback, answered as JSON all the same
            log.exception("dashboard: %s %s failed", request.method, request.path[:200])
            return _error(500, f"internal error: {type(exc).__name__} (the dashboard's log has the traceback)")

    async def _index(self, _request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html", headers=_NO_STORE)

    async def _static(self, request: web.Request) -> web.FileResponse:
        name = request.match_info["name"]
        if name not in STATIC_FILES:
            raise web.HTTPNotFound()
        return web.FileResponse(STATIC / name)

    async def _api_state(self, _request: web.Request) -> web.Response:
        try:
            text = await self._state_json()
        except (ArbError, SQLAlchemyError, OSError) as exc:
            return _error(503, self._unreadable(exc))
        return web.Response(text=text, content_type="application/json", headers=_NO_STORE)

    async def _control(self, request: web.Request) -> web.Response:
        """An operator's control: refused (and nothing queued) unless the controls are on and the request
        carries the token; queued for the engine otherwise (see the module doc)."""
        action = request.match_info["action"][:40]
        if self.controls is None or self._token is None:
            return _error(403, f"{action}: {self.controls_state()['why']}; nothing done")
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            log.warning("dashboard: refused a %r control without the token", action)
            return _error(401, f"{action}: the dashboard's token is needed (Authorization: Bearer ...); nothing done",
                          {"WWW-Authenticate": 'Bearer realm="arb dashboard"'})
        if not hmac.compare_digest(given.strip().encode("utf-8", "surrogateescape"), self._token):
            log.warning("dashboard: refused a %r control with a wrong token", action)
            return _error(403, f"{action}: wrong dashboard token; nothing done")
        symbol: Any = None
        if request.can_read_body:
            if (request.content_length or 0) > MAX_CONTROL_BODY:
                return _error(400, f"{action}: a control's body is at most {MAX_CONTROL_BODY} bytes")
            try:
                body = json.loads(await request.content.read(MAX_CONTROL_BODY + 1) or b"{}")
            except (ValueError, UnicodeDecodeError):
                return _error(400, f"{action}: the body is not JSON (send {{\"symbol\": \"BTC/USDT\"}} or nothing)")
            if not isinstance(body, dict) or not isinstance(body.get("symbol"), str | None):
                return _error(400, f"{action}: the body is a JSON object whose symbol is a string")
            symbol = body.get("symbol")
        try:
            self.controls.submit(action, symbol, who="dashboard")
        except ValueError as exc:
            return _error(400, str(exc))
        return web.json_response({"queued": action, "symbol": symbol,
                                  "note": "the engine applies it at its next check (within a second of its clock)"},
                                 status=202, headers=_NO_STORE)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        try:
            first = await self._state_json()
        except (ArbError, SQLAlchemyError, OSError) as exc:
            return _error(503, self._unreadable(exc))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", **_NO_STORE})
        await response.prepare(request)
        queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(maxsize=1)
        self._send(queue, "state", first)
        try:
            while True:
                kind, text = await queue.get()
                try:
                    await response.write(f"event: {kind}\ndata: {text}\n\n".encode())
                finally:
                    queue.task_done()
                if kind == "final":
                    return response
        except ConnectionResetError:  # the page went away
            return response
        finally:
            self._clients.pop(queue, None)


_NO_STORE = {"Cache-Control": "no-store"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers={**_NO_STORE, **(headers or {})})

