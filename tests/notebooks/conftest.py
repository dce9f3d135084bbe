"""Fixtures for the notebook tests: projects laid out like a checkout, with databases written by ``arb``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from report.sample_run import populate
from sqlalchemy import delete

from arb.store.db import make_engine, make_session_factory
from arb.store.migrate import upgrade_to_head
from arb.store.models import Run
from notebooks.nbrun import ARB_ENV, REPO, Project, arb, make_project, trim_capture

# truth.py's asserts compare the notebooks' figures with SQL: rewritten, a failure shows both sides.
pytest.register_assert_rewrite("notebooks.truth")


@pytest.fixture(autouse=True)
def no_arb_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As a user opens a notebook: no variable choosing the database or overriding the config (the kernel
    nbclient starts inherits this process's environment)."""
    import os

    for key in [*ARB_ENV, *(k for k in os.environ if k.startswith("ARB__"))]:
        monkeypatch.delenv(key, raising=False)
    yield


@pytest.fixture(scope="session")
def shipped_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A checkout where `arb run` ran with the shipped config.toml: its arb.db at the project root."""
    root = make_project(tmp_path_factory.mktemp("shipped") / "arb")
    done = arb(root, "run")
    return Project(root, f"sqlite:///{root / 'arb.db'}", done.stdout)


@pytest.fixture(scope="session")
def latency_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A checkout whose config.toml trades at lower fee tiers with 1.2 s of order latency on htx: the run
    executes dozens of pairs, some slip, some fill one leg only, so every figure has a distribution."""
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    for old, new in (('taker_fee = "0.000175"', 'taker_fee = "0.00005"'),
                     ('taker_fee = "0.00032"', 'taker_fee = "0.00005"'),
                     ("\nlatency_ms = 20 ", "\nlatency_ms = 1200 ")):
        assert old in text, old
        text = text.replace(old, new)
    root = make_project(tmp_path_factory.mktemp("latency") / "arb", text)
    done = arb(root, "run")
    return Project(root, f"sqlite:///{root / 'arb.db'}", done.stdout)


@pytest.fixture(scope="session")
def sample_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A checkout whose arb.db holds the hand-made LINK/USDT run of tests/report/sample_run.py as its only
    run: venues named by the capture, an unwind, a fee in base, no capture in its config snapshot."""
    root = make_project(tmp_path_factory.mktemp("sample") / "arb")
    url = f"sqlite:///{root / 'arb.db'}"
    upgrade_to_head(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    _, other = populate(factory)
    with factory.begin() as session:
        session.execute(delete(Run).where(Run.id == other))
    engine.dispose()
    return Project(root, url, "")


@pytest.fixture(scope="session")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A checkout where `arb replay` replayed 20 minutes of the bundled capture with the shipped config.

    The window holds the stale-book cross of 00:49:07 and, at config.toml's fee tiers, an execution."""
    root = make_project(tmp_path_factory.mktemp("replay") / "arb")
    capture = trim_capture(root / "linkusdt-20min.jsonl.gz", datetime(2021, 8, 20, 0, 40, tzinfo=UTC),
                           datetime(2021, 8, 20, 1, 0, tzinfo=UTC))
    url = f"sqlite:///{root / 'replay.db'}"
    done = arb(root, "replay", str(capture), "--db", url)
    assert re.search(r"run id \d+", done.stdout), done.stdout
    return Project(root, url, done.stdout)
