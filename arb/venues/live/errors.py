"""The one table that turns what a ccxt exchange raises into arb errors, for every ccxt venue.

Keys are ccxt exception classes; lookup walks the exception's MRO, most specific class first.
``RateLimitExceeded`` and ``DDoSProtection`` have explicit rows because their place in ccxt's hierarchy
has moved between versions (both sit under ``NetworkError`` in 4.5, which would otherwise read as
"transient"). A venue with its own labels (Gate) puts its label rows in front of these
(``arb/venues/gate/errors.py``).

A rate limit's reset time comes from the venue's answer: ``Retry-After`` (RFC 9110), plus any header the
venue's adapter names (:func:`arb.venues.retry.reset_at_from_headers`), read from the headers of the
exchange's last response. Messages name the rule and the ccxt class only: never request headers, so no
key or signature can leak.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import ccxt

from arb.errors import (  # alike to venues/gate/errors.py's: each table's targets
    ArbError,
    AuthenticationError,
    BadSymbol,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    RateLimited,
    TransientVenueError,
    VenueError,
)
from arb.venues.retry import reset_at_from_headers


@dataclass(frozen=True, slots=True)
class Rule:
    error: type[VenueError]
    retryable: bool
    hint: str = ""


CHECK_CLOCK = "the request's timestamp was off the venue's clock: check the host clock (NTP)"

# fmt: off
CCXT_RULES: Mapping[str | type[BaseException], Rule] = {  # str: a venue's label rows
    ccxt.RateLimitExceeded:    Rule(RateLimited, True, "rate limited"),
    ccxt.DDoSProtection:       Rule(RateLimited, True, "rate limited (DDoS protection)"),
    ccxt.RequestTimeout:       Rule(TransientVenueError, True, "request timed out"),
    ccxt.ExchangeNotAvailable: Rule(TransientVenueError, True, "exchange not available"),
    ccxt.InvalidNonce:         Rule(AuthenticationError, False, CHECK_CLOCK),
    ccxt.NetworkError:         Rule(TransientVenueError, True, "network error"),
    ccxt.BadResponse:          Rule(TransientVenueError, True, "unparseable response"),
    ccxt.AuthenticationError:  Rule(AuthenticationError, False, "authentication failed: check the API key, secret and permissions"),
    ccxt.InsufficientFunds:    Rule(InsufficientFunds, False, "balance too small"),
    ccxt.OrderNotFound:        Rule(OrderNotFound, True, "order not found"),
    ccxt.InvalidOrder:         Rule(InvalidOrder, False, "order rejected"),
    ccxt.BadSymbol:            Rule(BadSymbol, False, "unknown symbol"),
    ccxt.BadRequest:           Rule(InvalidOrder, False, "request rejected"),
    ccxt.ExchangeError:        Rule(VenueError, False, "exchange error"),
    asyncio.TimeoutError:      Rule(TransientVenueError, True, "timed out"),
    TimeoutError:              Rule(TransientVenueError, True, "timed out"),
}
# fmt: on

UNKNOWN = Rule(VenueError, False, "unexpected error")


def rule_for(exc: BaseException) -> Rule:
    for cls in type(exc).__mro__:
        if cls in CCXT_RULES:
            return CCXT_RULES[cls]
    return UNKNOWN


def translate(exc: BaseException, venue: str, *, reset_at: float | None = None) -> ArbError:
    """The arb error for ``exc``; arb errors pass through unchanged."""
    if isinstance(exc, ArbError):
        return exc
    rule = rule_for(exc)
    detail = f"{rule.hint} ({type(exc).__name__})"
    err: VenueError
    if rule.error is RateLimited:
        err = RateLimited(venue, detail, reset_at=reset_at)
    else:
        err = rule.error(venue, detail)
    err.retryable = rule.retryable
    return err


Translate = Callable[[BaseException, str], ArbError]


def translator(exchange: Any, reset_headers: tuple[str, ...] = (),
               wall: Callable[[], float] = time.time) -> Translate:
    """``translate`` for one exchange instance: a rate limit carries the reset its last answer announced."""

    def translate_for(exc: BaseException, venue: str) -> ArbError:
        reset_at = None
        if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
            headers = getattr(exchange, "last_response_headers", None) or {}
            reset_at = reset_at_from_headers(headers, wall(), reset_headers)
        return translate(exc, venue, reset_at=reset_at)

    return translate_for


@contextmanager
def translating(venue: str) -> Iterator[None]:
    """``with translating(name): await ex.load_markets()`` raises arb errors instead of ccxt ones."""
    try:
        yield
    except ArbError:
        raise
    except (ccxt.BaseError, TimeoutError) as exc:
        raise translate(exc, venue) from exc
