"""Gate v4 request authentication, recomputed from what arrived on the wire.

The verifier uses the same pure signer as our client (``arb.venues.gate.signing``) but feeds it only what
the server received: the method, the path byte-for-byte as sent, the raw query string percent-decoded in wire order, the
exact body bytes and the ``Timestamp`` header string. A client that signs anything else (the path
without ``/api/v4``, the raw body instead of its hash, a sorted query) therefore fails here exactly as it
would fail at Gate. Checked against Gate's official SDK in tests/venues/gate/sandbox/test_auth.py.
"""

from __future__ import annotations

import hmac
import math
import re
from collections.abc import Mapping
from urllib.parse import unquote

from arb.venues.gate.sandbox.apierror import GateApiError
from arb.venues.gate.signing import sign_payload, sign_ws_channel, signature_payload

MAX_SKEW_S = 60.0
# Unix seconds as clients send them: ccxt an integer, Gate's SDK ``str(time.time())``. Nothing else parses
# (no sign, exponent, spaces, underscores, non-ASCII digits, ``nan`` or ``inf``, all of which ``float`` takes).
TIMESTAMP_RE = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,20})?")


def parse_timestamp(text: str) -> float:
    """Seconds from a ``Timestamp`` header, or Gate's ``REQUEST_EXPIRED`` when it is not a plain number."""
    if not TIMESTAMP_RE.fullmatch(text):
        raise GateApiError(401, "REQUEST_EXPIRED", "Timestamp must be Unix time in seconds, e.g. 1700000000")
    return float(text)


def check_window(ts_s: float, now_s: float) -> None:
    """Gate's 60-second window; a non-finite time on either side is outside it (``nan`` compares false)."""
    if not (math.isfinite(ts_s) and math.isfinite(now_s) and abs(now_s - ts_s) <= MAX_SKEW_S):
        raise GateApiError(
            401, "REQUEST_EXPIRED", f"gap between request Timestamp and server time exceeds {MAX_SKEW_S:.0f}"
        )


def same_sign(expected: str, given: object) -> bool:
    """Constant-time comparison that never raises (``compare_digest`` refuses non-ASCII ``str``)."""
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogateescape"))


def verify_request(
    method: str,
    raw_path: str,
    raw_query: str,
    body: bytes,
    headers: Mapping[str, str],
    secrets: Mapping[str, str],
    now_s: float,
) -> str:
    """Return the API key of an authentic request, or raise the :class:`GateApiError` Gate would send."""
    key = headers.get("KEY")
    sign = headers.get("SIGN")
    timestamp = headers.get("Timestamp")
    if not key or not sign or not timestamp:
        raise GateApiError(401, "MISSING_REQUIRED_HEADER", "Missing required header: KEY, SIGN or Timestamp")
    secret = secrets.get(key)
    if secret is None:
        raise GateApiError(401, "INVALID_KEY", "Invalid key provided")
    check_window(parse_timestamp(timestamp), now_s)
    payload = signature_payload(method, raw_path, unquote(raw_query), body, timestamp)
    if not same_sign(sign_payload(payload, secret), sign):
        raise GateApiError(401, "INVALID_SIGNATURE", "Signature mismatch")
    return str(key)


def verify_ws_auth(
    channel: str, event: str, time_s: object, auth: object, secrets: Mapping[str, str], now_s: float
) -> str:
    """Check a private WebSocket subscription's ``auth`` and the frame's ``time`` (integer seconds, within
    the same 60-second window as REST); return the key or raise with Gate's label."""
    if not isinstance(auth, dict) or auth.get("method") != "api_key":
        raise GateApiError(401, "MISSING_REQUIRED_HEADER", "auth with method api_key is required")
    key, sign = auth.get("KEY"), auth.get("SIGN")
    secret = secrets.get(key) if isinstance(key, str) else None
    if secret is None:
        raise GateApiError(401, "INVALID_KEY", "Invalid key provided")
    if isinstance(time_s, bool) or not isinstance(time_s, int):
        raise GateApiError(401, "REQUEST_EXPIRED", "time must be Unix time in integer seconds")
    check_window(float(time_s) if abs(time_s) < 10**15 else math.inf, now_s)
    if not same_sign(sign_ws_channel(channel, event, time_s, secret), sign):
        raise GateApiError(401, "INVALID_SIGNATURE", "Signature mismatch")
    return str(key)
