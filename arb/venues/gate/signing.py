"""Gate API v4 request signing ("double hash"), as pure functions.

The signature string is five lines joined by ``\\n``: METHOD, the path *with* ``/api/v4``, the raw query
string in wire order (not URL-encoded, "" when none), the lowercase hex SHA-512 of the exact body bytes
(of b"" when there is no body), and the timestamp in **seconds** exactly as sent in the ``Timestamp``
header. ``SIGN`` is the lowercase hex HMAC-SHA-512 of that string keyed with the secret as UTF-8 text.
See ../shared/gate-v4.md for the facts and the official documentation vectors.
"""

from __future__ import annotations

import hashlib
import hmac

EMPTY_BODY_HASH = hashlib.sha512(b"").hexdigest()


def body_hash(body: bytes | str | None) -> str:
    if body is None:
        return EMPTY_BODY_HASH
    if isinstance(body, str):
        body = body.encode("utf-8")
    return hashlib.sha512(body).hexdigest()


def signature_payload(method: str, path: str, query: str, body: bytes | str | None, timestamp: str) -> str:
    return "\n".join((method.upper(), path, query, body_hash(body), timestamp))


def sign_payload(payload: str, secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), payload.encode("utf-8"), hashlib.sha512).hexdigest()


def sign_request(
    method: str,
    path: str,
    query: str,
    body: bytes | str | None,
    timestamp: str,
    key: str,
    secret: str,
) -> dict[str, str]:
    """Headers for one private REST request. ``path`` must include ``/api/v4``."""
    if not path.startswith("/api/v4/"):
        raise ValueError(f"Gate signs the full path with the /api/v4 prefix, got {path!r}")
    sign = sign_payload(signature_payload(method, path, query, body, timestamp), secret)
    return {
        "KEY": key,
        "Timestamp": timestamp,
        "SIGN": sign,
        "Content-Type": "application/json",
    }


def sign_ws_channel(channel: str, event: str, time_s: int, secret: str) -> str:
    """``SIGN`` for a private WebSocket subscription: HMAC-SHA-512 hex of ``channel=..&event=..&time=..``."""
    return sign_payload(f"channel={channel}&event={event}&time={time_s}", secret)
