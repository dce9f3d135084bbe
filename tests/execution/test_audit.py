"""The audit's matching rules (arb/execution/audit.py), on hand-made rows: which venue rows are missing, which
stored rows are extra, what differs, and what is neither."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from arb.domain.market import Side
from arb.domain.orders import VenueState
from arb.domain.venue import FillReport, OrderReport
from arb.execution.audit import Known, StoredFill, StoredOrder, audit_venue, history_venues

T = datetime(2026, 11, 25, 12, tzinfo=UTC)
SINCE, UNTIL = T - timedelta(hours=1), T + timedelta(hours=1)


def stored(cid: str = "t-1", vid: str | None = "9", amount: str = "2", filled: str = "2",
           status: str = "filled") -> StoredOrder:
    return StoredOrder(cid, vid, "LINK/USDT", "buy", D(amount), D("27.1"), D(filled), status)


def report(cid: str = "t-1", vid: str | None = "9", amount: str = "2.0", filled: str = "2",
           state: VenueState = VenueState.CLOSED, ts: datetime = T) -> OrderReport:
    return OrderReport("gate", cid, vid, "LINK/USDT", Side.BUY, D("27.10"), D(amount), D(filled), state, ts=ts)


def stored_fill(trade: str = "tr-1", amount: str = "2", fee: str = "0.004") -> StoredFill:
    return StoredFill(trade, "t-1", "9", "LINK/USDT", "buy", D(amount), D("27.1"), D(fee), "LINK")


def venue_fill(trade: str = "tr-1", amount: str = "2", fee: str = "0.004", cid: str | None = "t-1",
               ts: datetime = T) -> FillReport:
    return FillReport("gate", trade, cid, "9", "LINK/USDT", Side.BUY, D("27.1"), D(amount), D(fee), "LINK", ts)


def lines(orders: list[StoredOrder], fills: list[StoredFill], venue_orders: list[OrderReport],
          venue_fills: list[FillReport], known: Known = Known()) -> list[str]:
    audit = audit_venue("gate", orders, fills, venue_orders, venue_fills, known=known, since=SINCE, until=UNTIL)
    return [f.line() for f in audit.findings]


def test_orders_the_venue_refused_are_counted_apart_from_the_matched_and_the_extra() -> None:
    """A stored order the venue refused (a live run's leg refused 429) has no row there to compare: not a finding,
    counted as refused, so matched + refused + extra add up to the stored orders."""
    orders = [stored(), stored(cid="t-r", vid=None, filled="0", status="rejected"),
              stored(cid="t-u", vid=None, filled="0", status="unknown")]
    audit = audit_venue("gate", orders, [], [report()], [], since=SINCE, until=UNTIL)
    assert (audit.orders, audit.refused, [f.kind for f in audit.findings]) == (1, 1, ["extra"])


def test_equal_rows_match_exactly_whatever_their_written_form() -> None:
    audit = audit_venue("gate", [stored()], [stored_fill()], [report(), report()], [venue_fill()],
                        since=SINCE, until=UNTIL)  # the same order read twice (two pages): once
    assert (audit.orders, audit.fills, audit.refused, audit.findings) == (1, 1, 0, [])


@pytest.mark.parametrize(("orders", "fills", "venue_orders", "venue_fills", "known", "expected"), [
    # an order found by its venue id when the client id differs (an adopted one), its status wrong
    ([stored(cid="t-x", status="unknown")], [], [report(cid="other")], [], Known(),
     ["different order: gate LINK/USDT client_order_id=t-x venue_order_id=9: status database unknown venue filled"]),
    # a venue row the database holds outside the selection is not missing; one outside the window is not asked
    ([], [], [report(cid="t-2", vid="8"), report(cid="t-3", vid="7", ts=UNTIL + timedelta(seconds=1))],
     [venue_fill("tr-2"), venue_fill("tr-3", ts=SINCE - timedelta(seconds=1))],
     Known(client_order_ids=frozenset({"t-2"}), trade_ids=frozenset({"tr-2"})), []),
    # a refused order never existed on the venue: not extra; an unresolved one is
    ([stored(cid="t-r", vid=None, filled="0", status="rejected"), stored(cid="t-u", vid=None, filled="0",
                                                                        status="unknown")], [], [], [], Known(),
     ["extra order: gate LINK/USDT client_order_id=t-u: in the database, not on the venue (buy 2 @ 27.1, filled 0, "
      "unknown)"]),
    ([], [stored_fill("tr-9")], [], [venue_fill("tr-8", cid=None)], Known(),
     ["missing fill: gate LINK/USDT trade_id=tr-8 venue_order_id=9: on the venue, not in the database (buy 2 @ 27.1, "
      "fee 0.004 LINK)",
      "extra fill: gate LINK/USDT trade_id=tr-9 client_order_id=t-1 venue_order_id=9: in the database, not on the "
      "venue (buy 2 @ 27.1, fee 0.004 LINK)"]),
    ([stored(amount="3", filled="3")], [stored_fill(fee="0.005")], [report()], [venue_fill()], Known(),
     ["different order: gate LINK/USDT client_order_id=t-1 venue_order_id=9: amount database 3 venue 2.0; "
      "filled database 3 venue 2",
      "different fill: gate LINK/USDT trade_id=tr-1 client_order_id=t-1 venue_order_id=9: fee database 0.005 "
      "venue 0.004"]),
    ([], [], [report(cid="t-o", vid="5", filled="0", state=VenueState.OPEN)], [], Known(),
     ["missing order: gate LINK/USDT client_order_id=t-o venue_order_id=5: on the venue, not in the database "
      "(buy 2.0 @ 27.10, filled 0, open)"]),
])
def test_findings(orders: list[StoredOrder], fills: list[StoredFill], venue_orders: list[OrderReport],
                  venue_fills: list[FillReport], known: Known, expected: list[str]) -> None:
    assert lines(orders, fills, venue_orders, venue_fills, known) == expected


@pytest.mark.parametrize(("engine", "venues", "sandbox_url", "audited", "skipped"), [
    ({"mode": "live"}, {"gate": {"kind": "sandbox"}, "htx": {"kind": "paper"}}, "http://127.0.0.1:1", ["gate"],
     {"htx": "a paper venue (its orders never left arb)"}),
    ({"mode": "live"}, {"gate": {"kind": "sandbox"}, "bn": {"kind": "live"}}, None, ["bn"],
     {"gate": "an in-process sandbox, which ended with the run"}),
    ({"mode": "live", "dry_run": True}, {"bn": {"kind": "live"}}, None, [],
     {"bn": "a dry run's orders never left arb (paper orders on live books)"}),
    ({"mode": "replay"}, {"gate": {"kind": "sandbox"}}, None, [],
     {"gate": "a replay's venues are simulated inside its process"}),
])
def test_which_venues_have_a_history_that_outlives_the_run(engine: dict, venues: dict, sandbox_url: str | None,
                                                           audited: list[str], skipped: dict[str, str]) -> None:
    snapshot = {"engine": engine, "venues": venues, "sandbox": {"url": sandbox_url}}
    assert history_venues(snapshot) == (audited, skipped)
