"""Client-order-id facts of ccxt venues that have no adapter package of their own, as data (a venue
package declares its own: ``arb/venues/binance/facts.py``).

A venue is here only when both halves are checked: its documented client-order-id rule, and that ccxt's
``fetch_order`` and ``cancel_order`` for it accept ccxt's unified ``clientOrderId`` param and send it as
the venue's own lookup field (read in ccxt 4.5.90's source). Only then can an order whose answer was lost
be found again, so only these venues may trade live through the generic adapter
(:meth:`arb.venues.generic.adapter.CcxtAdapter.live_refusal`).
"""

from __future__ import annotations

from dataclasses import dataclass

from arb.domain.ids import ClientIdFormat


@dataclass(frozen=True, slots=True)
class ClientIdFacts:
    format: ClientIdFormat
    wire_fields: tuple[str, ...]  # the venue's own names for it (create; lookup), ccxt maps clientOrderId


# fmt: off
KNOWN: dict[str, ClientIdFacts] = {
    # OKX API v5, POST /api/v5/trade/order, clOrdId: "a combination of case-sensitive alphanumerics, all
    # numbers, or all letters of up to 32 characters"; GET /api/v5/trade/order and cancel-order take clOrdId.
    # ccxt okx: create_order/fetch_order/cancel_order map params clientOrderId -> clOrdId.
    "okx": ClientIdFacts(
        ClientIdFormat(max_length=32, body=r"[0-9A-Za-z]+",
                       source="OKX API v5 docs, POST /api/v5/trade/order, clOrdId"),
        ("clOrdId",)),
}
# fmt: on

# Paper venues of other exchanges: ids that fit every format above.
DEFAULT = ClientIdFormat(max_length=32, body=r"[0-9A-Za-z]+", source="arb's default (paper venues)")
