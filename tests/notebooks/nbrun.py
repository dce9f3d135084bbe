"""Helpers to execute notebooks/*.ipynb top to bottom with nbclient, on a real kernel of this venv.

The database a notebook reads is injected through ``$ARB_NOTEBOOK_DB_URL`` (and the capture through
``$ARB_NOTEBOOK_CAPTURE``): the notebooks read those in the cell after their parameters cell, so the
committed parameters stay what a person would use.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from arb.marketdata.capture import CaptureWriter, read_capture

REPLAY_BUILT = importlib.util.find_spec("arb.commands.replay") is not None
# Temporary: the replay-based tests switch on by themselves when the lead's 'arb replay' lands.
needs_replay = pytest.mark.skipif(
    not REPLAY_BUILT, reason="'arb replay' (arb/commands/replay.py) is not built yet"
)

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
BUNDLED_CAPTURE = Path(str(files("arb") / "data" / "linkusdt-binance-huobi-2021-08-20.jsonl.gz"))


def execute(
    name: str,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    timeout: int = 300,
    parameters: dict[str, object] | None = None,
    cwd: Path = REPO,
) -> nbformat.NotebookNode:
    """Run ``notebooks/<name>`` with ``env`` set; raises nbclient's CellExecutionError on any cell error.

    ``parameters`` go into a cell inserted right after the one tagged ``parameters`` (as papermill does).
    ``cwd`` is the kernel's working directory (Jupyter's is the notebook's folder).
    """
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    if parameters:
        at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
        source = "\n".join(f"{key} = {value!r}" for key, value in parameters.items())
        nb.cells.insert(at + 1, nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]}))
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()
    return nb


def trim_capture(dest: Path, start: datetime, end: datetime) -> Path:
    """The bundled capture's events in [start, end], written as a small capture file."""
    lo, hi = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    with CaptureWriter(dest) as writer:
        writer.write_all(e for e in read_capture(BUNDLED_CAPTURE) if lo <= e.ts <= hi)
    return dest


def stream_text(nb: nbformat.NotebookNode, name: str) -> str:
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("name") == name)


@dataclass(frozen=True)
class Replayed:
    db_url: str
    capture: Path
    config: Path
    stdout: str
