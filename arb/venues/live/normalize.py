"""ccxt's dicts normalized once, here: orders, trades and markets as arb's reports with exact ``Decimal``s.

ccxt's floats are printed back with ``repr``, which round-trips the short decimal strings venues send for
orders and trades (a balance, a running total of them, comes as the venue's string: ``exact_balances.py``).
Status comes from ``filled``, not from ccxt's status word: venues report a partially filled IOC as
cancelled. What differs between venues (where a trade keeps our client order id, which raw fields spell
the venue's own status) is the adapter's :class:`~arb.venues.live.quirks.LiveQuirks`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from arb.domain.market import MarketKind, MarketRules, Side
from arb.domain.orders import VenueState
from arb.domain.venue import BalanceReport, FillReport, OrderReport, OrderRequest
from arb.errors import VenueError
from arb.venues.live.quirks import LiveQuirks

ZERO = Decimal(0)
_CLOSED = {"closed", "canceled", "cancelled", "expired"}


def dec(value: Any) -> Decimal:
    if value is None:
        return ZERO
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def ms_time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _ts(ms: Any) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms is not None else None


def market_rules(venue: str, symbol: str, market: dict[str, Any]) -> MarketRules:
    """A ccxt market's steps and minimums (an inverse perpetual's in contracts, with its ``contractSize``)."""
    limits = market.get("limits") or {}
    return MarketRules(
        venue=venue,
        symbol=symbol,
        price_step=dec(market["precision"]["price"]),
        amount_step=dec(market["precision"]["amount"]) * (unit := base_per_contract(market)),
        min_amount=dec((limits.get("amount") or {}).get("min")) * unit,
        min_notional=dec((limits.get("cost") or {}).get("min")),
        kind=(kind := market_kind(venue, symbol, market)),
        contract_size=dec(market.get("contractSize")) if kind is MarketKind.INVERSE_PERPETUAL else None,
    )


def base_per_contract(market: dict[str, Any]) -> Decimal:
    """What one unit of ccxt's amounts is in base, for a market arb sizes in base: a linear contract's
    ``contractSize`` (Gate's ETH_USDT perpetual: 0.01 ETH), 1 elsewhere (spot; a linear perpetual of one base
    per contract, as Binance USD-M's; an inverse perpetual, which arb sizes in contracts). The live venue
    converts at its boundary with it: orders out, orders, fills and positions in."""
    if market.get("contract") and market.get("linear") and market.get("contractSize"):
        return dec(market["contractSize"])
    return Decimal(1)


def market_kind(venue: str, symbol: str, market: dict[str, Any]) -> MarketKind:
    """A ccxt market's kind: spot, a linear perpetual (``swap`` and ``linear``) or an inverse one (``swap`` and
    ``inverse``: Binance COIN-M, amounts in contracts of ``contractSize`` quote, which it must state). A dated
    future arb does not book: refused, naming it, before anything trades there."""
    if market.get("spot", market.get("type") in (None, "spot")):
        return MarketKind.SPOT
    if market.get("swap") and market.get("linear"):
        return MarketKind.LINEAR_PERPETUAL
    if market.get("swap") and market.get("inverse"):
        if not dec(market.get("contractSize")) > 0:
            raise VenueError(venue, f"{symbol} is an inverse perpetual whose contract size ccxt does not state "
                             f"(contractSize {market.get('contractSize')!r}): its amounts cannot be valued")
        return MarketKind.INVERSE_PERPETUAL
    raise VenueError(venue, f"{symbol} is a {market.get('type')} market, which arb does not book yet (spot and "
                     "perpetuals)")


def order_report(venue: str, quirks: LiveQuirks, raw: dict[str, Any],
                 request: OrderRequest | None = None, unit: Decimal = Decimal(1)) -> OrderReport:
    """A ccxt order; what it leaves out is read from ``request`` (the order as asked for), if given. ``unit``:
    its market's :func:`base_per_contract`."""
    status = (raw.get("status") or "").lower()
    amount = abs(dec(raw.get("amount"))) * unit if raw.get("amount") is not None else (
        request.amount if request else ZERO)
    filled = dec(raw.get("filled")) * unit
    if status == "rejected":
        state = VenueState.REJECTED
    elif status in _CLOSED or (amount and filled >= amount):
        state = VenueState.CLOSED
    else:
        state = VenueState.OPEN
    info = raw.get("info") or {}
    venue_status = "/".join(str(info[k]) for k in quirks.status_keys if info.get(k)) or status
    cid = raw.get("clientOrderId") or (request.client_order_id if request else "")
    return OrderReport(
        venue=venue,
        client_order_id=cid,
        venue_order_id=str(raw["id"]) if raw.get("id") is not None else None,
        symbol=raw.get("symbol") or (request.symbol if request else ""),
        side=Side(raw.get("side") or (request.side.value if request else "buy")),
        price=dec(raw.get("price")) if raw.get("price") is not None else (request.price if request else ZERO),
        amount=amount,
        filled=filled,
        state=state,
        venue_status=venue_status,
        average=dec(raw["average"]) if raw.get("average") else None,
        ts=_ts(raw.get("lastUpdateTimestamp") or raw.get("timestamp")),
    )


def fill_report(venue: str, quirks: LiveQuirks, raw: dict[str, Any], unit: Decimal = Decimal(1)) -> FillReport:
    """A ccxt trade; our client order id read from the raw trade's keys the quirks name. ``unit``: its
    market's :func:`base_per_contract`."""
    info = raw.get("info") or {}
    cid = next((info[k] for k in quirks.trade_client_id_keys if info.get(k)), None)
    fee = raw.get("fee") or {}
    if fee.get("cost") is None:
        # ccxt leaves the unified fee empty when a trade lists fees in several currencies (Gate: ``fee`` in
        # USDT and ``gt_fee`` in GT): the one it was charged, the first that is not zero, as the private
        # stream reads it (venues/gate/usertrades.py), so both record the same fill.
        listed = raw.get("fees") or [fee]
        fee = next((f for f in listed if f.get("cost")), listed[0])
    return FillReport(
        venue=venue,
        trade_id=str(raw["id"]),
        client_order_id=cid,
        venue_order_id=str(raw["order"]) if raw.get("order") is not None else None,
        symbol=raw["symbol"],
        side=Side(raw["side"]),
        price=dec(raw["price"]),
        amount=abs(dec(raw["amount"])) * unit,
        fee=dec(fee.get("cost")),
        fee_currency=str(fee.get("currency") or ""),
        ts=_ts(raw.get("timestamp")) or datetime.now(UTC),
    )


def balance_reports(raw: dict[str, Any]) -> dict[str, BalanceReport]:
    """ccxt's balance: free and used per asset."""
    return {asset: BalanceReport(asset, dec(free), dec((raw.get("used") or {}).get(asset)))
            for asset, free in (raw.get("free") or {}).items()}
