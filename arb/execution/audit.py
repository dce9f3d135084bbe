"""The database held against a venue's own history (``arb audit``), pure: what was read in, findings out.

Reconciliation (:mod:`arb.execution.reconciliation`) brings the orders in flight at a start to the venue's
truth; an audit asks afterwards whether everything the database says about a run or a window equals what
the venue says it did, and changes nothing.

Matching. An order is matched by its client order id, else by the venue's order id; a fill by its trade id
(unique per venue). Then, per venue:

- **missing**: on the venue, not in the database (a trade made behind arb's back, a row lost). A venue row
  the database holds outside the audited selection (another run's order, a quote an earlier run left and
  this one took over: :class:`Known`) is that selection's, not missing; one stamped outside the window
  asked for (read only to cover clock skew at its edges) is not asked about.
- **extra**: in the database, not on the venue. An order the venue refused (``rejected``, no venue order
  id, nothing filled) never existed there and is not extra.
- **different**: matched, with fields that differ: an order's side, amount, price, filled and status (the
  status the venue's report implies, :func:`arb.domain.orders.status_from_report`, as a run records it); a
  fill's side, amount, price, fee and fee currency. Each difference names both values, exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from arb.domain.orders import OrderStatus
from arb.domain.venue import FillReport, OrderReport


@dataclass(frozen=True, slots=True)
class StoredOrder:
    """An ``orders`` row as the audit reads it."""

    client_order_id: str
    venue_order_id: str | None
    symbol: str
    side: str
    amount: Decimal
    price: Decimal
    filled: Decimal
    status: str


@dataclass(frozen=True, slots=True)
class StoredFill:
    """A ``fills`` row, with its order's ids, symbol and side."""

    trade_id: str
    client_order_id: str
    venue_order_id: str | None
    symbol: str
    side: str
    amount: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str


@dataclass(frozen=True, slots=True)
class Known:
    """Ids the database holds on the venue beyond the audited selection."""

    client_order_ids: frozenset[str] = frozenset()
    venue_order_ids: frozenset[str] = frozenset()
    trade_ids: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str  # missing | extra | different
    what: str  # order | fill
    venue: str
    symbol: str
    ids: tuple[tuple[str, str], ...]  # (name, value), the ids the row has
    fields: tuple[tuple[str, str, str], ...] = ()  # different: (field, database's value, venue's value)
    detail: str = ""  # missing and extra: what the row says (side, amount, price, status)

    def line(self) -> str:
        """One line: kind, what, venue, symbol, ids, then the differences with both values or the row."""
        ids = " ".join(f"{name}={value}" for name, value in self.ids)
        head = f"{self.kind} {self.what}: {self.venue} {self.symbol} {ids}"
        if self.kind == "different":
            return head + ": " + "; ".join(f"{name} database {db} venue {venue}" for name, db, venue in self.fields)
        where = "on the venue, not in the database" if self.kind == "missing" else "in the database, not on the venue"
        return f"{head}: {where} ({self.detail})"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "what": self.what, "venue": self.venue, "symbol": self.symbol,
                "ids": dict(self.ids), "detail": self.detail or None,
                "fields": [{"field": f, "database": db, "venue": v} for f, db, v in self.fields]}


@dataclass(frozen=True, slots=True)
class VenueAudit:
    """One venue's audit: how many orders and fills were held against each other, and what differs."""

    venue: str
    orders: int  # matched, and so compared field by field
    fills: int
    findings: list[Finding] = field(default_factory=list)
    # Stored orders the venue refused (or that provably never reached it): nothing of them to compare, and said,
    # so the stored orders add up (a live run's leg refused 429 "too many requests" is one).
    refused: int = 0


def audit_venue(venue: str, stored_orders: Sequence[StoredOrder], stored_fills: Sequence[StoredFill],
                venue_orders: Iterable[OrderReport], venue_fills: Iterable[FillReport], *,
                known: Known = Known(), since: datetime, until: datetime) -> VenueAudit:
    """``venue``'s rows of both sides (the venue's under the engine's symbols) held against each other; a
    venue row stamped outside ``[since, until]`` counts only where it matches a stored one."""
    findings: list[Finding] = []
    by_client = {o.client_order_id: o for o in stored_orders}
    by_venue_id = {o.venue_order_id: o for o in stored_orders if o.venue_order_id}
    matched: set[str] = set()
    seen: set[str] = set()
    for report in venue_orders:
        key = report.venue_order_id or report.client_order_id
        if key in seen:  # an order read twice (finished while its pages were read): once
            continue
        seen.add(key)
        stored = by_client.get(report.client_order_id) or (
            by_venue_id.get(report.venue_order_id) if report.venue_order_id else None)
        if stored is None:
            if _known_order(report, known) or not _inside(report.ts, since, until):
                continue
            findings.append(Finding("missing", "order", venue, report.symbol, _order_ids(report.client_order_id,
                                                                                         report.venue_order_id),
                                    detail=_order_detail(report.side.value, report.amount, report.price,
                                                         report.filled, report.status.value)))
            continue
        matched.add(stored.client_order_id)
        differing = _differences((("side", stored.side, report.side.value), ("amount", stored.amount, report.amount),
                                  ("price", stored.price, report.price), ("filled", stored.filled, report.filled),
                                  ("status", stored.status, report.status.value)))
        if differing:
            findings.append(Finding("different", "order", venue, stored.symbol,
                                    _order_ids(stored.client_order_id, stored.venue_order_id or report.venue_order_id),
                                    differing))
    refused = 0
    for stored in stored_orders:
        if stored.client_order_id in matched:
            continue
        if _never_on_venue(stored):
            refused += 1
            continue
        findings.append(Finding("extra", "order", venue, stored.symbol,
                                _order_ids(stored.client_order_id, stored.venue_order_id),
                                detail=_order_detail(stored.side, stored.amount, stored.price, stored.filled,
                                                     stored.status)))
    stored_by_trade = {f.trade_id: f for f in stored_fills}
    fills_matched: set[str] = set()
    for fill in venue_fills:
        if fill.trade_id in fills_matched:
            continue
        stored_fill = stored_by_trade.get(fill.trade_id)
        if stored_fill is None:
            if fill.trade_id in known.trade_ids or not _inside(fill.ts, since, until):
                continue
            findings.append(Finding("missing", "fill", venue, fill.symbol,
                                    _fill_ids(fill.trade_id, fill.client_order_id, fill.venue_order_id),
                                    detail=_fill_detail(fill.side.value, fill.amount, fill.price, fill.fee,
                                                        fill.fee_currency)))
            continue
        fills_matched.add(fill.trade_id)
        differing = _differences((("side", stored_fill.side, fill.side.value), ("amount", stored_fill.amount, fill.amount),
                                  ("price", stored_fill.price, fill.price), ("fee", stored_fill.fee, fill.fee),
                                  ("fee_currency", stored_fill.fee_currency, fill.fee_currency)))
        if differing:
            findings.append(Finding("different", "fill", venue, stored_fill.symbol,
                                    _fill_ids(fill.trade_id, stored_fill.client_order_id, stored_fill.venue_order_id),
                                    differing))
    for stored_fill in stored_fills:
        if stored_fill.trade_id not in fills_matched:
            findings.append(Finding("extra", "fill", venue, stored_fill.symbol,
                                    _fill_ids(stored_fill.trade_id, stored_fill.client_order_id,
                                              stored_fill.venue_order_id),
                                    detail=_fill_detail(stored_fill.side, stored_fill.amount, stored_fill.price,
                                                        stored_fill.fee, stored_fill.fee_currency)))
    return VenueAudit(venue, len(matched), len(fills_matched), findings, refused)


def history_venues(snapshot: Mapping[str, Any]) -> tuple[list[str], dict[str, str]]:
    """From a run's config snapshot: the venues whose history outlives the run, so an audit can read it (a
    live venue; a sandbox in another process, ``[sandbox] url``, reached over HTTP as a live one), and why
    each other venue has none."""
    engine = snapshot.get("engine") or {}
    external = (snapshot.get("sandbox") or {}).get("url")
    audited, skipped = [], {}
    for name, section in (snapshot.get("venues") or {}).items():
        kind = (section or {}).get("kind")
        if engine.get("mode") == "replay":
            skipped[name] = "a replay's venues are simulated inside its process"
        elif kind == "live" and engine.get("dry_run"):
            skipped[name] = "a dry run's orders never left arb (paper orders on live books)"
        elif kind == "live" or (kind == "sandbox" and external and engine.get("mode") == "live"):
            audited.append(name)
        elif kind == "sandbox":
            skipped[name] = "an in-process sandbox, which ended with the run"
        else:
            skipped[name] = "a paper venue (its orders never left arb)"
    return audited, skipped


def _known_order(report: OrderReport, known: Known) -> bool:
    return report.client_order_id in known.client_order_ids or (
        report.venue_order_id is not None and report.venue_order_id in known.venue_order_ids)


def _inside(ts: datetime | None, since: datetime, until: datetime) -> bool:
    return ts is None or since <= ts <= until


def _never_on_venue(order: StoredOrder) -> bool:
    """An order the venue refused, or that provably never reached it: the venue keeps no row of it."""
    return order.status == OrderStatus.REJECTED.value and not order.venue_order_id and not order.filled


def _differences(pairs: Iterable[tuple[str, Any, Any]]) -> tuple[tuple[str, str, str], ...]:
    return tuple((name, str(db), str(venue)) for name, db, venue in pairs if db != venue)


def _order_ids(client_order_id: str, venue_order_id: str | None) -> tuple[tuple[str, str], ...]:
    ids = (("client_order_id", client_order_id),) if client_order_id else ()
    return ids + ((("venue_order_id", venue_order_id),) if venue_order_id else ())


def _fill_ids(trade_id: str, client_order_id: str | None, venue_order_id: str | None) -> tuple[tuple[str, str], ...]:
    return (("trade_id", trade_id), *_order_ids(client_order_id or "", venue_order_id))


def _order_detail(side: str, amount: Decimal, price: Decimal, filled: Decimal, status: str) -> str:
    return f"{side} {amount} @ {price}, filled {filled}, {status}"


def _fill_detail(side: str, amount: Decimal, price: Decimal, fee: Decimal, fee_currency: str) -> str:
    return f"{side} {amount} @ {price}, fee {fee} {fee_currency}".rstrip()
