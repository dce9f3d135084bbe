"""notebooks/analysis.ipynb opened as a user opens it (from notebooks/, no ARB_* variable) on databases
`arb run` wrote, every figure holding exactly the database's data; one line when there is nothing to read."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

from arb.store.db import make_engine
from arb.store.migrate import upgrade_to_head
from notebooks.nbrun import NOTEBOOKS, Project, execute, images, make_project, records, stream_text
from notebooks.truth import TradingTruth, Truth, check_analysis, check_trading


def _run_notebook(project: Project, parameters: dict[str, object] | None = None) -> nbformat.NotebookNode:
    before = sorted(p.name for p in project.notebooks.iterdir())
    nb = execute(project.notebooks / "analysis.ipynb", project.notebooks, parameters)
    assert sorted(p.name for p in project.notebooks.iterdir()) == before  # nothing written next to it
    assert images(nb) == 11
    assert "Warning" not in stream_text(nb, "stderr")
    return nb


def test_on_the_shipped_run(shipped_project: Project) -> None:
    """`arb run` with the shipped config.toml, then the notebook with its parameters as committed."""
    nb = _run_notebook(shipped_project)
    out = stream_text(nb, "stdout")
    assert f"database sqlite:///{shipped_project.root / 'arb.db'} ([store] url of " in out, out
    assert re.search(r"run 1 \(replay, completed\)", out), out
    figures = records(nb)
    check_analysis(figures, Truth(shipped_project.db_url, 1))
    check_trading(figures, TradingTruth(shipped_project.db_url, 1))
    # Venues as the config names them, never the capture's names.
    text = json.dumps(figures)
    assert "gate" in text and "htx" in text and "binance" not in text and "huobi" not in text
    # This run's data is degenerate in places: the titles say so rather than drawing a shape.
    assert "exactly the expected price (0 bps)" in figures["slippage"]["axes"][0]["title"]
    assert "every term is 0" in figures["pnl"]["axes"][1]["title"]
    assert "one leg per venue" in figures["latency"]["axes"][0]["title"]
    assert "holdings" not in figures  # no perpetual traded: the pairs' figures are the run's
    assert figures["spread"]["axes"][0]["series"]["cross"] > 1000  # the capture's books, 2 hours of them


def test_on_a_run_with_latency_and_slippage(latency_project: Project) -> None:
    nb = _run_notebook(latency_project)
    figures = records(nb)
    check_analysis(figures, Truth(latency_project.db_url, 1))
    check_trading(figures, TradingTruth(latency_project.db_url, 1))
    assert "off the expected price" in figures["slippage"]["axes"][0]["title"]
    assert "every term is 0" not in figures["pnl"]["axes"][1]["title"]


def test_on_the_hand_made_history_without_a_capture(sample_project: Project) -> None:
    """Venues named by the capture, an unwind, no capture in the run's config: the spread draws the
    opportunities alone and says why there is no cross line."""
    nb = _run_notebook(sample_project)
    figures = records(nb)
    check_analysis(figures, Truth(sample_project.db_url, 1))
    check_trading(figures, TradingTruth(sample_project.db_url, 1))
    spread = figures["spread"]["axes"]
    assert all("cross" not in ax.get("series", {}) for ax in spread)
    assert all("names no capture: set CAPTURE" in ax["title"] for ax in spread), spread


def test_db_url_parameter_reads_another_database(replayed: Project) -> None:
    """An `arb replay` database that is not the project's: given as the DB_URL parameter."""
    nb = _run_notebook(replayed, {"DB_URL": replayed.db_url})
    assert f"database sqlite:///{replayed.root / 'replay.db'} (DB_URL parameter)" in stream_text(nb, "stdout")
    figures = records(nb)
    check_analysis(figures, Truth(replayed.db_url, 1))
    check_trading(figures, TradingTruth(replayed.db_url, 1))
    assert figures["spread"]["axes"][0]["series"]["cross"] > 0  # the trimmed capture the replay recorded


def _stops(notebooks: Path) -> str:
    """Run the notebook expecting it to stop; the error must be one line, in the first cell after the
    parameters. Returns that line."""
    with pytest.raises(CellExecutionError) as info:
        execute(notebooks / "analysis.ipynb", notebooks)
    assert "NotebookStop" in str(info.value)
    nb = nbformat.read(notebooks / "analysis.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "locate_database" in code[1].source  # the first cell after the parameters is where it stops
    (line,) = [ln for ln in str(info.value).splitlines() if ln.startswith("NotebookStop: ")]
    return line


def test_without_a_database_says_so_in_one_line_and_creates_none(tmp_path: Path) -> None:
    project = make_project(tmp_path / "arb")
    line = _stops(project / "notebooks")
    assert line == (f"NotebookStop: no database at {project / 'arb.db'} ([store] url of {project / 'config.toml'}): "
                    "run `arb run` in the project directory first, or set DB_URL")
    assert sorted(p.name for p in project.iterdir()) == ["config.toml", "notebooks"]


def test_with_an_empty_database_says_so(tmp_path: Path) -> None:
    project = make_project(tmp_path / "arb")
    upgrade_to_head(f"sqlite:///{project / 'arb.db'}")
    line = _stops(project / "notebooks")
    assert line.endswith("holds no runs: run `arb run` first"), line


def test_with_a_database_that_is_not_arbs_says_so(tmp_path: Path) -> None:
    project = make_project(tmp_path / "arb")
    engine = make_engine(f"sqlite:///{project / 'arb.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE something_else (x INTEGER)")
    engine.dispose()
    line = _stops(project / "notebooks")
    assert "has no arb tables" in line, line


def test_outside_a_project_says_so(tmp_path: Path) -> None:
    (tmp_path / "notebooks").mkdir()
    shutil.copy(NOTEBOOKS / "analysis.ipynb", tmp_path / "notebooks")
    line = _stops(tmp_path / "notebooks")
    assert line.startswith(f"NotebookStop: no config.toml in {tmp_path / 'notebooks'} or above it"), line


def test_committed_without_outputs_and_with_one_parameters_cell() -> None:
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), path.name
        tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1 and "DB_URL = None" in tagged[0].source, path.name
        assert code[0] is tagged[0], path.name
        assert nb.metadata.kernelspec.name == "python3", path.name
