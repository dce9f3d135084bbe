"""The figures of what a run made and how it traded: equity over the run, realized PnL per hour, gross and
net edge, fill rate per venue over time and latency percentiles.

Each draws the frames of :mod:`arb.analysis.trading_frames` as they are (money turns into floats only here)
and names its artists with ``gid`` as :mod:`arb.analysis.plots` does, so :func:`~arb.analysis.readback.drawn`
reads back what is on the canvas and the tests compare it with the database.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from arb.analysis.figure_style import EXECUTED_COLOUR, naive_utc, time_axis, venue_colours
from arb.analysis.trading_frames import Equity
from arb.display import money

GAIN, LOSS = "#2ca02c", "#d62728"
NICE_WIDTHS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0)
"""Histogram bin widths in bps; each a binary fraction, so every edge ``k * width`` is exact as a float."""
PERCENTILES = (("p50", "0.75"), ("p90", "#1f77b4"), ("p99", "#ff7f0e"))


def clock_label(clock: str) -> str:
    return f"{clock} time (UTC)"


def _float(values: pd.Series) -> list[float]:
    return [math.nan if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) for v in values]


def equity_figure(equity: Equity, quote: str, places: int, clock: str) -> Figure:
    """Cumulative realized PnL (steps: it changes only when a pair settles) and equity, realized plus the
    open lots marked as :attr:`Equity.rule` says, at each instant the curve holds; the gap is unrealized."""
    curve = equity.curve
    fig = Figure(figsize=(13, 4.2), layout="constrained")
    ax = fig.subplots()
    ax.axhline(0, color="0.7", lw=0.6, gid="ref:zero")
    if curve.empty:
        ax.set_axis_off()
        ax.set_title("Equity: the run has no market time span and settled nothing", loc="left")
        return fig
    times = naive_utc(curve.ts)
    realized, total = _float(curve.realized), _float(curve.equity)
    ax.step(times, realized, where="post", color="0.25", lw=1.4, gid="realized",
            label="realized (closed: the pairs' stored realized PnL)")
    ax.plot(times, total, marker="o", ms=5, lw=0.8, ls="--", color="#1f77b4", gid="equity",
            label="equity = realized + open inventory at the mid\n(points: the instants valued; dashes join them)")
    last = curve.iloc[-1]
    above = last.equity is None or last.equity >= last.realized
    for value, colour, up in ((last.equity, "#1f77b4", above), (last.realized, "0.25", not above)):
        if value is not None:  # the larger end value labelled above its point, the other below
            ax.annotate(money(value, places), (times.iloc[-1], float(value)), xytext=(-6, 4 if up else -4),
                        textcoords="offset points", ha="right", va="bottom" if up else "top", fontsize=9, color=colour)
    end_realized = curve.realized.iloc[-1]
    if equity.positions:
        held = ", ".join(f"{p.venue} {p.amount:+f} {p.base} at cost {p.cost.normalize():f}" for p in equity.positions)
        value = ("unknown: no mark" if equity.unrealized is None else
                 f"{money(end_realized + equity.unrealized, places)} = realized {money(end_realized, places)} + "
                 f"unrealized {money(equity.unrealized, places)}")
        title = f"Equity at the end {value} {quote}; open: {held} (not in realized)"
    else:
        title = f"Equity = realized = {money(end_realized, places)} {quote} at the end: no open position"
    if len(curve) <= 2 and (curve.realized == 0).all():
        title += " (nothing settled)"
    ax.set_title(title, loc="left", fontsize=10)
    ax.set_ylabel(f"PnL since the start ({quote})")
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1), fontsize=8, frameon=False)
    time_axis(ax, label=False)
    ax.set_xlabel(clock_label(clock))
    return fig


def pnl_hour_figure(hours: pd.DataFrame, quote: str, places: int, clock: str,
                    unrealized: Decimal | None) -> Figure:
    """Realized PnL per hour of detection (green a gain, red a loss), each bar labelled with its amount and
    number of settled pairs."""
    fig = Figure(figsize=(13, 3.6), layout="constrained")
    ax = fig.subplots()
    if hours.empty:
        ax.set_axis_off()
        ax.set_title("Realized PnL per hour: the run has no market time span", loc="left")
        return fig
    labels = [f"{h:%m-%d %H:00}" for h in hours.hour]
    values = [float(v) for v in hours.realized]
    bars = ax.bar(labels, values, color=[GAIN if v > 0 else LOSS for v in hours.realized], width=0.6)
    for patch, value, n in zip(bars, hours.realized, hours.trades, strict=True):
        patch.set_gid("realized")
        up = value >= 0
        ax.annotate(f"{money(value, places)}\n({n} pairs)" if n else "no pair", (patch.get_x() + 0.3, float(value)),
                    ha="center", va="bottom" if up else "top", fontsize=8, xytext=(0, 2 if up else -2),
                    textcoords="offset points")
    ax.axhline(0, color="0.6", lw=0.6, gid="ref:zero")
    margin = max(0.5, (8 - len(labels)) / 2)  # a bar or two stay bars, not a wall
    ax.set_xlim(-margin, len(labels) - 1 + margin)
    top = max([abs(v) for v in values] + [0.0]) or 1.0
    ax.set_ylim(min(min(values), 0) - 0.3 * top, max(max(values), 0) + 0.3 * top)
    total = sum(hours.realized, Decimal(0))
    title = (f"Realized PnL per hour: {money(total, places)} {quote} over {int(hours.trades.sum())} settled pairs "
             f"in {len(hours)} hour{'s' if len(hours) != 1 else ''}")
    if unrealized:
        title += f"; the open position's unrealized {money(unrealized, places)} {quote} is not in it"
    elif unrealized is None:
        title += "; an open position (no mark) is not in it"
    ax.set_title(title, loc="left", fontsize=10)
    ax.set_ylabel(f"realized PnL ({quote})")
    ax.set_xlabel(f"hour starting, {clock_label(clock)}, by when each pair was detected")
    return fig


def bin_edges(values: Sequence[float], at_most: int = 60) -> np.ndarray:
    """Edges ``k * width`` covering ``values``, ``width`` the smallest of :data:`NICE_WIDTHS` giving at most
    ``at_most`` bins."""
    lo, hi = min(values), max(values)
    width = next((w for w in NICE_WIDTHS if (math.floor(hi / w) - math.floor(lo / w) + 1) <= at_most),
                 NICE_WIDTHS[-1])
    first, last = math.floor(lo / width), math.floor(hi / width) + 1
    return np.arange(first, last + 1) * width


def edge_figure(opps: pd.DataFrame, fees_bps: float | None, min_edge_bps: float | None) -> Figure:
    """Top: every opportunity's gross edge (the cross at the walked prices, bps of the buy price). Bottom:
    its net edge as detection stored it (after both fees, bps of the buy cost), for the opportunities it
    sized. One set of bins for both; counts on a log scale when they span more than two decades."""
    gross = opps.gross_bps.dropna().astype(float)
    net = opps.net_bps.dropna().astype(float)
    fig = Figure(figsize=(13, 5.6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    if gross.empty:
        for ax in (top, bottom):
            ax.set_axis_off()
        top.set_title("Gross and net edge: the run recorded no opportunity", loc="left")
        return fig
    edges = bin_edges([*gross, *net])
    counts = {name: np.histogram(series, bins=edges)[0] for name, series in (("gross", gross), ("net", net))}
    positive = [c for cs in counts.values() for c in cs if c > 0]
    log = max(positive) / min(positive) > 100
    for ax, name, colour in ((top, "gross", "0.55"), (bottom, "net", EXECUTED_COLOUR)):
        heights = [np.nan if log and c == 0 else float(c) for c in counts[name]]
        for patch in ax.bar(edges[:-1], heights, width=np.diff(edges), align="edge", color=colour,
                            edgecolor="white", linewidth=0.4):
            patch.set_gid(name)
        ax.axvline(0, color="0.3", lw=0.8, gid="ref:zero", label="0 bps")
        if log:
            ax.set_yscale("log")
            ax.set_ylim(0.7, max(positive) * 2)
        ax.set_ylabel("opportunities" + (" (log scale)" if log else ""))
    if fees_bps is not None:
        top.axvline(fees_bps, color="0.1", ls="--", lw=0.9, gid="ref:fees", label=f"both taker fees ({fees_bps:.2f} bps)")
    if min_edge_bps is not None:
        bottom.axvline(min_edge_bps, color="0.1", ls=":", lw=0.9, gid="ref:min_edge",
                       label=f"minimum edge ({min_edge_bps:g} bps)")
    for ax in (top, bottom):
        ax.legend(loc="upper right", fontsize=8)
    top.set_title(f"Gross edge of all {len(gross):,} opportunities (the cross at the walked prices): median "
                  f"{gross.median():.2f} bps, {int((gross > 0).sum()):,} above 0", loc="left", fontsize=10)
    unsized = len(opps) - len(net)
    bottom.set_title(f"Net edge after both fees of the {len(net):,} sized (detection's edge_bps; {unsized:,} "
                     f"rejected before sizing have none): {int((net > 0).sum()):,} above 0", loc="left", fontsize=10)
    bottom.set_xlabel(f"edge (bps; bins of {edges[1] - edges[0]:g} bps)")
    return fig


def fill_rate_figure(rates: pd.DataFrame, venues: Sequence[str], bucket: str, clock: str,
                     span: tuple[Any, Any] | None) -> Figure:
    """Per venue, the share of the base its entry legs ordered that filled, per time bucket (by decision
    time), each point labelled with its number of legs."""
    fig = Figure(figsize=(13, 3.8), layout="constrained")
    ax = fig.subplots()
    colours = venue_colours(venues)
    parts = []
    for venue, rows in rates.groupby("venue", sort=False):
        rows = rows.sort_values("bucket")
        times = naive_utc(rows.bucket)
        ax.plot(times, rows.rate_pct, marker="o", ms=5, lw=0.6, ls=":", color=colours.get(str(venue), "0.3"), gid=venue,
                label=venue)
        if len(rows) <= 30:
            for t, rate, n in zip(times, rows.rate_pct, rows.legs, strict=True):
                ax.annotate(f"{n}", (t, rate), xytext=(0, 5), textcoords="offset points", ha="center", fontsize=7,
                            color=colours.get(str(venue), "0.3"))
        ordered, filled = sum(rows.ordered, Decimal(0)), sum(rows.filled, Decimal(0))
        parts.append(f"{venue} {float(filled / ordered * 100):.1f}% of {int(rows.legs.sum())} legs" if ordered
                     else f"{venue} nothing ordered")
    ax.set_ylim(-5, 112)
    ax.axhline(100, color="0.8", lw=0.6, gid="ref:full")
    title = (f"Fill rate of entry legs per {bucket}: " + "; ".join(parts) + " (numbers: legs per point)"
             if parts else "Fill rate of entry legs: the run sent no entry leg")
    ax.set_title(title, loc="left", fontsize=10)
    ax.set_ylabel("base filled / ordered (%)")
    if parts:
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1), fontsize=8, frameon=False)
    if span is not None and None not in span:
        start, end = naive_utc(pd.Series(span))
        pad = max((end - start) * 0.02, pd.Timedelta(seconds=5))
        ax.set_xlim(start - pad, end + pad)
    time_axis(ax, label=False)
    ax.set_xlabel(f"{bucket} bucket starting, {clock_label(clock)}, by decision time")
    return fig


def latency_percentile_figure(table: pd.DataFrame) -> Figure:
    """One row per venue, measure and clock: bars at p50, p90 and p99, a black mark at the maximum, in ms on
    a symmetric log scale (linear below 1 ms, so 0 ms shows)."""
    fig = Figure(figsize=(13, 1.6 + 0.7 * max(len(table), 1)), layout="constrained")
    ax = fig.subplots()
    if table.empty:
        ax.set_axis_off()
        ax.set_title("Latency percentiles: no order has both a sent and an acknowledged time", loc="left")
        return fig
    y = np.arange(len(table))
    height = 0.8 / len(PERCENTILES)
    for i, (name, colour) in enumerate(PERCENTILES):
        values = [float(v) for v in table[name]]
        for patch in ax.barh(y - 0.4 + (i + 0.5) * height, values, height=height, color=colour, label=name):
            patch.set_gid(name)
        for yi, v in zip(y, table[name], strict=True):
            ax.text(max(float(v), 0.0), yi - 0.4 + (i + 0.5) * height, f" {name} {v.normalize():f} ms", va="center",
                    fontsize=7)
    ax.scatter([float(v) for v in table["max"]], y, marker="|", s=300, color="black", gid="max", label="max",
               zorder=4)
    labels = [f"{r.venue} · {r.measure}\n{r.clock} clock, {r.count:,} samples" for r in table.itertuples()]
    ax.set_yticks(y, labels, fontsize=9)
    ax.set_ylim(len(table) - 0.5, -0.5)
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(-0.3, max(float(table["max"].max()) * 4, 10.0))
    ax.set_xlabel("ms (symmetric log scale: linear below 1 ms)")
    ax.set_ylabel("venue · measure")
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1), fontsize=8, frameon=False)
    ax.set_title("Latency percentiles (nearest rank), per venue and clock: orders sent -> acknowledged on the run's "
                 "clock; the hot path on the host's", loc="left", fontsize=10)
    return fig
