"""notebooks/analysis.ipynb runs top to bottom on a run's database and fails on a plot with no data."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest
from matplotlib.figure import Figure
from nbclient.exceptions import CellExecutionError

from notebooks.nbrun import NOTEBOOKS, execute, stream_text, trim_capture


def _env(db_url: str, capture: Path) -> dict[str, str]:
    return {"ARB_NOTEBOOK_DB_URL": db_url, "ARB_NOTEBOOK_CAPTURE": str(capture)}


def test_runs_top_to_bottom(sample_db: str, short_capture: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = execute("analysis.ipynb", _env(sample_db, short_capture), monkeypatch)
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 6  # spread, funnel, PnL, slippage, latency, inventory
    assert "run 1 (replay)" in stream_text(nb, "stdout")
    assert "Warning" not in stream_text(nb, "stderr")


def test_fails_when_the_capture_does_not_cover_the_run(
    sample_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spread plot would be empty: the notebook must stop, not draw an empty axis."""
    elsewhere = trim_capture(
        tmp_path / "late.jsonl.gz",
        datetime(2021, 8, 20, 1, 50, tzinfo=UTC),
        datetime(2021, 8, 20, 1, 51, tzinfo=UTC),
    )
    with pytest.raises(CellExecutionError, match="has no LINK/USDT books"):
        execute("analysis.ipynb", _env(sample_db, elsewhere), monkeypatch)


def _assert_has_data():  # type: ignore[no-untyped-def]
    """The notebook's own ``assert_has_data``, compiled from its source cell."""
    nb = nbformat.read(NOTEBOOKS / "analysis.ipynb", as_version=4)
    source = next(c.source for c in nb.cells if "def assert_has_data" in c.source)
    fn = next(
        n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == "assert_has_data"
    )
    namespace: dict[str, object] = {}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), "analysis.ipynb", "exec"), namespace)
    return namespace["assert_has_data"]


@pytest.mark.parametrize(
    ("draw", "has_data"),
    [
        (lambda ax: None, False),
        (lambda ax: ax.axhline(0, gid="reference"), False),  # a reference line is not data
        (lambda ax: ax.plot([], []), False),
        (lambda ax: ax.bar(["a", "b"], [0, 0]), False),
        (lambda ax: ax.hist([]), False),
        (lambda ax: ax.plot([1, 2], [3, 4]), True),
        (lambda ax: ax.scatter([1], [1]), True),
        (lambda ax: ax.bar(["a"], [2]), True),
        (lambda ax: ax.barh(["a"], [2]), True),
        (lambda ax: ax.hist([0.0, 0.0, 1.0]), True),
    ],
)
def test_assert_has_data(draw, has_data: bool) -> None:  # type: ignore[no-untyped-def]
    check = _assert_has_data()
    ax = Figure().add_subplot()
    draw(ax)
    if has_data:
        check(ax, "plot")
    else:
        with pytest.raises(AssertionError, match="has no data"):
            check(ax, "plot")


def test_committed_without_outputs_and_with_one_parameters_cell() -> None:
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), path.name
        tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1 and "DB_URL" in tagged[0].source, path.name
        assert nb.metadata.kernelspec.name == "python3", path.name
