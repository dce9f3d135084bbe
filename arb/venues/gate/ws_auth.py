"""Authentication of private WebSocket v4 subscriptions (``spot.orders``, ``spot.usertrades``, ...).

Gate signs ``channel=<channel>&event=<event>&time=<time>`` with HMAC-SHA-512 (hex, secret as UTF-8);
``time`` is the frame's own ``time`` field in seconds, so the frame and the signature are built together
here and cannot disagree.
"""

from __future__ import annotations

from typing import Any

from arb.venues.gate.signing import sign_ws_channel


def channel_auth(channel: str, event: str, time_s: int, key: str, secret: str) -> dict[str, str]:
    """The ``auth`` object of a private subscribe/unsubscribe frame."""
    return {"method": "api_key", "KEY": key, "SIGN": sign_ws_channel(channel, event, time_s, secret)}


def private_frame(
    channel: str,
    payload: list[Any] | None,
    time_s: int,
    key: str,
    secret: str,
    *,
    event: str = "subscribe",
    request_id: int | None = None,
) -> dict[str, Any]:
    """A complete private subscription frame, ready to be JSON-encoded and sent."""
    frame: dict[str, Any] = {"time": time_s, "channel": channel, "event": event}
    if request_id is not None:
        frame["id"] = request_id
    frame["auth"] = channel_auth(channel, event, time_s, key, secret)
    if payload is not None:
        frame["payload"] = payload
    return frame
