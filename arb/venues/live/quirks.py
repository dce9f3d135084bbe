"""What one venue does its own way on ccxt's unified API, as data its adapter declares (:class:`LiveQuirks`)."""

from __future__ import annotations

from dataclasses import dataclass

from arb.domain.ids import ClientIdFormat


@dataclass(frozen=True, slots=True)
class LiveQuirks:
    """What one venue does its own way, as data its adapter declares. The defaults are ccxt's unified
    behaviour, no venue's in particular."""

    client_ids: ClientIdFormat = ClientIdFormat()
    # The ``create_order`` param carrying our client order id (ccxt's unified name by default).
    client_id_param: str = "clientOrderId"
    # The ``fetch_order``/``cancel_order`` param naming the order by client id; None: the client id is
    # passed as the order id itself (venues whose order endpoints accept either).
    lookup_param: str | None = "clientOrderId"
    # Keys of the raw trade (ccxt ``info``) that may hold our client order id; ccxt does not map it.
    trade_client_id_keys: tuple[str, ...] = ("clientOrderId",)
    # Keys of the raw order (ccxt ``info``) that together spell the venue's own status (``venue_status``).
    status_keys: tuple[str, ...] = ("status",)
    # Look among finished orders after a lookup by client id misses (venues that find orders by client
    # id only while they are open).
    search_closed_on_miss: bool = False
    closed_search_limit: int = 100
    # ``edit_order`` of an amount keeps the order's place in the queue (Gate's amend, PATCH /spot/orders/{id}),
    # taking the client id as the order id; elsewhere ccxt's edit may be a cancel and a new order.
    amends_in_place: bool = False
    fills_page: int = 1000
    # The ccxt param numbering the pages of an account's order and trade history (Gate: ``page``, from 1);
    # None: the venue pages no history, so a window holding a full page is refused, never cut.
    history_page_param: str | None = None
    # Error labels after which the exchange's clock is re-measured (``sync_clock``, if it has one): ccxt's
    # request path may do this, and ``send`` bypasses that path.
    resync_clock_on: frozenset[str] = frozenset()
