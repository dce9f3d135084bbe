"""The sweep's latency axes: ``feed_latency_ms`` and ``latency_profile`` (profile files) set every venue's, each
value checked as the run checks it, two keys that would set one thing twice refused; a point with a profile writes
the rows ``arb replay``, ``arb run`` and paper mode write with that profile named in the config (its draws are
seeded per venue), and the table shows each profile by its file name."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from arb.cli import main
from arb.config import load_config
from arb.engine import Engine
from arb.errors import UsageError
from arb.store.db import make_engine
from arb.store.models import Run
from arb.sweep.grid import apply, build_grid, read_grid_file

from .helpers import config_with, rows_of, small_config, trimmed_capture

LOGNORMAL = {"order": {"out": {"kind": "lognormal", "median_ms": 30, "sigma": 0.6},
                       "back": {"kind": "lognormal", "median_ms": 20, "sigma": 0.6}},
             "cancel": {"out": {"kind": "constant", "ms": 5}, "back": {"kind": "constant", "ms": 5}}}
WITH_FEED = {"order": {"out": {"kind": "empirical", "quantiles": [[0, 10], [0.5, 40], [0.9, 200], [1, 900]]},
                       "back": {"kind": "empirical", "quantiles": [[0, 10], [0.5, 40], [0.9, 200], [1, 900]]}},
             "feed": {"kind": "lognormal", "median_ms": 40, "sigma": 0.8}}


def _profiles(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "profiles"
    folder.mkdir(exist_ok=True)
    out = {}
    for name, doc in (("lognormal.json", LOGNORMAL), ("with_feed.json", WITH_FEED)):
        (folder / name).write_text(json.dumps(doc))
        out[name] = folder / name
    return out


def test_each_latency_value_is_checked_as_the_run_checks_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    capture = trimmed_capture(tmp_path, "00:00", "00:01")
    _, base = small_config(tmp_path, capture)
    profiles = _profiles(tmp_path)
    monkeypatch.chdir(tmp_path)
    grid = build_grid(base, {"latency_profile": ["profiles/lognormal.json"], "feed_latency_ms": ["0", "25"]})
    assert grid.values["latency_profile"] == (str(profiles["lognormal.json"]),) and grid.size == 2
    point = next(grid.points())
    config = apply(base, point)
    for section in config.venues.values():  # the profile in place of the shipped htx's latency_ms = 20
        assert (section.latency_profile, section.latency_ms, section.feed_latency_ms) == (
            str(profiles["lognormal.json"]), 0, 0)
    # A grid file's profiles are relative to it.
    (tmp_path / "grids").mkdir()
    (tmp_path / "grids" / "g.toml").write_text('latency_profile = ["../profiles/with_feed.json"]\n')
    raw = read_grid_file(tmp_path / "grids" / "g.toml")
    assert Path(build_grid(base, raw).values["latency_profile"][0]).resolve() == profiles["with_feed.json"]
    (tmp_path / "profiles" / "bad.json").write_text('{"order": {"out": {"kind": "constant", "ms": 5}}}')
    with_profile = dataclasses.replace(base, venues={n: v.model_copy(update={"latency_ms": 0, "latency_profile": str(
        profiles["lognormal.json"])}) for n, v in base.venues.items()})
    for raw_grid, config, words in [
        ({"feed_latency_ms": ["-1"]}, base, "feed_latency_ms: Input should be greater than or equal to 0"),
        ({"latency_profile": ["profiles/absent.json"]}, base, "latency_profile: " + str(tmp_path / "profiles"
                                                                                        / "absent.json")),
        ({"latency_profile": ["profiles/bad.json"]}, base, "order.back: required"),
        ({"latency_profile": ["profiles/lognormal.json"], "latency_ms": ["0", "5"]}, base,
         "latency_ms and latency_profile: a profile gives every venue's order latency"),
        ({"latency_profile": ["profiles/with_feed.json"], "feed_latency_ms": ["5"]}, base,
         "feed_latency_ms and latency_profile: with_feed.json gives feed latency"),
        ({"latency_ms": ["5"]}, with_profile, "latency_profile and latency_ms are both set"),
    ]:
        with pytest.raises(UsageError) as err:
            build_grid(config, raw_grid, source="g")
        assert words in str(err.value) and "\n" not in str(err.value), (raw_grid, str(err.value))


def test_a_profile_point_is_the_replay_run_and_paper_run_of_its_config(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = trimmed_capture(tmp_path, "00:00", "00:05")
    base, _ = small_config(tmp_path, capture)
    profiles = _profiles(tmp_path)
    db = f"sqlite:///{tmp_path / 'sweep.db'}"
    status = main(["sweep", "--config", str(base), "--db", db, "--workers", "2", "--capture", str(capture),
                   "--latency-profile", ",".join(str(p) for p in profiles.values())])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "lognormal.json" in out and "with_feed.json" in out and str(tmp_path) not in out  # names, not paths
    engine = make_engine(db)
    try:
        with Session(engine) as s:
            runs = {Path(r.grid_point["latency_profile"]).name: r.id  # type: ignore[index]
                    for r in s.scalars(select(Run).where(Run.sweep_id.is_not(None)))}
    finally:
        engine.dispose()
    fills = []
    for name, run_id in sorted(runs.items()):
        path = config_with(tmp_path, fee="0", name=f"{name}.toml", extra={
            'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
            'min_profit = "0.01"': 'min_profit = "0.001"',
            'status = "auto"': 'status = "off"',
            'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
            'capture_venue = "binance"\n': f'capture_venue = "binance"\nlatency_profile = "profiles/{name}"\n',
            "latency_ms = 20 ": f'latency_profile = "profiles/{name}"\n#',
        })
        replay_db, run_db = (f"sqlite:///{tmp_path / f'{kind}-{name}.db'}" for kind in ("replay", "run"))
        assert main(["replay", str(capture), "--config", str(path), "--db", replay_db]) == 0
        assert main(["run", "--config", str(path), "--db", run_db]) == 0
        swept, replayed, ran = rows_of(db, run_id), rows_of(replay_db, 1), rows_of(run_db, 1)
        for table in swept:
            assert swept[table] == replayed[table] == ran[table], (name, table)
        assert swept["orders"], name  # it traded: there is something to compare
        fills.append(swept["fills"])
    assert fills[0] != fills[1]  # the profiles made a difference
    # Paper mode: the replay paced in wall time, the same draws.
    config = load_config(tmp_path / "with_feed.json.toml")
    paper = dataclasses.replace(config, engine=config.engine.model_copy(update={"mode": "paper"}),
                                replay=config.replay.model_copy(update={"speed": 300.0}))  # type: ignore[union-attr]
    paper_db = f"sqlite:///{tmp_path / 'paper.db'}"
    result = await_run(Engine(paper, db_url=paper_db, install_signal_handlers=False))
    assert rows_of(paper_db, result) == rows_of(db, runs["with_feed.json"])


def await_run(engine: Engine) -> int:
    return engine.main().run_id
