"""What a figure holds, read back from its artists (:func:`drawn`), and :func:`show`, which a notebook
calls to display a figure with that record under it.

Every data artist gets a ``gid`` naming its series (``executed``, ``rejected:book_stale``, ``gate``,
``waterfall``); reference lines (zero, fee hurdles, the diagonal) get a ``gid`` starting ``ref:``.
:func:`drawn` counts what is on the canvas per ``gid``: finite points of lines and scatters, bar lengths,
heatmap cells. The notebooks print it under each figure and the tests compare it with the database, so a
figure that drops or invents data fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.container import BarContainer
from matplotlib.figure import Figure


def drawn(fig: Figure, values: bool = False) -> dict[str, Any]:
    """What ``fig`` holds, per axes: its title and axis labels, finite points per line/scatter ``gid``, bar
    lengths per bar ``gid`` (signed heights, or widths of horizontal bars; 0 for a bar not drawn) with the
    category tick labels they stand on, and heatmap cells per image ``gid`` (None where empty). Reference
    artists (``gid`` ``ref:...``) and unnamed ones are left out. With ``values``, also each line's finite
    points as ``[x, y]`` (a time as ISO text) and each vertical bar's ``[left, right]`` edges."""
    fig.draw_without_rendering()  # tick labels are only final once the figure is laid out
    out = []
    for ax in fig.axes:
        if not ax.get_visible() or ax.get_label() == "<colorbar>":
            continue
        series: dict[str, int] = {}
        points: dict[str, list[list[Any]]] = {}
        for line in ax.get_lines():
            gid = line.get_gid()
            if gid and not gid.startswith("ref:"):
                y = np.asarray(line.get_ydata(), dtype=float)
                series[gid] = series.get(gid, 0) + int(np.isfinite(y).sum())
                if values:
                    points.setdefault(gid, []).extend(
                        [_x_value(x), float(v)] for x, v in zip(np.asarray(line.get_xdata()), y, strict=True) if np.isfinite(v))
        for coll in ax.collections:
            gid = coll.get_gid()
            if gid and not gid.startswith("ref:"):
                offsets = np.asarray(coll.get_offsets(), dtype=float).reshape(-1, 2)
                series[gid] = series.get(gid, 0) + int(np.isfinite(offsets).all(axis=1).sum())
        bars: dict[str, list[float]] = {}
        spans: dict[str, list[list[float]]] = {}
        categories: dict[str, list[str]] = {}
        for container in ax.containers:
            if not isinstance(container, BarContainer):
                continue
            axis = "xticks" if container.orientation == "vertical" else "yticks"
            labels = ax.get_xticklabels() if axis == "xticks" else ax.get_yticklabels()
            categories[axis] = [label.get_text() for label in labels]
            for patch in container.patches:
                gid = patch.get_gid()
                if gid and not gid.startswith("ref:"):
                    length = patch.get_height() if container.orientation == "vertical" else patch.get_width()
                    bars.setdefault(gid, []).append(float(length) if np.isfinite(length) else 0.0)
                    if values and container.orientation == "vertical":
                        spans.setdefault(gid, []).append([float(patch.get_x()),
                                                          float(patch.get_x() + patch.get_width())])
        cells = {img.get_gid(): [[None if np.isnan(v) else float(v) for v in row]
                                 for row in np.ma.filled(np.ma.asarray(img.get_array(), dtype=float), np.nan)]
                 for img in ax.get_images() if img.get_gid()}
        entry: dict[str, Any] = {"title": ax.get_title(loc="left") or ax.get_title(),
                                 "xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel()}
        for key, value in (("series", series), ("points", points), ("bars", bars), ("spans", spans),
                           *categories.items(), ("cells", cells)):
            if value:
                entry[key] = value
        out.append(entry)
    suptitle = fig.get_suptitle()
    return {"title": suptitle, "axes": out}


def _x_value(x: Any) -> Any:
    """A line's x as JSON: a time as ISO text (UTC), a number as a float."""
    if isinstance(x, (np.datetime64, pd.Timestamp, datetime)):
        return pd.Timestamp(x).isoformat()
    return float(x)


def show(fig: Figure, name: str, values: bool = False, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Display ``fig`` in the notebook as a PNG, then what it holds (:func:`drawn`, with ``values``) and
    ``extra`` as JSON under ``name``; returns that record."""
    from io import BytesIO

    from IPython.display import Image, display

    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    record = {"figure": name, **drawn(fig, values), **(extra or {})}
    display(Image(buffer.getvalue()))
    display({"application/json": record}, raw=True)
    return record
