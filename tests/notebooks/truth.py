"""What a run's figures must hold, counted straight from the database with SQL (not through arb.analysis),
and the checks that compare a notebook's figure records with it."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from arb.marketdata.capture import read_capture
from arb.store.db import make_engine

ATTRIBUTION = ("pnl_slippage", "pnl_fees", "pnl_unfilled", "pnl_imbalance")
STAGE_SQL = {
    # Entry orders with both ends of each stage recorded.
    "trigger_to_sent_ms": "o.opportunity_id IS NOT NULL AND o.sent_at IS NOT NULL",
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
    assert set(figures) == {"spread", "funnel", "pnl", "slippage", "latency", "inventory", "equity", "pnl_per_hour",
                            "edge", "fill_rate", "latency_percentiles"}
    for name, figure in figures.items():
        axes = figure["axes"]
        assert axes and all(ax["ylabel"] for ax in axes), (name, axes)
        assert axes[-1]["xlabel"], name
        if name not in ("spread", "inventory", "edge"):  # the others do not share a time axis: each is labelled
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


def _at(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _exact(position: dict[str, Any]) -> dict[str, Any]:
    """A position with its amounts as Decimal (stored JSON holds them as text, at whatever exponent)."""
    return {k: v if k in ("venue", "symbol") or v is None else Decimal(str(v)) for k, v in position.items()}


def nearest_rank(values: list[Decimal], p: Decimal) -> Decimal:
    """The latency recorder's percentile rule, written out: the value at index floor(p * n) of the sorted."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


class TradingTruth:
    """What the equity, PnL-per-hour, edge, fill-rate and latency-percentile figures must hold, by SQL."""

    def __init__(self, url: str, run_id: int) -> None:
        engine = make_engine(url)
        with engine.connect() as conn:
            def rows(sql: str) -> list[Any]:
                return list(conn.execute(text(sql), {"run": run_id}))

            settled = rows("SELECT id, detected_at, settled_at, realized_pnl, open_base, open_price, buy_venue, "
                           "sell_venue FROM opportunities WHERE run_id = :run AND decision = 'executed' AND "
                           "settled_at IS NOT NULL ORDER BY settled_at, id")
            self.realized_steps = []
            running = Decimal(0)
            for r in settled:
                running += Decimal(str(r.realized_pnl))
                self.realized_steps.append(running)
            self.realized = running
            self.lots = [(_at(r.settled_at), r.buy_venue if Decimal(str(r.open_base)) > 0 else r.sell_venue,
                          Decimal(str(r.open_base)), Decimal(str(r.open_price)))
                         for r in settled if r.open_base is not None and Decimal(str(r.open_base)) != 0]
            self.hours: Counter[str] = Counter()
            for r in settled:
                self.hours[f"{_at(r.detected_at):%m-%d %H}:00"] += Decimal(str(r.realized_pnl))  # type: ignore[assignment]
            self.edges = rows("SELECT buy_price, sell_price, edge_bps FROM opportunities WHERE run_id = :run")
            self.entry_legs = rows(
                "SELECT o.venue, p.detected_at, o.amount, o.id FROM orders o JOIN opportunities p ON "
                "p.id = o.opportunity_id WHERE o.run_id = :run AND o.purpose = 'entry'")
            self.fills = {oid: [Decimal(str(a)) for (a,) in rows(f"SELECT amount FROM fills WHERE order_id = {oid}")]
                          for *_, oid in self.entry_legs}
            self.acks: dict[str, list[Decimal]] = {}
            for venue, sent, acked in rows("SELECT venue, sent_at, acked_at FROM orders WHERE run_id = :run AND "
                                           "sent_at IS NOT NULL AND acked_at IS NOT NULL"):
                delta = _at(acked) - _at(sent)
                self.acks.setdefault(venue, []).append(Decimal(delta // timedelta(microseconds=1)) / 1000)
            summary = rows("SELECT summary FROM runs WHERE id = :run")[0][0]
            self.summary = json.loads(summary) if isinstance(summary, str) else summary
        engine.dispose()

    def fill_points(self, bucket_s: int) -> dict[str, list[list[Any]]]:
        """venue -> [[bucket start (ISO), filled / ordered %]], by the decision time of each entry leg."""
        acc: dict[tuple[str, datetime], list[Decimal]] = {}
        for venue, detected, amount, oid in self.entry_legs:
            at = _at(detected)
            start = datetime.fromtimestamp(int(at.replace(tzinfo=UTC).timestamp()) // bucket_s * bucket_s, UTC)
            entry = acc.setdefault((venue, start.replace(tzinfo=None)), [Decimal(0), Decimal(0)])
            entry[0] += Decimal(str(amount))
            entry[1] += sum(self.fills[oid], Decimal(0))
        out: dict[str, list[list[Any]]] = {}
        for (venue, start), (ordered, filled) in sorted(acc.items()):
            out.setdefault(venue, []).append([start.isoformat(), float((filled / ordered * 100).quantize(Decimal("0.01"), ROUND_HALF_EVEN))])
        return out


def check_trading(figures: dict[str, dict[str, Any]], truth: TradingTruth) -> None:
    """The equity, PnL-per-hour, edge, fill-rate and latency-percentile figures against SQL."""
    (equity,) = figures["equity"]["axes"]
    realized = [y for _, y in equity["points"]["realized"]]
    start = 1 if len(realized) == len(truth.realized_steps) + 2 else 0  # the start point, when the run has one
    assert realized[start:start + len(truth.realized_steps)] == pytest.approx(
        [float(v) for v in truth.realized_steps], abs=1e-12)
    assert realized[-1] == pytest.approx(float(truth.realized), abs=1e-12)
    assert Decimal(figures["equity"]["realized"]) == truth.realized
    shown = [_exact(p) for p in figures["equity"]["open_positions"]]
    if truth.summary and "open_positions" in truth.summary:
        stored = [_exact(p) for p in truth.summary["open_positions"]]
        assert shown == stored  # the run's own figures, exact, as the summary stored them
        unrealized = sum((p["unrealized"] for p in stored), Decimal(0))
        assert Decimal(figures["equity"]["unrealized"]) == unrealized
        assert Decimal(truth.summary["realized_pnl"]) == truth.realized  # realized excludes the open position
        assert equity["points"]["equity"][-1][1] == pytest.approx(float(truth.realized + unrealized), abs=1e-12)
    else:  # no summary, so no stored mark: the lots as stored, per venue
        held: dict[str, Decimal] = {}
        for _, venue, amount, _ in truth.lots:
            held[venue] = held.get(venue, Decimal(0)) + amount
        assert {p["venue"]: p["amount"] for p in shown} == {v: a for v, a in held.items() if a}
    # Until a lot is open, equity is realized.
    first_open = min((t for t, *_ in truth.lots), default=None)

    def before(points: list[list[Any]]) -> list[float]:
        return [y for x, y in points
                if first_open is None or datetime.fromisoformat(x) < first_open.replace(tzinfo=None)]

    closed = before(equity["points"]["realized"])
    assert before(equity["points"].get("equity", [])) == pytest.approx(closed, abs=1e-12), equity["points"]

    (hourly,) = figures["pnl_per_hour"]["axes"]
    drawn = dict(zip(hourly["xticks"], hourly["bars"]["realized"], strict=True))
    assert set(truth.hours) <= set(drawn)
    assert drawn == pytest.approx({h: float(truth.hours.get(h, 0)) for h in drawn}, abs=1e-12)

    gross_ax, net_ax = figures["edge"]["axes"]
    gross = [float(((Decimal(str(s)) - Decimal(str(b))) / Decimal(str(b)) * 10_000).quantize(Decimal("0.01"), ROUND_HALF_EVEN))
             for b, s, _ in truth.edges]
    net = [float(Decimal(str(e))) for _, _, e in truth.edges if e is not None]
    for ax, values, gid in ((gross_ax, gross, "gross"), (net_ax, net, "net")):
        spans = ax["spans"][gid]
        bins = [left for left, _ in spans] + [spans[-1][1]]
        counts = [sum(1 for v in values if lo <= v < hi or (i == len(spans) - 1 and v == hi))
                  for i, (lo, hi) in enumerate(zip(bins, bins[1:], strict=False))]
        assert ax["bars"][gid] == counts, gid
        assert sum(counts) == len(values)

    (fill,) = figures["fill_rate"]["axes"]
    want = truth.fill_points(figures["fill_rate"]["bucket_seconds"])
    assert fill.get("points", {}) == want, (fill.get("points", {}), want)  # truth.py is not assert-rewritten

    (lat,) = figures["latency_percentiles"]["axes"]
    rows = [label.split(" · ")[0] for label in lat["yticks"]]
    expected_rows = sorted(truth.acks) + (["all venues"] if truth.summary and truth.summary.get("hot_path_us") else [])
    assert rows == expected_rows
    for name, p in (("p50", Decimal("0.5")), ("p90", Decimal("0.9")), ("p99", Decimal("0.99"))):
        want = [float(nearest_rank(truth.acks[v], p)) for v in sorted(truth.acks)]
        if "all venues" in rows:
            want.append(float(Decimal(truth.summary["hot_path_us"][name]) / 1000))
        assert lat["bars"][name] == pytest.approx(want, abs=1e-9), name


def capture_mid(path: Path, capture_venue: str, symbol: str, at: datetime) -> Decimal:
    """A venue's mid in a capture as its book stood at ``at``: every event up to it applied, plainly."""
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    limit = int(at.replace(tzinfo=UTC).timestamp() * 1000)
    for event in read_capture(path):
        if event.ts > limit:
            break
        if event.venue != capture_venue or event.symbol != symbol:
            continue
        if event.type in ("snapshot", "reset", "gap"):
            bids, asks = {}, {}
        for book, changes in ((bids, event.bids), (asks, event.asks)):
            for price, size in changes:
                book[Decimal(price)] = Decimal(size)
    best_bid = max(p for p, s in bids.items() if s)
    best_ask = min(p for p, s in asks.items() if s)
    return (best_bid + best_ask) / 2
