"""Executing notebooks/*.ipynb the way a user does, and reading back what their figures drew.

A test builds a project directory like a checkout (``config.toml`` and ``notebooks/`` with copies of the
repository's notebooks), runs ``arb`` there, and executes a notebook with nbclient on a real kernel of this
venv, working directory ``notebooks/`` as Jupyter's is, with no ``ARB_*`` variable in the environment
(:data:`ARB_ENV` are removed by the ``no_arb_environment`` fixture). Parameters, when a test needs them,
go into a cell after the one tagged ``parameters``, as papermill injects them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

from arb.marketdata.capture import CaptureWriter, read_capture

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
BUNDLED_CAPTURE = Path(str(files("arb") / "data" / "linkusdt-binance-huobi-2021-08-20.jsonl.gz"))
ARB_ENV = ("ARB_NOTEBOOK_DB_URL", "ARB_DB_URL")
"""Variables that would point a notebook or ``arb`` at another database (plus every ``ARB__*`` override)."""


@dataclass(frozen=True)
class Project:
    root: Path
    db_url: str
    stdout: str  # what `arb` printed

    @property
    def notebooks(self) -> Path:
        return self.root / "notebooks"


def clean_environ() -> dict[str, str]:
    """This process's environment without the variables that choose a database or override the config."""
    return {k: v for k, v in os.environ.items() if k not in ARB_ENV and not k.startswith("ARB__")}


def make_project(root: Path, config_text: str | None = None) -> Path:
    """``root`` laid out like a checkout: config.toml (the repository's, or ``config_text``) and
    notebooks/ holding copies of the repository's notebooks."""
    (root / "notebooks").mkdir(parents=True)
    if config_text is None:
        shutil.copy(REPO / "config.toml", root / "config.toml")
    else:
        (root / "config.toml").write_text(config_text, encoding="utf-8")
    for notebook in NOTEBOOKS.glob("*.ipynb"):
        shutil.copy(notebook, root / "notebooks" / notebook.name)
    return root


def arb(project: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """``arb ARGS`` run in ``project`` as a user runs it there; fails the test on a non-zero exit."""
    done = subprocess.run([sys.executable, "-m", "arb.cli", *args], cwd=project, env=clean_environ(),
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done


def execute(notebook: Path, cwd: Path, parameters: Mapping[str, object] | None = None,
            timeout: int = 300) -> nbformat.NotebookNode:
    """Run ``notebook`` top to bottom in ``cwd``; raises nbclient's CellExecutionError on a cell error."""
    nb = nbformat.read(notebook, as_version=4)
    if parameters:
        at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
        source = "\n".join(f"{key} = {value!r}" for key, value in parameters.items())
        nb.cells.insert(at + 1, nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]}))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


def records(nb: nbformat.NotebookNode) -> dict[str, dict[str, Any]]:
    """What each figure drew, by name: the JSON the notebook prints under it (``arb.analysis.readback.show``)."""
    out: dict[str, dict[str, Any]] = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "application/json" in data:
                record = data["application/json"]
                record = json.loads(record) if isinstance(record, str) else record
                out[record["figure"]] = record
    return out


def images(nb: nbformat.NotebookNode) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


def stream_text(nb: nbformat.NotebookNode, name: str) -> str:
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("name") == name)


def trim_capture(dest: Path, start: datetime, end: datetime) -> Path:
    """The bundled capture's events in [start, end], written as a small capture file."""
    lo, hi = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    with CaptureWriter(dest) as writer:
        writer.write_all(e for e in read_capture(BUNDLED_CAPTURE) if lo <= e.ts <= hi)
    return dest
