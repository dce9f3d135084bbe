"""Gate v4 request authentication, recomputed from what arrived on the wire.

The verifier uses the same pure signer as our client (``arb.venues.gate.signing``) but feeds it only what
the server received: the method, the path byte-for-byte as sent, the raw query string percent-decoded in wire order, the
exact body bytes and the ``Timestamp`` header string. A client that signs anything else (the path
without ``/api/v4``, the raw body instead of its hash, a sorted query) therefore fails here exactly as it
would fail at Gate. Checked against Gate's official SDK in tests/sandbox/test_auth.py.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from urllib.parse import unquote

from arb.sandbox.apierror import GateApiError
from arb.venues.gate.signing import sign_payload, sign_ws_channel, signature_payload

MAX_SKEW_S = 60.0


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
    try:
        ts = float(timestamp)
    except ValueError:
        raise GateApiError(401, "REQUEST_EXPIRED", "Timestamp is not a number of seconds") from None
    if abs(now_s - ts) > MAX_SKEW_S:
        raise GateApiError(
            401, "REQUEST_EXPIRED", f"gap between request Timestamp and server time exceeds {MAX_SKEW_S:.0f}"
        )
    payload = signature_payload(method, raw_path, unquote(raw_query), body, timestamp)
    if not hmac.compare_digest(sign_payload(payload, secret), sign):
        raise GateApiError(401, "INVALID_SIGNATURE", "Signature mismatch")
    return str(key)


def verify_ws_auth(channel: str, event: str, time_s: int, auth: object, secrets: Mapping[str, str]) -> str:
    """Check a private WebSocket subscription's ``auth``; return the key or raise with Gate's label."""
    if not isinstance(auth, dict) or auth.get("method") != "api_key":
        raise GateApiError(401, "MISSING_REQUIRED_HEADER", "auth with method api_key is required")
    key, sign = auth.get("KEY"), auth.get("SIGN")
    secret = secrets.get(key) if isinstance(key, str) else None
    if secret is None:
        raise GateApiError(401, "INVALID_KEY", "Invalid key provided")
    if not isinstance(sign, str) or not hmac.compare_digest(
        sign_ws_channel(channel, event, time_s, secret), sign
    ):
        raise GateApiError(401, "INVALID_SIGNATURE", "Signature mismatch")
    return str(key)
