"""A maker run's pairs in the analysis notebook: the routes' figures as the run summary prints them
(:func:`route_table`) and one figure of every pair (:func:`maker_figure`).

Both read :mod:`arb.store.maker_views`, the one definition of these numbers (the summary, ``arb report``, the
dashboard and the metrics read it too); money turns into floats only on the canvas. Artists are named with
``gid`` as in :mod:`arb.analysis.plots` (``expected:<route>``, ``realized:<route>``, ``adverse:<route>``,
``unhedged:<route>``, ``fill_to_hedge:<route>``), so :func:`~arb.analysis.readback.drawn` reads back what
is drawn and the tests compare it with the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pandas as pd
from matplotlib.figure import Figure

from arb.analysis.figure_style import naive_utc, time_axis
from arb.display import money
from arb.store.maker_views import MakerPair, MakerRoute

EXPECTED, REALIZED, ADVERSE = "0.55", "#2ca02c", "#d62728"
UNHEDGED, FILL_TO_HEDGE = "#1f77b4", "#ff7f0e"


def route_name(route: MakerRoute) -> str:
    """A maker route as every surface names it: its symbol and its buy -> sell directions (``MakerRoute.label``)."""
    return f"{route.symbol} {route.label}"


def route_table(routes: Sequence[MakerRoute], places: int) -> pd.DataFrame:
    """One row per route: the run summary's maker lines (``runtime/summary.py``) as columns."""
    rows = []
    for r in routes:
        latency, unhedged = MakerRoute.spread(r.fill_to_hedge_ms), MakerRoute.spread(r.unhedged_ms)
        rows.append({
            "route": route_name(r), "quotes": r.quotes, "refused": r.refused,
            "filled": r.quotes_filled, "fills": r.maker_fills, "hedges": r.hedges, "flattens": r.flattens,
            "fill -> hedge ms (median, max)": "-" if latency is None else f"{latency[0]}, {latency[1]}",
            "unhedged ms (median, max)": "-" if unhedged is None else f"{unhedged[0]}, {unhedged[1]}",
            "unhedged base": f"{r.unhedged_base.normalize():f}",
            "adverse selection": money(r.adverse, places), "hedge slippage": money(r.hedge_slippage, places)})
    return pd.DataFrame(rows).set_index("route")


def maker_figure(pairs: Sequence[MakerPair], routes: Sequence[MakerRoute], quote: str, places: int,
                 clock: str) -> Figure:
    """Top: each pair's expected PnL (at quote time), realized PnL (settled) and adverse selection, at its
    first fill. Bottom: each pair's time unhedged (first fill -> the hedge fill completing it) and each
    hedge's fill seen -> hedge sent, in ms on a symmetric log axis (a simulation's arb work takes 0 ms)."""
    fig = Figure(figsize=(13, 7), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    names = {(r.symbol, r.maker_venue): route_name(r) for r in routes}  # a pair is drawn with its route
    frame = pd.DataFrame([{
        "route": names.get((p.symbol, p.maker_venue), p.symbol), "at": p.first_fill_at,
        "expected": float(p.expected) if p.expected is not None else None,
        "realized": float(p.realized) if p.realized is not None else None, "adverse": float(p.adverse),
        "unhedged_ms": float(p.unhedged_ms) if p.unhedged_ms is not None else None,
        "fill_to_hedge_ms": [float(ms) for ms in p.fill_to_hedge_ms]} for p in pairs if p.first_fill_at is not None])
    several = len(routes) > 1
    for (route, rows), marker in zip(frame.groupby("route", sort=False) if not frame.empty else (),
                                     "osD^v", strict=False):
        at = naive_utc(rows["at"])
        suffix = f" ({route})" if several else ""
        for column, colour, label in (("expected", EXPECTED, "expected at quote time"),
                                      ("realized", REALIZED, "realized (settled)"),
                                      ("adverse", ADVERSE, "adverse selection")):
            values = rows[column].astype(float)
            top.plot(at, values, linestyle="none", marker=marker, markersize=5, color=colour,
                     gid=f"{column}:{route}", label=label + suffix, alpha=0.8)
        bottom.plot(at, rows["unhedged_ms"].astype(float), linestyle="none", marker=marker, markersize=5,
                    color=UNHEDGED, gid=f"unhedged:{route}", label="time unhedged" + suffix)
        hedged = rows.explode("fill_to_hedge_ms").dropna(subset=["fill_to_hedge_ms"])
        bottom.plot(naive_utc(hedged["at"]), hedged["fill_to_hedge_ms"].astype(float), linestyle="none",
                    marker="x", markersize=5, color=FILL_TO_HEDGE, gid=f"fill_to_hedge:{route}",
                    label="fill seen -> hedge sent" + suffix)
    top.axhline(0, color="0.3", linewidth=0.8, gid="ref:zero")
    expected = sum((p.expected for p in pairs if p.expected is not None), Decimal(0))
    realized = sum((p.realized for p in pairs if p.realized is not None), Decimal(0))
    settled = sum(1 for p in pairs if p.realized is not None)
    adverse = sum((r.adverse for r in routes), Decimal(0))
    slippage = sum((r.hedge_slippage for r in routes), Decimal(0))
    top.set_title(f"{len(pairs)} maker-taker pairs ({settled} settled): expected {money(expected, places)} -> "
                  f"realized {money(realized, places)} {quote}; adverse selection {money(adverse, places)}, "
                  f"hedge slippage {money(slippage, places)}", loc="left")
    top.set_ylabel(f"PnL per pair ({quote})")
    bottom.set_yscale("symlog", linthresh=1.0)
    times = [float(ms) for p in pairs for ms in (*p.fill_to_hedge_ms, *((p.unhedged_ms,) if p.unhedged_ms is not None else ()))]
    bottom.set_ylim(0, max([*times, 1.0]) * 2)  # no negative durations; the largest not on the frame
    bottom.set_ylabel("ms (symmetric log: linear below 1 ms)")
    spreads = []
    for r in routes:
        latency, unhedged = MakerRoute.spread(r.fill_to_hedge_ms), MakerRoute.spread(r.unhedged_ms)
        spreads.append(("" if not several else f"{route_name(r)}: ")
                       + "fill -> hedge " + ("none" if latency is None else f"median {latency[0]} ms, max {latency[1]} ms")
                       + "; unhedged " + ("none" if unhedged is None else f"median {unhedged[0]} ms, max {unhedged[1]} ms"))
    bottom.set_title(" | ".join(spreads), loc="left")
    for ax in (top, bottom):
        if ax.get_lines():
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)  # beside: never over a pair
    time_axis(bottom)
    bottom.set_xlabel(f"first fill of the pair, {clock} time (UTC)")
    return fig
