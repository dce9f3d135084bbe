"""``GateExchange``: ccxt's Gate class with arb's own signer, server clock, WS auth and error labels.

Subclasses ``ccxt.pro.gate`` so every ccxt method (implicit endpoints, unified methods, ``watch_*``)
keeps working, and replaces exactly four things:

- ``sign``: builds URL, query and body itself and signs with :func:`arb.venues.gate.signing.sign_request`.
  The signed path is the URL's own path (``/api/v4/...``), the signed query the decoded form of the
  query on the wire, the body hash covers the exact string sent, and the ``Timestamp`` header is the
  very string that was signed. ccxt's gate ``sign`` is never called.
- ``nonce``: Gate's clock as estimated by :class:`ServerClock` (``GET /spot/time`` at start and every
  few minutes); ``fetch2`` re-measures on ``REQUEST_EXPIRED`` and retries a GET once, never a POST/DELETE.
- ``handle_errors``: raises the ccxt exception ccxt would, with a :class:`GateErrorInfo` attached (label,
  status, ``X-Gate-RateLimit-Reset-Timestamp``) for :func:`arb.venues.gate.errors.translate`.
- ``subscribe_private``: private WS frames from :mod:`arb.venues.gate.ws_auth`, timed by the server clock.

Pointing it at a local Gate-compatible server: :meth:`GateExchange.for_endpoint`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import ccxt
import ccxt.pro

from arb.eventloop.clock import from_ms
from arb.venues.gate.clock import ServerClock
from arb.venues.gate.errors import GateErrorInfo, gate_label, reset_at_from_headers
from arb.venues.gate.markets import ccxt_spot_markets
from arb.venues.gate.orders import BuiltOrder, on_tick, spot_limit_order
from arb.venues.gate.request import (
    UNPREFIXED_SECTIONS,
    EncodedQuery,
    encode_body,
    encode_query,
    params_in_query,
)
from arb.venues.gate.signing import SigningKey, sign_request
from arb.venues.gate.ws_auth import private_frame
from arb.venues.live.exact_balances import ExactBalances
from arb.venues.tls import share_tls

log = logging.getLogger(__name__)

API_PREFIX = "/api/v4"
# Gate error messages are short; cap what we copy into exception text anyway.
MAX_MESSAGE_CHARS = 200


class _OrderFacts(NamedTuple):
    """What building a spot order reads of its market and URL, read once: the ticks are
    ``Decimal(repr(float))`` and the URL is split, on every order otherwise."""

    market: dict[str, Any]  # ccxt's market they were read from (a reload makes a new one)
    amount_tick: Decimal
    price_tick: Decimal
    base_url: str
    base_path: str


class GateExchange(ExactBalances, ccxt.pro.gate):
    """Gate spot (and futures) client; see the module docstring for what differs from ccxt's gate."""

    def __init__(self, config: dict[str, Any] | None = None, *, clock: ServerClock | None = None) -> None:
        super().__init__(dict(config or {}))
        share_tls(self)
        self.clock = clock if clock is not None else ServerClock(self.milliseconds)
        self._clock_lock = asyncio.Lock()
        self._order_facts: dict[str, _OrderFacts] = {}  # per symbol: what building an order reads of it
        # The (apiKey, secret) that last passed ccxt's check_required_credentials, and the secret's signing key
        # (``_signing_key``): the check reads every credential ccxt knows (nine getattrs) and Gate requires
        # these two, so a request checks again, and sets up a new key, only when they change.
        self._checked_credentials: tuple[Any, Any] | None = None
        self._key: SigningKey | None = None

    # -- construction ------------------------------------------------------------------------------

    @classmethod
    def for_endpoint(
        cls,
        rest_url: str,
        ws_url: str | None,
        api_key: str,
        secret: str,
        *,
        pairs: Iterable[Mapping[str, Any]] | None = None,
        clock: ServerClock | None = None,
        **ccxt_config: Any,
    ) -> GateExchange:
        """A client whose every REST section and spot WS point at one Gate-compatible server.

        ``rest_url`` must end in ``/api/v4`` (e.g. ``http://127.0.0.1:8080/api/v4``): Gate signs the full
        path, so the server must serve under that prefix. ``ws_url`` (e.g. ``ws://127.0.0.1:8080/ws/v4/``)
        is used for spot ``watch_*``. Defaults suited to such a server (override through
        ``options=...``): ``unifiedAccount=False`` (no ``/account/detail`` call before orders/balances),
        ``load_markets`` reads only ``/spot/currency_pairs`` (no margin, futures or currency lists).
        ``pairs``: ``/spot/currency_pairs`` entries to install as markets now, with no network call.
        ``ccxt_config`` is passed to ccxt (``timeout``, ``enableRateLimit``, ``verbose``, ``options``...).

        Example::

            gate = GateExchange.for_endpoint("http://127.0.0.1:8080/api/v4", "ws://127.0.0.1:8080/ws/v4/",
                                             key, secret, pairs=pairs)
            try:
                await gate.create_order("BTC/USDT", "limit", "buy", 0.001, 60000, {"timeInForce": "IOC"})
            finally:
                await gate.close()
        """
        rest = rest_url.rstrip("/")
        if not urlsplit(rest).path.endswith(API_PREFIX):
            raise ValueError(f"rest_url must end with {API_PREFIX} (Gate signs the full path), got {rest_url!r}")
        config: dict[str, Any] = dict(ccxt_config)
        options = {
            "unifiedAccount": False,
            "fetchMarkets": {"types": ["spot"]},
            "arbFetchMarginPairs": False,
            **config.pop("options", {}),
        }
        config.update(apiKey=api_key, secret=secret, options=options)
        if urlsplit(rest).scheme == "http":
            # ccxt's close sleeps ``timeout_on_exit`` (250 ms) for TLS connections to shut down, as aiohttp
            # advises for SSL only; plain HTTP (the sandbox, in-process or `arb sandbox`) has nothing to drain,
            # and every run's end waited that long for nothing.
            config.setdefault("timeout_on_exit", 0)
        exchange = cls(config, clock=clock)
        exchange.has = {**exchange.has, "fetchCurrencies": False}
        for access in ("public", "private"):
            sections = exchange.urls["api"][access]
            for section in sections:
                sections[section] = rest
        if ws_url is not None:
            exchange.urls["api"]["spot"] = ws_url
        if pairs is not None:
            exchange.set_spot_markets(pairs)
        return exchange

    def set_spot_markets(self, pairs: Iterable[Mapping[str, Any]]) -> None:
        """Install markets from ``/spot/currency_pairs`` entries without touching the network."""
        self.set_markets(ccxt_spot_markets(pairs))

    def __repr__(self) -> str:
        # Never the credentials; the base URL is what tells two instances apart in logs.
        return f"GateExchange(rest={self.urls['api']['private']['spot']!r})"

    async def public_margin_get_currency_pairs(self, params: dict[str, Any] | None = None) -> Any:
        # ccxt's fetch_spot_markets also reads margin pairs (only for leverage data); a local sandbox
        # need not serve them. (ccxt aliases the camelCase name to this snake_case one per class.)
        if self.options.get("arbFetchMarginPairs", True) is False:
            return []
        return await super().public_margin_get_currency_pairs(params or {})

    # -- clock -------------------------------------------------------------------------------------

    def nonce(self) -> int:
        """Gate's clock in ms as estimated from the last ``/spot/time`` measurement."""
        return self.clock.server_now_ms()

    async def sync_clock(self, *, force: bool = False) -> int | None:
        """Measure the server clock offset if due (or ``force``); returns the offset in ms."""
        async with self._clock_lock:
            if force or self.clock.due():
                await self.clock.sync(self.fetch_time)
                self.options["timeDifference"] = self.clock.offset_ms
        return self.clock.offset_ms

    async def _ensure_clock(self) -> None:
        try:
            await self.sync_clock()
        except ccxt.BaseError:
            if self.clock.offset_ms is None:
                raise
            # A stale offset is still far better than none; next private request tries again.
            log.warning("gate clock resync failed; keeping offset %d ms", self.clock.offset_ms)

    async def fetch2(
        self,
        path: str,
        api: Any = ["public"],  # noqa: B006  # ccxt's signature
        method: str = "GET",
        params: Any = {},  # noqa: B006
        config: Any = {},  # noqa: B006
    ) -> Any:
        if api[0] == "private":
            await self._ensure_clock()
        try:
            return await super().fetch2(path, api, method, params, config)
        except ccxt.AuthenticationError as exc:
            if gate_label(exc) != "REQUEST_EXPIRED":
                raise
            # Our Timestamp was >60 s off Gate's clock: re-measure for every later request. Only reads
            # are repeated; an order submission or cancel is surfaced to the executor, which decides.
            await self.sync_clock(force=True)
            if method != "GET":
                raise
            log.warning("gate REQUEST_EXPIRED on GET %s; clock resynced, retrying once", path)
            return await super().fetch2(path, api, method, params, config)

    # -- orders ------------------------------------------------------------------------------------

    async def arm_cancel_all(self, timeout_s: int, symbol: str | None = None) -> datetime | None:
        """Gate's dead man's switch (``POST /spot/countdown_cancel_all``): unless this is called again within
        ``timeout_s`` seconds, Gate cancels the account's open spot orders, of ``symbol`` only when one is
        given. Each call starts the countdown afresh; ``timeout_s`` 0 ends it (Gate wants at least 5 s
        otherwise, and refuses less with ``INVALID_PARAM_VALUE``). When it will fire, by Gate's clock; None
        once ended. Signed like every request here (``sign``), through ccxt's implicit endpoint."""
        body: dict[str, Any] = {"timeout": timeout_s}
        if symbol is not None:
            body["currency_pair"] = self.market(symbol)["id"]
        answer = await self.private_spot_post_countdown_cancel_all(body)
        return from_ms(int(answer["triggerTime"])) if timeout_s else None

    async def build_limit_order(self, symbol: str, side: str, amount: Decimal, price: Decimal,
                                time_in_force: str, client_order_id: str, *,
                                nonce_ms: int | None = None) -> BuiltOrder | None:
        """A spot limit order's request as ``create_order`` would build it (:mod:`arb.venues.gate.orders`),
        or None where that builder does not cover it. ``LiveVenue`` uses it once it agreed with ccxt."""
        if self.clock.due():  # as fetch2 does before a private request (the lock only when it may measure)
            await self._ensure_clock()
        market = self.market(symbol)
        if not market.get("spot"):
            return None
        base_url = self.urls["api"]["private"]["spot"]
        facts = self._order_facts.get(symbol)
        if facts is None or facts.market is not market or facts.base_url != base_url:  # first, or reloaded
            precision = market["precision"]
            facts = self._order_facts[symbol] = _OrderFacts(
                market, Decimal(repr(precision["amount"])), Decimal(repr(precision["price"])), base_url,
                urlsplit(base_url).path)
        amount_text = on_tick(amount, facts.amount_tick)
        price_text = on_tick(price, facts.price_tick)
        if amount_text is None or price_text is None:
            return None
        key = self._signing_key()
        nonce = self.nonce() if nonce_ms is None else nonce_ms
        return spot_limit_order(base_url=base_url, base_path=facts.base_path, market_id=market["id"],
                                side=side, amount=amount_text, price=price_text, time_in_force=time_in_force,
                                text=client_order_id, account="spot", timestamp=str(nonce // 1000),
                                key=self.apiKey, secret=key)

    def _signing_key(self) -> SigningKey:
        """The secret's signing key, after ccxt's credential check (both again only if the key or secret
        changed since; see ``__init__``)."""
        credentials = (self.apiKey, self.secret)
        if credentials != self._checked_credentials or self._key is None:
            self.check_required_credentials()
            self._key = SigningKey(self.secret)
            self._checked_credentials = credentials
        return self._key

    # -- signing -----------------------------------------------------------------------------------

    def sign(
        self,
        path: str,
        api: Any = [],  # noqa: B006  # ccxt's signature
        method: str = "GET",
        params: Any = {},  # noqa: B006
        headers: Any = None,
        body: Any = None,
    ) -> dict[str, Any]:
        access, section = api[0], api[1]
        implode_from, payload = _split_params(path, params)
        path_imploded = self.implode_params(path, implode_from)
        end = "/" + path_imploded if path_imploded else ""
        entire_path = end if section in UNPREFIXED_SECTIONS else "/" + section + end
        base = self.urls["api"][access].get(section)
        if base is None:
            raise ccxt.NotSupported(f"{self.id} has no {access} URL for the {section!r} API")
        url = base + entire_path
        out_headers: dict[str, str] | None = None
        out_body: str | None = None
        if access == "public":
            query = self.omit(payload, self.extract_params(path)) if isinstance(payload, dict) else payload
            if query:
                url += "?" + encode_query(query).wire
        else:
            key = self._signing_key()  # ccxt's credential check first, as its sign does
            query_obj: EncodedQuery | None = None
            if isinstance(payload, dict):
                payload = self.omit(payload, self.extract_params(path))
            if params_in_query(section, method, path_imploded):
                if payload:
                    query_obj = encode_query(payload)
                if method == "PATCH":
                    out_body = encode_body(payload)
            else:
                if isinstance(payload, dict):
                    # ccxt's escape hatch for POSTs that need URL parameters; unlike ccxt we sign them.
                    url_params = payload.get("query") or {}
                    payload = {k: v for k, v in payload.items() if k != "query"}
                    if url_params:
                        query_obj = encode_query(url_params)
                out_body = encode_body(payload)
            if query_obj is not None:
                url += "?" + query_obj.wire
            out_headers = sign_request(
                method,
                urlsplit(base).path + entire_path,
                query_obj.signed if query_obj else "",
                out_body,
                str(self.nonce() // 1000),  # integer seconds of Gate's clock, as ccxt sends it
                self.apiKey,
                key,
            )
        if section == "futures":
            # Contract sizes as decimal strings rather than rounded integers (not part of auth).
            out_headers = {**(out_headers or {}), "X-Gate-Size-Decimal": "1"}
        return {"url": url, "method": method, "body": out_body, "headers": out_headers}

    # -- errors ------------------------------------------------------------------------------------

    def handle_errors(
        self,
        code: int,
        reason: str,
        url: str,
        method: str,
        headers: Mapping[str, str],
        body: str,
        response: Any,
        requestHeaders: Any,  # noqa: N803  # ccxt's names
        requestBody: Any,  # noqa: N803
    ) -> None:
        label = response.get("label") if isinstance(response, dict) else None
        if not isinstance(label, str):
            label = None
        if label is None and code != 429:
            return None  # ccxt's HTTP status table takes over
        message = ""
        if isinstance(response, dict):
            message = str(response.get("message") or response.get("detail") or "")[:MAX_MESSAGE_CHARS]
        info = GateErrorInfo(label=label, status=code, message=message, reset_at=reset_at_from_headers(headers))
        error_class = self.exceptions["exact"].get(label, ccxt.ExchangeError) if label else ccxt.RateLimitExceeded
        exc = error_class(f"{self.id} {method} {urlsplit(url).path} HTTP {code} {label or reason}: {message}")
        exc.gate = info
        raise exc

    # -- websocket ---------------------------------------------------------------------------------

    async def subscribe_private(
        self,
        url: str,
        messageHash: str,  # noqa: N803  # ccxt's names
        payload: Any,
        channel: str,
        params: dict[str, Any],
        requiresUid: bool = False,  # noqa: N803
    ) -> Any:
        """ccxt's private subscription flow, with the frame and its auth from :mod:`ws_auth`."""
        self.check_required_credentials()
        if requiresUid and not self.uid:
            raise ccxt.ArgumentsRequired(f"{self.id} requires uid to subscribe to {channel}")
        payload_value = ([self.uid] + list(payload or [])) if requiresUid else payload
        request_id = self.request_id()
        frame = private_frame(
            channel,
            payload_value,
            self.clock.server_now_ms() // 1000,
            self.apiKey,
            self.secret,
            request_id=request_id,
        )
        client = self.client(url)
        if messageHash not in client.subscriptions:
            client.subscriptions[str(request_id)] = messageHash
        message = self.extend(frame, params)
        return await self.watch(url, messageHash, message, messageHash, messageHash)


def _split_params(path: str, params: Any) -> tuple[dict[str, Any], Any]:
    """(params to fill ``{placeholders}`` from, the request payload), mirroring ccxt's list cases."""
    if isinstance(params, list):
        first = params[0] if params and isinstance(params[0], dict) else {}
        if "settle" in path and path.endswith("batch_cancel_orders"):
            # Body is a list of ids; the first element only carries {settle}.
            return first, params[1:]
        return first, params
    return params, params
