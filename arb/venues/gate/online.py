"""Gate's part of ``arb config check --online``: what a Gate key may do, found by asking Gate.

Gate v4 has no endpoint that lists a key's permissions (``GET /account/detail`` gives its user, mode and IP
whitelist; ``/wallet/withdraw_status`` is per currency, not per key). A permission shows only in how Gate
answers a request that needs it (``/work/shared/gate-v4.md``: ``READ_ONLY``/``FORBIDDEN`` for a missing one,
``IP_FORBIDDEN`` for an address outside the whitelist), so each is probed with a request that cannot do
anything whichever way it is answered:

- authentication and spot reading: ``GET /spot/accounts`` (the balances, read anyway);
- trading: ``DELETE /spot/orders/0`` on a configured pair, an order that cannot exist: a key that may trade is
  told ``ORDER_NOT_FOUND``, one that may not is refused for the key;
- withdrawal: ``POST /withdrawals`` of amount 0: refused for its amount when the key may withdraw, for the key
  otherwise; anything else (another answer, no such endpoint) is said as "cannot tell";
- the clock: the offset :class:`~arb.venues.gate.clock.ServerClock` measures from ``GET /spot/time``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ccxt

from arb.venues.gate.clock import LARGE_OFFSET_WARN_MS
from arb.venues.gate.errors import gate_label
from arb.venues.online import Finding, Level, balance_findings, market_findings, withdrawal_finding

if TYPE_CHECKING:
    from arb.config import Config
    from arb.domain.venue import Venue
    from arb.venues.gate.exchange import GateExchange

KEY_REFUSALS = frozenset(("READ_ONLY", "FORBIDDEN"))  # the key lacks the permission the request needs
AUTH_FAILURES = {
    "INVALID_KEY": "Gate does not know the key",
    "INVALID_SIGNATURE": "the secret does not sign for the key",
    "IP_FORBIDDEN": "this address is not in the key's IP whitelist",
    "MISSING_REQUIRED_HEADER": "the request carried no key",
    "REQUEST_EXPIRED": "the request's time is over 60 s from Gate's",
}
SKEW_LIMIT_MS = 60_000  # Gate refuses a Timestamp further than this from its clock (REQUEST_EXPIRED)


def _answer(exc: Exception) -> str:
    label = gate_label(exc) if isinstance(exc, ccxt.BaseError) else None
    return f"Gate {label}" if label else f"{type(exc).__name__}"


async def key_findings(config: Config, name: str, exchange: GateExchange, venue: Venue) -> list[Finding]:
    """Every finding on Gate venue ``name``: the key, its permissions and address, the clock, then the markets
    and balances (``arb/venues/online.py``). Nothing past a key that does not authenticate is asked."""
    key = f"venues.{name}"
    env = f"ARB_{name.upper()}_API_KEY / ARB_{name.upper()}_API_SECRET"
    found: list[Finding] = []
    try:
        await exchange.private_spot_get_accounts()
    except ccxt.BaseError as exc:
        label = gate_label(exc)
        if label in KEY_REFUSALS:
            return [Finding("error", key, f"the key may not read the spot account (Gate {label} on GET "
                            "/spot/accounts): give it the spot permission")]
        why = AUTH_FAILURES.get(label or "", f"Gate answered {label or type(exc).__name__}")
        return [Finding("error", key, f"the key does not authenticate: {why} (Gate {label}; {env})")]
    found.append(Finding("ok", key, "the key authenticates and reads the spot account"))
    found.append(await _ip_whitelist(key, exchange))
    found.append(await _trading(config, name, exchange))
    found.append(await _withdrawal(config, name, exchange))
    found.append(await _clock(key, exchange))
    names = config.venue_markets(name)
    for symbol in names.symbols:
        market = names.market(symbol)
        listed = exchange.market(market)
        # A contract states its own fee; a spot pair's is ccxt's listing of Gate's (the account's tier is
        # /wallet/fee's, which needs the wallet permission: the listing is what the sandbox and the run read).
        stated = listed["info"].get("taker_fee_rate") if listed.get("contract") else None
        raw = listed.get("taker") if stated is None else stated
        fee = Decimal(str(raw)) if raw is not None else None
        found += market_findings(config, name, symbol, venue.market_rules(market), fee, "as Gate lists the market")
    found += balance_findings(config, name, await venue.balances())
    return found


async def _ip_whitelist(key: str, exchange: GateExchange) -> Finding:
    try:
        detail = await exchange.private_account_get_detail()
    except ccxt.BaseError as exc:
        return Finding("warning", key, f"cannot tell the key's IP whitelist (GET /account/detail: {_answer(exc)})")
    addresses = detail.get("ip_whitelist") if isinstance(detail, dict) else None
    if not addresses:
        return Finding("warning", key, "the key has no IP whitelist: it works from any address it leaks to")
    return Finding("ok", key, f"the key is limited to {', '.join(map(str, addresses))}")


async def _trading(config: Config, name: str, exchange: GateExchange) -> Finding:
    key = f"venues.{name}"
    names = config.venue_markets(name)
    pair = exchange.market(names.market(names.symbols[0]))["id"]
    params: dict[str, Any] = {"order_id": "0", "currency_pair": pair}
    try:
        await exchange.private_spot_delete_orders_order_id(params)
    except ccxt.BaseError as exc:
        label = gate_label(exc)
        if label in KEY_REFUSALS:
            return Finding("error", key, f"the key may not trade spot (Gate {label} on a cancel): give it spot "
                           "trading, read-write")
        if label == "ORDER_NOT_FOUND":
            return Finding("ok", key, "the key may trade spot (a cancel of an order that does not exist was "
                           "refused for the order, not the key)")
        return Finding("warning", key, f"cannot tell whether the key may trade: a cancel of an order that does not "
                       f"exist was answered {_answer(exc)}")
    return Finding("warning", key, "cannot tell whether the key may trade: Gate cancelled order 0 on "
                   f"{pair}, which should not exist")


async def _withdrawal(config: Config, name: str, exchange: GateExchange) -> Finding:
    body = {"currency": "USDT", "amount": "0", "address": "", "chain": "TRX"}
    try:
        await exchange.private_withdrawals_post_withdrawals(body)
    except ccxt.NotSupported as exc:  # no such section at this endpoint (ccxt's testnet URLs have none)
        return withdrawal_finding(config, name, None, f"no withdrawal endpoint here ({exc})")
    except ccxt.BaseError as exc:
        label = gate_label(exc)
        if label in KEY_REFUSALS:
            return withdrawal_finding(config, name, False, f"a withdrawal of 0 was refused for the key, Gate {label}")
        status = getattr(getattr(exc, "gate", None), "status", None)
        if label is not None and status == 400:
            return withdrawal_finding(config, name, True, f"a withdrawal of 0 was refused for its amount, Gate {label}")
        return withdrawal_finding(config, name, None, f"a withdrawal of 0 was answered {_answer(exc)}")
    return withdrawal_finding(config, name, True, "a withdrawal of 0 was accepted")


async def _clock(key: str, exchange: GateExchange) -> Finding:
    try:
        offset = await exchange.sync_clock(force=True)
    except ccxt.BaseError as exc:
        return Finding("error", key, f"cannot read Gate's clock (GET /spot/time: {_answer(exc)})")
    trip = exchange.clock.last_round_trip_ms
    said = f"this host's clock is {offset} ms off Gate's (round trip {trip} ms)"
    if offset is None or abs(offset) < LARGE_OFFSET_WARN_MS:
        return Finding("ok", key, said)
    level: Level = "error" if abs(offset) >= SKEW_LIMIT_MS else "warning"
    return Finding(level, key, f"{said}: arb signs with Gate's clock, but fix the host's (NTP); every other time "
                   "arb records is the host's")
