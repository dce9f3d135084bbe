"""A run's figures: the cross between venues with every opportunity on it, the funnel and rejections, PnL
per opportunity and the run's waterfall, entry-leg slippage, latency per leg stage, balances over the run.

Every data artist gets a ``gid`` naming its series, reference lines one starting ``ref:``, so
:func:`arb.analysis.readback.drawn` reads back what is on the canvas and the tests compare it with the
database. A figure whose data is degenerate (all zero, one value, nothing moved) says so in its title rather
than drawing a shape that suggests otherwise. Colours and the time axis: :mod:`arb.analysis.figure_style`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from arb.analysis.capture_frames import top_of_book_cross
from arb.analysis.figure_style import EXECUTED_COLOUR, naive_utc, reason_colours, time_axis, venue_colours
from arb.analysis.frames import STAGES
from arb.display import Precision, money

FUNNEL_STAGES = (("evaluations", "evaluated"), ("crossed", "crossed"),
                 ("profitable_after_fees", "profitable after fees"), ("approved", "approved"),
                 ("quotes", "quotes sent"), ("quotes_filled", "quotes filled"), ("executed", "executed"))
STAGE_LABELS = {"trigger_to_sent_ms": "trigger → sent", "sent_to_ack_ms": "sent → acknowledged",
                "ack_to_first_fill_ms": "acknowledged → first fill",
                "first_to_last_fill_ms": "first → last fill"}
CROSS_BELOW_BPS = 3.0  # how far below zero (or the lowest opportunity) the spread axis shows the cross


def spread_figure(symbol: str, venues: Sequence[str], opps: pd.DataFrame, tob: pd.DataFrame,
                  min_edge_bps: float | None, capture_note: str) -> Figure:
    """Per direction (buy A / sell B): the top-of-book cross over market time, every opportunity at its
    gross cross (executed large, rejections coloured by reason with counts), and the fee hurdle."""
    opps = opps[opps.symbol == symbol]
    directions = [(b, s) for b in venues for s in venues if b != s]
    fig = Figure(figsize=(13, 3.6 * len(directions)), layout="constrained")
    axes = fig.subplots(len(directions), 1, sharex=True, squeeze=False)[:, 0]
    colours = reason_colours(opps.reason[opps.decision == "rejected"].tolist())
    for ax, (buy, sell) in zip(axes, directions, strict=True):
        cross = top_of_book_cross(tob, buy, sell)
        mine = opps[(opps.buy_venue == buy) & (opps.sell_venue == sell)]
        if not cross.empty:
            ax.plot(naive_utc(cross.index), cross.values, lw=0.5, color="0.6", gid="cross",
                    label=f"top-of-book cross: bid {sell} - ask {buy}")
        fees = mine.fees_bps.dropna()
        if not fees.empty:
            hurdle = float(fees.median())
            ax.axhline(hurdle, color="0.2", ls="--", lw=0.8, gid="ref:fees",
                       label=f"both taker fees ({hurdle:.2f} bps)")
            if min_edge_bps:
                ax.axhline(hurdle + min_edge_bps, color="0.2", ls=":", lw=0.8, gid="ref:fees+min_edge",
                           label=f"fees + minimum edge ({hurdle + min_edge_bps:.2f} bps)")
        rejected = mine[mine.decision == "rejected"]
        for reason, rows in sorted(rejected.groupby("reason"), key=lambda kv: -len(kv[1])):
            size = min(36.0, max(9.0, 3000 / len(rows)))  # a handful stands out; a thousand stays a haze
            ax.scatter(naive_utc(rows.detected_at), rows.gross_bps, s=size, color=colours[str(reason)], alpha=0.7,
                       linewidths=0, zorder=3, gid=f"rejected:{reason}", label=f"rejected: {reason} ({len(rows)})")
        executed = mine[mine.decision == "executed"]
        if not executed.empty:
            ax.scatter(naive_utc(executed.detected_at), executed.gross_bps, s=130, marker="*",
                       color=EXECUTED_COLOUR, edgecolors="black", linewidths=0.6, zorder=5, gid="executed",
                       label=f"executed ({len(executed)})")
        title = f"buy {buy} / sell {sell}: {len(executed)} executed, {len(rejected)} rejected"
        if cross.empty:
            title += f" ({capture_note})"
        if mine.empty and cross.empty:
            title = f"buy {buy} / sell {sell}: no opportunity and no books in this direction"
        if not cross.empty:  # uncrossed depths would squeeze everything traded into a strip: cut, and say so
            lowest = min(float(mine.gross_bps.min()) if not mine.empty else 0.0, 0.0)
            floor = max(float(cross.quantile(0.01)), lowest - CROSS_BELOW_BPS)
            if float(cross.min()) < floor:
                ax.set_ylim(bottom=floor)
                title += f" (axis cut at {floor:.1f} bps; the cross's low is {cross.min():.1f} bps)"
        ax.set_title(title, loc="left")
        ax.set_ylabel("gross cross (bps of the ask)")
        ax.axhline(0, color="0.8", lw=0.6, gid="ref:zero")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1), fontsize=8, frameon=False)
        time_axis(ax, label=ax is axes[-1])
    fig.suptitle(f"{symbol}: cross between venues over the run (stars: executed)")
    return fig


def _log_bars(ax: Axes, labels: Sequence[str], counts: Sequence[int], colours: Sequence[Any], gid: str) -> None:
    """Horizontal bars on a log scale with each count printed; a zero count is printed where its bar
    would start (log scale has no zero)."""
    y = np.arange(len(labels))
    ax.barh(y, [c if c > 0 else np.nan for c in counts], color=colours, gid=gid)  # the gid goes to every bar
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xscale("log")
    top = max([c for c in counts if c > 0], default=1)
    ax.set_xlim(0.5, top * 8)
    for yi, count in zip(y, counts, strict=True):
        ax.text(max(count, 0.55), float(yi), f" {count:,}", va="center", fontsize=9)
    ax.set_xlabel("count (log scale)")


def funnel_figure(stages: dict[str, int], stages_note: str, rejected: dict[str, int]) -> Figure:
    """Left: the run's funnel stage by stage. Right: rejections by reason. Both on a log scale."""
    fig = Figure(figsize=(13, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.2])
    names = [key for key, _ in FUNNEL_STAGES if key in stages]
    _log_bars(left, [dict(FUNNEL_STAGES)[k] for k in names], [stages[k] for k in names],
              ["0.55"] * (len(names) - 1) + [EXECUTED_COLOUR], "funnel")
    left.set_title(f"{'Quote' if 'quotes' in stages else 'Opportunity'} funnel{stages_note}", loc="left")
    left.set_ylabel("stage")
    colours = reason_colours(list(rejected))
    ordered = sorted(rejected, key=lambda r: -rejected[r])
    if ordered:
        _log_bars(right, ordered, [rejected[r] for r in ordered], [colours[r] for r in ordered], "rejected")
        right.set_title(f"Rejected, by reason ({sum(rejected.values()):,} in all)", loc="left")
        right.set_ylabel("reason")
    else:
        right.set_axis_off()
        right.set_title("Nothing was rejected", loc="left")
    return fig


def pnl_figure(pnl: pd.DataFrame, totals: dict[str, Decimal], quote: str, places: int) -> Figure:
    """Left: realized against expected per settled opportunity. Right: the run's waterfall, expected ->
    slippage -> fees -> unfilled -> imbalance -> realized, from the stored attribution, printed at
    ``places`` decimals (the quote currency's)."""
    fig = Figure(figsize=(13, 4.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    settled = pnl.dropna(subset=["realized_pnl"])
    expected = settled.expected_pnl.map(float)
    realized = settled.realized_pnl.map(float)
    left.scatter(expected, realized, s=22, alpha=0.75, gid="settled", label="settled opportunity")
    if not settled.empty:
        lo, hi = min(expected.min(), realized.min()), max(expected.max(), realized.max())
        pad = (hi - lo) * 0.05 or abs(hi) * 0.05 or 0.01
        left.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.5", lw=0.7, ls="--", gid="ref:diagonal",
                  label="realized = expected")
        left.legend(loc="upper left", fontsize=8)
    on_diagonal = bool((settled.expected_pnl == settled.realized_pnl).all())
    title = f"Per opportunity: {len(settled)} settled"
    if len(settled) < len(pnl):
        title += f", {len(pnl) - len(settled)} unsettled (not shown)"
    if len(settled) == 1 and on_diagonal:
        title += ": it realized exactly its expected PnL"
    elif not settled.empty and on_diagonal:
        title += ": every one realized exactly its expected PnL"
    if pnl.empty:
        title = "Per opportunity: the run executed nothing"
    left.set_title(title, loc="left", fontsize=10)
    left.set(xlabel=f"expected PnL ({quote})", ylabel=f"realized PnL ({quote})")

    terms = [("slippage", "pnl_slippage"), ("fees", "pnl_fees"), ("unfilled", "pnl_unfilled"),
             ("imbalance", "pnl_imbalance")]
    labels = ["expected", *(name for name, _ in terms), "realized"]
    values = [totals["expected_pnl"], *(totals[col] for _, col in terms), totals["realized_pnl"]]
    running = totals["expected_pnl"]
    bottoms = [Decimal(0)]
    for _, col in terms:
        bottoms.append(running)
        running += totals[col]
    bottoms.append(Decimal(0))
    colours = ["0.45"] + ["#2ca02c" if totals[col] >= 0 else "#d62728" for _, col in terms] + ["0.2"]
    bars = right.bar(labels, [float(v) for v in values], bottom=[float(b) for b in bottoms], color=colours)
    for patch, value, bottom in zip(bars, values, bottoms, strict=True):
        patch.set_gid("waterfall")
        up = value >= 0  # the label sits past the end of its bar: above a gain, below a loss
        end = float(bottom + value)
        right.annotate(money(value, places), (patch.get_x() + patch.get_width() / 2, end),
                       ha="center", va="bottom" if up else "top", fontsize=9,
                       xytext=(0, 2 if up else -2), textcoords="offset points")
    levels = [float(totals["expected_pnl"])] + [float(b + v) for b, v in zip(bottoms[1:-1], values[1:-1],
                                                                              strict=True)]
    for i, level in enumerate(levels):  # connectors: where each bar ends, the next one starts
        right.plot([i + 0.4, i + 0.6], [level, level], color="0.6", lw=0.7, gid="ref:connector")
    right.axhline(0, color="0.6", lw=0.6, gid="ref:zero")
    if pnl.empty:
        wtitle = "Run total: nothing executed, so no PnL"
    elif all(totals[col] == 0 for _, col in terms):
        wtitle = f"Run total: realized = expected = {money(totals['realized_pnl'], places)} {quote}: every term is 0"
    else:
        wtitle = (f"Run total: expected {money(totals['expected_pnl'], places)} -> realized "
                  f"{money(totals['realized_pnl'], places)} {quote}")
    right.set_title(wtitle, loc="left", fontsize=10)
    right.set_ylabel(f"PnL ({quote})")
    right.set_xlabel("from expected, term by term (attribution), to realized")
    ends = [0.0, *levels, float(totals["realized_pnl"])]
    span = (max(ends) - min(ends)) or abs(max(ends)) or 1.0
    right.set_ylim(min(ends) - 0.12 * span, max(ends) + 0.12 * span)
    return fig


def slippage_figure(slippage: pd.DataFrame, venues: Sequence[str], span: tuple[Any, Any] | None) -> Figure:
    """Per entry leg: its slippage in bps (0.01 bps resolution) at the time it filled, per venue and side,
    over ``span`` (the run's market start and end, when known)."""
    fig = Figure(figsize=(13, 3.8), layout="constrained")
    ax = fig.subplots()
    colours = venue_colours(venues)
    for (venue, side), rows in slippage.groupby(["venue", "side"]):
        ax.scatter(naive_utc(rows.ts), rows.slippage_bps, s=24, marker="^" if side == "buy" else "v",
                   color=colours.get(str(venue), "0.3"), alpha=0.8, gid=f"{venue} {side}",
                   label=f"{venue} {side} ({len(rows)})")
    ax.axhline(0, color="0.6", lw=0.6, gid="ref:zero")
    n = len(slippage)
    values = slippage.slippage_bps
    if n == 0:
        title = "Entry-leg slippage: no entry leg filled"
    elif (values == 0).all():
        title = f"Entry-leg slippage: all {n} entry legs filled at exactly the expected price (0 bps)"
        ax.set_ylim(-1, 1)  # not matplotlib's +-0.05 around zero, which reads as noise
    else:
        moved = int((values != 0).sum())
        title = (f"Entry-leg slippage: {n} legs, {moved} off the expected price; median {values.median():.2f} "
                 f"bps, worst {values.max():.2f} bps")
    ax.set_title(title, loc="left")
    ax.set_ylabel("slippage (bps; + = worse than expected)")
    if n:
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1), fontsize=8, frameon=False)
    if span is not None and None not in span:
        ax.set_xlim(*naive_utc(pd.Series(span)))
    time_axis(ax)
    return fig


def latency_figure(latency: pd.DataFrame, venues: Sequence[str]) -> Figure:
    """Every entry leg's time in each stage (trigger -> sent -> acknowledged -> first fill -> last fill; an
    entry leg's trigger is its decision, ``arb.store.views.LegRow``), one row per stage and venue, in ms on a
    symmetric log scale (linear below 1 ms, so 0 ms shows)."""
    present = [s for s in STAGES if (latency.stage == s).any()]
    missing = [STAGE_LABELS[s] for s in STAGES if s not in present]
    shown = [v for v in venues if (latency.venue == v).any()] + sorted(set(latency.venue) - set(venues))
    rows = [(stage, venue) for stage in present for venue in shown
            if ((latency.stage == stage) & (latency.venue == venue)).any()]
    fig = Figure(figsize=(13, 1.6 + 0.42 * max(len(rows), 1)), layout="constrained")
    ax = fig.subplots()
    if not rows:
        ax.set_axis_off()
        ax.set_title("Latency per leg stage: no entry leg has the timestamps of any stage", loc="left")
        return fig
    colours = venue_colours(venues)
    labels, constant, single = [], 0, 0
    for y, (stage, venue) in enumerate(rows):
        ms = latency.ms[(latency.stage == stage) & (latency.venue == venue)]
        ax.scatter(ms, np.full(len(ms), y), s=34, alpha=0.45, linewidths=0, color=colours.get(venue, "0.3"),
                   gid=f"{stage}|{venue}")
        ax.plot([ms.median()] * 2, [y - 0.32, y + 0.32], color="black", lw=1.4, gid=f"ref:median|{stage}|{venue}")
        if len(ms) == 1:
            single += 1
            labels.append(f"{STAGE_LABELS[stage]} · {venue}: {ms.iloc[0]:g} ms (1 leg)")
        elif ms.nunique() == 1:
            constant += 1
            labels.append(f"{STAGE_LABELS[stage]} · {venue}: {ms.iloc[0]:g} ms on all {len(ms)} legs")
        else:
            labels.append(f"{STAGE_LABELS[stage]} · {venue}: median {ms.median():g}, max {ms.max():g} ms "
                          f"({len(ms)} legs)")
    ax.set_yticks(range(len(rows)), labels, fontsize=9)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(left=-0.5 if latency.ms.min() >= 0 else None, right=max(float(latency.ms.max()) * 2, 10.0))
    ax.set_xlabel("ms (symmetric log scale: linear below 1 ms); black tick: median")
    ax.set_ylabel("stage · venue")
    for y in range(1, len(rows)):
        if rows[y][0] != rows[y - 1][0]:
            ax.axhline(y - 0.5, color="0.85", lw=0.8, gid="ref:stage")
    title = "Latency of entry legs per stage"
    if single == len(rows):
        title += ": one leg per venue, so one value per stage, no distribution"
    elif constant + single == len(rows):
        title += ": each stage took the same time on every leg of a venue"
    if missing:
        title += f"; no timestamps for {', '.join(missing)}"
    ax.set_title(title, loc="left")
    return fig


def inventory_figure(snapshots: pd.DataFrame, venues: Sequence[str], precision: Precision) -> Figure:
    """Per asset: each venue's total balance over market time, from the balance snapshots (start, after
    each executed pair, end), and the sum over venues when there are several."""
    assets = sorted(snapshots.asset.unique())
    fig = Figure(figsize=(13, 3.0 * max(len(assets), 1)), layout="constrained")
    if not assets:
        ax = fig.subplots()
        ax.set_axis_off()
        ax.set_title("Balances: the run recorded no balance snapshot", loc="left")
        return fig
    axes = fig.subplots(len(assets), 1, sharex=True, squeeze=False)[:, 0]
    colours = venue_colours(venues)
    for ax, asset in zip(axes, assets, strict=True):
        rows = snapshots[snapshots.asset == asset]
        changes = []
        for venue, series in rows.groupby("venue", sort=False):
            series = series.sort_values("ts")
            totals = series.total.map(float)
            ax.step(naive_utc(series.ts), totals, where="post", marker="o", ms=3, lw=1.2,
                    color=colours.get(venue, "0.3"), gid=venue, label=venue)
            first, last = series.total.iloc[0], series.total.iloc[-1]
            places = precision.asset(asset, venue)
            changes.append(f"{venue} {money(first, places)} -> {money(last, places)}" if first != last
                           else f"{venue} unchanged at {money(first, places)}")
        if rows.venue.nunique() > 1:
            wide = rows.pivot_table(index="ts", columns="venue", values="total", aggfunc="last").ffill().dropna()
            summed = [sum(r, Decimal(0)) for r in wide.itertuples(index=False)]
            ax.step(naive_utc(wide.index), [float(v) for v in summed], where="post", color="0.2", ls="--",
                    lw=1.0, gid="all venues", label="all venues")
            delta = summed[-1] - summed[0]
            changes.append(f"all venues {'+' if delta > 0 else ''}{money(delta, precision.asset(asset))}"
                           if delta else "all venues unchanged")
        span = rows.ts.max() - rows.ts.min()
        title = f"{asset}: " + "; ".join(changes)
        if span == pd.Timedelta(0):
            title += " (every snapshot at one instant)"
        ax.set_title(title, loc="left", fontsize=10)
        ax.set_ylabel(f"{asset} (total)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1), fontsize=8, frameon=False)
        time_axis(ax, label=ax is axes[-1])
    fig.suptitle("Balances per venue over the run (snapshots: start, after each executed pair, end)")
    return fig
