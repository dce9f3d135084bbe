"""A sweep's figure: heatmaps of its results over the grid it ran, laid out by
:func:`arb.analysis.sweep_frames.heatmap_axes`; each cell's ``gid`` and value read back by
:func:`arb.analysis.readback.drawn`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.colors import Normalize, TwoSlopeNorm
from matplotlib.figure import Figure

from arb.display import money


def heatmap_figure(points: pd.DataFrame, row_key: str, col_key: str, panel_key: str | None,
                   metrics: Sequence[tuple[str, str, str]], places: int, names: Mapping[str, str]) -> Figure:
    """One row of heatmaps per metric ``(column, label, scale)``, one panel per value of ``panel_key``,
    cells ``row_key`` x ``col_key`` (grid values as text, ordered as numbers). Metrics of one ``scale``
    share one colour scale across all their panels: ``count`` sequential from zero, ``money`` diverging
    around zero (red loses, green gains) and printed at ``places`` decimals. Each cell prints its value.
    ``names`` label the grid keys on the axes (with their units)."""
    def numeric(value: Any) -> tuple[int, Decimal, str]:
        """Numbers in numeric order, then any other value (a leg policy, a capture) in text order."""
        try:
            return 0, Decimal(str(value)), ""
        except ArithmeticError:
            return 1, Decimal(0), str(value)

    panels = sorted(points[panel_key].unique(), key=numeric) if panel_key else [None]
    rows_v = sorted(points[row_key].unique(), key=numeric)
    cols_v = sorted(points[col_key].unique(), key=numeric)
    norms: dict[str, Normalize] = {}
    for scale in {scale for _, _, scale in metrics}:
        values = pd.concat([points[c].map(float) for c, _, sc in metrics if sc == scale])
        if scale == "money":
            bound = float(values.abs().max()) or 1.0
            norms[scale] = TwoSlopeNorm(0.0, -bound, bound)
        else:
            norms[scale] = Normalize(0.0, max(float(values.max()), 1.0))
    fig = Figure(figsize=(4.2 * len(panels) + 1.6, 3.3 * len(metrics)), layout="constrained")
    grid = fig.subplots(len(metrics), len(panels), squeeze=False)
    for m, (column, label, scale) in enumerate(metrics):
        norm, cmap = norms[scale], "RdYlGn" if scale == "money" else "viridis"
        image = None
        for p, panel in enumerate(panels):
            ax = grid[m, p]
            sel = points if panel is None else points[points[panel_key] == panel]
            table = np.full((len(rows_v), len(cols_v)), np.nan)
            exact: dict[tuple[int, int], Any] = {}
            for _, r in sel.iterrows():
                at = (rows_v.index(r[row_key]), cols_v.index(r[col_key]))
                table[at], exact[at] = float(r[column]), r[column]
            image = ax.imshow(table, cmap=cmap, norm=norm, aspect="auto")
            image.set_gid(f"{column}|{panel}" if panel is not None else column)
            for at, value in exact.items():
                shade = float(norm(float(value)))
                dark = shade < 0.35 if scale == "count" else abs(shade - 0.5) > 0.4
                text = money(value, places) if scale == "money" else f"{value:,}"
                ax.text(at[1], at[0], text, ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")
            ax.set_xticks(range(len(cols_v)), cols_v)
            ax.set_yticks(range(len(rows_v)), rows_v)
            ax.set(xlabel=names.get(col_key, col_key), ylabel=names.get(row_key, row_key))
            where = f" at {names.get(panel_key, panel_key)} = {panel}" if panel_key is not None else ""
            flat = " (the same at every point)" if sel[column].nunique() == 1 else ""
            ax.set_title(f"{label}{where}{flat}", loc="left", fontsize=10)
        assert image is not None  # one panel at least
        fig.colorbar(image, ax=list(grid[m]), label=label, shrink=0.9)
    return fig
