"""``arb run`` on the shipped config, as a real process: at most a dozen lines before the status view.

What ``bash run.sh`` shows after install is this command's output. The config is the shipped one with the
status view in plain mode and a short interval, so its first line arrives during the bundled replay; stdout
and stderr go to one pipe, in the order a terminal would show them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_STARTUP_LINES = 12
STATUS_LINE = re.compile(r"^arb: run \d+ market ")  # StatusReporter.line() in plain mode


def _shipped_config_with_plain_status(tmp_path: Path) -> Path:
    text = (ROOT / "config.toml").read_text()
    changed, n = re.subn(r'(?m)^status = "auto"', 'status = "plain"', text)
    changed, m = re.subn(r"(?m)^status_interval_s = [0-9.]+", "status_interval_s = 0.1", changed)
    assert (n, m) == (1, 1), "the shipped config's [engine] status keys moved: update this test"
    path = tmp_path / "config.toml"
    path.write_text(changed)
    return path


def test_startup_prints_at_most_a_dozen_lines_before_the_status_view(tmp_path: Path) -> None:
    config = _shipped_config_with_plain_status(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARB_")} | {"PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "arb.cli", "run", "--config", str(config), "--db", f"sqlite:///{tmp_path / 'a.db'}"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
    )
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stdout[-3000:]
    first_status = next((i for i, line in enumerate(lines) if STATUS_LINE.match(line)), None)
    assert first_status is not None, "no status line during the run:\n" + proc.stdout[-3000:]
    startup = lines[:first_status]
    assert len(startup) <= MAX_STARTUP_LINES, "\n".join(startup)
    text = "\n".join(startup)
    # What used to be there: Alembic's steps, records tagged before the run existed, a dataclass repr.
    for noise in ("alembic", "[run None]", "ReconcileReport(", "Traceback", "Warning"):
        assert noise not in text, (noise, text)
    assert any("run 1 started" in line for line in startup), text
