"""What a run's figures must hold, counted straight from the database with SQL (not through arb.analysis),
and the checks that compare a notebook's figure records with it."""

from __future__ import annotations

import json
import re
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from arb.store.db import make_engine

ATTRIBUTION = ("pnl_slippage", "pnl_fees", "pnl_unfilled", "pnl_imbalance")
STAGE_SQL = {
    # Entry orders with both ends of each stage recorded.
    "decision_to_sent_ms": "o.opportunity_id IS NOT NULL AND o.sent_at IS NOT NULL",
    "sent_to_ack_ms": "o.sent_at IS NOT NULL AND o.acked_at IS NOT NULL",
    "ack_to_first_fill_ms": "o.acked_at IS NOT NULL AND EXISTS (SELECT 1 FROM fills f WHERE f.order_id = o.id "
                            "AND f.received_at IS NOT NULL)",
    "first_to_last_fill_ms": "EXISTS (SELECT 1 FROM fills f WHERE f.order_id = o.id AND f.received_at IS NOT NULL)",
}


class Truth:
    """One run's counts and sums, read with SQL."""

    def __init__(self, url: str, run_id: int) -> None:
        engine = make_engine(url)
        with engine.connect() as conn:
            def rows(sql: str) -> list[Any]:
                return list(conn.execute(text(sql), {"run": run_id}))

            self.opportunities = Counter({(b, s, d, r or ""): n for b, s, d, r, n in rows(
                "SELECT buy_venue, sell_venue, decision, reason, count(*) FROM opportunities WHERE run_id = :run "
                "GROUP BY 1, 2, 3, 4")})
            executed = rows("SELECT expected_profit, realized_pnl, pnl_slippage, pnl_fees, pnl_unfilled, "
                            "pnl_imbalance, settled_at FROM opportunities WHERE run_id = :run AND decision = 'executed'")
            self.settled = sum(1 for r in executed if r.settled_at is not None)
            self.waterfall = [
                sum((Decimal(str(r.expected_profit)) for r in executed), Decimal(0)),
                *(sum((Decimal(str(getattr(r, c))) for r in executed if getattr(r, c) is not None), Decimal(0))
                  for c in ATTRIBUTION),
                sum((Decimal(str(r.realized_pnl)) for r in executed if r.realized_pnl is not None), Decimal(0)),
            ]
            self.filled_entry_legs = Counter({(v, s): n for v, s, n in rows(
                "SELECT o.venue, o.side, count(*) FROM orders o WHERE o.run_id = :run AND o.purpose = 'entry' "
                "AND o.opportunity_id IS NOT NULL AND EXISTS (SELECT 1 FROM fills f WHERE f.order_id = o.id) "
                "GROUP BY 1, 2")})
            self.latency = Counter()
            for stage, condition in STAGE_SQL.items():
                for venue, n in rows(f"SELECT o.venue, count(*) FROM orders o WHERE o.run_id = :run AND "
                                     f"o.purpose = 'entry' AND {condition} GROUP BY 1"):
                    self.latency[f"{stage}|{venue}"] = n
            self.balances = Counter({(v, a): n for v, a, n in rows(
                "SELECT venue, asset, count(*) FROM balances WHERE run_id = :run GROUP BY 1, 2")})
            self.balance_instants = dict(rows(
                "SELECT asset, count(DISTINCT ts) FROM balances WHERE run_id = :run GROUP BY 1"))
            summary = rows("SELECT summary FROM runs WHERE id = :run")[0][0]
            self.summary = json.loads(summary) if isinstance(summary, str) else summary
        engine.dispose()

    def count(self, **match: str) -> int:
        keys = ("buy", "sell", "decision", "reason")
        return sum(n for key, n in self.opportunities.items()
                   if all(key[keys.index(k)] == v for k, v in match.items()))


def check_analysis(figures: dict[str, dict[str, Any]], truth: Truth) -> None:
    """Every figure of analysis.ipynb holds exactly the database's points, series and totals."""
    assert set(figures) == {"spread", "funnel", "pnl", "slippage", "latency", "inventory"}
    for name, figure in figures.items():
        axes = figure["axes"]
        assert axes and all(ax["ylabel"] for ax in axes), (name, axes)
        assert axes[-1]["xlabel"], name
        if name not in ("spread", "inventory"):  # the others do not share a time axis: each is labelled
            assert all(ax["xlabel"] for ax in axes), (name, axes)

    directions = set()
    for ax in figures["spread"]["axes"]:
        buy, sell = re.match(r"buy (\S+) / sell (\S+):", ax["title"]).groups()  # type: ignore[union-attr]
        directions.add((buy, sell))
        drawn = {k: v for k, v in ax.get("series", {}).items() if k != "cross"}
        expected = {f"rejected:{r}": n for (b, s, d, r), n in truth.opportunities.items()
                    if (b, s, d) == (buy, sell, "rejected")}
        if truth.count(buy=buy, sell=sell, decision="executed"):
            expected["executed"] = truth.count(buy=buy, sell=sell, decision="executed")
        assert drawn == expected, (buy, sell)
    assert {(b, s) for b, s, _, _ in truth.opportunities} <= directions

    funnel, rejected = figures["funnel"]["axes"]
    stages = dict(zip(funnel["yticks"], funnel["bars"]["funnel"], strict=True))
    assert stages["executed"] == truth.count(decision="executed")
    assert stages["crossed"] == sum(truth.opportunities.values())
    if truth.summary:
        assert stages == {label: truth.summary["funnel"][key] for key, label in (
            ("evaluations", "evaluated"), ("crossed", "crossed"), ("profitable_after_fees", "profitable after fees"),
            ("approved", "approved"), ("executed", "executed"))}
    reasons: Counter[str] = Counter()
    for (_, _, decision, reason), n in truth.opportunities.items():
        if decision == "rejected":
            reasons[reason] += n
    assert dict(zip(rejected.get("yticks", []), rejected.get("bars", {}).get("rejected", []), strict=True)) == reasons

    scatter, waterfall = figures["pnl"]["axes"]
    assert scatter.get("series", {}).get("settled", 0) == truth.settled
    assert waterfall["bars"]["waterfall"] == pytest.approx([float(v) for v in truth.waterfall], abs=1e-12)
    assert waterfall["xticks"] == ["expected", "slippage", "fees", "unfilled", "imbalance", "realized"]

    (slippage,) = figures["slippage"]["axes"]
    assert slippage.get("series", {}) == {f"{v} {s}": n for (v, s), n in truth.filled_entry_legs.items()}

    (latency,) = figures["latency"]["axes"]
    assert latency.get("series", {}) == dict(truth.latency)

    for ax in figures["inventory"]["axes"]:
        asset = ax["title"].split(":")[0]
        venues = {v: n for (v, a), n in truth.balances.items() if a == asset}
        expected = dict(venues) | ({"all venues": truth.balance_instants[asset]} if len(venues) > 1 else {})
        assert ax["series"] == expected, asset
    assert {a for _, a in truth.balances} == {ax["title"].split(":")[0] for ax in figures["inventory"]["axes"]}
