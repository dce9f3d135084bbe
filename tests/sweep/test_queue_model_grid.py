"""A sweep's ``queue_model`` key: every simulated venue's queue model, checked as the config checks it, and a
sweep over two models x three latencies on the ETH maker recording (2 workers) whose table shows each point, run
under its own model, and whose bracket shows the spread of realized PnL across them."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from engine.maker_capture import DATA, binance_maker_capture, first_seconds  # tests/engine/maker_capture.py
from engine.test_perp_valuation import eth_config
from sqlalchemy import create_engine, text

from arb.cli import main
from arb.config import load_config
from arb.errors import UsageError
from arb.sweep.grid import apply, build_grid


@pytest.fixture(scope="module")
def eth_minute(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("eth")
    capture = binance_maker_capture(d, spot_file=DATA / "binance-spot-ethusdt-20240808.gz",
                                    usdm_file=DATA / "binance-usdm-ethusdt-20240808.gz", symbol="ETH/USDT")
    return first_seconds(capture, 60)


def test_queue_model_sets_every_simulated_venues_model(tmp_path: Path, eth_minute: Path) -> None:
    path = eth_config(tmp_path, eth_minute)
    path.write_text(path.read_text().replace('[venues.spot]\nkind = "paper"\n',
                                             '[venues.spot]\nkind = "paper"\nqueue_model = "power"\nqueue_power = 3\n'))
    base = load_config(path)
    grid = build_grid(base, {"queue_model": ["conservative", "power", "log"]})
    got = [{n: (v.queue_model, v.queue_power) for n, v in apply(base, p).venues.items()} for p in grid.points()]
    assert got == [{"spot": ("conservative", None), "perp": ("conservative", None)},
                   {"spot": ("power", 3.0), "perp": ("power", 2.0)},  # a venue's own exponent is kept
                   {"spot": ("log", None), "perp": ("log", None)}]


def test_a_queue_model_the_config_would_refuse_is_refused_by_the_grid(tmp_path: Path, eth_minute: Path) -> None:
    base = load_config(eth_config(tmp_path, eth_minute))
    with pytest.raises(UsageError) as caught:
        build_grid(base, {"queue_model": ["conservative", "fifo"]})
    assert "queue_model: Input should be 'conservative', 'power' or 'log' (got 'fifo')" in str(caught.value)


def test_a_sweep_over_two_queue_models_and_three_latencies_shows_each_and_their_spread(
        tmp_path: Path, eth_minute: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = eth_config(tmp_path, eth_minute)
    db = f"sqlite:///{tmp_path / 'sweep.db'}"
    assert main(["sweep", "--config", str(config), "--db", db, "--workers", "2",
                 "--queue-model", "conservative,log", "--latency-ms", "1,5,20"]) == 0
    out = capsys.readouterr().out
    points, bracket = out.split("realized across latency_ms, queue_model")  # the grid's table, then the bracket's

    def rows_of(text_: str) -> list[list[str]]:
        return [[c.strip() for c in line.strip("│").split("│")] for line in text_.splitlines() if line.startswith("│")]

    rows = rows_of(points)  # capture, latency_ms, queue_model, run, ...
    header = next(line for line in points.splitlines() if "queue_model" in line)
    assert [(r[1], r[2]) for r in rows] == [(ms, q) for ms in ("1", "5", "20") for q in ("conservative", "log")]
    assert "quotes" in header, out
    # The bracket: the one strategy setting's realized over the six assumption points, central (the lower median
    # of six) beside low and high: the table's own realized column, and not one figure (latency matters).
    realized = sorted(Decimal(r[-1]) for r in rows)
    [row] = rows_of(bracket)  # the capture, then points, low, central, high
    assert [row[-4], *map(Decimal, row[-3:])] == ["6", realized[0], realized[2], realized[5]], out
    assert realized[0] < realized[5], out
    with create_engine(db).connect() as c:
        runs = c.execute(text("SELECT id, grid_point, config_snapshot, summary FROM runs ORDER BY id")).all()
    assert len(runs) == 6
    for run_id, point, snapshot, summary in runs:
        model = json.loads(point)["queue_model"]
        assert {v["queue_model"] for v in json.loads(snapshot)["venues"].values()} == {model}
        assert set(json.loads(summary)["queue_models"].values()) == {model}
        assert any(r[2] == model and r[3] == str(run_id) for r in rows), (out, run_id, model)
