"""The dashboard's server against what a hostile or unlucky client sends, over raw sockets to a real server
on loopback: requests aiohttp's parser refuses are one INFO line and a 400 (no traceback); every error of
``/api/...`` is JSON, the database deleted or replaced under it included; a request addressed to any
other host (DNS rebinding of the loopback page) is refused with 421.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from report.sample_run import write_sample_db

from arb.monitoring.dashboard.server import STATIC, STATIC_FILES, DashboardServer


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """An SQLite file holding the sample history (runs 1 and 2), closed: no writer has it open."""
    path = tmp_path / "arb.db"
    write_sample_db(path)
    return path


@pytest.fixture
def served(database: Path) -> Iterator[DashboardServer]:
    server = DashboardServer(f"sqlite:///{database}", 2, 0, refresh_s=0.05)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as is; the status, headers (lower-case names) and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def _get(server: DashboardServer, path: str, host: str | None = None, method: str = "GET") -> tuple[int, dict, bytes]:
    host = f"127.0.0.1:{server.port}" if host is None else host
    return _exchange(server.port, f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())


# ------------------------------------------------------------------ what aiohttp's parser refuses
def _long_header(port: int) -> bytes:
    return f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Big: {'a' * 100_000}\r\n\r\n".encode()


def _many_headers(port: int) -> bytes:
    many = "".join(f"X-H{i}: v\r\n" for i in range(3000))
    return f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{many}\r\n".encode()


def _raw_bytes(port: int) -> bytes:
    return b"GET /\xff\x00\x1b[2J HTTP/1.1\r\nHost: 127.0.0.1:" + str(port).encode() + b"\r\n\r\n"


def _long_url(port: int) -> bytes:
    return f"GET /{'a' * 65_536} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


@pytest.mark.parametrize("make", [_long_header, _many_headers, _raw_bytes, _long_url],
                         ids=["100 KB header", "3000 headers", "raw bytes in the request line", "64 KB URL"])
def test_a_request_the_parser_refuses_is_a_400_and_one_info_line(
    make: object, served: DashboardServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    status, _, _ = _exchange(served.port, make(served.port))  # type: ignore[operator]
    assert status == 400
    assert _get(served, "/api/state")[0] == 200  # the server carries on
    server_lines = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert [(r.levelname, r.exc_info) for r in server_lines] == [("INFO", None)], server_lines
    assert "HTTP 400" in server_lines[0].getMessage() and "\n" not in server_lines[0].getMessage()
    assert "\x1b" not in server_lines[0].getMessage()


# ------------------------------------------------------------------ Host: DNS rebinding
@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1:1", "localhost", "",
                                  "127.0.0.1.nip.io:{port}", "localhost.:{port}", "[::1]:{port}"])
@pytest.mark.parametrize("path", ["/", "/static/app.js", "/api/state", "/api/events"])
def test_a_request_for_another_host_is_refused(host: str, path: str, served: DashboardServer) -> None:
    status, headers, body = _get(served, path, host.format(port=served.port))
    assert status == 421 and headers["content-type"].startswith("application/json")
    assert f"answers requests for 127.0.0.1:{served.port} or localhost:{served.port} only" in json.loads(body)["error"]


def test_a_request_without_host_is_refused(served: DashboardServer) -> None:
    status, _, body = _exchange(served.port, b"GET /api/state HTTP/1.0\r\n\r\n")
    assert status == 421 and "error" in json.loads(body)


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LocalHost:{port}"])
def test_the_dashboards_own_addresses_are_served(host: str, served: DashboardServer) -> None:
    status, _, body = _get(served, "/api/state", host.format(port=served.port))
    assert status == 200 and json.loads(body)["run"]["id"] == 2
    assert _get(served, "/", host.format(port=served.port))[0] == 200


# ------------------------------------------------------------------ every API error is JSON
def test_unknown_paths_and_methods_of_the_api_are_json(served: DashboardServer) -> None:
    status, headers, body = _get(served, "/api/nope")
    assert (status, headers["content-type"]) == (404, "application/json; charset=utf-8")
    assert json.loads(body) == {"error": "GET /api/nope: Not Found"}
    status, headers, body = _get(served, "/api/state", method="POST")
    assert status == 405 and "GET" in headers["allow"]
    assert json.loads(body) == {"error": "POST /api/state: Method Not Allowed"}


def _replace_with_another_database(path: Path) -> None:
    other = path.with_name("other.db")
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.commit()
    conn.close()
    other.replace(path)


def _replace_with_a_copy(path: Path) -> None:
    copy = path.with_name("copy.db")
    shutil.copyfile(path, copy)
    copy.replace(path)  # the same rows, another file: the dashboard cannot know it is the same run


@pytest.mark.parametrize(("change", "said"), [(Path.unlink, "was deleted"),
                                              (_replace_with_another_database, "was replaced by another file"),
                                              (_replace_with_a_copy, "was replaced by another file")],
                         ids=["deleted", "replaced by another database", "replaced by a copy"])
@pytest.mark.parametrize("path", ["/api/state", "/api/events"])
def test_a_database_deleted_or_replaced_is_a_json_503(
    change: object, said: str, path: str, served: DashboardServer, database: Path
) -> None:
    assert _get(served, "/api/state")[0] == 200  # read once: the server has had it open
    change(database)  # type: ignore[operator]
    status, headers, body = _get(served, path)
    assert (status, headers["content-type"]) == (503, "application/json; charset=utf-8"), body
    assert json.loads(body) == {"error": f"cannot read run 2: sqlite:///{database} {said} after the dashboard started"}


# ------------------------------------------------------------------ /static/: the dashboard's own files only
STATIC_NAMES = st.one_of(
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/?#%"), min_size=1, max_size=400),
    st.integers(200, 5000).map(lambda n: "a" * n),  # past NAME_MAX (255): "File name too long" before
    st.sampled_from(["..", ".", "%2e%2e/server.py", "..%2fserver.py", "app.js/", "app.js/x", "sub/app.js",
                     "%00", "app.js%00", "APP.JS", "index.html.", "%2e", "a" * 255 + "/" + "b" * 255]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=STATIC_NAMES)
def test_a_static_path_that_is_not_one_of_the_dashboards_files_is_a_404(
    name: str, served: DashboardServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: ``GET /static/<300 characters>`` was a 500 and an ERROR with an ``OSError: File name too
    long`` traceback."""
    if name in STATIC_FILES:
        return
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        status = _get(served, "/static/" + name)[0]
    assert status == 404, name
    loud = [r for r in caplog.records if r.levelno > logging.DEBUG]
    assert loud == [], [r.getMessage() for r in loud]


@pytest.mark.parametrize("name", sorted(STATIC_FILES))
def test_the_dashboards_own_static_files_are_served(name: str, served: DashboardServer) -> None:
    status, headers, body = _get(served, "/static/" + name)
    assert status == 200 and body == (STATIC / name).read_bytes()
    assert _get(served, "/static/" + name, method="HEAD")[0] == 200
