"""The order line (``arb.venues.order_line``) against real loopback servers: kept-alive reuse, answers of
every framing, a server that closes, drops, stalls or talks nonsense, TLS with a verified certificate,
and the request bytes parsed back by h11 acting as the server."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import ccxt
import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arb.eventloop.eager import start_now
from arb.venues.order_line import OrderLine, Origin, RawRequest

Answer = Callable[[bytes], Awaitable[bytes | None]]  # request bytes -> answer bytes (None: hang up)
HANG_UP = b"<then hang up>"  # an answer ending with this is written without it, then the server hangs up


def _ok(body: bytes = b'{"ok":true}', *extra: str) -> bytes:
    head = "\r\n".join(("HTTP/1.1 200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}", *extra))
    return head.encode() + b"\r\n\r\n" + body


class Server:
    """A loopback HTTP/1.1 server that reads one request at a time and answers with ``answer``."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections = 0
        self.requests: list[bytes] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                reply = await self.answer(request)
                if reply is None:
                    break
                writer.write(reply.removesuffix(HANG_UP))
                await writer.drain()
                if b"Connection: close" in reply or reply.endswith(HANG_UP):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def serving(answer: Answer, tls: ssl.SSLContext | None = None) -> AsyncIterator[tuple[Server, str]]:
    server = Server(answer)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=tls)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield server, f"{'https' if tls else 'http'}://127.0.0.1:{port}/api/v4/spot/orders"
    finally:
        for writer in server.writers:
            writer.close()
        listener.close()
        await listener.wait_closed()


def order(url: str, body: bytes = b'{"text":"t-1"}') -> RawRequest:
    return RawRequest.build(url, "POST", {"KEY": "k", "SIGN": "s" * 128, "Content-Type": "application/json"}, body)


def stalling(release: asyncio.Event) -> Answer:
    """An answer that waits for ``release`` before it is written."""

    async def stall(_request: bytes) -> bytes:
        await release.wait()
        return _ok()

    return stall


async def always_ok(_request: bytes) -> bytes:
    return _ok()


async def test_orders_share_one_kept_alive_connection() -> None:
    async with serving(always_ok) as (server, url):
        line = OrderLine("gate")
        for _ in range(3):
            answer = await line.send(order(url), 5.0)
            assert (answer.status, answer.text) == (200, '{"ok":true}')
        assert (server.connections, line.connects) == (1, 1)
        # Two at once: one request per connection, so the second opens its own; both are kept afterwards.
        await asyncio.gather(line.send(order(url), 5.0), line.send(order(url), 5.0))
        assert server.connections == 2
        await line.close()


async def test_chunked_gzip_and_repeated_headers_are_read_as_ccxt_reads_them() -> None:
    body = gzip.compress(b'{"id":"123","text":"t-1"}')
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:7], body[7:])) + b"0\r\n\r\n"

    async def chunked(_request: bytes) -> bytes:
        return (b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n"
                b"X-Seen: a\r\nX-Seen: b\r\n\r\n" + chunks)

    async with serving(chunked) as (server, url):
        line = OrderLine("gate")
        answer = await line.send(order(url), 5.0)
        assert (answer.status, answer.reason, answer.text) == (201, "Created", '{"id":"123","text":"t-1"}')
        assert answer.headers["X-Seen"] == "a, b"
        await line.send(order(url), 5.0)
        assert server.connections == 1  # a chunked answer ends cleanly: the connection stays usable
        await line.close()


async def test_an_answer_delimited_by_the_close_is_read_whole() -> None:
    async def until_close(_request: bytes) -> bytes:
        return b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"id":"7"}' + HANG_UP

    async with serving(until_close) as (server, url):
        line = OrderLine("gate")
        assert (await line.send(order(url), 5.0)).text == '{"id":"7"}'
        assert (await line.send(order(url), 5.0)).text == '{"id":"7"}'
        assert server.connections == 2  # the first connection ended with its answer
        await line.close()


async def test_a_connection_the_server_closes_is_never_written_to_again() -> None:
    async def then_close(_request: bytes) -> bytes:
        return _ok(b"{}", "Connection: close")

    async with serving(then_close) as (server, url):
        line = OrderLine("gate")
        await line.send(order(url), 5.0)
        await line.send(order(url), 5.0)
        assert server.connections == 2 and len(server.requests) == 2

    async with serving(always_ok) as (server, url):
        line = OrderLine("gate")
        await line.send(order(url), 5.0)
        origin = Origin.of(url)
        idle = line._idle[origin][0]
        server.writers[0].close()  # the venue drops an idle keep-alive connection
        while not idle.closed:  # the loop sees the FIN on its next poll
            await asyncio.sleep(0)
        answer = await line.send(order(url), 5.0)
        assert answer.status == 200 and server.connections == 2 and len(server.requests) == 2
        await line.close()


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (None, ccxt.ExchangeNotAvailable),  # hung up without an answer: the order may or may not be in
        (b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"partial" + HANG_UP, ccxt.ExchangeNotAvailable),  # cut off
        (b"SMTP ready\r\n\r\n", ccxt.ExchangeError),  # not HTTP
    ],
)
async def test_a_lost_or_malformed_answer_fails_as_ccxt_fetch_would(reply: bytes | None,
                                                                    expected: type[Exception]) -> None:
    async def answer(_request: bytes) -> bytes | None:
        return reply

    async with serving(answer) as (_server, url):
        line = OrderLine("gate")
        with pytest.raises(expected) as caught:
            await line.send(order(url), 5.0)
        assert type(caught.value) is expected
        text = str(caught.value)
        assert text.startswith("gate POST /api/v4/spot/orders") and "SIGN" not in text and "t-1" not in text
        assert not line._open  # the broken connection is gone
        await line.close()


async def test_no_answer_within_the_timeout_is_a_request_timeout_and_the_connection_is_dropped() -> None:
    release = asyncio.Event()
    async with serving(stalling(release)) as (server, url):
        line = OrderLine("gate")
        with pytest.raises(ccxt.RequestTimeout):
            await line.send(order(url), 0.05)
        release.set()
        # The late answer can never be taken for the next order's: that one goes on a new connection.
        answer = await line.send(order(url), 5.0)
        assert answer.status == 200 and server.connections == 2
        await line.close()


async def test_a_send_started_eagerly_times_out_alone() -> None:
    # The executor starts each leg's send with ``start_now``: its first step runs in the caller's turn, and
    # the answer's deadline (a timer of its own) cancels nothing but that leg.
    release = asyncio.Event()
    async with serving(stalling(release)) as (_server, url):
        line = OrderLine("gate")
        release.set()
        assert (await line.send(order(url), 5.0)).status == 200  # opens the connection the leg writes on
        release.clear()
        leg = start_now(line.send(order(url), 0.05))
        assert not any(line._idle.values())  # the idle connection was taken and written to in the first step

        async def other_leg() -> str:
            await asyncio.sleep(0.1)  # answers after the first leg's deadline
            return "answered"

        # As the executor awaits a pair: the timed-out leg fails alone; its deadline cancels nothing else.
        results = await asyncio.gather(leg, start_now(other_leg()), return_exceptions=True)
        assert isinstance(results[0], ccxt.RequestTimeout) and results[1] == "answered"
        release.set()
        await line.close()


async def test_nothing_listening_is_exchange_not_available() -> None:
    async with serving(always_ok) as (_server, url):
        pass  # closed: the port refuses
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await OrderLine("gate").send(order(url), 5.0)


async def test_a_closed_line_refuses_as_a_closed_ccxt_exchange_does() -> None:
    async with serving(always_ok) as (_server, url):
        line = OrderLine("gate")
        await line.send(order(url), 5.0)
        await line.close()
        with pytest.raises(ccxt.ExchangeClosedByUser):
            await line.send(order(url), 5.0)


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


async def test_tls_with_the_exchanges_context_verifies_the_venue(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    async with serving(always_ok, server_tls) as (server, url):
        trusting = ssl.create_default_context(cafile=str(cert))
        line = OrderLine("gate", lambda: trusting)
        assert (await line.send(order(url), 5.0)).status == 200
        assert (await line.send(order(url), 5.0)).status == 200
        assert server.connections == 1
        await line.close()
        # ccxt's default context (certifi's CAs) does not know this certificate: refused before any byte.
        strict = OrderLine("gate", lambda: ssl.create_default_context())
        with pytest.raises(ccxt.ExchangeNotAvailable):
            await strict.send(order(url), 5.0)
        assert len(server.requests) == 2
        await strict.close()


_token = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"), min_size=1,
                 max_size=20)
_value = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80).map(str.strip)


@settings(max_examples=200, deadline=None)
@given(method=st.sampled_from(["POST", "DELETE", "GET", "PATCH"]),
       path=st.lists(_token, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts)),
       query=st.one_of(st.just(""), st.lists(st.tuples(_token, _token), min_size=1, max_size=3).map(
           lambda pairs: "&".join(f"{k}={v}" for k, v in pairs))),
       headers=st.dictionaries(_token.filter(lambda n: n.lower() not in ("host", "content-length",
                                                                          "transfer-encoding")),
                               _value, max_size=6),
       body=st.one_of(st.none(), st.binary(max_size=300)),
       port=st.integers(1, 65535))
def test_request_bytes_parse_back_to_the_same_request(method: str, path: str, query: str,
                                                      headers: dict[str, str], body: bytes | None,
                                                      port: int) -> None:
    """h11, as the server, reads exactly the method, target, headers and body that were asked for."""
    url = f"http://127.0.0.1:{port}{path}" + (f"?{query}" if query else "")
    raw = RawRequest.build(url, method, headers, body)
    assert f"data={raw.data!r}" not in repr(raw)  # the signed headers are in it (the word may be in a query)
    server = h11.Connection(h11.SERVER)
    server.receive_data(raw.data)
    request = server.next_event()
    assert isinstance(request, h11.Request)
    assert request.method.decode() == method
    assert request.target.decode() == path + (f"?{query}" if query else "")
    got = [(name.decode(), value.decode()) for name, value in request.headers.raw_items()]
    assert got[0] == ("Host", "127.0.0.1" if port == 80 else f"127.0.0.1:{port}")
    assert [(n, v) for n, v in got[1:] if n != "Content-Length"] == list(headers.items())
    received = b""
    while True:
        event = server.next_event()
        if isinstance(event, h11.EndOfMessage):
            break
        assert isinstance(event, h11.Data)
        received += event.data
    assert received == (body or b"")
