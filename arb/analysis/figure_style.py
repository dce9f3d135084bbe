"""What every notebook figure shares: colours that mean one thing everywhere (one per rejection reason,
one per venue, red for an executed trade) and the market-time axis.

Matplotlib draws tz-aware pandas times fine, but mixing them with naive ones fails: every figure draws
times through :func:`naive_utc`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.dates as mdates
import pandas as pd
from matplotlib.axes import Axes

EXECUTED_COLOUR = "#d62728"
TIME_LABEL = "market time (UTC)"


def reason_colours(reasons: Sequence[str]) -> dict[str, Any]:
    """One colour per rejection reason, by sorted name: the same reason is the same colour in every figure.
    Strong colours first (tab10 without red, which marks executed trades, and grey, the cross line), then
    tab20's light ones."""
    import matplotlib

    tab10, tab20 = matplotlib.colormaps["tab10"], matplotlib.colormaps["tab20"]
    strong = [tab10(i) for i in range(10) if i not in (3, 7)]  # not red, not grey
    light = [tab20(i) for i in range(20) if i % 2 and i != 7]
    palette = strong + light
    return {reason: palette[i % len(palette)] for i, reason in enumerate(sorted(set(reasons)))}


def venue_colours(venues: Sequence[str]) -> dict[str, str]:
    return {venue: f"C{i}" for i, venue in enumerate(venues)}


def time_axis(ax: Axes, label: bool = True) -> None:
    locator = mdates.AutoDateLocator(minticks=4, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    formatter = mdates.ConciseDateFormatter(locator, tz="UTC")
    formatter.formats[5] = "%H:%M:%S"  # seconds ticks: "00:09:59", not a bare "59.0"
    ax.xaxis.set_major_formatter(formatter)
    if label:
        ax.set_xlabel(TIME_LABEL)


def naive_utc(times: pd.Series | pd.Index) -> Any:
    """Matplotlib draws tz-aware pandas times fine, but mixing them with naive ones fails: use naive UTC."""
    converted = pd.to_datetime(times, utc=True)
    return converted.tz_convert(None) if isinstance(converted, pd.DatetimeIndex) else converted.dt.tz_convert(None)
