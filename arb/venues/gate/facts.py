"""Gate's venue facts, as data: the one place its client-id rule and rate limits are stated.

The adapter (:mod:`arb.venues.gate.adapter`) hands them to the layers above as generic data: the client-id
rule as a :class:`~arb.domain.ids.ClientIdFormat` (the executor's ids, the sandbox's check), the rate
limits as a :class:`~arb.venues.throttle.VenueLimits` table (the throttle in front of every request).

Sources: ../shared/gate-v4.md (checked against Gate's API documentation). Market rules come from
``GET /spot/currency_pairs``: ``precision`` (price decimals), ``amount_precision``, ``min_base_amount``,
``min_quote_amount``, ``trade_status``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from arb.domain.ids import ClientIdFormat
from arb.domain.market import MarketRules, step_from_decimals
from arb.errors import InvalidOrder
from arb.venues.throttle import (  # alike to venues/guard.py's: Gate's budgets per key
    BALANCES,
    CANCEL,
    FETCH_FILLS,
    FETCH_OPEN,
    FETCH_ORDER,
    PLACE,
    Budget,
    VenueLimits,
)


@dataclass(frozen=True, slots=True)
class VenueFacts:
    venue: str
    client_id_prefix: str
    client_id_max_bytes: int  # after the prefix
    client_id_pattern: re.Pattern[str]  # the part after the prefix
    order_placements_per_second_per_market: int
    cancels_per_second: int
    private_requests_per_10s_per_endpoint: int
    public_requests_per_10s_per_endpoint: int
    market_buy_sized_in_quote: bool  # so arb's legs are IOC limit orders, sized in base
    max_clock_skew_s: int
    ioc_time_in_force: str


GATE = VenueFacts(
    venue="gate",
    client_id_prefix="t-",
    client_id_max_bytes=28,
    client_id_pattern=re.compile(r"[0-9A-Za-z_.\-]+"),
    order_placements_per_second_per_market=10,
    cancels_per_second=200,
    private_requests_per_10s_per_endpoint=200,
    public_requests_per_10s_per_endpoint=200,
    market_buy_sized_in_quote=True,
    max_clock_skew_s=60,
    ioc_time_in_force="ioc",
)


CLIENT_IDS = ClientIdFormat(
    prefix=GATE.client_id_prefix,
    max_length=len(GATE.client_id_prefix) + GATE.client_id_max_bytes,
    body=GATE.client_id_pattern.pattern,
    source="Gate API v4, spot orders, field text (../shared/gate-v4.md)",
)

# A withdrawal's client id (``withdraw_order_id`` of ``POST /withdrawals``, by which ``GET /wallet/withdrawals``
# finds it): up to 32 characters, letters, digits, ``_``, ``-`` and ``.``, no prefix. The sandbox holds requests to it.
WITHDRAW_IDS = ClientIdFormat(
    max_length=32,
    body=r"[0-9A-Za-z_.\-]+",
    source="Gate API v4, POST /withdrawals, field withdraw_order_id",
)

# Gate API v4 spot (shared/gate-v4.md): placements 10/s per market, cancels 200/s, other private
# endpoints 200 per 10 s each. The global budget is ours, to stay well inside Gate's IP limits.
GATE_SPOT_LIMITS = VenueLimits(
    global_budget=Budget(100, 1.0),
    per_endpoint={
        CANCEL: Budget(GATE.cancels_per_second, 1.0),
        FETCH_ORDER: Budget(GATE.private_requests_per_10s_per_endpoint, 10.0),
        FETCH_OPEN: Budget(GATE.private_requests_per_10s_per_endpoint, 10.0),
        FETCH_FILLS: Budget(GATE.private_requests_per_10s_per_endpoint, 10.0),
        BALANCES: Budget(GATE.private_requests_per_10s_per_endpoint, 10.0),
    },
    per_market={PLACE: Budget(GATE.order_placements_per_second_per_market, 1.0)},
)


def client_order_id(suffix: str, facts: VenueFacts = GATE) -> str:
    """``t-<suffix>`` after checking Gate's rules; raises :class:`InvalidOrder` naming the rule broken."""
    text = facts.client_id_prefix + suffix
    validate_client_order_id(text, facts)
    return text


def validate_client_order_id(text: str, facts: VenueFacts = GATE) -> None:
    if not text.startswith(facts.client_id_prefix):
        raise InvalidOrder(facts.venue, f"client order id {text!r} must start with {facts.client_id_prefix!r}")
    suffix = text[len(facts.client_id_prefix) :]
    if not facts.client_id_pattern.fullmatch(suffix):
        raise InvalidOrder(
            facts.venue, f"client order id {text!r} may only use 0-9 A-Z a-z _ - . after the prefix"
        )
    if len(suffix.encode("utf-8")) > facts.client_id_max_bytes:
        raise InvalidOrder(
            facts.venue,
            f"client order id {text!r} has {len(suffix)} bytes after the prefix, max {facts.client_id_max_bytes}",
        )


def market_rules(pair: Mapping[str, Any], venue: str = GATE.venue) -> MarketRules:
    """One ``/spot/currency_pairs`` entry -> exact :class:`MarketRules` (symbol ``BASE/QUOTE``)."""
    try:
        base, quote = str(pair["base"]), str(pair["quote"])
        return MarketRules(
            venue=venue,
            symbol=f"{base}/{quote}",
            price_step=step_from_decimals(int(pair["precision"])),
            amount_step=step_from_decimals(int(pair["amount_precision"])),
            min_amount=_decimal(pair.get("min_base_amount")),
            min_notional=_decimal(pair.get("min_quote_amount")),
        )
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise ValueError(f"malformed currency pair {pair.get('id', '?')!r}: {exc!r}") from exc


def decimals_of_step(step: Decimal) -> int:
    """A step as Gate states it, in decimal places: ``Decimal('0.001')`` -> ``3`` (``step_from_decimals``
    inverted). Gate has no other way to state a step, so only a power of ten of at most 1 is one; anything
    else (``0.003``, ``0.25``, ``10``) raises ValueError saying so."""
    normal = step.normalize()
    exponent = normal.as_tuple().exponent
    if not isinstance(exponent, int) or normal != Decimal(1).scaleb(exponent) or exponent > 0:
        raise ValueError(f"step {step} is not a power of ten of at most 1 (0.01, 0.001, ...): Gate states "
                         "precision as a number of decimal places")
    return -exponent


def parse_currency_pairs(
    payload: Iterable[Mapping[str, Any]], *, tradable_only: bool = True, venue: str = GATE.venue
) -> dict[str, MarketRules]:
    """``GET /spot/currency_pairs`` -> rules by unified symbol. Pairs not ``tradable`` are left out."""
    rules: dict[str, MarketRules] = {}
    for pair in payload:
        if tradable_only and pair.get("trade_status") != "tradable":
            continue
        rule = market_rules(pair, venue)
        rules[rule.symbol] = rule
    return rules


def _decimal(value: Any) -> Decimal:
    # Gate sends strings; an absent minimum means none.
    if value is None or value == "":
        return Decimal(0)
    return Decimal(str(value))
