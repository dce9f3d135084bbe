"""A captured request serialized as ccxt's ``fetch`` would write it: the payload of a live ``PreparedOrder``.

ccxt's ``fetch`` adds its session's headers to the signed ones and reads its proxy settings and timeout
before writing; :class:`Serializer` does the same once, at prepare time, and turns the request into the
exact bytes of an HTTP/1.1 request (:class:`arb.venues.order_line.RawRequest`) for the order line. A proxied
exchange keeps ccxt's ``fetch`` (its proxy handling is not repeated here): its request has no bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from arb.venues.order_line import RawRequest


@dataclass(frozen=True, slots=True)
class WireRequest:
    """What ccxt would have written for an order: the payload of a live :class:`PreparedOrder`."""

    url: str
    method: str
    headers: dict[str, str] | None = field(repr=False)  # signed: carries the API key
    body: str | None = field(repr=False)
    market: dict[str, Any] = field(repr=False)  # ccxt's market, for parse_order
    # The bytes for the order line, with the headers ccxt's session adds; None when a proxy is configured
    # (``send`` then goes through ccxt's fetch).
    raw: RawRequest | None = field(default=None, repr=False)
    request_headers: dict[str, str] = field(default_factory=dict, repr=False)  # signed + session/UA
    timeout_s: float = 0.0

    @property
    def direct(self) -> bool:
        return self.raw is not None


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """What ccxt's ``fetch`` adds to every request of one exchange, read once (the first request built):
    whether it goes through a proxy, the headers its session adds, its timeout. arb configures an
    exchange when it opens it and never changes these after, so an order does not pay ccxt's proxy checks
    and header merge again (about a tenth of building and signing a leg)."""

    proxied: bool
    headers: dict[str, str]  # added after the signed ones (ccxt's ``prepare_request_headers`` order)
    timeout_s: float

    @classmethod
    def of(cls, exchange: Any, url: str, method: str, signed: dict[str, str] | None, body: Any) -> SessionFacts:
        proxied = (
            exchange.check_proxy_url_settings(url, method, signed, body) is not None
            or any(p for p in exchange.check_proxy_settings(url, method, signed, body))
            or exchange.aiohttp_proxy
            or exchange.aiohttp_trust_env  # proxies from the environment: aiohttp's business, not the line's
        )
        return cls(bool(proxied), exchange.prepare_request_headers({}), exchange.timeout / 1000)


def wire_request(facts: SessionFacts, url: str, method: str, signed: dict[str, str] | None, body: Any,
                 market: dict[str, Any]) -> WireRequest:
    """Everything ccxt's ``fetch`` computes before writing, computed now (see ccxt's ``fetch``)."""
    if facts.proxied or not isinstance(body, str | None):
        return WireRequest(url, method, signed, body, market)
    headers = {**signed, **facts.headers} if signed else dict(facts.headers)
    return WireRequest(
        url, method, signed, body, market,
        raw=RawRequest.build(url, method, headers, body.encode() if body is not None else None),
        request_headers=headers,
        timeout_s=facts.timeout_s,
    )


class Serializer:
    """One exchange's requests as ccxt's ``fetch`` would write them, its session facts read at the first."""

    def __init__(self, exchange: Any) -> None:
        self._exchange = exchange
        self._facts: SessionFacts | None = None

    def __call__(self, url: str, method: str, signed: dict[str, str] | None, body: Any,
                 market: dict[str, Any]) -> WireRequest:
        facts = self._facts
        if facts is None:
            facts = self._facts = SessionFacts.of(self._exchange, url, method, signed, body)
        return wire_request(facts, url, method, signed, body, market)
