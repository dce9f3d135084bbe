"""``arb latency``: a run's stored order times (``acked_at - sent_at``, the summary's latency) become a latency
profile file, each round trip half out and half back; every hostile input is one line and exit 2 (a database
that is not there: exit 1, as for ``arb report``), and leaves no file behind."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import Populated, at
from sqlalchemy.orm import Session, sessionmaker

from arb.cli import main
from arb.store.models import Order
from arb.store.repo import start_run
from arb.venues.latency_profile import Empirical, quantile, read_profile

D = Decimal
ROUND_TRIPS_MS = ("48.5", "50", "50.25", "51", "55.5", "62", "80.125")


def _run_with_round_trips(factory: sessionmaker[Session]) -> int:
    with factory.begin() as s:
        run = start_run(s, mode="live", config_snapshot={"mode": "live"}, started_at=at(100))
        for i, ms in enumerate(ROUND_TRIPS_MS):
            sent = at(100 + i)
            s.add(Order(run_id=run.id, venue="gate", symbol="LINK/USDT", side="buy", type="limit",
                        time_in_force="poc", purpose="quote", client_order_id=f"t-q-{i}", price=D("20"),
                        amount=D("1"), status="canceled", created_at=sent, updated_at=sent, sent_at=sent,
                        acked_at=sent + timedelta(microseconds=int(D(ms) * 1000))))
        s.add(Order(run_id=run.id, venue="gate", symbol="LINK/USDT", side="buy", type="limit", time_in_force="poc",
                    purpose="quote", client_order_id="t-q-never", price=D("20"), amount=D("1"), status="unknown",
                    created_at=at(120), updated_at=at(120), sent_at=at(120)))  # never answered: not measured
        return run.id


def test_a_runs_round_trips_become_a_profile_split_half_out_half_back(
        populated: Populated, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _run_with_round_trips(populated.factory)
    out = tmp_path / "gate.json"
    assert main(["latency", "--run", str(run_id), "--db", populated.url, "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert f"run {run_id} gate: 7 orders, round trip median 51 ms" in said and "max 80.125 ms" in said, said
    profile = read_profile(out)
    assert isinstance(profile.order.out, Empirical) and profile.order.out == profile.order.back
    assert profile.cancel is None and profile.feed is None
    rtts = sorted(D(ms) for ms in ROUND_TRIPS_MS)
    for p, half in profile.order.out.quantiles:
        assert D(str(half)) == (quantile(rtts, D(str(p))) / 2).quantize(D("0.0001")), p
    doc = json.loads(out.read_text())
    assert doc["source"]["run"] == run_id and doc["source"]["orders"] == 7 and "half" in doc["source"]["split"]
    assert doc["source"]["round_trip_ms"]["p50"] == 51.0


def test_a_run_with_orders_on_two_venues_needs_one_named(populated: Populated, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "p.json"
    assert main(["latency", "--run", str(populated.run_id), "--db", populated.url, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "timed orders on gate (2), okx (3): name one with --venue" in err, err
    assert main(["latency", "--run", str(populated.run_id), "--db", populated.url, "--out", str(out),
                 "--venue", "okx"]) == 0
    okx = read_profile(out).order
    assert okx.out.at(0.0) == okx.out.at(0.99) == 20.0  # 40 ms each, in the sample


@pytest.mark.parametrize(("case", "words"), [
    ("no such run", "--run 999: no such run in"),
    ("no orders", "has no order with both a sent and an acknowledged time"),
    ("no orders there", "--venue binance: run"),
    ("out is a directory", "is a directory"),
    ("no such directory", "directory"),
    ("unwritable", "cannot write"),
    ("name too long", "cannot write"),
])
def test_hostile_input_is_one_line_and_exit_2_and_leaves_nothing(
        populated: Populated, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, words: str) -> None:
    run, venue, out = populated.run_id, ["--venue", "gate"], tmp_path / "p.json"
    if case == "no such run":
        run = 999
    elif case == "no orders":
        run = populated.old_run_id
    elif case == "no orders there":
        venue = ["--venue", "binance"]
    elif case == "out is a directory":
        out = tmp_path
    elif case == "no such directory":
        out = tmp_path / "nowhere" / "p.json"
    elif case == "unwritable":  # a directory no one may create a file in, root included
        out = Path("/proc/arb-latency-profile.json")
    elif case == "name too long":
        out = tmp_path / ("x" * 300 + ".json")
    before = sorted(tmp_path.rglob("*"))
    status = main(["latency", "--run", str(run), "--db", populated.url, "--out", str(out), *venue])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and words in err and "Traceback" not in err, err
    assert sorted(tmp_path.rglob("*")) == before, "a failing arb latency left a file behind"


def test_a_database_that_is_not_there_is_exit_1_and_creates_nothing(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["latency", "--run", "1", "--db", f"sqlite:///{tmp_path / 'none.db'}",
                 "--out", str(tmp_path / "p.json")]) == 1
    assert "does not exist" in capsys.readouterr().err and list(tmp_path.iterdir()) == []


def test_an_out_that_is_the_database_read_is_refused_and_left_as_it_was(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """``--out`` naming the SQLite file ``--db`` reads (a PostgreSQL database is no file: nothing to name)."""
    from arb.store.db import make_engine, make_session_factory
    from arb.store.migrate import upgrade

    db = tmp_path / "arb.db"
    upgrade(f"sqlite:///{db}")
    engine = make_engine(f"sqlite:///{db}")
    run_id = _run_with_round_trips(make_session_factory(engine))
    engine.dispose()
    before = db.read_bytes()
    assert main(["latency", "--run", str(run_id), "--db", f"sqlite:///{db}", "--out", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is the database it reads" in err, err
    assert db.read_bytes() == before
