"""Every command block of README.md (```bash, ```sh, ```console) that can run offline runs, as written, in a
clone of the repository with the repository's .venv, and leaves the clone as git found it (#48).

A block that cannot run offline is in :data:`EXCLUDED`, keyed by its first line, with the reason; a block
that is neither run nor excluded fails the test, so a new one is decided on when it is written.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

EXCLUDED = {
    "bash run.sh": "its first run installs arb from PyPI into a new .venv; after that it is `arb run` on the shipped "
                   "config, which tests/engine/test_startup_lines.py runs; and test.sh is the whole suite",
    'ARB_ALERT_URLS="tgram://': "sends alerts to Telegram and a webhook: network, and a bot token",
    '.venv/bin/pip install -e ".[sweep]"': "installs from the package index; its sweep is 8 replays of the whole "
                                           "capture and its grid.toml a file the user writes (arb sweep is run "
                                           "by tests/sweep/)",
    "dask scheduler": "a dask cluster across machines and a PostgreSQL server",
    '.venv/bin/pip install -e ".[optimize]"': "installs from the package index; ranges.toml is a file the user "
                                              "writes (arb optimize is run by tests/optimize/)",
    '.venv/bin/pip install -e ".[notebooks,sweep]"': "installs from the package index and starts a Jupyter "
                                                     "server (the notebooks run in tests/notebooks/)",
    # "A first live day": its blocks hold a real venue's keys and a run stopped by Ctrl-C; the test runs each
    # command as written, in order, against two arb sandboxes standing in for Gate's testnet and Gate.
    "cp config.toml live.toml": "run by tests/engine/test_first_live_day.py (a live config, against the sandbox)",
    "export ARB_GATE_API_KEY=": "run by tests/engine/test_first_live_day.py (a venue's keys: the sandboxes' there)",
    "touch arb.kill": "run by tests/engine/test_first_live_day.py (the kill switch beside a running canary)",
    "arb run --config live.toml": "run by tests/engine/test_first_live_day.py (a live run, stopped with Ctrl-C)",
    "arb audit --config live.toml": "run by tests/engine/test_first_live_day.py (a venue's history: the sandbox's)",
}
FENCE = re.compile(r"^```(bash|sh|console)\s*\n(.*?)^```", re.M | re.S)


def readme_blocks() -> list[str]:
    return [m[2] for m in FENCE.finditer((ROOT / "README.md").read_text(encoding="utf-8"))]


def _excluded(block: str) -> bool:
    return any(block.lstrip().startswith(first) for first in EXCLUDED)


RUN = [b for b in readme_blocks() if not _excluded(b)]


def test_every_block_is_run_or_excluded_with_its_reason() -> None:
    blocks = readme_blocks()
    assert len(blocks) == len(RUN) + sum(_excluded(b) for b in blocks)
    firsts = [b.lstrip().splitlines()[0] for b in blocks]
    for first in EXCLUDED:  # an exclusion names a block the README still has
        assert any(f.startswith(first) for f in firsts), f"no README block starts with {first!r} any more"
    assert RUN, "the README's maker example is offline and should run"


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """The repository as committed, cloned, with this checkout's .venv beside it as set-up leaves one."""
    repo = tmp_path / "arb"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(repo)], check=True, timeout=120)
    (repo / ".venv").symlink_to(ROOT / ".venv")
    return repo


@pytest.mark.parametrize("block", RUN, ids=lambda b: b.lstrip().splitlines()[0][:40])
def test_an_offline_block_runs_as_written_and_leaves_the_checkout_clean(block: str, clone: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARB")}
    done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block], cwd=clone, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True,
                            check=True).stdout
    assert [ln for ln in status.splitlines() if ln[3:] != ".venv"] == [], f"left in the checkout:\n{status}"
    locks = [p for p in clone.rglob("*.lock") if ".venv" not in p.parts]
    assert locks == [], f"a lock file outlived its run: {locks}"
    if "maker_config" in block:  # the maker example: the figures the README gives for it
        assert "109 quotes (0 refused), 30 filled by 98 fills, 43 hedges" in done.stdout, done.stdout[-3000:]
