"""Fixtures for the notebook tests: a trimmed capture and a database for the notebooks to read."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from report.sample_run import populate
from sqlalchemy import delete

from arb.store.db import make_engine, make_session_factory
from arb.store.migrate import upgrade_to_head
from arb.store.models import Run
from notebooks.nbrun import REPO, Replayed, trim_capture


@pytest.fixture(scope="session")
def short_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two minutes of the bundled LINK/USDT capture around the sample history's opportunities."""
    path = tmp_path_factory.mktemp("capture") / "linkusdt-short.jsonl.gz"
    start = datetime(2021, 8, 20, 0, 9, 0, tzinfo=UTC)
    return trim_capture(path, start, start.replace(minute=11))


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLite with the hand-made LINK/USDT run of tests/report/sample_run.py as its only (latest) run."""
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'sample.db'}"
    upgrade_to_head(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    _, other = populate(factory)
    with factory.begin() as session:
        session.execute(delete(Run).where(Run.id == other))
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def replay_db(tmp_path_factory: pytest.TempPathFactory) -> Replayed:
    """A database written by ``arb replay`` of 20 minutes of the bundled capture with the shipped config.

    The window holds the stale-book cross of 00:49:07 and, at config.toml's fee tiers, some executions.
    """
    folder = tmp_path_factory.mktemp("replay")
    capture = trim_capture(
        folder / "linkusdt-20min.jsonl.gz",
        datetime(2021, 8, 20, 0, 40, tzinfo=UTC),
        datetime(2021, 8, 20, 1, 0, tzinfo=UTC),
    )
    config = folder / "config.toml"
    shutil.copy(REPO / "config.toml", config)
    url = f"sqlite:///{folder / 'replay.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "arb.cli", "replay", str(capture), "--config", str(config), "--db", url],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=folder,
    )
    assert done.returncode == 0, done.stderr
    return Replayed(url, capture, config, done.stdout)
