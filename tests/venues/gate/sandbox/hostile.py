"""Helpers for the hostile-input tests: raw requests into a sandbox, Gate's error shapes, log capture."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import unquote

import aiohttp
from yarl import URL

from arb.venues.gate.sandbox import Sandbox
from arb.venues.gate.signing import sign_payload, signature_payload

from .conftest import KEY, SECRET

# Every label the sandbox may answer with; a label outside it does not name a cause Gate would name.
GATE_LABELS = frozenset(
    {
        "AMOUNT_TOO_LITTLE",
        "BAD_REQUEST",
        "BALANCE_NOT_ENOUGH",
        "INVALID_CURRENCY",
        "INVALID_CURRENCY_PAIR",
        "INVALID_KEY",
        "INVALID_PARAM_VALUE",
        "INVALID_PRECISION",
        "INVALID_REQUEST_BODY",
        "INVALID_SIGNATURE",
        "METHOD_NOT_ALLOWED",
        "MISSING_REQUIRED_HEADER",
        "MISSING_REQUIRED_PARAM",
        "NOT_FOUND",
        "ORDER_CLOSED",
        "ORDER_NOT_FOUND",
        "POC_FILL_IMMEDIATELY",
        "REPEATED_CREATION",
        "REQUEST_EXPIRED",
        "TOO_MANY_REQUESTS",
    }
)


def signed_headers(
    method: str,
    raw_path: str,
    raw_query: str,
    body: bytes,
    timestamp: str,
    key: str = KEY,
    secret: str = SECRET,
) -> dict[str, str]:
    """Gate's headers for exactly these wire bytes (the query signed percent-decoded, as Gate does)."""
    payload = signature_payload(method, raw_path, unquote(raw_query), body, timestamp)
    return {"KEY": key, "Timestamp": timestamp, "SIGN": sign_payload(payload, secret)}


async def raw_request(
    session: aiohttp.ClientSession,
    sb: Sandbox,
    method: str,
    raw_path: str,
    raw_query: str = "",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, dict[str, str]]:
    """Send the path and query bytes exactly as given (no client-side normalisation)."""
    url = URL(sb.base_url + raw_path + (f"?{raw_query}" if raw_query else ""), encoded=True)
    async with session.request(method, url, data=body, headers=headers or {}) as resp:
        return resp.status, await resp.read(), dict(resp.headers)


def assert_gate_error(status: int, body: bytes, headers: dict[str, str]) -> str:
    """A 4xx whose body is exactly Gate's ``{"label", "message"}`` with a known label; returns the label."""
    assert 400 <= status < 500, (status, body[:300])
    assert headers.get("Content-Type", "").startswith("application/json"), headers
    error = json.loads(body)
    assert isinstance(error, dict) and set(error) == {"label", "message"}, error
    assert error["label"] in GATE_LABELS and isinstance(error["message"], str), error
    return str(error["label"])


class ServerLog(logging.Handler):
    """Every record at WARNING or above, or carrying a traceback, from any logger while installed."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.bad: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING or record.exc_info:
            self.bad.append(record)

    def lines(self) -> list[str]:
        return [f"{r.name}: {r.getMessage()}" for r in self.bad]


@contextmanager
def server_log() -> Iterator[ServerLog]:
    handler = ServerLog()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    if old_level > logging.WARNING:
        root.setLevel(logging.WARNING)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
