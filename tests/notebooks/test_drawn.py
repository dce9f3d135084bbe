"""arb.analysis.readback.drawn reads back what a figure holds, from its artists: the tests of the notebooks
compare it with the database, so it must count what is on the canvas, no more and no less."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from arb.analysis.readback import drawn


def _bars(ax: Axes) -> None:
    for patch in ax.barh([0, 1], [5, np.nan]):
        patch.set_gid("counts")
    ax.set_yticks([0, 1], ["five", "none"])


@pytest.mark.parametrize(
    ("draw", "expected"),
    [
        (lambda ax: ax.plot([1, 2, 3], [1, np.nan, 3], gid="line"), {"series": {"line": 2}}),
        (lambda ax: ax.scatter([1, 2], [3, 4], gid="dots"), {"series": {"dots": 2}}),
        (lambda ax: ax.scatter([], [], gid="dots"), {"series": {"dots": 0}}),
        (lambda ax: (ax.scatter([1], [1], gid="a"), ax.scatter([2, 3], [2, 3], gid="a")), {"series": {"a": 3}}),
        (lambda ax: ax.axhline(0, gid="ref:zero"), {}),  # a reference line is not data
        (lambda ax: ax.plot([1, 2], [1, 2]), {}),  # nor is an unnamed artist
        (lambda ax: [p.set_gid("w") for p in ax.bar(["a", "b"], [2.5, -1], bottom=[0, 2.5])],
         {"bars": {"w": [2.5, -1.0]}, "xticks": ["a", "b"]}),
        (_bars, {"bars": {"counts": [5.0, 0.0]}, "yticks": ["five", "none"]}),  # NaN: no bar drawn
        (lambda ax: ax.imshow(np.array([[1.0, np.nan]]), gid="heat"), {"cells": {"heat": [[1.0, None]]}}),
    ],
)
def test_drawn_counts_what_is_on_the_canvas(draw: Callable[[Axes], Any], expected: dict[str, Any]) -> None:
    fig = Figure()
    ax = fig.subplots()
    draw(ax)
    ax.set(title="t", xlabel="x", ylabel="y")
    (record,) = drawn(fig)["axes"]
    assert record == {"title": "t", "xlabel": "x", "ylabel": "y", **expected}


def test_colorbars_are_not_axes_of_data() -> None:
    fig = Figure()
    ax = fig.subplots()
    fig.colorbar(ax.imshow(np.ones((2, 2)), gid="heat"), ax=ax)
    assert [list(a.get("cells", {})) for a in drawn(fig)["axes"]] == [["heat"]]
