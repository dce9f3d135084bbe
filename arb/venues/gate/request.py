"""Pure pieces of a Gate v4 REST request: query encoding, JSON bodies and which params go where.

Gate signs the query string *decoded* ("not URL-encoded") in wire order, while the URL carries it
percent-encoded. Both strings therefore come from one function so they can never disagree on order or
content. The body is compact JSON encoded with orjson (as ccxt 4.5 does when orjson is installed, which
it is for arb): UTF-8, no ``\\uXXXX`` escapes, so non-ASCII is signed and sent as the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlencode

import orjson

# Sections whose URL has no "/<section>" prefix in ccxt's gate path table.
UNPREFIXED_SECTIONS = frozenset({"subAccounts", "withdrawals"})
CONTRACT_SECTIONS = frozenset({"futures", "delivery"})


@dataclass(frozen=True, slots=True)
class EncodedQuery:
    wire: str  # percent-encoded, goes after "?" in the URL
    signed: str  # the same pairs decoded, in the same order: what Gate's signature covers


def encode_query(params: Mapping[str, Any]) -> EncodedQuery:
    """Encode params in insertion order; booleans as ``true``/``false``; lists repeat the key."""
    pairs = {key: _scalar(value) for key, value in params.items()}
    wire = urlencode(pairs, doseq=True, quote_via=quote)
    # Gate rejects an encoded comma in ``currencies=`` (ccxt issue 25570); the signed form is unaffected.
    if "currencies=" in wire:
        wire = wire.replace("%2C", ",")
    return EncodedQuery(wire=wire, signed=unquote(wire))


def _scalar(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return [_scalar(v) for v in value]
    return value


def encode_body(payload: Any) -> str:
    """Compact JSON text; the caller sends ``.encode('utf-8')`` of exactly this string."""
    return orjson.dumps(payload).decode("utf-8")


def params_in_query(section: str, method: str, path: str) -> bool:
    """Whether private params travel in the query string rather than a JSON body.

    GET/DELETE/PATCH always do; futures/delivery POSTs to ``dual_*`` and ``positions/*`` endpoints take
    query parameters too (Gate's API definition, mirrored by ccxt).
    """
    if method in ("GET", "DELETE", "PATCH"):
        return True
    if section in CONTRACT_SECTIONS and method == "POST":
        second = (path.split("/") + ["", ""])[1]
        return "dual" in second or "positions" in second
    return False
