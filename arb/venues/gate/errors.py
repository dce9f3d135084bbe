"""The one table that turns what Gate (or ccxt on its behalf) says into arb errors.

Keys are Gate error labels (``{"label": ..., "message": ...}``: we key on the label, never parse the
message) and ccxt exception classes. A label is more precise than the ccxt class it was mapped to, so it
wins; otherwise the exception's MRO is walked, most specific class first. ``RateLimitExceeded`` and
``DDoSProtection`` have explicit rows because their place in ccxt's hierarchy has moved between
versions (both sit under ``NetworkError`` in 4.5, which would otherwise read as "transient"); the ccxt
rows are the generic table every ccxt venue uses (``arb/venues/live/errors.py``).

:class:`GateExchange` attaches a :class:`GateErrorInfo` (label, HTTP status, rate-limit reset) to the
ccxt exception it raises; :func:`translate` reads it. Messages are built from the label, the HTTP status
and Gate's short message only: never from request headers, so no key or signature can leak.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import ccxt

from arb.errors import (  # alike to venues/live/errors.py's: each table's targets
    ArbError,
    AuthenticationError,
    BadSymbol,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    RateLimited,
    TransferRefused,
    TransientVenueError,
    VenueError,
)
from arb.venues.live.errors import CCXT_RULES, UNKNOWN, Rule

VENUE = "gate"
RESET_HEADER = "X-Gate-RateLimit-Reset-Timestamp"


@dataclass(frozen=True, slots=True)
class GateErrorInfo:
    """What Gate said, kept beside the ccxt exception so nothing has to re-parse its text."""

    label: str | None
    status: int
    message: str = ""
    reset_at: float | None = None


_CHECK_CLOCK = "the Timestamp was off Gate's clock by more than 60 s even after a resync: check the host clock (NTP)"

# fmt: off
TABLE: Mapping[str | type[BaseException], Rule] = {
    # --- Gate labels -------------------------------------------------------------------------------
    "INVALID_SIGNATURE":       Rule(AuthenticationError, False, "signature rejected: check the API secret belongs to this key and nothing rewrites the request path (/api/v4), query or body"),
    "INVALID_KEY":             Rule(AuthenticationError, False, "API key rejected: check the key is typed correctly and not deleted or expired"),
    "INVALID_CREDENTIALS":     Rule(AuthenticationError, False, "credentials rejected: check the API key and secret"),
    "AUTHENTICATION_FAILED":   Rule(AuthenticationError, False, "authentication failed: check the API key and secret"),
    "MISSING_REQUIRED_HEADER": Rule(AuthenticationError, False, "KEY/Timestamp/SIGN header missing: check the credentials are configured"),
    "REQUEST_EXPIRED":         Rule(AuthenticationError, False, _CHECK_CLOCK),
    "IP_FORBIDDEN":            Rule(AuthenticationError, False, "this IP is not allowed: check the key's IP whitelist"),
    "READ_ONLY":               Rule(AuthenticationError, False, "the key is read-only: check it has spot trading permission"),
    "FORBIDDEN":               Rule(AuthenticationError, False, "forbidden: check the key's permissions"),
    "ACCOUNT_LOCKED":          Rule(AuthenticationError, False, "the account is locked: check with Gate support"),
    "TOO_MANY_REQUESTS":       Rule(RateLimited, True, "rate limited"),
    "TOO_FAST":                Rule(RateLimited, True, "rate limited"),
    "BALANCE_NOT_ENOUGH":      Rule(InsufficientFunds, False, "balance too small"),
    "MARGIN_BALANCE_NOT_ENOUGH": Rule(InsufficientFunds, False, "margin balance too small"),
    "ORDER_NOT_FOUND":         Rule(OrderNotFound, True, "order not found (a just-placed order may briefly be unknown)"),
    "CLIENT_ID_NOT_FOUND":     Rule(OrderNotFound, True, "client order id not found (only open orders are found by text)"),
    "INVALID_PRECISION":       Rule(InvalidOrder, False, "price or amount has too many decimals"),
    "AMOUNT_TOO_LITTLE":       Rule(InvalidOrder, False, "amount below the market minimum"),
    "AMOUNT_TOO_MUCH":         Rule(InvalidOrder, False, "amount above the market maximum"),
    "INVALID_PARAM_VALUE":     Rule(InvalidOrder, False, "a parameter was rejected"),
    "POC_FILL_IMMEDIATELY":    Rule(InvalidOrder, False, "post-only order would take"),
    "ORDER_CLOSED":            Rule(InvalidOrder, False, "order already closed"),
    "ORDER_CANCELLED":         Rule(InvalidOrder, False, "order already cancelled"),
    "INVALID_CURRENCY_PAIR":   Rule(BadSymbol, False, "unknown currency pair"),
    "INVALID_CURRENCY":        Rule(BadSymbol, False, "unknown currency"),
    "MISSING_REQUIRED_PARAM":  Rule(InvalidOrder, False, "a required parameter was missing"),
    # --- wallet: withdrawals and transfers between an account's wallets ------------------------------------
    "FUTURES_BALANCE_NOT_ENOUGH": Rule(InsufficientFunds, False, "futures wallet balance too small"),
    "ADDRESS_NOT_USED":        Rule(TransferRefused, False, "withdrawal address not in the key's whitelist: add it on Gate's withdrawal address page"),
    "WITHDRAWAL_OVER_LIMIT":   Rule(TransferRefused, False, "withdrawal over the per-withdrawal or daily limit"),
    "API_WITHDRAW_DISABLED":   Rule(TransferRefused, False, "Gate has API withdrawals disabled for now"),
    "SERVER_ERROR":            Rule(TransientVenueError, True, "Gate server error"),
    "TOO_BUSY":                Rule(TransientVenueError, True, "Gate is too busy"),
    # --- ccxt exceptions: the generic table (lookup walks the MRO), Gate's clock hint for bad nonces --
    **CCXT_RULES,
    ccxt.InvalidNonce:         Rule(AuthenticationError, False, _CHECK_CLOCK),
}
# fmt: on



def gate_info(exc: BaseException) -> GateErrorInfo | None:
    info = getattr(exc, "gate", None)
    return info if isinstance(info, GateErrorInfo) else None


def gate_label(exc: BaseException) -> str | None:
    info = gate_info(exc)
    return info.label if info else None


def rule_for(exc: BaseException) -> Rule:
    label = gate_label(exc)
    if label is not None and label in TABLE:
        return TABLE[label]
    for cls in type(exc).__mro__:
        if cls in TABLE:
            return TABLE[cls]
    return UNKNOWN


def translate(exc: BaseException, venue: str = VENUE) -> ArbError:
    """The arb error for ``exc``; arb errors pass through unchanged."""
    if isinstance(exc, ArbError):
        return exc
    rule = rule_for(exc)
    info = gate_info(exc)
    label = info.label if info else None
    detail = rule.hint
    if info is not None:
        detail = f"{rule.hint} (HTTP {info.status}{': ' + info.message if info.message else ''})"
    else:
        detail = f"{rule.hint} ({type(exc).__name__})"
    err: VenueError
    if rule.error is RateLimited:
        err = RateLimited(venue, detail, label=label, reset_at=info.reset_at if info else None)
    else:
        err = rule.error(venue, detail, label=label)
    err.retryable = rule.retryable
    return err


@contextmanager
def translating(venue: str = VENUE) -> Iterator[None]:
    """``with translating(): await ex.create_order(...)`` raises arb errors instead of ccxt ones."""
    try:
        yield
    except ArbError:
        raise
    except (ccxt.BaseError, TimeoutError) as exc:
        raise translate(exc, venue) from exc


def reset_at_from_headers(headers: Mapping[str, str] | None) -> float | None:
    """``X-Gate-RateLimit-Reset-Timestamp`` (epoch seconds), header names case-insensitive."""
    if not headers:
        return None
    wanted = RESET_HEADER.lower()
    for name, value in headers.items():
        if name.lower() == wanted:
            try:
                return float(value)
            except (TypeError, ValueError):
                return None
    return None
