"""Orders' own HTTP/1.1 connections: a prepared order's exact bytes written to an open socket in one call.

A general HTTP client builds a request while it writes it: aiohttp spends 40–200 µs per request (URL,
header and cookie handling, connector checkout, a task switch) between being called and the first byte
on the socket, and a pair's second leg waits behind the first's. An order is already fully built and
signed when it is sent (:meth:`arb.venues.live.venue.LiveVenue.prepare`), so here sending is only
``transport.write`` of bytes serialized at prepare time, on a kept-alive connection to the venue's
origin; nothing is awaited before the write when a connection is open. The answer is parsed with
`h11 <https://h11.readthedocs.io>`_ (a complete, well-tested HTTP/1.1 state machine: status line, headers,
``Content-Length`` or chunked bodies, keep-alive or close), after the bytes have left.

- One request at a time per connection (no pipelining): a connection goes back to the idle set only when
  its answer is complete and the server keeps it alive; a second concurrent order on one origin opens a
  second connection.
- An idle connection the server has closed (FIN seen by the loop) is never written to. One the server
  closes in the instant of the write fails the order as a lost connection, which the executor resolves by
  client-order-id lookup, like any other ambiguous outcome.
- Failures are reported as ccxt reports aiohttp's, so a venue's translation table sees what it would see
  from ccxt's ``fetch``: could not connect or lost the connection -> ``ExchangeNotAvailable``; no complete
  answer within the exchange's timeout -> ``RequestTimeout``; a malformed answer -> ``ExchangeError``.
  Their text names the method and path, never a header or the body.
- TLS uses the exchange's own ``ssl_context`` (ccxt's: certifi's CAs, or verification off if the user
  turned it off).

Keep-alive: a venue closes a connection idle for a while; ``LiveVenue.keep_warm`` pings over this line.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import ccxt
import h11

# Idle connections kept per origin: a kill switch's pull writes every resting quote's cancel at once, one
# connection each (no pipelining); kept at 4, a pull of 16 opened 12 (bench_pull.py), each a handshake.
MAX_IDLE_PER_ORIGIN = 16
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> Origin:
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {parts.scheme}://{parts.hostname}")
        return cls(parts.scheme, parts.hostname, parts.port or _DEFAULT_PORTS[parts.scheme])

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class RawRequest:
    """A request as it goes on the wire, and what the answer's parser needs to know of it."""

    origin: Origin
    method: str
    target: str  # path and query, as in the URL (already percent-encoded)
    data: bytes = field(default=b"", repr=False)  # the whole request, signed headers included: never shown

    @classmethod
    def build(cls, url: str, method: str, headers: Mapping[str, str], body: bytes | None) -> RawRequest:
        """Serialize once: ``Host`` and ``Content-Length`` are added; ``headers`` are sent as given."""
        origin, target = _split(url)
        lines = [f"{method} {target} HTTP/1.1", f"Host: {origin.host_header}"]
        lines += [f"{name}: {value}" for name, value in headers.items()
                  if name.lower() not in ("host", "content-length")]
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return cls(origin, method, target, head + (body or b""))


@functools.lru_cache(maxsize=256)  # a venue's order URL is the same for every order
def _split(url: str) -> tuple[Origin, str]:
    parts = urlsplit(url)
    return Origin.of(url), (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


@dataclass(frozen=True, slots=True)
class RawResponse:
    status: int
    reason: str
    headers: dict[str, str]  # repeated headers joined with ", ", as ccxt does
    text: str


class _Connection(asyncio.Protocol):
    """One kept-alive connection; carries one request's answer at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.parser = h11.Connection(h11.CLIENT)
        self._pending: RawRequest | None = None  # told to h11 when its answer starts arriving
        self._answer: asyncio.Future[RawResponse] | None = None
        self._status = 0
        self._reason = ""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []

    # -- asyncio.Protocol --
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a TCP connection's: a Transport

    def data_received(self, data: bytes) -> None:
        if self._answer is None or self._answer.done():
            self._fail(h11.RemoteProtocolError("data with no request outstanding"))
            return
        try:
            self._tell_parser_the_request()
            self.parser.receive_data(data)
            self._drain_events()
        except h11.ProtocolError as exc:
            self._fail(exc)

    def eof_received(self) -> bool | None:
        self.closed = True
        answer = self._answer
        if answer is not None and not answer.done():
            try:
                self._tell_parser_the_request()
                self.parser.receive_data(b"")  # a body delimited by the close ends here
                self._drain_events()
            except h11.ProtocolError:
                pass  # cut off mid-answer: a lost connection, as below, not a malformed answer
            if not answer.done():
                self._fail(ConnectionResetError("connection closed before the answer was complete"))
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._answer is not None and not self._answer.done():
            self._fail(exc or ConnectionResetError("connection lost before the answer was complete"))

    # -- a request --
    def write(self, request: RawRequest) -> asyncio.Future[RawResponse]:
        assert self.transport is not None and self._answer is None
        self._answer = asyncio.get_running_loop().create_future()
        self._pending = request
        self.transport.write(request.data)
        return self._answer

    def reusable(self) -> bool:
        return (not self.closed and self.transport is not None and not self.transport.is_closing()
                and self.parser.our_state is h11.IDLE and self.parser.their_state is h11.IDLE)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _tell_parser_the_request(self) -> None:
        # h11 must see the request to parse its answer; telling it after the write keeps its work off the
        # way to the wire. What it would send is discarded: the prepared bytes were sent instead.
        request, self._pending = self._pending, None
        if request is None:
            return
        content_length = len(request.data) - request.data.index(b"\r\n\r\n") - 4
        self.parser.send(h11.Request(method=request.method, target=request.target,
                                     headers=[("Host", request.origin.host_header),
                                              ("Content-Length", str(content_length))]))
        if content_length:
            self.parser.send(h11.Data(data=b"\0" * content_length))
        self.parser.send(h11.EndOfMessage())

    def _drain_events(self) -> None:
        while True:
            event = self.parser.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                self._status, self._reason = event.status_code, event.reason.decode("latin-1")
                for raw_name, raw_value in event.headers.raw_items():
                    name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
                    self._headers[name] = f"{self._headers[name]}, {value}" if name in self._headers else value
            elif isinstance(event, h11.Data):
                self._body.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                self._complete()
                return
            elif isinstance(event, h11.ConnectionClosed):
                return

    def _complete(self) -> None:
        body = b"".join(self._body)
        encoding = next((v for k, v in self._headers.items() if k.lower() == "content-encoding"), "").lower()
        if encoding in ("gzip", "deflate"):
            body = zlib.decompress(body, 31 if encoding == "gzip" else 15)
        answer = RawResponse(self._status, self._reason, self._headers, body.decode("utf-8", errors="replace"))
        self._status, self._reason, self._headers, self._body = 0, "", {}, []
        future, self._answer = self._answer, None
        if self.parser.our_state is h11.DONE and self.parser.their_state is h11.DONE:
            self.parser.start_next_cycle()
        else:
            self.close()  # the server closes after this answer (Connection: close, HTTP/1.0)
        assert future is not None
        future.set_result(answer)

    def _fail(self, exc: BaseException) -> None:
        future, self._answer = self._answer, None
        self.close()
        if future is not None and not future.done():
            future.set_exception(exc)


def _expire(answer: asyncio.Future[RawResponse]) -> None:
    if not answer.done():
        answer.set_exception(TimeoutError("no complete answer before the deadline"))


class OrderLine:
    """Kept-alive HTTP/1.1 connections per origin for one exchange's orders; see the module docstring."""

    def __init__(self, exchange_id: str,
                 ssl_context: Callable[[], ssl.SSLContext | bool | None] = lambda: None) -> None:
        self.exchange_id = exchange_id
        self.ssl_context = ssl_context  # asked at each TLS connect: ccxt creates its context lazily
        self._idle: dict[Origin, list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self.connects = 0  # connections opened: each one is a handshake an order may have waited for
        self.closed = False

    def _idle_connection(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if connection.reusable():
                return connection
            self._discard(connection)
        return None

    async def _connect(self, origin: Origin) -> _Connection:
        loop = asyncio.get_running_loop()
        tls: ssl.SSLContext | bool | None = None
        if origin.scheme == "https":
            context = self.ssl_context()
            tls = context if isinstance(context, ssl.SSLContext) else _unverified()
        _, connection = await loop.create_connection(
            _Connection, origin.host, origin.port, ssl=tls, server_hostname=origin.host if tls else None)
        self.connects += 1
        self._open.add(connection)
        return connection

    async def send(self, request: RawRequest, timeout_s: float) -> RawResponse:
        """Write ``request`` and return its answer. With an open connection to its origin the bytes are on
        the socket before this coroutine first yields.

        The deadline is a timer on the answer, set after the write, not ``asyncio.timeout``: nothing here
        depends on which task is the current one (a leg's first step runs in its caller's turn,
        ``arb/eventloop/eager.py``)."""
        if self.closed:
            raise ccxt.ExchangeClosedByUser(f"{self.exchange_id} instance was closed by the user")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        connection = self._idle_connection(request.origin)
        # Written before anything else, the deadline's timer included: the bytes leave in this call.
        answer = connection.write(request) if connection is not None else None
        timer: asyncio.TimerHandle | None = None
        try:
            if answer is None:
                connection = await asyncio.wait_for(self._connect(request.origin), timeout_s)
                answer = connection.write(request)
            timer = loop.call_at(deadline, _expire, answer)
            response = await answer
        except BaseException as exc:
            if connection is not None:
                self._discard(connection)  # its answer, if one still comes, must never reach another request
            if isinstance(exc, TimeoutError):
                raise ccxt.RequestTimeout(f"{self._what(request)} timed out") from exc
            if isinstance(exc, (h11.ProtocolError, zlib.error)):
                raise ccxt.ExchangeError(f"{self._what(request)} failed: {type(exc).__name__}") from exc
            if isinstance(exc, OSError):
                raise ccxt.ExchangeNotAvailable(f"{self._what(request)} failed: {type(exc).__name__}") from exc
            raise  # cancelled, or a bug: as it is
        finally:
            if timer is not None:
                timer.cancel()
        assert connection is not None
        if connection.reusable() and not self.closed:
            idle = self._idle.setdefault(request.origin, [])
            if len(idle) < MAX_IDLE_PER_ORIGIN:
                idle.append(connection)
            else:
                self._discard(connection)
        else:
            self._discard(connection)
        return response

    def _what(self, request: RawRequest) -> str:
        return f"{self.exchange_id} {request.method} {request.target.split('?')[0]}"  # never headers or body

    def _discard(self, connection: _Connection) -> None:
        connection.close()
        self._open.discard(connection)

    async def close(self) -> None:
        self.closed = True
        self._idle.clear()
        for connection in list(self._open):
            self._discard(connection)
        await asyncio.sleep(0)  # let the transports' connection_lost run before the loop may close


def _unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def ssl_context_of(exchange: Any) -> ssl.SSLContext | bool | None:
    """The TLS context ccxt's own session would use (``Exchange.open`` creates it)."""
    exchange.open(True)
    return getattr(exchange, "ssl_context", None)
